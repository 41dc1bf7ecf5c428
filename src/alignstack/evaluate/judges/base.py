"""The judge contracts, the judge registry and `load_judge`, which imports a judge's module lazily.

Two kinds of judge:
- `Judge`: labels single question-answer pairs (`judge(items) -> list[Judgement]`).
- `PairwiseJudgeProtocol`: compares two systems' answers to the same questions
  (`compare(questions, answers_a, answers_b) -> ["win" | "loss" | "tie", ...]`, from A's side).
"""

from __future__ import annotations

from functools import cached_property
from typing import Protocol, Sequence, runtime_checkable

from alignstack.core.errors import DataError
from alignstack.core.records import QA, Judgement
from alignstack.core.registry import Registry

JUDGES: Registry = Registry("judge")

# Registered name -> module under alignstack.evaluate.judges (imported only when asked for).
JUDGE_MODULES = {"refusal": "refusal", "honesty": "honesty", "pairwise": "pairwise",
                 "reward": "reward", "toxicity": "toxicity", "inspector": "inspector",
                 "support": "support", "harm": "harm"}

OUTCOMES = ("win", "loss", "tie")

# Typographic apostrophes and quotes, as models copy them from a prompt ("I won’t help"), folded
# to ASCII before any phrase list is matched.
_TYPOGRAPHIC = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u201c": '"',
                              "\u201d": '"'})


def plain_quotes(text: str) -> str:
    return text.translate(_TYPOGRAPHIC)


class EncoderJudgeMixin:
    """A judge that reads answers with the shared sentence encoder (`encoder_path`, loaded once
    per process) and embeds text in `batch_size` batches, normalised."""

    encoder_path: str | None
    batch_size: int

    @cached_property
    def encoder(self):
        from alignstack.backends.encoders import load_encoder

        return load_encoder(self.encoder_path)

    def _encode(self, texts: list[str]):
        return self.encoder.encode(texts, normalize_embeddings=True, convert_to_tensor=True,
                                   batch_size=self.batch_size)


@runtime_checkable
class Judge(Protocol):
    name: str

    def judge(self, items: list[QA]) -> list[Judgement]:
        """One Judgement per item, in order."""
        ...


@runtime_checkable
class PairwiseJudgeProtocol(Protocol):
    name: str

    def compare(self, questions: Sequence[str], answers_a: Sequence[str],
                answers_b: Sequence[str]) -> list[str]:
        """"win" / "loss" / "tie" for system A against system B, one per question."""
        ...


def load_judge(name: str, **options: object):
    """Build a judge by registered name, importing its module only now (heavy libraries)."""
    import importlib

    if name not in JUDGES and name in JUDGE_MODULES:
        importlib.import_module(f"alignstack.evaluate.judges.{JUDGE_MODULES[name]}")
    if name not in JUDGES:
        # Make the error list every judge that exists, not only those imported so far.
        for module in JUDGE_MODULES.values():
            importlib.import_module(f"alignstack.evaluate.judges.{module}")
    return JUDGES.get(name)(**options)


def check_items(items: Sequence[QA], judge: str) -> None:
    """Reject an empty or wrongly typed batch with a clear error."""
    if len(items) == 0:
        raise DataError(f"judge '{judge}': no items to judge (empty list)")
    for index, item in enumerate(items):
        if not isinstance(item, QA):
            raise DataError(f"judge '{judge}': expected QA records, got "
                            f"{type(item).__name__}", field=f"items[{index}]")


def check_pairs(questions: Sequence[str], answers_a: Sequence[str], answers_b: Sequence[str],
                judge: str) -> None:
    """Questions and both systems' answers must be non-empty and of equal length."""
    lengths = {"questions": len(questions), "answers_a": len(answers_a),
               "answers_b": len(answers_b)}
    if lengths["questions"] == 0:
        raise DataError(f"judge '{judge}': nothing to compare (empty list)")
    if len(set(lengths.values())) != 1:
        shown = ", ".join(f"{k}={v}" for k, v in lengths.items())
        raise DataError(f"judge '{judge}': mismatched lengths ({shown})")
    for field, values in (("questions", questions), ("answers_a", answers_a),
                          ("answers_b", answers_b)):
        for index, value in enumerate(values):
            if not isinstance(value, str):
                raise DataError(f"judge '{judge}': expected text, got {type(value).__name__}",
                                field=f"{field}[{index}]")
