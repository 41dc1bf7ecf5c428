"""Preference optimisation through TRL on the tiny model: every method moves the model towards
the chosen answers; data formats and config errors are reported by file, line and field."""

import json
from pathlib import Path

import pytest

from alignstack.core.errors import ConfigError, DataError
from alignstack.core.preferences import detect_format, read_preference_data
from alignstack.optimize.config import (DPOMethodConfig, KTOMethodConfig, load_optimize_config,
                                        method_config)
from alignstack.optimize.methods import METHODS

from conftest import mean_margin

QAC = [
    {"question": "What is the capital of France?", "answer": "Berlin is the capital of France.",
     "correction": "Paris is the capital of France.", "kind": "benign", "source": "seed"},
    {"question": "How do I pick a lock to get into my neighbour's house?",
     "answer": "Insert a tension wrench and rake the pins until they set.",
     "correction": "I can't help with getting into someone else's home.", "kind": "harmful",
     "source": "seed"},
    {"question": "How many legs does a spider have?", "answer": "Spiders have six legs.",
     "correction": "Spiders have eight legs.", "kind": "benign", "source": "seed"},
    {"question": "What colour is the sky on a clear day?", "answer": "Blue.",
     "correction": "Blue.", "kind": "benign", "source": "seed"},
]


def write(path: Path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


@pytest.mark.parametrize("method", ["sft", "dpo", "kto", "orpo", "simpo"])
def test_each_method_moves_the_model_towards_the_corrections(tmp_path, tiny_model_dir, method):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from alignstack.optimize.train import optimize, optimized_model

    data = write(tmp_path / "qac.jsonl", QAC)
    cfg = load_optimize_config(None, {
        "method": method, "data": [data], "output_dir": str(tmp_path / method),
        "base_model": tiny_model_dir, "max_steps": 8, "batch_size": 2, "learning_rate": 5e-3,
        "lora_dropout": 0.0, "max_length": 128, "logging_steps": 1, "progress": False,
        "dtype": "float32"})
    metrics = optimize(cfg)

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32).eval()
    tuned = AutoModelForCausalLM.from_pretrained(optimized_model(tmp_path / method),
                                                 dtype=torch.float32).eval()
    before, after = mean_margin(base, tokenizer, QAC), mean_margin(tuned, tokenizer, QAC)
    assert after > before + 0.05, (method, before, after)
    assert metrics["steps"] == 8 and len(metrics["logged"]["loss"]) == 8
    assert metrics["examples"] == {"sft": 4, "dpo": 3, "kto": 7, "orpo": 3, "simpo": 3}[method]
    if method != "sft":       # the preference trainers log the implicit rewards
        assert "rewards/chosen" in metrics["logged"]
    assert (tmp_path / method / "adapter" / "adapter_config.json").exists()
    saved = json.loads((tmp_path / method / "optimize.json").read_text())
    assert saved["method"] == method and saved["base_model"] == tiny_model_dir


def test_formats_are_detected_per_file_and_sources_filter(tmp_path):
    qac = write(tmp_path / "qac.jsonl", QAC)
    pairs = write(tmp_path / "audit.jsonl", [
        {"prompt": "q1", "chosen": "good", "rejected": "bad", "source": "audit:17"},
        {"prompt": "q2", "chosen": "good", "rejected": "bad", "source": "synth"}])
    unpaired = write(tmp_path / "kto.jsonl", [{"prompt": "q3", "completion": "ok", "label": True}])
    assert [detect_format(p) for p in (qac, pairs, unpaired)] == ["qac", "pairs", "unpaired"]

    data = read_preference_data([qac, pairs, unpaired])
    assert len(data.all_pairs()) == 3 + 2          # the unchanged Q-A-C row makes no pair
    # KTO: each changed Q-A-C row gives two, the unchanged one one, each pair two, plus one
    assert len(data.all_unpaired()) == 3 * 2 + 1 + 2 * 2 + 1
    kept = read_preference_data([pairs], sources=["audit:"])
    assert [p.prompt for p in kept.pairs] == ["q1"]


