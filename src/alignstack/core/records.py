"""Record types (pydantic) and their JSONL IO: validated reads, atomic writes, append-only logs."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Iterable, Iterator, Literal, TextIO, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from alignstack.core.errors import DataError
from alignstack.core.yamlio import field_path

Kind = Literal["harmful", "benign", "borderline"]


class Record(BaseModel):
    model_config = ConfigDict(extra="allow")


class QA(Record):
    """A question and an answer to it: what correctors, inspectors and judges consume."""

    question: str = Field(min_length=1)
    answer: str
    principles: list[str] = Field(default_factory=list)


class Question(Record):
    question: str = Field(min_length=1)
    kind: Kind | None = None
    principles: list[str] = Field(default_factory=list)


class Correction(QA):
    """Q-A-C, the Aligner datasets' fields: public Q-A-C data loads as is."""

    correction: str
    critique: str | None = None
    source: str | None = None
    kind: Kind | None = None


class Corrected(QA):
    corrected: str
    changed: bool


class Preference(Record):
    prompt: str | list[dict]
    chosen: str | list[dict]
    rejected: str | list[dict]


class UnpairedPreference(Record):
    prompt: str | list[dict]
    completion: str | list[dict]
    label: bool


class Judgement(Record):
    id: str
    suite: str
    question: str
    answer: str
    judge: str
    label: str
    score: float
    principles: list[str] = Field(default_factory=list)


R = TypeVar("R", bound=BaseModel)


def normalise(text: str) -> str:
    """Whitespace-normalised text: what "the same answer" means for correctors, judges and data."""
    return " ".join(text.split())


def same_text(a: str, b: str) -> bool:
    return normalise(a) == normalise(b)


def repeated_ngram(text: str, n: int = 5, times: int = 3) -> bool:
    """Some word n-gram occurs `times` or more: the mark of a decoding loop (one sentence repeated
    to the token limit); ordinary prose of a few hundred words does not repeat a 5-gram 3 times."""
    words = normalise(text).lower().split()
    counts: dict[tuple[str, ...], int] = {}
    for i in range(len(words) - n + 1):
        gram = tuple(words[i:i + n])
        counts[gram] = counts.get(gram, 0) + 1
        if counts[gram] >= times:
            return True
    return False


def degeneracy(text: str) -> str | None:
    """'empty' or 'looped' for text that is no usable answer, else None."""
    if not normalise(text):
        return "empty"
    return "looped" if repeated_ngram(text) else None


def degenerate(text: str) -> bool:
    """Empty, or looping: never a usable answer, and never an answer "kept intact"."""
    return degeneracy(text) is not None


def content_id(*parts: str) -> str:
    """Stable content hash used to key rows for dedup and resume."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    return digest[:16]


def iter_json_objects(path: str | Path) -> Iterator[tuple[int, dict]]:
    """(line number, object) for each non-blank line; bad JSON or a non-object raises DataError
    naming file and line."""
    path = Path(path)
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise DataError(f"cannot read file: {exc.strerror}", path=path) from None
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"invalid JSON: {exc.msg} (column {exc.colno})",
                                path=path, line=number) from None
            if not isinstance(obj, dict):
                raise DataError("expected a JSON object", path=path, line=number)
            yield number, obj


def iter_jsonl(path: str | Path, model: type[R]) -> Iterator[R]:
    """Yield validated records; a bad line raises DataError naming file, line and field."""
    for number, obj in iter_json_objects(path):
        try:
            yield model.model_validate(obj)
        except ValidationError as exc:
            err = exc.errors()[0]
            raise DataError(err["msg"], path=path, line=number,
                            field=field_path(err["loc"])) from None


def read_jsonl(path: str | Path, model: type[R]) -> list[R]:
    return list(iter_jsonl(path, model))


def _dump(row: BaseModel | dict) -> str:
    obj = row.model_dump(exclude_none=True) if isinstance(row, BaseModel) else row
    return json.dumps(obj, ensure_ascii=False)


@contextlib.contextmanager
def atomic_open(path: str | Path) -> Iterator[TextIO]:
    """Write to a temp file beside `path`, fsync, then rename: readers never see half a file,
    and a failure leaves the old file (or none) in place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_jsonl(path: str | Path, rows: Iterable[BaseModel | dict]) -> int:
    """Write all rows atomically (see `atomic_open`); returns the row count."""
    count = 0
    with atomic_open(path) as handle:
        for row in rows:
            handle.write(_dump(row) + "\n")
            count += 1
    return count


def write_json(path: str | Path, obj: object) -> None:
    """Atomic JSON write (see `atomic_open`)."""
    with atomic_open(path) as handle:
        json.dump(obj, handle, indent=2, ensure_ascii=False)
        handle.write("\n")


class AppendOnlyLog:
    """Append-only JSONL keyed by a row id: a killed job resumes with nothing lost or repeated.

    A torn last line (the process died mid-write) is dropped on open and truncated away.
    """

    def __init__(self, path: str | Path, key: str = "id"):
        self.path = Path(path)
        self.key = key
        self.rows: dict[str, dict] = {}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            self._recover()
        self._handle = self.path.open("a", encoding="utf-8")

    def _recover(self) -> None:
        good_bytes = 0
        with self.path.open("rb") as handle:
            for raw in handle:
                try:
                    obj = json.loads(raw)
                except json.JSONDecodeError:
                    break
                if not raw.endswith(b"\n"):
                    break
                self.rows[str(obj[self.key])] = obj
                good_bytes += len(raw)
        if good_bytes != self.path.stat().st_size:
            with self.path.open("r+b") as handle:
                handle.truncate(good_bytes)

    def __contains__(self, row_id: str) -> bool:
        return row_id in self.rows

    def append(self, row: dict) -> None:
        row_id = str(row[self.key])
        if row_id in self.rows:
            return
        self._handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self.rows[row_id] = row

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> "AppendOnlyLog":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
