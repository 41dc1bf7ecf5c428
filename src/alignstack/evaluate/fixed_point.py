"""The fixed-point check: good answers (the reviewed reference answers of held-out benign and
borderline records, given as the answer; or any file of good answers written by other hands) must
come back unchanged. Measured on a stack, it is what is served (through the exit); on a bare
corrector, what it proposes, where an empty or looping output is a failure, never "unchanged"."""

from __future__ import annotations

from collections import Counter

from alignstack.core.records import QA, Correction, read_jsonl, same_text
from alignstack.evaluate.metrics import rate


def fixed_point_items(path: str, kinds: list[str]) -> list[QA]:
    return [QA(question=r.question, answer=r.correction, principles=r.principles)
            for r in read_jsonl(path, Correction) if r.kind in kinds]


def good_answer_items(path: str) -> list[QA]:
    """A file of good answers (`question`, `answer`), given as they are."""
    return [QA(question=r.question, answer=r.answer, principles=r.principles)
            for r in read_jsonl(path, QA)]


def fixed_point_rate(corrector, items: list[QA]) -> dict:
    """Share returned unchanged (bootstrap CI), with the outcomes and a few that changed.
    `corrector`: a `Stack` (what is served: the good answers go through its whole guard and its
    exit, `paths` says how each was served), or a bare corrector (what it proposes)."""
    if hasattr(corrector, "check"):
        return served_fixed_point(corrector, items)
    outs = corrector.correct(items)
    unchanged = [same_text(o.corrected, o.answer) and getattr(o, "outcome", None)
                 not in ("empty", "looped") for o in outs]
    outcomes = Counter(getattr(o, "outcome", None) or ("rewritten" if o.changed else "kept")
                       for o in outs)
    return {**rate(unchanged), "outcomes": dict(outcomes),
            "changed_examples": [{"question": o.question, "answer": o.answer,
                                  "corrected": o.corrected}
                                 for o, u in zip(outs, unchanged) if not u][:5]}


def served_fixed_point(stack, items: list[QA]) -> dict:
    """The good answers given as the upstream's, through `stack.check` (gates, corrector, exit):
    the share served unchanged."""
    results = stack.check(items)
    unchanged = [same_text(r.final, r.answer) for r in results]
    return {**rate(unchanged), "outcomes": dict(Counter(r.outcome or "kept" for r in results)),
            "paths": dict(Counter(r.path for r in results)),
            "changed_examples": [{"question": r.question, "answer": r.answer, "served": r.final,
                                  "path": r.path, "reason": r.reason}
                                 for r, u in zip(results, unchanged) if not u][:5]}
