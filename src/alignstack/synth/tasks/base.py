"""The task contract (distilabel-style): expand rows into work items, `format_input(item)` ->
chat messages (from a jinja template beside the task), `format_output(text, item)` -> dict or
None (unparseable: counted and dropped, never a crash)."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

from alignstack.backends.base import Message
from alignstack.core.records import content_id

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
_NUMBERING = re.compile(r"^\s*(?:[-*•#>]+|\(?\d+[.):]|[a-z][.)])\s*", re.IGNORECASE)
_YES_NO = re.compile(r"\b(yes|no)\b", re.IGNORECASE)


@lru_cache(maxsize=None)
def _template(name: str):
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)),
                             undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True, autoescape=False)
    return env.get_template(name)


def render(name: str, **values: Any) -> str:
    return _template(name).render(**values).strip()


def clean_line(text: str, *, labels: tuple[str, ...] = ()) -> str:
    """The first non-empty line, without list numbering, a leading label ('Topic:') or quotes."""
    for line in text.splitlines():
        line = _NUMBERING.sub("", line).strip()
        for label in labels:
            if line.lower().startswith(label.lower() + ":"):
                line = line[len(label) + 1:].strip()
        line = line.strip(" \"'`*“”‘’").strip()
        if line:
            return line
    return ""


def clean_block(text: str, *, labels: tuple[str, ...] = ()) -> str:
    """The whole text without a leading label line or label prefix."""
    text = text.strip()
    for label in labels:
        if text.lower().startswith(label.lower() + ":"):
            text = text[len(label) + 1:].strip()
    return text.strip(" \"'`“”").strip()


_NEGATED = re.compile(r"\b(?:does not|doesn't|did not|didn't|do not|don't|not|never)\s+"
                      r"(?:break|violate|follow|breach|comply)", re.IGNORECASE)
_AFFIRMED = re.compile(r"\b(?:does\s+|do\s+)?(break|breaks|violate|violates|follow|follows|"
                       r"breach|breaches|complies)\b", re.IGNORECASE)


def yes_no(text: str) -> bool | None:
    """The first standalone yes/no in the text (True = yes), or None."""
    match = _YES_NO.search(text)
    return None if match is None else match.group(1).lower() == "yes"


def verdict(text: str, *, question: str = "break") -> bool | None:
    """Answer to "does it <question> the rule?": an explicit yes/no, else a sentence such as
    "the answer does not break the rule" / "it violates the rule" (small models rarely say
    yes or no). Returns None when there is no verdict at all."""
    explicit = yes_no(text)
    if explicit is not None:
        return explicit
    negative, positive = _NEGATED.search(text), _AFFIRMED.search(text)
    if negative is None and positive is None:
        return None
    if negative is not None and (positive is None or negative.start() <= positive.start()):
        found, verb = False, negative.group(0).split()[-1].lower()
    else:
        found, verb = True, positive.group(1).lower()
    same_sense = verb.startswith(("follow", "compl")) == (question == "follow")
    return found if same_sense else not found


def normalise(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def words(text: str) -> int:
    return len(text.split())


class Task:
    """Base class. Subclasses set `name`, `template`, `inputs`, `outputs` and override
    `format_output` (and `expand` when one input row fans out differently)."""

    name: ClassVar[str]
    template: ClassVar[str]
    inputs: ClassVar[tuple[str, ...]] = ()
    outputs: ClassVar[tuple[str, ...]] = ()
    avoid_field: ClassVar[str | None] = None     # earlier outputs to steer away from (diversity)

    def __init__(self, spec, context: dict | None = None):
        self.spec = spec
        self.context = context or {}

    # -- planning -----------------------------------------------------------------------------
    def expand(self, rows: list[dict]) -> list[dict]:
        """One work item per input row and sample; `round` orders samples, `group` scopes avoid."""
        items = []
        for row in rows:
            for sample in range(self.spec.samples):
                items.append({**_carry(row), "parent": row["id"],
                              "id": content_id(self.name, row["id"], str(sample)),
                              "round": sample, "group": row["id"]})
        return items

    # -- per item -------------------------------------------------------------------------------
    def messages(self, item: dict) -> list[Message]:
        msgs: list[Message] = []
        if self.spec.system_prompt:
            msgs.append({"role": "system", "content": self.spec.system_prompt})
        msgs.append({"role": "user", "content": render(self.template, **item)})
        return msgs

    def format_input(self, item: dict) -> list[Message] | None:
        """Chat messages for the item; None means no generation is needed (see `passthrough`)."""
        return self.messages(item)

    def passthrough(self, item: dict) -> dict:
        return {}

    def format_output(self, text: str, item: dict) -> dict | None:
        raise NotImplementedError

    def keep(self, row: dict) -> bool:
        """Parsed rows that should not flow on (a judge's rejection) return False."""
        return True


_INTERNAL = {"id", "parent", "round", "group", "ok", "kept", "raw", "avoid",
             "prompt_tokens", "completion_tokens", "generated"}


def _carry(row: dict) -> dict:
    """The fields a row hands to the next task (its outputs, not bookkeeping)."""
    return {k: v for k, v in row.items() if k not in _INTERNAL}
