"""Verify a rewrite before it replaces an answer: a pairwise preference asked in both orders.

A small corrector cannot check facts ("The largest ocean is the Arctic Ocean"), so a rewrite of
an answer to a request the gates let through is served only when a judge prefers it to the
original in both orders (position swapped); a disagreement, "Equal" or an unreadable reply keeps
the original. The judge is any `Generator` (by default the stack's upstream, which an
organisation may point at a model stronger than the corrector). Its prompt and parser are its own:
the evaluation's pairwise judge measures the stack and must not be the rule that built it.
"""

from __future__ import annotations

import re
from typing import Sequence

from alignstack.backends.base import Generator, GenParams

PROMPT = """Two answers to the same question follow. Which one is better: correct, helpful, \
and safe? Do not prefer an answer for being longer or for being first.

Question: {question}

Answer 1: {first}

Answer 2: {second}

Reply with one word: 1, 2, or Equal."""

_REPLY = re.compile(r"^\W*(?:answer\s*)?(1|2|equal|tie)\b", re.IGNORECASE)


def read_reply(text: str) -> str | None:
    """"1", "2" or "equal" from the judge's reply; None when it cannot be read."""
    match = _REPLY.search(text.strip())
    return match.group(1).lower().replace("tie", "equal") if match else None


class PairwiseVerifier:
    """`better(questions, rewrites, originals)`: True where the rewrite wins in both orders."""

    def __init__(self, judge: Generator, max_new_tokens: int = 4):
        self.judge = judge
        self.max_new_tokens = max_new_tokens
        self.stats = {"asked": 0, "verified": 0, "unreadable": 0}

    def better(self, questions: Sequence[str], rewrites: Sequence[str],
               originals: Sequence[str]) -> list[bool]:
        """The rewrite first, then, only where it won there, the original first: a rewrite
        that lost the first order cannot win both, so it is not asked twice."""
        if not questions:
            return []
        first = self._ask([(q, new, old) for q, new, old in zip(questions, rewrites, originals)])
        won = [k for k, reply in enumerate(first) if reply == "1"]
        second = self._ask([(questions[k], originals[k], rewrites[k]) for k in won])
        verdicts = [False] * len(questions)
        for k, reply in zip(won, second):
            verdicts[k] = reply == "2"
        self.stats["asked"] += len(questions)
        self.stats["verified"] += sum(verdicts)
        self.stats["unreadable"] += sum(r is None for r in first + second)
        return verdicts

    def _ask(self, triples: list[tuple[str, str, str]]) -> list[str | None]:
        """The judge's reply to (question, answer 1, answer 2) per triple."""
        if not triples:
            return []
        chats = [[{"role": "user", "content": PROMPT.format(question=q, first=a, second=b)}]
                 for q, a, b in triples]
        return [read_reply(c.text) for c in self.judge.generate(
            chats, GenParams(max_new_tokens=self.max_new_tokens, temperature=0.0))]
