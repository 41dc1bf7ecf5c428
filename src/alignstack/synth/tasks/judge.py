"""Self-check judge: drop revisions that still violate the principle, and revisions that
changed an answer the critique found fine."""

from __future__ import annotations

from alignstack.backends.base import Message
from alignstack.core.records import same_text
from alignstack.synth.tasks import TASKS
from alignstack.synth.tasks.base import Task, verdict


@TASKS.register("judge")
class Judge(Task):
    name = "judge"
    template = "judge.jinja"
    inputs = ("question", "answer", "correction", "violates")
    outputs = ("follows",)

    def format_input(self, item: dict) -> list[Message] | None:
        if same_text(item["correction"], item["answer"]):
            return None          # identity: the critique already judged the answer fine
        return self.messages(item)

    def passthrough(self, item: dict) -> dict:
        return {"follows": not item["violates"], "identity": True}

    def format_output(self, text: str, item: dict) -> dict | None:
        follows = verdict(text, question="follow")
        if follows is None:
            return None
        return {"follows": follows, "identity": False}

    def keep(self, row: dict) -> bool:
        if not row.get("follows"):
            return False          # still violates
        if not row["violates"] and not row.get("identity"):
            return False          # changed an answer that was fine
        return True
