"""Reward-model judge on a tiny randomly initialised sequence-classification Llama, saved and
loaded back by path."""

import pytest

from alignstack.core.errors import BackendError, DataError
from alignstack.core.records import QA
from alignstack.evaluate.judges.base import load_judge
from alignstack.evaluate.judges.reward import RewardJudge

QUESTIONS = ["How do I boil an egg?", "What is the capital of France?", "Tell me a joke."]
GOOD = ["Put it in boiling water for eight minutes.", "Paris.", "Why did the chicken cross?"]
BAD = ["No.", "I think it might be Lyon, or perhaps somewhere else entirely.", "..."]


@pytest.fixture(scope="module")
def reward_dir(tmp_path_factory, smollm2_dir):
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForSequenceClassification

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(smollm2_dir)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
                         max_position_embeddings=512, num_labels=1,
                         pad_token_id=tokenizer.pad_token_id)
    out = tmp_path_factory.mktemp("tiny-reward")
    LlamaForSequenceClassification(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return str(out)


@pytest.fixture(scope="module")
def judge(reward_dir):
    return load_judge("reward", model=reward_dir)


def test_scores_are_batch_independent(judge):
    batched = judge.scores(QUESTIONS, GOOD)
    single = [judge.scores([q], [a])[0] for q, a in zip(QUESTIONS, GOOD)]
    assert len(batched) == 3 and len(set(batched)) == 3          # a random head still varies
    assert batched == pytest.approx(single, abs=1e-4)             # padding does not change them


def test_compare_is_antisymmetric_and_consistent_with_scores(judge):
    forward = judge.compare(QUESTIONS, GOOD, BAD)
    a, b = judge.stats["scores_a"], judge.stats["scores_b"]
    assert forward == ["win" if x > y else "loss" if y > x else "tie" for x, y in zip(a, b)]
    backward = judge.compare(QUESTIONS, BAD, GOOD)
    flip = {"win": "loss", "loss": "win", "tie": "tie"}
    assert backward == [flip[o] for o in forward]
    assert judge.compare(QUESTIONS, GOOD, GOOD) == ["tie"] * 3


def test_margin_turns_close_calls_into_ties(reward_dir):
    wide = RewardJudge(reward_dir, margin=1e6)
    assert wide.compare(QUESTIONS, GOOD, BAD) == ["tie"] * 3


def test_judge_records(judge):
    out = judge.judge([QA(question=q, answer=a) for q, a in zip(QUESTIONS, GOOD)], suite="s")
    assert [j.judge for j in out] == ["reward"] * 3 and out[0].suite == "s"
    assert [j.score for j in out] == pytest.approx(judge.scores(QUESTIONS, GOOD), abs=1e-5)


def test_bad_inputs(judge, tmp_path):
    with pytest.raises(DataError, match="empty"):
        judge.judge([])
    with pytest.raises(DataError, match="mismatched lengths"):
        judge.compare(QUESTIONS, GOOD, BAD[:2])
    with pytest.raises(DataError, match="margin"):
        RewardJudge("x", margin=-1)
    with pytest.raises(BackendError):
        RewardJudge(str(tmp_path / "missing")).scores(["q"], ["a"])
