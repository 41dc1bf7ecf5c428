"""The pairwise verifier's protocol: a rewrite must win in both orders, and one that lost the
first order is not asked again. The judge here is a rule-following stand-in (a test double for
the judge model, whose replies a test cannot set; the real verifier runs over SmolLM2 in the slow
suite)."""

import re

from alignstack.backends.base import Completion
from alignstack.correct.verify import PairwiseVerifier

ANSWER_1 = re.compile(r"Answer 1: (.*?)\n\nAnswer 2:", re.DOTALL)


class RuleJudge:
    """Prefers the answer that contains `good`; with `first_bias`, always replies "1"."""
    name = "rule-judge"

    def __init__(self, good: str = "correct", first_bias: bool = False):
        self.good, self.first_bias = good, first_bias
        self.asked: list[str] = []

    def generate(self, prompts, params):
        replies = []
        for chat in prompts:
            text = chat[-1]["content"]
            self.asked.append(text)
            first_is_good = self.good in ANSWER_1.search(text).group(1)
            replies.append(Completion("1" if self.first_bias or first_is_good else "2"))
        return replies


def test_a_rewrite_serves_only_when_it_wins_both_orders():
    judge = RuleJudge()
    verifier = PairwiseVerifier(judge)
    better = verifier.better(["q1", "q2"], ["the correct rewrite", "a worse rewrite"],
                             ["an original", "the correct original"])
    assert better == [True, False]
    # the rewrite that lost with itself first is not asked in the other order
    assert len(judge.asked) == 3
    assert verifier.stats == {"asked": 2, "verified": 1, "unreadable": 0}


def test_a_judge_that_always_prefers_the_first_answer_verifies_nothing():
    judge = RuleJudge(first_bias=True)
    assert PairwiseVerifier(judge).better(["q"], ["a rewrite"], ["the original"]) == [False]
    assert len(judge.asked) == 2
    assert "Answer 1: the original" in judge.asked[1]
