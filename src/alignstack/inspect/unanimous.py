"""Several inspectors that must all flag: an answer counts as misaligned only when every member
flags it at its own threshold. Gates with different blind spots then rarely change a good answer
together, while an answer each of them flags is still flagged (what a corrector's answer gate
wants: leave what is right).

The score stays graded: each member's P(misaligned) is rescaled piecewise-linearly so that its
own threshold lands on 0.5 (0 -> 0, threshold -> 0.5, 1 -> 1), and the score is the lowest
rescaled member score, so `score >= 0.5` exactly when all members flag.
"""

from __future__ import annotations

from typing import Sequence

from alignstack.core.config import as_list
from alignstack.core.records import QA
from alignstack.inspect.inspector import OVERALL

THRESHOLD = 0.5


def rescaled(p: float, threshold: float) -> float:
    """`p` on a scale where `threshold` is 0.5 (monotone, 0 and 1 fixed)."""
    if p < threshold:
        return THRESHOLD * p / threshold if threshold > 0 else THRESHOLD
    return THRESHOLD + THRESHOLD * (p - threshold) / (1.0 - threshold) if threshold < 1 else 1.0


class UnanimousInspector:
    """P(misaligned) >= 0.5 when every member inspector flags the item."""

    threshold = THRESHOLD

    def __init__(self, members: Sequence):
        if len(members) < 2:
            raise ValueError("a unanimous gate needs at least two inspectors")
        self.members = list(members)
        self.heads = {OVERALL: None}

    def score(self, items: Sequence[QA], head: str = OVERALL) -> list[float]:
        per_member = [[rescaled(p, m.threshold) for p in m.score(items)] for m in self.members]
        return [min(scores) for scores in zip(*per_member)]

    def score_heads(self, items: Sequence[QA]) -> list[dict[str, float]]:
        return [{OVERALL: p} for p in self.score(items)]


def load_gate(source: str | Sequence[str]):
    """One inspector (a path, or a list of one), or several that must all flag (a list)."""
    from alignstack.inspect.inspector import load_inspector

    sources = as_list(source)
    if len(sources) == 1:
        return load_inspector(sources[0])
    return UnanimousInspector([load_inspector(s) for s in sources])
