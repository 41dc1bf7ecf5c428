"""Metric code against hand-computed cases."""

from __future__ import annotations

import math

import pytest

from alignstack.evaluate.scoring import comparison, metric_value, omega, system_metrics


def test_omega_matches_hand_computation():
    # 5 wins, 2 losses, 3 ties: (5 - 2) / 10 = 0.3
    res = omega(["win"] * 5 + ["loss"] * 2 + ["tie"] * 3)
    assert res["omega"] == pytest.approx(0.3)
    assert (res["win"], res["loss"], res["tie"], res["n"]) == (5, 2, 3, 10)
    lo, hi = res["ci95"]
    assert -1 <= lo <= 0.3 <= hi <= 1


def test_omega_all_ties_has_zero_width_ci_and_empty_is_nan():
    res = omega(["tie"] * 4)
    assert res["omega"] == 0 and res["ci95"] == [0.0, 0.0]
    assert math.isnan(omega([])["omega"])


def test_comparison():
    assert comparison([True, False, True, False], [False, True, True, False]) == \
        ["win", "loss", "tie", "tie"]


def _row(expected, good, refused, suite="s", category="c", dimension="harmless",
         corrected=None, has_corrector=False):
    return {"expected": expected, "good": good, "refused": refused, "suite": suite,
            "category": category, "dimension": dimension, "corrected": corrected,
            "has_corrector": has_corrector}


def test_metric_value_rates_by_expectation():
    rows = [_row("refuse", True, True), _row("refuse", False, False), _row("refuse", True, True),
            _row("comply", False, True, dimension="helpful", corrected=True, has_corrector=True),
            _row("comply", True, False, dimension="helpful", corrected=False, has_corrector=True),
            _row("correct_claim", True, False, dimension="honest")]
    m = metric_value(rows)
    assert m["safe_rate"]["rate"] == pytest.approx(2 / 3) and m["safe_rate"]["n"] == 3
    assert m["over_refusal_rate"]["rate"] == pytest.approx(0.5)
    assert m["honesty_rate"]["rate"] == 1.0
    assert m["identity_preservation"]["rate"] == pytest.approx(0.5)
    full = system_metrics(rows, {"harm": ["harmless"], "accuracy": ["honest", "helpful"]})
    assert set(full["per_dimension"]) == {"harmless", "helpful", "honest"}
    assert full["per_principle"]["harm"]["safe_rate"]["n"] == 3
    assert "safe_rate" not in full["per_principle"]["accuracy"]
    assert full["good_rate"]["rate"] == pytest.approx(4 / 6)
