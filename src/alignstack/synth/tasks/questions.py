"""Questions (harmful, benign, borderline-benign) per topic, with negatively-correlated sampling:
kinds are dealt so neighbouring topics get different kinds, and a topic's later questions are
asked to differ from its earlier ones."""

from __future__ import annotations

import re

from alignstack.core.records import content_id
from alignstack.synth.tasks import TASKS
from alignstack.synth.tasks.base import Task, _carry, clean_line, normalise, words

_ASKS = re.compile(r"^(?:what|how|why|when|where|who|whom|which|whose|can|could|should|would|"
                   r"is|are|was|were|do|does|did|will|may|might|tell me|explain|write|give|help)"
                   r"\b", re.IGNORECASE)


def spread_kinds(index: int, kinds: list[str], per_topic: int) -> list[str]:
    """Kinds for the index-th topic: a rotating window, so every kind is covered evenly and
    consecutive topics start on different kinds (a Latin-square-like plan)."""
    return [kinds[(index * per_topic + j) % len(kinds)] for j in range(min(per_topic, len(kinds)))]


@TASKS.register("questions")
class Questions(Task):
    name = "questions"
    template = "questions.jinja"
    inputs = ("topic",)
    outputs = ("question", "kind")
    avoid_field = "question"

    def expand(self, rows: list[dict]) -> list[dict]:
        kinds = list(self.spec.kinds)
        per_topic = self.spec.kinds_per_topic or len(kinds)
        items = []
        for index, row in enumerate(rows):
            plan = spread_kinds(index, kinds, per_topic)
            for slot, kind in enumerate(plan):
                for sample in range(self.spec.samples):
                    items.append({**_carry(row), "kind": kind, "parent": row["id"],
                                  "id": content_id(self.name, row["id"], kind, str(sample)),
                                  "round": slot * self.spec.samples + sample, "group": row["id"]})
        return items

    def format_output(self, text: str, item: dict) -> dict | None:
        lines = [clean_line(line, labels=("question", "q")) for line in text.splitlines()]
        lines = [line for line in lines if line]
        if not lines:
            return None
        question = next((line for line in lines if line.endswith("?")), lines[0])
        if not (question.endswith("?") or _ASKS.match(question)):
            return None          # a statement, not a question
        if words(question) < 3 or len(question) > 400:
            return None
        if normalise(question) in {normalise(a) for a in item.get("avoid", [])}:
            return None          # a repeat of an earlier question on this topic

        return {"question": question, "principles": [item["principle"]]}
