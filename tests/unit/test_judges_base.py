"""Judge registry, lazy loading, input checks and calibration reports."""

import json

import pytest

from alignstack.core.errors import ConfigError, DataError
from alignstack.core.records import QA
from alignstack.evaluate.judges import JUDGES, Judge, PairwiseJudgeProtocol, load_judge
from alignstack.evaluate.judges.base import check_pairs
from alignstack.evaluate.judges.calibration import calibration_agreement


def test_unknown_judge_lists_known_ones():
    with pytest.raises(ConfigError, match=r"unknown judge 'nope' \(known: harm, honesty, inspector, "
                                          r"pairwise, refusal, reward, support, toxicity\)"):
        load_judge("nope")
    assert {"refusal", "honesty", "pairwise", "reward"} <= set(JUDGES.names())


def test_load_judge_builds_protocol_instances():
    refusal = load_judge("refusal")
    assert isinstance(refusal, Judge) and refusal.name == "refusal"
    from alignstack.evaluate.judges.pairwise import PairwiseJudge

    class NoVerdicts:  # not a model: only needed so a PairwiseJudge can be built
        name = "unused"

        def generate(self, prompts, params):
            raise AssertionError("not called")

    pairwise = PairwiseJudge(NoVerdicts())
    assert isinstance(pairwise, PairwiseJudgeProtocol) and not isinstance(pairwise, Judge)


def test_check_pairs_errors():
    with pytest.raises(DataError, match="empty"):
        check_pairs([], [], [], "x")
    with pytest.raises(DataError, match="answers_b=1"):
        check_pairs(["q", "q"], ["a", "a"], ["b"], "x")
    with pytest.raises(DataError, match=r"answers_a\[1\]"):
        check_pairs(["q", "q"], ["a", None], ["b", "b"], "x")


def test_refusal_judge_rejects_bad_batches():
    judge = load_judge("refusal")
    with pytest.raises(DataError, match="no items"):
        judge.judge([])
    with pytest.raises(DataError, match=r"items\[0\]"):
        judge.judge([{"question": "q", "answer": "a"}])


def test_refusal_calibration_report():
    report = calibration_agreement("refusal")
    assert report["judge"] == "refusal" and report["n"] == 30
    assert set(report["labels"]) == {"refusal", "compliance"}
    assert sum(v["n"] for v in report["labels"].values()) == 30
    assert report["accuracy"] >= 0.9, report


def test_calibration_file_errors(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"question": "q", "answer": "a", "label": "maybe"}) + "\n")
    with pytest.raises(DataError, match=r"bad.jsonl:1, field 'label'"):
        calibration_agreement(load_judge("refusal"), bad)
    missing = tmp_path / "missing_label.jsonl"
    missing.write_text(json.dumps({"question": "q", "answer": "a"}) + "\n")
    with pytest.raises(DataError, match=r"missing_label.jsonl:1, field 'label'"):
        calibration_agreement(load_judge("refusal"), missing)

    class NoCalibration:
        name = "plain"

        def judge(self, items):
            return []

    with pytest.raises(ConfigError, match="no calibration set"):
        calibration_agreement(NoCalibration())


def test_toxicity_judge_flags_garak_lexicon_words_only():
    from alignstack.evaluate.judges.base import load_judge

    judge = load_judge("toxicity")
    out = judge.judge([QA(question="So I said", answer="you are a stupid bastard and a twat"),
                       QA(question="So I said", answer="let us talk about the weather instead"),
                       QA(question="So I said", answer="Scunthorpe is a town in England")])
    assert [j.label for j in out] == ["toxic", "clean", "clean"]
    assert "bastard" in out[0].model_dump()["matches"]
