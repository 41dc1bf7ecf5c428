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
answer is not a refusal), support -> supportive, honesty -> stance, toxicity -> toxic, harm ->
harmful (every labelled answer). Kappa comes with a bootstrap 95 % CI over answers: with few
positives (8 harmful answers in 600) the point value alone says little.

A second, independent annotator's labels of a subset (`data/judge_labels_second.jsonl`,
annotators.py) give the ceiling: how well two people agree on refusal and harmful, beside how
well the judge agrees with each of them on the same answers.
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
    "harm": Task("harm", lambda r: True, lambda r: "harmful" if r.harmful else "harmless",
                 lambda label: label),
}


def load_labels(path: str | Path = LABELS_FILE) -> list[LabelledAnswer]:
    rows = read_jsonl(path, LabelledAnswer)
    for number, row in enumerate(rows, start=1):
        if row.split != split_of(row.prompt):
            raise DataError(f"split '{row.split}' disagrees with the prompt hash "
                            f"('{split_of(row.prompt)}')", path=path, line=number, field="split")
    return rows


def cohen_kappa(gold: list[str], predicted: list[str]) -> float:
    """Cohen's kappa; 1.0 when both raters use one and the same label throughout."""
    n = len(gold)
    labels = sorted(set(gold) | set(predicted))
    if len(labels) < 2:
        return 1.0
    observed = sum(g == p for g, p in zip(gold, predicted)) / n
    expected = sum((gold.count(x) / n) * (predicted.count(x) / n) for x in labels)
    return 1.0 if expected == 1 else (observed - expected) / (1 - expected)


def kappa_ci(gold: list[str], predicted: list[str], resamples: int = 1000,
             seed: int = 0) -> list[float]:
    """Percentile bootstrap 95 % CI of kappa, resampling answers. A resample in which both raters
    use one and the same label says nothing about agreement and is skipped."""
    import random

    rng = random.Random(seed)
    n = len(gold)
    values = []
    for _ in range(resamples):
        pick = [rng.randrange(n) for _ in range(n)]
        g, p = [gold[i] for i in pick], [predicted[i] for i in pick]
        if len(set(g) | set(p)) > 1:
            values.append(cohen_kappa(g, p))
    if not values:
        return [float("nan"), float("nan")]
    values.sort()
    k = len(values)
    return [round(values[int(0.025 * k)], 4), round(values[max(0, int(0.975 * k) - 1)], 4)]


def agreement(gold: list[str], predicted: list[str]) -> dict:
    """Raw agreement, Cohen's kappa (with a bootstrap CI) and the confusion table."""
    n = len(gold)
    if n == 0:
        return {"n": 0}
    confusion: dict[str, dict[str, int]] = {}
    for g, p in zip(gold, predicted):
        confusion.setdefault(g, {}).setdefault(p, 0)
        confusion[g][p] += 1
    return {"n": n, "agreement": round(sum(g == p for g, p in zip(gold, predicted)) / n, 4),
            "kappa": round(float(cohen_kappa(gold, predicted)), 4),
            "kappa_ci95": kappa_ci(gold, predicted), "confusion": confusion}


def predictions(task: Task, judge, rows: list[LabelledAnswer]) -> dict[str, str]:
    """{row id: the judge's label mapped onto the task's human label}."""
    if not rows:
        return {}
    items = [QA(question=r.prompt, answer=r.answer, **({"claim": r.claim} if r.claim else {}))
             for r in rows]
    return {r.id: task.predicted(j.label) for r, j in zip(rows, judge.judge(items))}


def judge_on(task: Task, judge, rows: list[LabelledAnswer],
             predicted: dict[str, str] | None = None) -> dict:
    if not rows:
        return {"n": 0}
    predicted = predicted if predicted is not None else predictions(task, judge, rows)
    return agreement([task.gold(r) for r in rows], [predicted[r.id] for r in rows])


def validate(judges: dict[str, object] | None = None, path: str | Path = LABELS_FILE,
             second: str | Path | None = None) -> dict:
    """Every task's agreement and kappa on the tuning half and on the test half (the number to
    quote), plus provenance counts of the labelled set; with `second` (a second annotator's
    labels, default: the shipped file when `path` is the shipped set), annotator-annotator
    agreement beside judge-annotator agreement on the same answers."""
    from alignstack.evaluate.judges.annotators import SECOND_FILE, compare_annotators
    from alignstack.evaluate.judges.base import load_judge

    rows = load_labels(path)
    judges = judges or {}
    out: dict = {"file": str(path), "n": len(rows),
                 "by_suite": _count(r.suite for r in rows),
                 "by_system": _count(r.system for r in rows),
                 "by_split": _count(r.split for r in rows), "judges": {}}
    predicted: dict[str, dict[str, str]] = {}
    for name, task in TASKS.items():
        judge = judges.get(name) or load_judge(task.judge)
        mine = [r for r in rows if task.rows(r)]
        predicted[name] = predictions(task, judge, mine)
        out["judges"][name] = {
            "tune": judge_on(task, judge, [r for r in mine if r.split == "tune"], predicted[name]),
            "test": judge_on(task, judge, [r for r in mine if r.split == "test"], predicted[name])}
    if second is None and Path(path) == LABELS_FILE and SECOND_FILE.exists():
        second = SECOND_FILE
    if second is not None:
        out["annotators"] = compare_annotators(rows, second, predicted)
    return out


def _count(values) -> dict[str, int]:
    return dict(sorted(Counter(values).items()))
