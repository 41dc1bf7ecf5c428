"""Rates and win rates with bootstrap 95 % confidence intervals."""

from __future__ import annotations

import random
from typing import Sequence


def bootstrap_ci(values: Sequence[float], *, resamples: int = 2000, alpha: float = 0.05,
                 seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean of `values`."""
    n = len(values)
    if n == 0:
        return (float("nan"), float("nan"))
    rng = random.Random(seed)
    means = sorted(sum(values[rng.randrange(n)] for _ in range(n)) / n for _ in range(resamples))
    lo = means[int(alpha / 2 * resamples)]
    hi = means[min(resamples - 1, int((1 - alpha / 2) * resamples))]
    return (lo, hi)


def rate(flags: Sequence[bool], **kwargs) -> dict:
    """{"rate", "ci95": [lo, hi], "n"} for a list of booleans."""
    values = [1.0 if f else 0.0 for f in flags]
    n = len(values)
    lo, hi = bootstrap_ci(values, **kwargs)
    return {"rate": (sum(values) / n) if n else float("nan"), "ci95": [lo, hi], "n": n}


def win_rate(outcomes: Sequence[str]) -> float:
    """The Aligner paper's omega = (wins - losses) / (wins + losses + ties)."""
    wins = sum(o == "win" for o in outcomes)
    losses = sum(o == "loss" for o in outcomes)
    total = len(outcomes)
    return (wins - losses) / total if total else float("nan")
