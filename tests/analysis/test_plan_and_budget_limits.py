"""Limits on what the analysis extrapolates: budgets far above current spend, far-off plan dates."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

from mediamix.analysis.constraints import MAX_BUDGET_RATIO, BudgetError
from mediamix.analysis.metrics import current_spend
from mediamix.analysis.optimize import budget_frontier, optimize_budget
from mediamix.analysis.predict import PlanRangeWarning, example_plan, predict_plan
from tests.shared_fit import small_fit


def test_budget_above_1000x_current_spend_is_refused() -> None:
    _, result = small_fit()
    total = float(current_spend(result, None).sum())
    with pytest.raises(BudgetError, match=r"at most 1000x"):
        optimize_budget(result, total * MAX_BUDGET_RATIO * 1.01)
    with pytest.raises(BudgetError, match=r"current spend per period"):
        budget_frontier(result, [total, total * 5000])
    optimize_budget(result, total * 2)  # well inside the limit: allowed


def test_plan_dates_far_outside_training_warn() -> None:
    _, result = small_fit()
    plan = example_plan(result, periods=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", PlanRangeWarning)
        predict_plan(result, plan)  # right after the training window: no warning
    far = plan.assign(date=plan["date"] + pd.Timedelta(weeks=52 * 10))
    with pytest.warns(PlanRangeWarning, match="outside it"):
        predict_plan(result, far)
    before = plan.assign(date=plan["date"] - pd.Timedelta(weeks=52 * 12))
    with pytest.warns(PlanRangeWarning):
        predict_plan(result, before)
