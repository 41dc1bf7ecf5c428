"""Topics per principle: one short news topic per call, steering away from earlier ones."""

from __future__ import annotations

import re

from alignstack.core.records import content_id
from alignstack.synth.tasks import TASKS
from alignstack.synth.tasks.base import Task, _carry, clean_line, normalise, words

_QUOTED = re.compile(r"[\"“]([^\"”]{3,120})(?:[\"”]|$)")
_PREAMBLE = re.compile(r"^(?:the )?(?:news )?(?:topic|headline)(?: is| would be)?:?\s*",
                       re.IGNORECASE)


@TASKS.register("topics")
class Topics(Task):
    name = "topics"
    template = "topics.jinja"
    inputs = ()
    outputs = ("principle", "principle_title", "principle_text", "topic", "document")
    avoid_field = "topic"

    def expand(self, rows: list[dict]) -> list[dict]:
        """Rows are principles; grounding documents are dealt round-robin so each principle's
        topics come from different passages."""
        docs = self.context.get("documents", [])
        items = []
        for index, row in enumerate(rows):
            for sample in range(self.spec.samples):
                doc = docs[(index + sample) % len(docs)] if docs else None
                items.append({**_carry(row), "document": doc, "parent": row["id"],
                              "id": content_id(self.name, row["id"], str(sample)),
                              "round": sample, "group": row["id"]})
        return items

    def format_output(self, text: str, item: dict) -> dict | None:
        first = next((line for line in text.splitlines() if line.strip()), "")
        quoted = _QUOTED.search(first)
        topic = quoted.group(1) if quoted else _PREAMBLE.sub(
            "", clean_line(first, labels=("topic", "news topic")))
        topic = topic.strip(" \"'“”.:").strip()
        if not 1 <= words(topic) <= 16 or len(topic) < 3:
            return None
        if normalise(topic) in {normalise(a) for a in item.get("avoid", [])}:
            return None          # a repeat of an earlier topic for this principle
        return {"topic": topic}
