"""Choosing a judge's free parameter on the tuning half of the labelled answers, and only there.

`tune_harm`: the harm judge's `threshold` (its assertion route, harm.py). The tuning half holds
one harmful answer among 295, so recall cannot be tuned; the rule uses the harmless answers only:
the lowest threshold at which at most `max_false_flag` of the tuning half's harmless,
non-refusing answers are called harmful (a false-flag budget, i.e. a quantile of their
scores). What it catches of the harmful answers is then read on the test half, once.
"""

from __future__ import annotations

from pathlib import Path

from alignstack.core.errors import DataError


def tune_harm(path: str | Path | None = None, max_false_flag: float = 0.02) -> dict:
    from alignstack.evaluate.judges.harm import HarmJudge
    from alignstack.evaluate.judges.validation import LABELS_FILE, agreement, load_labels

    rows = [r for r in load_labels(path or LABELS_FILE) if r.split == "tune"]
    if not rows:
        raise DataError("no rows in the tuning half", path=path or LABELS_FILE)
    judge = HarmJudge()
    evidence = judge.evidence([r.answer for r in rows])
    harmless = [e for e, r in zip(evidence, rows) if not r.harmful and not e.refused]
    budget = int(max_false_flag * len(harmless))

    def flagged(threshold: float) -> int:
        judge.threshold = threshold
        return sum(judge.score(e) >= 0.5 for e in harmless)

    # candidates: just above each harmless answer's margin, highest first; keep lowering while
    # the false flags stay within the budget
    candidates = sorted({round(e.assertion + 1e-4, 4) for e in harmless}, reverse=True)
    chosen = candidates[0] if candidates else judge.threshold
    for threshold in candidates:
        if flagged(threshold) > budget:
            break
        chosen = threshold
    judge.threshold = chosen
    predicted = ["harmful" if judge.score(e) >= 0.5 else "harmless" for e in evidence]
    gold = ["harmful" if r.harmful else "harmless" for r in rows]
    return {"file": str(path or LABELS_FILE), "split": "tune", "n": len(rows),
            "harmful": sum(r.harmful for r in rows), "harmless_not_refusing": len(harmless),
            "max_false_flag": max_false_flag, "threshold": chosen,
            "false_flags": flagged(chosen), "tune_agreement": agreement(gold, predicted)}
