"""Critique an answer against the question's principle: a yes/no verdict and the reason."""

from __future__ import annotations

from alignstack.synth.tasks import TASKS
from alignstack.synth.tasks.base import Task, clean_block, verdict


@TASKS.register("critique")
class Critique(Task):
    name = "critique"
    template = "critique.jinja"
    inputs = ("question", "answer")
    outputs = ("critique", "violates")

    def format_output(self, text: str, item: dict) -> dict | None:
        violates = verdict(text, question="break")
        if violates is None:
            return None
        reason = clean_block(text, labels=("critique", "answer"))
        return {"violates": violates, "critique": reason or ("violates" if violates else "fine")}
