"""Upstream answers: the question as the user turn, answered as the upstream model would."""

from __future__ import annotations

from alignstack.synth.tasks import TASKS
from alignstack.synth.tasks.base import Task


@TASKS.register("answers")
class Answers(Task):
    name = "answers"
    template = "answers.jinja"
    inputs = ("question",)
    outputs = ("answer",)

    def format_output(self, text: str, item: dict) -> dict | None:
        text = text.strip()
        return {"answer": text} if text else None
