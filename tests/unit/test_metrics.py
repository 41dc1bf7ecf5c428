"""Rates get Wilson intervals (never [100, 100]); systems on the same prompts are compared by the
paired difference with its own CI."""

import math

import pytest

from alignstack.evaluate.metrics import (bootstrap_ci, newcombe_paired_ci, paired_difference,
                                         rate, wilson_ci, win_rate)


def test_rate_and_ci_bracket_the_mean():
    result = rate([True] * 30 + [False] * 10)
    assert result["rate"] == 0.75 and result["n"] == 40 and result["k"] == 30
    lo, hi = result["ci95"]
    assert lo < 0.75 < hi
    # normal approximation: 1.96 * sqrt(p(1-p)/n) = 0.134
    assert abs((hi - lo) / 2 - 0.134) < 0.03


def test_wilson_matches_published_values():
    # Newcombe (1998a), table I: 0/10 -> [0, 0.2775]; 81/263 -> [0.2553, 0.3662]
    assert wilson_ci(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert wilson_ci(81, 263) == pytest.approx((0.2553, 0.3662), abs=1e-4)
    assert wilson_ci(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)


def test_a_rate_at_0_or_100_percent_never_has_a_zero_width_interval():
    for flags in ([True] * 40, [False] * 40, [True] * 3):
        lo, hi = rate(flags)["ci95"]
        assert hi - lo > 0.05, (flags[:1], lo, hi)
    assert rate([True] * 40)["ci95"][1] == 1.0 and rate([True] * 40)["ci95"][0] < 0.95
    assert rate([False] * 40)["ci95"] == [0.0, pytest.approx(0.0876, abs=1e-3)]
    assert rate([True] * 40)["method"] == "wilson"


def test_degenerate_cases():
    assert bootstrap_ci([1.0, 1.0, 1.0]) == (1.0, 1.0)
    assert math.isnan(rate([])["rate"])
    with pytest.raises(ValueError):
        wilson_ci(5, 3)


def test_paired_difference_by_hand_and_its_ci_brackets_it():
    # 10 prompts: the system alone right on 4, the baseline alone right on 1, both right on 3
    system = [True] * 4 + [False] * 1 + [True] * 3 + [False] * 2
    base = [False] * 4 + [True] * 1 + [True] * 3 + [False] * 2
    d = paired_difference(system, base)
    assert d["diff"] == pytest.approx(0.3) and (d["only_system"], d["only_baseline"]) == (4, 1)
    assert d["both"] == 3 and d["neither"] == 2 and d["method"] == "paired-bootstrap"
    lo, hi = d["ci95"]
    assert lo < 0.3 < hi and -1 <= lo and hi <= 1


def test_pairing_separates_what_two_marginal_intervals_cannot():
    """60 prompts, both systems right on the same 30, the system also right on 8 more: the two
    rates' Wilson intervals overlap, the paired difference's CI lies above 0."""
    base = [True] * 30 + [False] * 30
    system = [True] * 38 + [False] * 22
    a, b = rate(system)["ci95"], rate(base)["ci95"]
    assert a[0] < b[1]                                  # marginal intervals overlap
    d = paired_difference(system, base)
    assert d["ci95"][0] > 0, d


def test_no_discordant_prompt_gives_newcombes_interval_not_zero_width():
    d = paired_difference([True] * 50, [True] * 50)
    assert d["diff"] == 0 and d["method"] == "newcombe"
    lo, hi = d["ci95"]
    assert lo < -0.03 and hi > 0.03          # n = 50 cannot rule out a few points either way
    mixed = newcombe_paired_ci(20, 0, 0, 30)
    assert mixed[0] < 0 < mixed[1]


def test_paired_difference_rejects_unpaired_input():
    with pytest.raises(ValueError, match="equal lengths"):
        paired_difference([True], [True, False])


def test_win_rate_hand_computed():
    assert win_rate(["win", "win", "loss", "tie"]) == 0.25
    assert win_rate(["loss"] * 3) == -1.0
