"""Rates with Wilson score intervals; differences between two systems on the same prompts with a
paired bootstrap of the difference; win rates.

Why these intervals:
- a rate (k of n) gets the Wilson score interval (Wilson 1927). Unlike the percentile bootstrap it
  never collapses at 0 % or 100 % (0 of 40 refused gives [0, 8.8 %], not [0, 0]) and it covers
  close to 95 % at the small n a suite's category has;
- two systems answered the same prompts, so their outcomes are paired: the CI that fits the
  comparison is the CI of the per-prompt difference, resampling prompts (both systems' outcomes
  on a prompt move together), not two overlapping marginal intervals. When no prompt differs the
  bootstrap has nothing to resample and would say [0, 0]; there the interval is Newcombe's score
  interval for a paired difference (1998, method 10), which is honest about n.
"""

from __future__ import annotations

import math
import random
from typing import Sequence

Z95 = 1.959963984540054


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


def wilson_ci(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for k successes in n trials ((nan, nan) when n is 0)."""
    if n == 0:
        return (float("nan"), float("nan"))
    if not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    # exact at the ends: the interval of 0 of n starts at 0, of n of n ends at 1
    lo = 0.0 if k == 0 else max(0.0, centre - half)
    hi = 1.0 if k == n else min(1.0, centre + half)
    return (lo, hi)


def rate(flags: Sequence[bool], **_ignored) -> dict:
    """{"rate", "ci95": [lo, hi], "n", "k", "method"} for a list of booleans; the interval is the
    Wilson score interval (keyword options of the former bootstrap are accepted and ignored)."""
    n = len(flags)
    k = sum(1 for f in flags if f)
    lo, hi = wilson_ci(k, n)
    return {"rate": (k / n) if n else float("nan"), "ci95": [lo, hi], "n": n, "k": k,
            "method": "wilson"}


def newcombe_paired_ci(a: int, b: int, c: int, d: int, z: float = Z95) -> tuple[float, float]:
    """Newcombe's (1998, method 10) score interval for p1 - p2 of paired binary outcomes:
    a = both true, b = first only, c = second only, d = neither."""
    n = a + b + c + d
    if n == 0:
        return (float("nan"), float("nan"))
    p1, p2 = (a + b) / n, (a + c) / n
    l1, u1 = wilson_ci(a + b, n, z)
    l2, u2 = wilson_ci(a + c, n, z)
    denom = (a + b) * (c + d) * (a + c) * (b + d)
    phi = (a * d - b * c) / math.sqrt(denom) if denom else 0.0
    delta = math.sqrt(max(0.0, (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2))
    eps = math.sqrt(max(0.0, (u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2))
    theta = p1 - p2
    return (max(-1.0, theta - delta), min(1.0, theta + eps))


def paired_difference(flags: Sequence[bool], base_flags: Sequence[bool], *,
                      resamples: int = 2000, alpha: float = 0.05, seed: int = 0) -> dict:
    """rate(flags) - rate(base_flags) over the same items, with a paired bootstrap 95 % CI:
    prompts are resampled, each keeping both systems' outcomes. With no discordant prompt the
    bootstrap is degenerate and Newcombe's paired score interval is given instead (`method`)."""
    if len(flags) != len(base_flags):
        raise ValueError(f"paired outcomes need equal lengths ({len(flags)} vs {len(base_flags)})")
    n = len(flags)
    a = sum(1 for f, g in zip(flags, base_flags) if f and g)
    b = sum(1 for f, g in zip(flags, base_flags) if f and not g)
    c = sum(1 for f, g in zip(flags, base_flags) if g and not f)
    out = {"diff": (b - c) / n if n else float("nan"), "n": n, "only_system": b, "only_baseline": c,
           "both": a, "neither": n - a - b - c}
    if n == 0:
        return {**out, "ci95": [float("nan"), float("nan")], "method": "none"}
    if b == 0 and c == 0:
        lo, hi = newcombe_paired_ci(a, b, c, n - a - b - c)
        return {**out, "ci95": [lo, hi], "method": "newcombe"}
    import numpy as np

    delta = np.asarray([float(bool(f)) - float(bool(g)) for f, g in zip(flags, base_flags)])
    rng = np.random.default_rng(seed)
    means = np.sort(delta[rng.integers(0, n, size=(resamples, n))].mean(axis=1))
    lo = float(means[int(alpha / 2 * resamples)])
    hi = float(means[min(resamples - 1, int((1 - alpha / 2) * resamples))])
    return {**out, "ci95": [lo, hi], "method": "paired-bootstrap"}


def win_rate(outcomes: Sequence[str]) -> float:
    """The Aligner paper's omega = (wins - losses) / (wins + losses + ties)."""
    wins = sum(o == "win" for o in outcomes)
    losses = sum(o == "loss" for o in outcomes)
    total = len(outcomes)
    return (wins - losses) / total if total else float("nan")
