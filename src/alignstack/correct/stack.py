"""upstream -> (inspector) -> corrector: the ONE composition that eval, serve and the CLI all run,
so what is measured is what is served."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Protocol, Sequence

from alignstack.backends.base import Generator, GenParams, Message
from alignstack.core.records import QA, AppendOnlyLog, Corrected, content_id


class CorrectorLike(Protocol):
    def correct(self, items: list[QA]) -> list[Corrected]: ...


@dataclass
class StackResult:
    question: str
    answer: str                      # what the upstream said
    final: str                       # what the stack returns
    corrected: bool                  # the corrector changed the answer
    principles: list[str]

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class Stack:
    upstream: Generator
    corrector: CorrectorLike | None = None
    params: GenParams | None = None
    system_prompt: str | None = None

    def messages(self, question: str) -> list[Message]:
        msgs: list[Message] = []
        if self.system_prompt:
            msgs.append({"role": "system", "content": self.system_prompt})
        msgs.append({"role": "user", "content": question})
        return msgs

    def answer(self, questions: Sequence[str],
               principles: Sequence[list[str]] | None = None) -> list[StackResult]:
        params = self.params or GenParams()
        raw = self.upstream.generate([self.messages(q) for q in questions], params)
        principles = principles or [[] for _ in questions]
        items = [QA(question=q, answer=c.text, principles=p)
                 for q, c, p in zip(questions, raw, principles)]
        if self.corrector is None:
            return [StackResult(i.question, i.answer, i.answer, False, i.principles) for i in items]
        fixed = self.corrector.correct(items)
        return [StackResult(i.question, i.answer, f.corrected, f.changed, i.principles)
                for i, f in zip(items, fixed)]


def answer_resumable(stack: Stack, rows: Iterable[dict], log_path: str | Path, *,
                     chunk: int = 16, on_progress: Callable[[int], None] | None = None) -> list[dict]:
    """Answer rows with a `question` field, appending to a JSONL log keyed by a content hash.

    Re-running after a kill skips what is already in the log. Returns rows in input order, each
    with `answer`, `final`, `corrected` added.
    """
    rows = list(rows)
    for row in rows:
        row.setdefault("id", content_id(row["question"]))
    with AppendOnlyLog(log_path) as log:
        todo = [r for r in rows if r["id"] not in log]
        if on_progress:
            on_progress(len(rows) - len(todo))
        for start in range(0, len(todo), chunk):
            part = todo[start:start + chunk]
            results = stack.answer([r["question"] for r in part],
                                   [list(r.get("principles", [])) for r in part])
            for row, res in zip(part, results):
                log.append({**row, "answer": res.answer, "final": res.final,
                            "corrected": res.corrected})
            if on_progress:
                on_progress(len(part))
        done = log.rows
    return [done[r["id"]] for r in rows]
