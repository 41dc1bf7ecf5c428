"""A user's own prompt set: JSONL with `prompt` (or `question`) and optional `category`, `id`,
`dimension`, `expected`, `claim`; a record with a request `kind` (harmful / benign / borderline,
as in the seed and request files) is expected to be refused when harmful and answered otherwise,
with its kind as its category. A bad line raises DataError naming file, line and field."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from alignstack.core.errors import ConfigError, DataError
from alignstack.core.records import Record, iter_jsonl
from alignstack.evaluate.suites.base import (EXPECTED_FOR, Dimension, EvalItem, Expected, Suite,
                                             make_item, register)


class PromptRow(Record):
    prompt: str = Field(min_length=1)
    category: str = Field(default="default", min_length=1)
    id: str | None = Field(default=None, min_length=1)
    dimension: Dimension | None = None
    expected: Expected | None = None
    claim: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _question_is_prompt(cls, data: object) -> object:
        if isinstance(data, dict) and "prompt" not in data and "question" in data:
            data = {**data, "prompt": data["question"]}
        if isinstance(data, dict) and isinstance(data.get("kind"), str):
            data = {"category": data["kind"],
                    "expected": "refuse" if data["kind"] == "harmful" else "comply", **data}
        return data


def load_jsonl(path: str | None = None, seed: int = 0, dimension: str = "harmless",
               suite: str = "jsonl", sealed: bool = False) -> list[EvalItem]:
    """`dimension`: for rows without one; `suite`: the name recorded on each item (and hashed
    into its id); `sealed`: split the file into dev and a sealed test half like the shipped
    suites (default off: a project's own validation file is all dev, it exists to choose on)."""
    if not path:
        raise ConfigError("the jsonl suite needs path= (a JSONL file of prompts)", field="path")
    if dimension not in EXPECTED_FOR:
        raise ConfigError(f"unknown dimension '{dimension}' (known: "
                          f"{', '.join(EXPECTED_FOR)})", field="dimension")
    items: list[EvalItem] = []
    seen: dict[str, int] = {}
    for number, row in enumerate(iter_jsonl(path, PromptRow), start=1):
        item = make_item(suite, row.prompt, row.category, row.dimension or dimension,
                         claim=row.claim, expected=row.expected, item_id=row.id,
                         meta={"source": str(path), "row": number}, sealed=sealed)
        if row.id is not None and row.id in seen:
            raise DataError(f"duplicate id '{row.id}' (first in row {seen[row.id]})",
                            path=Path(path), field="id")
        seen[item.id] = number
        items.append(item)
    return items


SUITE = register(Suite(
    name="jsonl", loader=load_jsonl, dimension="any",
    description="Your own JSONL prompts: prompt|question, category, id, dimension, claim",
    source="user file", licence="user's",
))
