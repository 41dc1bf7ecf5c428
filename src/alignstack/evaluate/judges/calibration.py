"""Agreement of a judge with its own shipped, hand-labelled calibration set.

A judge that has one names it in `calibration_file`: JSONL rows with the QA fields (question,
answer, and any extra field the judge reads, e.g. `claim`) plus the expected `label`.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from pydantic import Field

from alignstack.core.errors import ConfigError, DataError
from alignstack.core.records import QA, read_jsonl
from alignstack.evaluate.judges.base import load_judge


class LabelledQA(QA):
    label: str = Field(min_length=1)


def calibration_agreement(judge, path: str | Path | None = None) -> dict:
    """Accuracy of `judge` (an instance or a registered name) on its calibration set (or `path`).

    Returns {"judge", "file", "n", "accuracy", "labels": {label: {"n", "correct", "accuracy"}},
    "confusion": {expected: {predicted: count}}}.
    """
    if isinstance(judge, str):
        judge = load_judge(judge)
    path = Path(path) if path is not None else getattr(judge, "calibration_file", None)
    if path is None:
        raise ConfigError(f"judge '{getattr(judge, 'name', judge)}' has no calibration set")
    rows = read_jsonl(path, LabelledQA)
    if not rows:
        raise DataError("calibration set is empty", path=path)
    known = set(getattr(judge, "labels", ()) or ())
    for number, row in enumerate(rows, start=1):
        if known and row.label not in known:
            raise DataError(f"label '{row.label}' is not one of {sorted(known)}", path=path,
                            line=number, field="label")
    items = [QA.model_validate(row.model_dump(exclude={"label"})) for row in rows]
    predicted = [j.label for j in judge.judge(items)]
    confusion: dict[str, Counter] = {}
    for row, label in zip(rows, predicted):
        confusion.setdefault(row.label, Counter())[label] += 1
    labels = {}
    for label, counts in sorted(confusion.items()):
        n = sum(counts.values())
        labels[label] = {"n": n, "correct": counts[label], "accuracy": round(counts[label] / n, 4)}
    correct = sum(row.label == label for row, label in zip(rows, predicted))
    return {"judge": judge.name, "file": str(path), "n": len(rows),
            "accuracy": round(correct / len(rows), 4), "labels": labels,
            "confusion": {k: dict(v) for k, v in sorted(confusion.items())}}
