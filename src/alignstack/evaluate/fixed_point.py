"""The fixed-point check of a corrector: good answers (the reviewed reference answers of held-out
benign and borderline records, given as the answer; or any file of good answers written by other
hands) must come back unchanged. An empty or looping output is a failure, never "unchanged"."""

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
    """Share returned unchanged (bootstrap CI), with the outcomes and a few that changed."""
    outs = corrector.correct(items)
    unchanged = [same_text(o.corrected, o.answer) and getattr(o, "outcome", None)
                 not in ("empty", "looped") for o in outs]
    outcomes = Counter(getattr(o, "outcome", None) or ("rewritten" if o.changed else "kept")
                       for o in outs)
    return {**rate(unchanged), "outcomes": dict(outcomes),
            "changed_examples": [{"question": o.question, "answer": o.answer,
                                  "corrected": o.corrected}
                                 for o, u in zip(outs, unchanged) if not u][:5]}