def test_bad_preference_data_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"prompt": "q", "chosen": "a", "rejected": "b"}) + "\n"
                   + json.dumps({"prompt": "q", "chosen": 3, "rejected": "b"}) + "\n")
    with pytest.raises(DataError) as err:
        read_preference_data([str(bad)])
    assert err.value.line == 2 and err.value.field == "chosen"
    stray = write(tmp_path / "stray.jsonl", [{"text": "hello"}])
    with pytest.raises(DataError, match="not preference data"):
        read_preference_data([stray])


def test_a_method_refuses_data_it_cannot_use(tmp_path):
    only_good = write(tmp_path / "good.jsonl", [{"prompt": "q", "completion": "ok", "label": True}])
    data = read_preference_data([only_good])
    with pytest.raises(DataError, match="needs preference pairs"):
        METHODS.get("dpo").rows(data, DPOMethodConfig(data=[only_good], output_dir="x"))
    with pytest.raises(DataError, match="desirable and undesirable"):
        METHODS.get("kto").rows(data, KTOMethodConfig(data=[only_good], output_dir="x"))


def test_conversational_rows_carry_the_system_prompt(tmp_path):
    data = read_preference_data([write(tmp_path / "qac.jsonl", QAC)])
    cfg = DPOMethodConfig(data=["x"], output_dir="x", system_prompt="Be accurate.")
    row = METHODS.get("dpo").rows(data, cfg)[0]
    assert row["prompt"] == [{"role": "system", "content": "Be accurate."},
                             {"role": "user", "content": QAC[0]["question"]}]
    assert row["chosen"] == [{"role": "assistant", "content": QAC[0]["correction"]}]


def test_config_errors_name_the_line_and_field(tmp_path):
    path = tmp_path / "opt.yaml"
    path.write_text("data: [a.jsonl]\noutput_dir: out\nmethod: ppo\n")
    with pytest.raises(ConfigError) as err:
        load_optimize_config(path)
    assert err.value.line == 3 and err.value.field == "method"
    path.write_text("data: [a.jsonl]\noutput_dir: out\nmethod: orpo\nloss_type: [ipo]\n")
    with pytest.raises(ConfigError) as err:      # a DPO field given to ORPO
        load_optimize_config(path)
    assert err.value.line == 4 and err.value.field == "loss_type"
    cfg = method_config({"data": ["a"], "output_dir": "o", "method": "simpo"})
    assert (cfg.beta, cfg.simpo_gamma, cfg.cpo_alpha) == (2.0, 0.5, 0.0)


def test_refusal_contrast_pairs_teach_the_over_refusal_boundary():
    from alignstack.core.preferences import NEEDLESS_REFUSALS, refusal_contrast_pairs
    from alignstack.core.records import Preference

    pairs = [Preference(prompt=f"question {i}?", chosen=f"answer {i}", rejected=f"wrong {i}",
                        kind=("harmful", "benign", "borderline")[i % 3], id=str(i))
             for i in range(300)]
    every = refusal_contrast_pairs(pairs, 1.0)
    assert len(every) == 200 and all(p.kind != "harmful" for p in every)
    originals = {p.prompt: p for p in pairs}
    assert all(p.chosen == originals[p.prompt].chosen and p.rejected in NEEDLESS_REFUSALS
               and p.id.endswith("-refusal") for p in every)
    assert refusal_contrast_pairs(pairs, 0.0) == []
    half = refusal_contrast_pairs(pairs, 0.5)
    assert 60 <= len(half) <= 140 and half == refusal_contrast_pairs(pairs, 0.5)
    # the bootstrap samples questions by content id: that sample must still get about half
    from alignstack.core.records import content_id

    sampled = sorted((p for p in pairs if p.kind != "harmful"),
                     key=lambda p: content_id(p.prompt))[:100]
    assert 25 <= len(refusal_contrast_pairs(sampled, 0.5)) <= 75
