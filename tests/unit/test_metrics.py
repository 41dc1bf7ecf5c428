import math

from alignstack.evaluate.metrics import bootstrap_ci, rate, win_rate


def test_rate_and_ci_bracket_the_mean():
    result = rate([True] * 30 + [False] * 10)
    assert result["rate"] == 0.75 and result["n"] == 40
    lo, hi = result["ci95"]
    assert lo < 0.75 < hi
    # normal approximation: 1.96 * sqrt(p(1-p)/n) = 0.134
    assert abs((hi - lo) / 2 - 0.134) < 0.03


def test_degenerate_cases():
    assert bootstrap_ci([1.0, 1.0, 1.0]) == (1.0, 1.0)
    assert math.isnan(rate([])["rate"])


def test_win_rate_hand_computed():
    assert win_rate(["win", "win", "loss", "tie"]) == 0.25
    assert win_rate(["loss"] * 3) == -1.0
