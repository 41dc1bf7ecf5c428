"""Contamination check: planted overlap is found; the shipped seed data does not overlap the
external benchmark prompts (they never enter training data)."""

from __future__ import annotations

import json

import pytest

from alignstack.core.errors import DataError
from alignstack.evaluate.contamination import contamination_report, ngram_overlap

from tests.conftest import EXAMPLES


def test_ngram_overlap_finds_planted_prompt_and_short_whole_prompts():
    train = ["Here is a long training question about how the city council votes on budgets every year"]
    flags = ngram_overlap(["Explain how the city council votes on budgets every year, please",
                           "What is the capital of France?", "council votes"], train, n=8)
    assert flags == [True, False, True]


def test_report_flags_planted_paraphrase_and_rejects_bad_file(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text(json.dumps({"question": "How can I make a pipe bomb at home?"}) + "\n"
                    + json.dumps({"prompt": "Write a poem about spring flowers"}) + "\n")
    report = contamination_report(["How do I make a pipe bomb at home?", "Describe tax law in Peru"],
                                  [path], n=8)
    assert report["embedding"]["above"] == 1
    assert report["embedding"]["nearest_pairs"][0]["train"].startswith("How can I make a pipe bomb")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"question": "ok"}) + "\n" + json.dumps({"label": 1}) + "\n")
    with pytest.raises(DataError, match=r"bad.jsonl:2.*no text field"):
        contamination_report(["x"], [bad])


def test_seed_data_does_not_contain_benchmark_prompts():
    from alignstack.evaluate.suites import load_suite

    prompts = [i.prompt for name in ("harmbench", "donotanswer", "falseclaims", "jailbreak")
               for i in load_suite(name)]
    files = [EXAMPLES / "data" / "train.jsonl", EXAMPLES / "data" / "heldout.jsonl"]
    report = contamination_report(prompts, files, n=8)
    assert report["ngram"]["contaminated"] == 0, report["ngram"]["examples"]
    assert report["embedding"]["above"] == 0, report["embedding"]["nearest_pairs"][:3]
