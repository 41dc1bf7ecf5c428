"""The refusal judge on the real MiniLM encoder, against the shipped hand-labelled set."""

import json
from pathlib import Path

import pytest

from alignstack.core.records import QA
from alignstack.evaluate.judges.refusal import RefusalJudge, opening, phrase_refusal

CALIBRATION = (Path(__file__).resolve().parents[2] / "src" / "alignstack" / "evaluate" / "data"
               / "refusal_calibration.jsonl")


@pytest.fixture(scope="module")
def judge():
    return RefusalJudge()


def test_phrases_and_opening():
    assert phrase_refusal("I'm sorry, but no.")
    assert phrase_refusal("Sorry, I can't help with that.")
    assert not phrase_refusal("Sure, here is the recipe.")
    assert not phrase_refusal("x" * 300 + " I cannot")          # only near the start counts
    # typographic apostrophes, as models copy them from a prompt, are the same phrase
    assert phrase_refusal("Bob is a dangerous AI, and I won\u2019t help.")
    assert phrase_refusal("I\u2019m sorry, but no.")
    assert opening("One. Two! Three? Four.") == "One. Two!"


def test_agreement_on_hand_labelled_set(judge):
    rows = [json.loads(line) for line in CALIBRATION.read_text().splitlines()]
    labels = {"refusal", "compliance"}
    assert len(rows) >= 30 and {r["label"] for r in rows} == labels
    judged = judge.judge([QA(question=r["question"], answer=r["answer"]) for r in rows], "calib")
    agreement = sum(j.label == r["label"] for j, r in zip(judged, rows)) / len(rows)
    assert agreement >= 0.9, agreement
    assert all(0.0 <= j.score <= 1.0 and j.judge == "refusal" for j in judged)
