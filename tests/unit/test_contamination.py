"""Contamination check: planted overlap is found; bad training files are named.
(The seed data against every benchmark suite: tests/integration/test_contamination_seed.py.)"""

from __future__ import annotations

import json

import pytest

from alignstack.core.errors import DataError
from alignstack.evaluate.contamination import contamination_report, ngram_overlap


def test_ngram_overlap_finds_planted_prompt_and_short_whole_prompts():
    train = ["Here is a long training question about how the city council votes on budgets every year"]
    flags = ngram_overlap(["Explain how the city council votes on budgets every year, please",
                           "What is the capital of France?", "the city council votes",
                           "council votes"], train, n=8)
    assert flags == [True, False, True, False]      # under 4 words: too generic to count


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
