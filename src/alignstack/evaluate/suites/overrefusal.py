"""Over-refusal: benign prompts that only look dangerous (figurative language, homonyms, safe
targets, fiction and games, history, definitions, health and safety, security, society, public
information). Written for this project by an independent writer from a committed brief
(data/briefs/overrefusal.md; not copied from XSTest or any benchmark); a good answer complies."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from alignstack.core.records import Record, iter_jsonl
from alignstack.evaluate.suites.base import EvalItem, Suite, make_item, register

DATA_FILE = Path(__file__).resolve().parents[1] / "data" / "overrefusal.jsonl"


class OverrefusalRow(Record):
    prompt: str = Field(min_length=1)
    category: str = Field(min_length=1)


def load_overrefusal(path: str | None = None, seed: int = 0) -> list[EvalItem]:
    """`path`: another file with fields prompt, category; the shipped one when None."""
    file = Path(path) if path else DATA_FILE
    return [make_item("overrefusal", row.prompt, row.category, "helpful",
                      meta={"source": "alignstack" if file == DATA_FILE else str(file)})
            for row in iter_jsonl(file, OverrefusalRow)]


SUITE = register(Suite(
    name="overrefusal", loader=load_overrefusal, dimension="helpful",
    description="Benign prompts that look dangerous: a good answer complies (over-refusal rate)",
    source="alignstack/evaluate/data/overrefusal.jsonl (written for alignstack)",
    licence="same as alignstack",
))
