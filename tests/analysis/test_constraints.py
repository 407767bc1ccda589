"""The optimizer's constraints: budgets and per-channel bounds, parsed and checked up front."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mediamix.analysis.constraints import BudgetError, check_budget, parse_bounds, resolve_bounds

CHANNELS = ["adwords", "facebook", "linkedin"]


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    budget=st.floats(1.0, 1e7),
    mins=st.lists(st.floats(0.0, 1e7), min_size=3, max_size=3),
)
def test_minimums_over_the_budget_are_refused(budget: float, mins: list[float]) -> None:
    bounds = {ch: (m, None) for ch, m in zip(CHANNELS, mins, strict=True)}
    if sum(mins) > budget * (1 + 1e-9):
        with pytest.raises(BudgetError, match="bounds cannot all hold: the minim"):
            resolve_bounds(bounds, CHANNELS, np.zeros(3), budget)
    else:
        lower, upper = resolve_bounds(bounds, CHANNELS, np.zeros(3), budget)
        np.testing.assert_array_equal(lower, mins)
        assert (upper == budget).all()


def test_budget_checks() -> None:
    assert check_budget("1e5") == 1e5
    assert check_budget(250) == 250.0
    for bad in ("abc", 0, -1, float("nan"), float("inf"), None, True, "  "):
        with pytest.raises(BudgetError, match="budget must be"):
            check_budget(bad)


def test_bounds_syntax() -> None:
    parsed = parse_bounds(["tv=1000:5000", "search=-30%:+30%", "radio=:2000", "*=10:"])
    assert parsed == {
        "tv": ("1000", "5000"),
        "search": ("-30%", "+30%"),
        "radio": (None, "2000"),
        "*": ("10", None),
    }
    for bad in ("tv", "tv=100", "=1:2"):
        with pytest.raises(BudgetError, match="CHANNEL=MIN:MAX"):
            parse_bounds([bad])
    with pytest.raises(BudgetError, match="has bounds already"):
        parse_bounds(["tv=1:2", "tv=3:4"])


def test_resolve_bounds() -> None:
    current = np.array([100.0, 200.0, 300.0])
    lower, upper = resolve_bounds(
        {"adwords": ("-30%", "+30%"), "*": (50, None)}, CHANNELS, current, 600.0
    )
    np.testing.assert_allclose(lower, [70.0, 50.0, 50.0])
    np.testing.assert_allclose(upper, [130.0, 600.0, 600.0])
    cases = {
        "unknown channel": ({"tv": (None, None)}, 600.0),
        "min 500.00 > max 400.00": ({"adwords": (500, 400)}, 600.0),
        "maximums add up": ({"*": ("-30%", "+30%")}, 1000.0),
        "needs a sign": ({"adwords": ("30%", None)}, 600.0),
        ">= -100%": ({"adwords": ("-130%", None)}, 600.0),
        "finite and >= 0": ({"adwords": (-5, None)}, 600.0),
        "expected an amount": ({"adwords": ("lots", None)}, 600.0),
    }
    for message, (bounds, budget) in cases.items():
        with pytest.raises(BudgetError, match=message):
            resolve_bounds(bounds, CHANNELS, current, budget)  # type: ignore[arg-type]
