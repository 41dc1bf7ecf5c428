"""Pairwise LLM-as-judge: swap/aggregation logic with a scripted test double, plumbing with a
real tiny transformers model."""

import pytest

from alignstack.backends.base import Completion, Generator
from alignstack.core.errors import ConfigError, DataError
from alignstack.evaluate.judges.base import load_judge
from alignstack.evaluate.judges.pairwise import PairwiseJudge, combine, parse_verdict


class ScriptedVerdictGenerator:
    """TEST DOUBLE (not a model): replies with a verdict chosen by a rule over the prompt, so the
    swap and aggregation logic can be checked exactly. Real generation is tested below."""

    name = "scripted-verdict-test-double"

    def __init__(self, rule):
        self.rule = rule
        self.calls = []

    def generate(self, prompts, params):
        self.calls.append(prompts)
        return [Completion(text=self.rule(p[0]["content"])) for p in prompts]

    # the rest of the engine contract, for the same scripted replies
    def generate_text(self, prompts, params, max_new_tokens=None):
        return [Completion(text=self.rule(p)) for p in prompts]

    def count_tokens(self, texts):
        return [len(t.split()) for t in texts]

    def format_chat(self, messages):
        return "\n".join(m["content"] for m in messages)


def shown(prompt: str, slot: str) -> str:
    """The answer text shown in slot A or B of a rendered prompt."""
    after = prompt.split(f"[Answer {slot}]\n", 1)[1]
    return after.split("\n\n", 1)[0]


def test_parse_verdict():
    assert parse_verdict(" B.") == "B" and parse_verdict("[[A]]") == "A"
    assert parse_verdict("Equal") == "Equal" and parse_verdict("tie") == "Equal"
    assert parse_verdict("Verdict: **A**") == "A"
    assert parse_verdict("A man walks into a bar") is None
    assert parse_verdict("") is None and parse_verdict("I cannot decide") is None


def test_combine_maps_swapped_verdicts_back():
    assert combine("A", "B") == "win"        # A first, then A shown second and still chosen
    assert combine("B", "A") == "loss"
    assert combine("A", "A") == "tie"        # always the first slot: position bias -> tie
    assert combine("Equal", "Equal") == "tie"
    assert combine(None, "B") == "tie" and combine("A", None) == "tie"


def test_swap_logic_with_scripted_double():
    # Prefers the answer containing "safe" wherever it is shown; else always says "A".
    def rule(prompt):
        a, b = shown(prompt, "A"), shown(prompt, "B")
        return "A" if "safe" in a else "B" if "safe" in b else "A"

    double = ScriptedVerdictGenerator(rule)
    assert isinstance(double, Generator)
    judge = PairwiseJudge(double, criteria="harmless")
    out = judge.compare(["q1", "q2", "q3"], ["a safe answer", "risky", "plain one"],
                        ["risky", "a safe answer", "plain two"])
    assert out == ["win", "loss", "tie"]
    assert len(double.calls) == 1 and len(double.calls[0]) == 6       # both orders, one batch
    assert shown(double.calls[0][3][0]["content"], "A") == "risky"        # swapped order
    s = judge.stats
    assert (s["win"], s["loss"], s["tie"], s["parse_failures"]) == (1, 1, 1, 0)
    assert s["position_consistent"] == 2 and s["position_consistency_rate"] == round(2 / 3, 4)
    assert judge.details[2]["verdict"] == "A" and judge.details[2]["verdict_swapped"] == "A"


def test_unparseable_replies_are_ties_and_counted():
    judge = PairwiseJudge(ScriptedVerdictGenerator(lambda p: "Well, it depends."))
    assert judge.compare(["q"] * 2, ["a", "b"], ["c", "d"]) == ["tie", "tie"]
    assert judge.stats["parse_failures"] == 4 and judge.stats["position_consistency_rate"] is None


def test_bad_inputs():
    judge = PairwiseJudge(ScriptedVerdictGenerator(lambda p: "A"))
    with pytest.raises(DataError, match="empty"):
        judge.compare([], [], [])
    with pytest.raises(DataError, match=r"mismatched lengths \(questions=2, answers_a=1"):
        judge.compare(["q", "r"], ["a"], ["b", "c"])
    with pytest.raises(ConfigError, match="unknown pairwise criteria"):
        PairwiseJudge(ScriptedVerdictGenerator(lambda p: "A"), criteria="funny")


def test_tiny_model_plumbing(tiny_model_dir):
    judge = load_judge("pairwise", generator=tiny_model_dir, criteria="helpful_harmless",
                       max_new_tokens=4)
    out = judge.compare(["What is 2+2?", "Say hi."], ["4", "Hi!"], ["5", "No."])
    assert len(out) == 2 and set(out) <= {"win", "loss", "tie"}
    s = judge.stats
    assert s["judge_calls"] == 4 and 0 <= s["parse_failures"] <= 4
    assert s["win"] + s["loss"] + s["tie"] == 2
    assert all(isinstance(d["reply"], str) for d in judge.details)
