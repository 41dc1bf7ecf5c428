"""Judges validated against people: a hand-labelled set of real outputs, split by prompt into a
tuning half and a test half. A judge's free parameters may be chosen on the tuning half only; its
agreement and Cohen's kappa are reported on the test half, which it never saw.

The labelled set (`data/judge_labels.jsonl`): real upstream and corrector answers on the external
suites and the over-refusal sets, each read and labelled by a person, with its provenance:
`{"id", "suite", "category", "expected", "prompt", "answer", "system", "split", "refusal"
("refusal" | "partial" | "compliance"), "harmful" (bool), "supportive" (bool), "stance"
("corrects" | "endorses" | "unclear", false-claim items), "toxic" (bool, toxic-continuation
items), "claim"?}`.

Each judge is compared with the human label it predicts (`TASKS`): refusal -> refusal (a partial
answer is not a refusal), support -> supportive, honesty -> stance, toxicity -> toxic.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal

from pydantic import Field

from alignstack.core.errors import DataError
from alignstack.core.records import QA, Record, content_id, read_jsonl

DATA = Path(__file__).resolve().parents[1] / "data"
LABELS_FILE = DATA / "judge_labels.jsonl"
TEST_SHARE = 0.5


class LabelledAnswer(Record):
    id: str
    suite: str
    expected: str
    prompt: str = Field(min_length=1)
    answer: str
    system: str                                   # provenance: which system wrote the answer
    split: Literal["tune", "test"]
    refusal: Literal["refusal", "partial", "compliance"]
    harmful: bool
    supportive: bool
    stance: Literal["corrects", "endorses", "unclear"] | None = None
    toxic: bool | None = None
    claim: str | None = None


def split_of(prompt: str, test_share: float = TEST_SHARE) -> str:
    """Split by prompt (all answers to one prompt fall on the same side), by a stable hash."""
    return "test" if int(content_id(prompt), 16) % 1000 < test_share * 1000 else "tune"


@dataclass(frozen=True)
class Task:
    """What a judge is checked on: which rows, the human label, the judge's label mapped onto it."""
    judge: str
    rows: Callable[[LabelledAnswer], bool]
    gold: Callable[[LabelledAnswer], str]
    predicted: Callable[[str], str]


TASKS = {
    "refusal": Task("refusal", lambda r: r.expected in ("refuse", "comply", "support"),
                    lambda r: "refusal" if r.refusal == "refusal" else "compliance",
                    lambda label: label),
    "support": Task("support", lambda r: r.expected == "support",
                    lambda r: "supportive" if r.supportive else "unsupportive",
                    lambda label: label),
    # the metric counts "corrects" (false claims corrected): endorsing and unclear both fail it
    "honesty": Task("honesty", lambda r: r.stance is not None,
                    lambda r: "corrects" if r.stance == "corrects" else "does not correct",
                    lambda label: "corrects" if label == "corrects" else "does not correct"),
    "toxicity": Task("toxicity", lambda r: r.toxic is not None,
                     lambda r: "toxic" if r.toxic else "clean", lambda label: label),
}


def load_labels(path: str | Path = LABELS_FILE) -> list[LabelledAnswer]:
    rows = read_jsonl(path, LabelledAnswer)
    for number, row in enumerate(rows, start=1):
        if row.split != split_of(row.prompt):
            raise DataError(f"split '{row.split}' disagrees with the prompt hash "
                            f"('{split_of(row.prompt)}')", path=path, line=number, field="split")
    return rows


def agreement(gold: list[str], predicted: list[str]) -> dict:
    """Raw agreement, Cohen's kappa and the confusion table."""
    from sklearn.metrics import cohen_kappa_score

    n = len(gold)
    if n == 0:
        return {"n": 0}
    confusion: dict[str, dict[str, int]] = {}
    for g, p in zip(gold, predicted):
        confusion.setdefault(g, {}).setdefault(p, 0)
        confusion[g][p] += 1
    kappa = (cohen_kappa_score(gold, predicted) if len(set(gold) | set(predicted)) > 1
             else 1.0)
    return {"n": n, "agreement": round(sum(g == p for g, p in zip(gold, predicted)) / n, 4),
            "kappa": round(float(kappa), 4), "confusion": confusion}


def judge_on(task: Task, judge, rows: list[LabelledAnswer]) -> dict:
    if not rows:
        return {"n": 0}
    items = [QA(question=r.prompt, answer=r.answer, **({"claim": r.claim} if r.claim else {}))
             for r in rows]
    predicted = [task.predicted(j.label) for j in judge.judge(items)]
    return agreement([task.gold(r) for r in rows], predicted)


def validate(judges: dict[str, object] | None = None, path: str | Path = LABELS_FILE) -> dict:
    """Every task's agreement and kappa on the tuning half and on the test half (the number to
    quote), plus provenance counts of the labelled set."""
    from alignstack.evaluate.judges.base import load_judge

    rows = load_labels(path)
    judges = judges or {}
    out: dict = {"file": str(path), "n": len(rows),
                 "by_suite": _count(r.suite for r in rows),
                 "by_system": _count(r.system for r in rows),
                 "by_split": _count(r.split for r in rows), "judges": {}}
    for name, task in TASKS.items():
        judge = judges.get(name) or load_judge(task.judge)
        mine = [r for r in rows if task.rows(r)]
        out["judges"][name] = {
            "tune": judge_on(task, judge, [r for r in mine if r.split == "tune"]),
            "test": judge_on(task, judge, [r for r in mine if r.split == "test"])}
    return out


def _count(values) -> dict[str, int]:
    return dict(sorted(Counter(values).items()))
