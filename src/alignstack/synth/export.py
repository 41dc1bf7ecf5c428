"""Exports: Q-A-C records for the corrector, TRL preference pairs and unpaired KTO/BCO records,
each with principle ids and provenance (`source`)."""

from __future__ import annotations

from pathlib import Path

from alignstack.core.preferences import to_preferences, to_unpaired
from alignstack.core.records import Correction, write_jsonl

_BOOKKEEPING = {"parent", "round", "group", "ok", "kept", "generated", "raw", "prompt_tokens",
                "completion_tokens", "principle_title", "principle_text"}


def to_correction(row: dict, source: str) -> Correction:
    extra = {k: row[k] for k in ("id", "topic") if k in row}
    if row.get("document"):
        extra["document"] = row["document"]["id"]
    return Correction(question=row["question"], answer=row["answer"],
                      correction=row["correction"], principles=list(row.get("principles", [])),
                      critique=row.get("critique"), source=source, kind=row.get("kind"), **extra)


def export_all(flow, rows: list[dict]) -> dict:
    """Write final.jsonl (selected rows) and, when rows carry corrections, qac.jsonl,
    preferences.jsonl and unpaired.jsonl; returns the counts."""
    from alignstack.synth.pipeline import source_tag

    out = Path(flow.output_dir)
    counts = {"final": write_jsonl(out / "final.jsonl",
                                   ({k: v for k, v in r.items() if k not in _BOOKKEEPING}
                                    for r in rows))}
    if all(k in flow_outputs(flow) for k in ("question", "answer", "correction")):
        records = [to_correction(r, source_tag(flow)) for r in rows]
        counts["qac"] = write_jsonl(out / "qac.jsonl", records)
        counts["preferences"] = write_jsonl(out / "preferences.jsonl", to_preferences(records))
        counts["unpaired"] = write_jsonl(out / "unpaired.jsonl", to_unpaired(records))
    return counts


def flow_outputs(flow) -> set[str]:
    from alignstack.synth.tasks import TASKS

    fields: set[str] = set()
    for spec in flow.tasks:
        fields |= set(TASKS.get(spec.task).outputs)
    return fields
