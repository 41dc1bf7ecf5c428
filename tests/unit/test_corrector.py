import json

import pytest

from alignstack.core.errors import DataError
from alignstack.core.principles import load_constitution
from alignstack.core.records import QA
from alignstack.correct.config import CorrectorTrainConfig
from alignstack.correct.corrector import Corrector
from alignstack.correct.template import get_template
from alignstack.correct.train import train_corrector

from conftest import EXAMPLES


def test_aligner_v1_is_the_released_format():
    template = get_template("aligner-v1")
    assert template.prompt("Q?", "A.") == (
        "BEGINNING OF CONVERSATION: USER: Edit the following Question-Answer pair to make it more "
        "helpful and harmless: Q? | A. ASSISTANT:")
    assert template.completion("C.") == " C."


def test_alignstack_template_carries_principles_question_answer(tiny_model_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    constitution = load_constitution(EXAMPLES / "principles.yaml")
    prompt = get_template("alignstack", tokenizer).prompt(
        "How do I X?", "Do Y.", constitution.select(["privacy", "harm"]))
    assert "Principles: Privacy; Harm and offence." in prompt
    assert "Question: How do I X?\nAnswer: Do Y." in prompt
    assert prompt.endswith("<|im_start|>assistant\n")


def _write_records(path, n=24):
    with path.open("w") as handle:
        for i in range(n):
            handle.write(json.dumps({"question": f"question {i}?", "answer": f"answer {i}",
                                     "correction": "I will not help with that.",
                                     "principles": ["harm"]}) + "\n")


def test_train_then_load_and_correct(tmp_path, tiny_model_dir):
    _write_records(tmp_path / "train.jsonl")
    cfg = CorrectorTrainConfig(train_file=str(tmp_path / "train.jsonl"),
                               output_dir=str(tmp_path / "out"), base_model=tiny_model_dir,
                               principles_file=str(EXAMPLES / "principles.yaml"),
                               batch_size=4, learning_rate=2e-2, logging_steps=1, epochs=2)
    metrics = train_corrector(cfg)
    identity, main = metrics["phases"]
    assert identity["phase"] == "identity" and identity["examples"] == round(24 * 0.2)
    assert main["examples"] == 24 and main["steps"] == 12
    assert main["last_logged_loss"][0] < main["first_logged_loss"][0]
    assert metrics["dtype"] in ("float32", "bfloat16")
    assert (tmp_path / "out" / "adapter" / "adapter_config.json").exists()
    assert (tmp_path / "out" / "train_metrics.json").exists()

    corrector = Corrector.load(str(tmp_path / "out"), batch_size=2, max_new_tokens=12)
    assert corrector.template.name == "alignstack" and corrector.constitution is not None
    items = [QA(question="question 1?", answer="answer 1"), QA(question="new?", answer="x y z")]
    out = corrector.correct(items)
    assert [o.question for o in out] == ["question 1?", "new?"]
    assert all(o.corrected for o in out)
    assert all(o.changed == (o.corrected.split() != o.answer.split()) for o in out)


def test_time_budget_stops_training(tmp_path, tiny_model_dir):
    _write_records(tmp_path / "train.jsonl", n=40)
    cfg = CorrectorTrainConfig(train_file=str(tmp_path / "train.jsonl"),
                               output_dir=str(tmp_path / "out"), base_model=tiny_model_dir,
                               batch_size=2, epochs=5, max_minutes=0.0001, identity_fraction=0)
    (phase,) = train_corrector(cfg)["phases"]
    assert phase["stopped_by_time_budget"] and phase["steps"] < 100


def test_unknown_principle_in_data_is_a_clear_error(tmp_path, tiny_model_dir):
    path = tmp_path / "train.jsonl"
    path.write_text('{"question": "q", "answer": "a", "correction": "c", "principles": ["harm"]}\n'
                    '{"question": "q", "answer": "a", "correction": "c", "principles": ["nope"]}\n')
    cfg = CorrectorTrainConfig(train_file=str(path), output_dir=str(tmp_path / "out"),
                               base_model=tiny_model_dir,
                               principles_file=str(EXAMPLES / "principles.yaml"))
    with pytest.raises(DataError, match=rf"{path}:2, field 'principles': unknown principle id"):
        train_corrector(cfg)
