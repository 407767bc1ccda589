"""Budget allocation over the posterior: where the next unit of spend should go.

:func:`optimize_budget` splits a budget per period (per week for weekly data) across channels so
as to maximise the steady-state expected incremental outcome per period over every posterior
draw (see :mod:`mediamix.analysis.response`), subject to the total and to per-channel bounds. The
objective and its exact gradient come from one compiled PyTensor graph over all draws; scipy's
SLSQP solves the constrained problem from a few starting points and the best feasible point wins,
so with the budget equal to current total spend the result is never worse than current spend.

For a geo fit the decision is still spend per channel, each geo receiving its historical share
of the channel's spend and the response summed over geos; ``by_geo=True`` decides spend per
``<geo>/<channel>`` instead (:mod:`mediamix.analysis.geo_response`).

The budget and the bounds are parsed and checked by :mod:`mediamix.analysis.constraints`
before anything is compiled.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.optimize import minimize

from mediamix.analysis.constraints import (
    BoundsSpec,
    BudgetError,
    check_budget,
    check_budget_scale,
    resolve_bounds,
)
from mediamix.analysis.geo_response import current_spend_of, steady_state_response
from mediamix.analysis.metrics import Interval, Window
from mediamix.analysis.response import Objective, SteadyStateResponse
from mediamix.analysis.scenarios import PlanComparison, compare_spend
from mediamix.inference.fit import FitResult

__all__ = ["OBJECTIVES", "Allocation", "Frontier", "allocate", "budget_frontier", "optimize_budget"]

FloatArray = npt.NDArray[np.float64]
OBJECTIVES = ("mean", "risk-aware")


def _project(x: FloatArray, lower: FloatArray, upper: FloatArray, budget: float) -> FloatArray:
    """The point ``clip(x + t, lower, upper)`` that sums to ``budget``, then exact to rounding."""
    lo_t, hi_t = float(np.min(lower - x)), float(np.max(upper - x))
    for _ in range(200):
        mid = 0.5 * (lo_t + hi_t)
        if np.clip(x + mid, lower, upper).sum() < budget:
            lo_t = mid
        else:
            hi_t = mid
    out = np.clip(x + 0.5 * (lo_t + hi_t), lower, upper)
    # hand what rounding left over to the channels with room, largest room first
    for _ in range(2):
        gap = budget - out.sum()
        room = (upper - out) if gap > 0 else (out - lower)
        for j in np.argsort(-room):
            step = float(np.sign(gap) * min(abs(gap), room[j]))
            out[j] += step
            gap -= step
            if gap == 0:
                break
    return np.asarray(out, dtype=np.float64)


def allocate(
    response: SteadyStateResponse,
    budget: float,
    lower: npt.ArrayLike,
    upper: npt.ArrayLike,
    *,
    objective: Objective = "mean",
    risk_aversion: float = 1.0,
    starts: Sequence[npt.ArrayLike] = (),
) -> FloatArray:
    """Maximise the objective over spend per period with ``sum = budget`` and the bounds.

    The optimisation core, on plain arrays: SLSQP with the exact gradient, run from each start
    (projected onto the feasible set) plus an even split; the best feasible point is returned.

    Parameters
    ----------
    response : SteadyStateResponse
        The compiled steady-state response (posterior draws or a known truth).
    budget : float
        Total spend per period.
    lower, upper : array_like
        Per-channel bounds in channel order; they must admit the budget
        (see :func:`resolve_bounds`).
    objective : {"mean", "risk-aware"}
        See :meth:`SteadyStateResponse.objective`.
    risk_aversion : float, default 1.0
        ``k`` in ``mean - k * sd`` for ``risk-aware``.
    starts : sequence of array_like
        Extra starting points (e.g. current spend); each is projected onto the feasible set.

    Returns
    -------
    numpy.ndarray
        Spend per channel: sums to the budget and lies within the bounds.
    """
    lo, hi = np.asarray(lower, dtype=np.float64), np.asarray(upper, dtype=np.float64)
    f = response.objective(objective, risk_aversion)
    candidates = [_project(np.asarray(s, dtype=np.float64), lo, hi, budget) for s in starts]
    candidates.append(_project(np.full(len(lo), budget / len(lo)), lo, hi, budget))
    best = max(candidates, key=lambda x: f(x)[0])
    free = hi - lo > 1e-12 * budget
    if free.sum() < 2:
        return best  # nothing to trade: the bounds fix the allocation
    scale = max(abs(f(best)[0]), 1e-12)
    for x0 in candidates:
        x = _project(_slsqp(f, x0, lo, hi, budget, scale), lo, hi, budget)
        if f(x)[0] > f(best)[0]:
            best = x
    return best


def _slsqp(
    f: Callable[[FloatArray], tuple[float, FloatArray]],
    x0: FloatArray,
    lower: FloatArray,
    upper: FloatArray,
    budget: float,
    scale: float,
) -> FloatArray:
    """One SLSQP run on spend / budget (so the variables are of order 1), from ``x0``."""

    def negative(z: FloatArray) -> tuple[float, FloatArray]:
        value, grad = f(z * budget)
        return -value / scale, -grad * (budget / scale)

    res = minimize(
        negative,
        x0 / budget,
        jac=True,
        method="SLSQP",
        bounds=list(zip(lower / budget, upper / budget, strict=True)),
        constraints=[{"type": "eq", "fun": lambda z: z.sum() - 1.0, "jac": np.ones_like}],
        options={"maxiter": 500, "ftol": 1e-12},
    )
    return np.asarray(res.x, dtype=np.float64) * budget


@dataclass(frozen=True)
class Allocation:
    """An optimised budget split and how it compares with current spend.

    Attributes
    ----------
    budget : float
        Budget per period.
    allocation, current, lower, upper : pandas.Series
        Spend per period and channel: optimised, current (mean over the window), and the bounds.
    objective : str
        ``mean`` or ``risk-aware``.
    risk_aversion : float
        ``k`` in ``mean - k * sd`` (used by ``risk-aware`` only).
    comparison : PlanComparison
        Expected incremental outcome per period of the allocation and of current spend, the
        lift and the probability that it is positive.
    seconds : float
        Wall time of the optimisation (compilation included).
    """

    budget: float
    allocation: pd.Series
    current: pd.Series
    lower: pd.Series
    upper: pd.Series
    objective: str
    risk_aversion: float
    comparison: PlanComparison
    seconds: float

    @property
    def expected_outcome(self) -> Interval:
        """Expected incremental outcome per period under the allocation."""
        return self.comparison.plan_outcome

    @property
    def current_outcome(self) -> Interval:
        """Expected incremental outcome per period under current spend."""
        return self.comparison.current_outcome

    @property
    def lift(self) -> Interval:
        """Allocation minus current, per period."""
        return self.comparison.lift

    @property
    def p_lift_positive(self) -> float:
        """Posterior probability that the allocation beats current spend."""
        return self.comparison.p_lift_positive

    def table(self) -> pd.DataFrame:
        """Per channel: bounds, current and optimised spend, and their expected outcomes."""
        out = self.comparison.channels.copy()
        out.insert(0, "min", self.lower.to_numpy())
        out.insert(1, "max", self.upper.to_numpy())
        return out

    def to_dict(self) -> dict[str, Any]:
        """The ``allocation.json`` content.

        Returns
        -------
        dict
            ``allocation``, ``current`` (``{channel: spend}``), ``expected_outcome``,
            ``current_outcome``, ``lift`` (``{"mean", "hdi_low", "hdi_high"}``),
            ``p_lift_positive``, plus ``budget``, ``objective``, ``risk_aversion``,
            ``hdi_prob`` and ``bounds``.
        """
        return {
            "allocation": {k: float(v) for k, v in self.allocation.items()},
            "current": {k: float(v) for k, v in self.current.items()},
            "expected_outcome": self.expected_outcome.to_dict(),
            "current_outcome": self.current_outcome.to_dict(),
            "lift": self.lift.to_dict(),
            "p_lift_positive": self.p_lift_positive,
            "budget": self.budget,
            "objective": self.objective,
            "risk_aversion": self.risk_aversion,
            "hdi_prob": self.comparison.hdi_prob,
            "bounds": {
                k: [float(self.lower[k]), float(self.upper[k])] for k in self.allocation.index
            },
        }


def _check_objective(objective: str, risk_aversion: float) -> None:
    if objective not in OBJECTIVES:
        raise BudgetError(f"objective must be one of {list(OBJECTIVES)}, got {objective!r}")
    if not isinstance(risk_aversion, int | float) or not math.isfinite(risk_aversion):
        raise BudgetError(f"risk_aversion must be a finite number, got {risk_aversion!r}")
    if risk_aversion < 0:
        raise BudgetError(f"risk_aversion must be >= 0, got {risk_aversion!r}")


def optimize_budget(
    result: FitResult,
    budget: float,
    *,
    bounds: BoundsSpec | None = None,
    objective: Objective = "mean",
    risk_aversion: float = 1.0,
    window: Window = None,
    draws: int | None = None,
    response: SteadyStateResponse | None = None,
    by_geo: bool = False,
) -> Allocation:
    """Allocate a budget per period across channels to maximise expected incremental outcome.

    Parameters
    ----------
    result : FitResult
        The fit.
    budget : float
        Total spend per period (per week for weekly data).
    bounds : mapping, optional
        ``{channel or "*": (min, max)}``: absolute amounts per period, changes relative to
        current spend (``"-30%"``, ``"+30%"``) or None. Every channel in [0, budget] otherwise.
    objective : {"mean", "risk-aware"}, default "mean"
        ``mean`` maximises the posterior mean; ``risk-aware`` maximises
        ``mean - risk_aversion * sd`` of the total incremental outcome.
    risk_aversion : float, default 1.0
        ``k`` for the risk-aware objective.
    window : (start, end), optional
        Window that defines current spend (mean spend per period); all data by default.
    draws : int, optional
        Use this many evenly spaced posterior draws; all by default.
    response : SteadyStateResponse, optional
        A compiled response of this fit to reuse.
    by_geo : bool, default False
        For a geo fit: allocate per ``<geo>/<channel>`` (bounds may name those, or a channel
        for all its geos) instead of per channel at the historical geo split.

    Returns
    -------
    Allocation

    Raises
    ------
    BudgetError
        For a budget that is not a positive number, an unknown channel in the bounds, bounds
        that cannot all hold, or an unknown objective; raised before any compilation.
    """
    started = time.perf_counter()
    budget = check_budget(budget)
    _check_objective(objective, risk_aversion)
    current = current_spend_of(result, window, by_geo)
    check_budget_scale(budget, float(current.sum()))
    limits = resolve_bounds(bounds, list(current.index), current.to_numpy(), budget)
    response = response or steady_state_response(result, draws, by_geo=by_geo)
    problem = _Problem(result, response, current, objective, float(risk_aversion))
    return problem.solve(budget, limits, [_scaled(current.to_numpy(), budget)], started)


def _scaled(spend: FloatArray, budget: float) -> FloatArray:
    """``spend`` rescaled to sum to ``budget``: the same mix at another level."""
    return spend * (budget / max(float(spend.sum()), 1e-300))


@dataclass(frozen=True)
class _Problem:
    """What stays fixed while budgets change: the fit, its response, current spend, objective."""

    result: FitResult
    response: SteadyStateResponse
    current: pd.Series
    objective: Objective
    risk_aversion: float

    def solve(
        self,
        budget: float,
        limits: tuple[FloatArray, FloatArray],
        starts: Sequence[FloatArray],
        started: float,
    ) -> Allocation:
        """Allocate ``budget`` within ``limits`` (lower, upper) from ``starts``."""
        lower, upper = limits
        x = allocate(
            self.response,
            budget,
            lower,
            upper,
            objective=self.objective,
            risk_aversion=self.risk_aversion,
            starts=starts,
        )
        index = pd.Index(list(self.response.channels), name="channel")
        plan = pd.Series(x, index=index, name="spend")
        prob = self.result.config.hdi_prob
        return Allocation(
            budget=budget,
            allocation=plan,
            current=self.current.rename("spend"),
            lower=pd.Series(lower, index=index, name="min"),
            upper=pd.Series(upper, index=index, name="max"),
            objective=self.objective,
            risk_aversion=self.risk_aversion,
            comparison=compare_spend(self.response, plan, self.current, prob),
            seconds=time.perf_counter() - started,
        )


@dataclass(frozen=True)
class Frontier:
    """Optimised allocations for several budgets (the efficient frontier)."""

    allocations: list[Allocation]

    def table(self) -> pd.DataFrame:
        """One row per budget: spend per channel, expected outcome with HDI, lift, P(lift > 0)."""
        rows = []
        for a in self.allocations:
            row: dict[str, float] = {"budget": a.budget}
            row.update({f"spend_{k}": float(v) for k, v in a.allocation.items()})
            e = a.expected_outcome
            row.update(
                expected_outcome=e.mean,
                expected_outcome_hdi_low=e.hdi_low,
                expected_outcome_hdi_high=e.hdi_high,
                lift=a.lift.mean,
                p_lift_positive=a.p_lift_positive,
            )
            rows.append(row)
        return pd.DataFrame(rows).set_index("budget")


def budget_frontier(
    result: FitResult,
    budgets: Sequence[float],
    *,
    bounds: BoundsSpec | None = None,
    objective: Objective = "mean",
    risk_aversion: float = 1.0,
    window: Window = None,
    draws: int | None = None,
    response: SteadyStateResponse | None = None,
    by_geo: bool = False,
) -> Frontier:
    """Optimise several budgets in one call, compiling the model graph once.

    Parameters are those of :func:`optimize_budget`, with ``budgets`` a sequence of budgets
    per period. Every budget and its bounds are checked before any optimisation.

    Returns
    -------
    Frontier
        One :class:`Allocation` per budget, in the order given.
    """
    if isinstance(budgets, str) or not isinstance(budgets, Sequence) or not budgets:
        raise BudgetError(f"budgets must be a non-empty sequence of numbers, got {budgets!r}")
    _check_objective(objective, risk_aversion)
    current = current_spend_of(result, window, by_geo)
    checked = [check_budget(b) for b in budgets]
    for b in checked:
        check_budget_scale(b, float(current.sum()))
    names = list(current.index)
    limits = [resolve_bounds(bounds, names, current.to_numpy(), b) for b in checked]
    response = response or steady_state_response(result, draws, by_geo=by_geo)
    problem = _Problem(result, response, current, objective, float(risk_aversion))
    out: list[Allocation] = []
    for budget, budget_limits in zip(checked, limits, strict=True):
        started = time.perf_counter()
        starts = [_scaled(current.to_numpy(), budget)]
        if out:  # the previous budget's mix is a good start for the next
            starts.append(_scaled(out[-1].allocation.to_numpy(), budget))
        out.append(problem.solve(budget, budget_limits, starts, started))
    return Frontier(out)
