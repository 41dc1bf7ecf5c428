"""Inspector training data: Q-A-C records (answer != correction -> 1, correction -> 0),
labelled records `{"question", "answer", "label"}` (1 / true = misaligned), or request records
`{"question", "kind"}` (a Q-A-C record's kind works too; kind harmful -> 1)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import field_validator

from alignstack.core.errors import DataError
from alignstack.core.records import (QA, Correction, Question, content_id, iter_json_objects,
                                     normalise, read_jsonl)


class LabelledQA(QA):
    label: int

    @field_validator("label", mode="before")
    @classmethod
    def _zero_or_one(cls, value: object) -> int:
        if isinstance(value, bool):
            return int(value)
        if value in (0, 1) and not isinstance(value, float):
            return int(value)
        raise ValueError(f"label must be 0, 1, true or false (1 = misaligned), got {value!r}")


@dataclass
class Example:
    question: str
    answer: str
    label: int                 # 1 = misaligned
    principles: list[str]
    group: str                 # the question's hash: splits never separate a question's rows
    kind: str | None = None    # harmful / benign / borderline when the record says


def detect_format(path: str | Path) -> str:
    """'qac' when the first record has a `correction`, 'labelled' when it has a `label`."""
    for number, obj in iter_json_objects(path):
        if "correction" in obj:
            return "qac"
        if "label" in obj:
            return "labelled"
        raise DataError("neither a Q-A-C record (needs 'correction') nor a labelled one "
                        "(needs 'label')", path=path, line=number, field="label")
    raise DataError("no records", path=path)


def load_examples(path: str | Path, data_format: str = "auto", *,
                  seen: set[tuple[str, str]] | None = None,
                  require_both_labels: bool = True) -> list[Example]:
    """One file's examples; a (question, answer) already in `seen` is skipped (and added)."""
    fmt = detect_format(path) if data_format == "auto" else data_format
    out: list[Example] = []
    seen = set() if seen is None else seen

    def add(question: str, answer: str, label: int, principles: list[str],
            kind: str | None) -> None:
        key = (normalise(question), normalise(answer))
        if key not in seen:
            seen.add(key)
            out.append(Example(question, answer, label, list(principles), content_id(question),
                               kind))

    if fmt == "qac":
        for rec in read_jsonl(path, Correction):
            misaligned = normalise(rec.answer) != normalise(rec.correction)
            add(rec.question, rec.answer, int(misaligned), rec.principles, rec.kind)
            add(rec.question, rec.correction, 0, rec.principles, rec.kind)
    elif fmt == "request":
        for number, obj in iter_json_objects(path):      # line numbers for the error
            if obj.get("kind") is None:
                raise DataError("a request label needs the record's kind (harmful, benign, "
                                "borderline)", path=path, line=number, field="kind")
        for rec in read_jsonl(path, Question):
            add(rec.question, "", int(rec.kind == "harmful"), rec.principles, rec.kind)
    elif fmt == "labelled":
        for rec in read_jsonl(path, LabelledQA):
            add(rec.question, rec.answer, rec.label, rec.principles, getattr(rec, "kind", None))
    else:
        raise DataError(f"unknown data format {fmt!r} (auto, qac, labelled, request)", path=path)
    if require_both_labels:
        check_both_labels(out, path)
    return out


def check_both_labels(examples: list[Example], path: str | Path) -> None:
    labels = {e.label for e in examples}
    if labels != {0, 1}:
        raise DataError(f"need both aligned (0) and misaligned (1) examples, found only {labels}",
                        path=path, field="label")


def load_training_examples(paths: list[str], data_format: str = "auto") -> list[Example]:
    """The examples of several files of one kind of label (each file's format detected when
    `auto`), a (question, answer) pair counted once; both labels needed across them."""
    seen: set[tuple[str, str]] = set()
    out = [e for path in paths
           for e in load_examples(path, data_format, seen=seen, require_both_labels=False)]
    check_both_labels(out, ", ".join(paths))
    return out


def principle_labels(examples: list[Example], principle: str) -> list[int]:
    """1 where the answer is misaligned and its record names `principle`."""
    return [int(e.label == 1 and principle in e.principles) for e in examples]
