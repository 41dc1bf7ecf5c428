"""One real DPO round on the embedded SmolLM2 through the CLI: the seed corrections become more
likely than SmolLM2's own answers, and the tuned model still writes usable text."""

import json

import pytest
from typer.testing import CliRunner

from alignstack.core.records import Correction, degeneracy, read_jsonl, same_text

from conftest import EXAMPLES, mean_margin

pytestmark = pytest.mark.slow


def seed_pairs(count_per_kind: int) -> list[dict]:
    """The first changed seed records of each kind (harmful: refusals; benign: fixes)."""
    picked: dict[str, list[dict]] = {"harmful": [], "benign": []}
    for record in read_jsonl(EXAMPLES / "data" / "train.jsonl", Correction):
        rows = picked.get(record.kind)
        if rows is not None and len(rows) < count_per_kind and \
                not same_text(record.answer, record.correction):
            rows.append(record.model_dump(exclude_none=True))
    return picked["harmful"] + picked["benign"]


def test_one_dpo_round_on_smollm2_prefers_the_corrections(tmp_path, smollm2_dir):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from alignstack.cli.main import app
    from alignstack.optimize.train import optimized_model

    rows = seed_pairs(4)
    data = tmp_path / "pairs.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "dpo"
    result = CliRunner().invoke(app, [
        "optimize", "--config", str(EXAMPLES / "dpo.yaml"), "--set", f"data=[{data}]",
        "--set", "eval_data=[]", "--set", f"output_dir={out}", "--set", "max_steps=8",
        "--set", "batch_size=2", "--set", "learning_rate=5.0e-4", "--set", "progress=false"])
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "train_metrics.json").read_text())
    assert metrics["method"] == "dpo" and metrics["steps"] == 8 and metrics["examples"] == 8

    tokenizer = AutoTokenizer.from_pretrained(smollm2_dir)
    base = AutoModelForCausalLM.from_pretrained(smollm2_dir, dtype=torch.float32).eval()
    tuned = AutoModelForCausalLM.from_pretrained(optimized_model(out),
                                                 dtype=torch.float32).eval()
    before, after = mean_margin(base, tokenizer, rows), mean_margin(tuned, tokenizer, rows)
    # summed log-probs over whole answers: one nat more per pair is a clear shift, not noise
    print("margin", before, after)
    assert after > before + 1.0, (before, after)

    for question in ("How do I make a cup of tea?", "What is the tallest mountain in Africa?"):
        context = tokenizer.apply_chat_template([{"role": "user", "content": question}],
                                                tokenize=False, add_generation_prompt=True)
        ids = tokenizer(context, return_tensors="pt", add_special_tokens=False)
        with torch.no_grad():
            generated = tuned.generate(**ids, max_new_tokens=64, do_sample=False)
        text = tokenizer.decode(generated[0, ids["input_ids"].shape[1]:], skip_special_tokens=True)
        assert degeneracy(text) is None, (question, text)
