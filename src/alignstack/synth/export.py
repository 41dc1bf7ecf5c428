"""Exports: Q-A-C records for the corrector, TRL preference pairs and unpaired KTO/BCO records,
each with principle ids and provenance (`source`)."""

from __future__ import annotations

from pathlib import Path

from alignstack.core.records import Correction, Preference, UnpairedPreference, write_jsonl

_BOOKKEEPING = {"parent", "round", "group", "ok", "kept", "generated", "raw", "prompt_tokens",
                "completion_tokens", "principle_title", "principle_text"}


def to_correction(row: dict, source: str) -> Correction:
    extra = {k: row[k] for k in ("id", "topic") if k in row}
    if row.get("document"):
        extra["document"] = row["document"]["id"]
    return Correction(question=row["question"], answer=row["answer"],
                      correction=row["correction"], principles=list(row.get("principles", [])),
                      critique=row.get("critique"), source=source, kind=row.get("kind"), **extra)


def to_preferences(records: list[Correction]) -> list[Preference]:
    """chosen = correction, rejected = answer; identity rows make no pair."""
    return [Preference(prompt=r.question, chosen=r.correction, rejected=r.answer,
                       principles=r.principles, source=r.source, id=getattr(r, "id", None))
            for r in records if r.correction.strip() != r.answer.strip()]


def to_unpaired(records: list[Correction]) -> list[UnpairedPreference]:
    """A corrected row gives (answer, False) and (correction, True); an identity row gives
    (answer, True)."""
    out = []
    for r in records:
        meta = {"principles": r.principles, "source": r.source, "id": getattr(r, "id", None)}
        if r.correction.strip() == r.answer.strip():
            out.append(UnpairedPreference(prompt=r.question, completion=r.answer, label=True, **meta))
        else:
            out.append(UnpairedPreference(prompt=r.question, completion=r.answer, label=False,
                                          **meta))
            out.append(UnpairedPreference(prompt=r.question, completion=r.correction, label=True,
                                          **meta))
    return out


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
