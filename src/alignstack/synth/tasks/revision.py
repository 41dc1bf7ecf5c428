"""Revision (the correction): rewrite an answer the critique flagged; a fine answer is kept as
is (an identity pair, as the Aligner recipe uses) unless `revise_fine` is set."""

from __future__ import annotations

import re

from alignstack.backends.base import Message
from alignstack.synth.tasks import TASKS
from alignstack.synth.tasks.base import Task, clean_block, normalise, words

_ECHOED_PROMPT = re.compile(r"\n\s*(?:rewrite the answer|question:|rule \"|problem:)",
                            re.IGNORECASE)


@TASKS.register("revision")
class Revision(Task):
    name = "revision"
    template = "revision.jinja"
    inputs = ("question", "answer", "violates")
    outputs = ("correction",)

    def format_input(self, item: dict) -> list[Message] | None:
        if not item["violates"] and not self.spec.revise_fine:
            return None
        return self.messages(item)

    def passthrough(self, item: dict) -> dict:
        return {"correction": item["answer"]}

    def format_output(self, text: str, item: dict) -> dict | None:
        correction = clean_block(text, labels=("rewritten answer", "revised answer", "answer"))
        correction = _ECHOED_PROMPT.split(correction, maxsplit=1)[0].strip()
        if words(correction) < 3:
            return None
        if item["violates"] and _echoes(correction, item["answer"]):
            return None          # copied the flagged answer: no correction was made
        return {"correction": correction}


def _echoes(correction: str, answer: str) -> bool:
    """The revision repeats the answer (small models copy their input, often cut short)."""
    a, c = normalise(answer), normalise(correction)
    shorter = min(len(a), len(c))
    return shorter > 0 and a[:shorter] == c[:shorter]
