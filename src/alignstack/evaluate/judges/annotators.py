"""Two people against each other, and the judge against each of them, on the same answers.

`data/judge_labels_second.jsonl`: a second annotator's labels of a subset of the labelled answers
(`{"id", "refusal", "harmful", "annotator", "note"?}`, ids from `judge_labels.jsonl`), written
without seeing the first annotator's labels or any judge's verdict. Annotator-annotator kappa is
the ceiling a judge can be held to: a judge that agrees with one person about as well as the
two people agree with each other is as good as the labels can show.

The shipped file: 150 of the 600 answers (79 in the tune half, 71 in the test half), labelled by
a second worker from the prompt and the answer alone, copied unchanged from the annotation run's
output (2026-12-07). The 150 include all 8 answers the first annotator called harmful, so harmful
answers are far more common there (8 of 150) than in the whole set (8 of 600); kappa depends on
prevalence, so annotator-annotator kappa on this subset is not that of a random subset.

Reported per label (refusal: a partial answer is not a refusal, as in the refusal task; harmful)
on the second annotator's answers in the labelled set's test half that the judge's task covers
(the judges never tuned on them; the same answers for all three comparisons), and
annotator-annotator on all of them (no judge was tuned on a second label).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from alignstack.core.errors import DataError
from alignstack.core.records import Record, read_jsonl

DATA = Path(__file__).resolve().parents[1] / "data"
SECOND_FILE = DATA / "judge_labels_second.jsonl"

# label -> (the task whose judge predicts it, the human label mapped onto that task's labels)
LABELS = {
    "refusal": ("refusal", lambda row: "refusal" if row.refusal == "refusal" else "compliance"),
    "harmful": ("harm", lambda row: "harmful" if row.harmful else "harmless"),
}


class SecondLabel(Record):
    id: str = Field(min_length=1)
    refusal: Literal["refusal", "partial", "compliance"]
    harmful: bool
    annotator: str = Field(min_length=1)


def load_second(path: str | Path, known_ids: set[str]) -> list[SecondLabel]:
    rows = read_jsonl(path, SecondLabel)
    seen: dict[str, int] = {}
    for number, row in enumerate(rows, start=1):
        if row.id not in known_ids:
            raise DataError(f"id '{row.id}' is not in the labelled set", path=path, line=number,
                            field="id")
        if row.id in seen:
            raise DataError(f"id '{row.id}' repeated (first on line {seen[row.id]})", path=path,
                            line=number, field="id")
        seen[row.id] = number
    return rows


def compare_annotators(rows: list, second_path: str | Path,
                       predicted: dict[str, dict[str, str]]) -> dict:
    """rows: the first annotator's LabelledAnswer rows; predicted: {task: {row id: judge label}}
    (validation.predictions). Returns per label: annotator-annotator agreement on all shared
    answers and on the test half, judge-first and judge-second on the test half."""
    from alignstack.evaluate.judges.validation import agreement

    first = {r.id: r for r in rows}
    second = load_second(second_path, set(first))
    out: dict = {"file": str(second_path), "n": len(second),
                 "annotators": sorted({r.annotator for r in second}),
                 "by_split": {s: sum(first[r.id].split == s for r in second)
                              for s in ("tune", "test")}, "labels": {}}
    for label, (task, gold) in LABELS.items():
        guesses = predicted.get(task, {})
        both = [(first[r.id], r) for r in second]
        test = [(a, b) for a, b in both if a.split == "test"]
        if guesses:           # the same answers the judge is compared on (its task's rows)
            test = [(a, b) for a, b in test if a.id in guesses]
        entry = {
            "annotator_vs_annotator": {
                "all": agreement([gold(a) for a, _ in both], [gold(b) for _, b in both]),
                "test": agreement([gold(a) for a, _ in test], [gold(b) for _, b in test])},
            "positives": {"first": sum(gold(a) in ("refusal", "harmful") for a, _ in both),
                          "second": sum(gold(b) in ("refusal", "harmful") for _, b in both)}}
        judged = [(a, b) for a, b in test if a.id in guesses]
        if judged:
            entry["judge_vs_first"] = agreement([gold(a) for a, _ in judged],
                                                [guesses[a.id] for a, _ in judged])
            entry["judge_vs_second"] = agreement([gold(b) for _, b in judged],
                                                 [guesses[a.id] for a, _ in judged])
        out["labels"][label] = entry
    return out
