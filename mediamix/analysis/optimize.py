"""Budget allocation over the posterior: where the next unit of spend should go.

:func:`optimize_budget` splits a budget per period (per week for weekly data) across channels so
as to maximise the steady-state expected incremental outcome per period over every posterior
draw (see :mod:`mediamix.analysis.response`), subject to the total and to per-channel bounds. The
objective and its exact gradient come from one compiled PyTensor graph over all draws; scipy's
SLSQP solves the constrained problem from a few starting points and the best feasible point wins,
so with the budget equal to current total spend the result is never worse than current spend.

Bounds are ``(min, max)`` per channel, each side an absolute amount per period (``5000``), a
change relative to the channel's current spend (``"-30%"``, ``"+30%"``), or ``None`` (0 and the
budget). The key ``"*"`` sets the bounds of every channel not named on its own. On the command
line the same bounds read ``CHANNEL=MIN:MAX``: ``tv=1000:5000``, ``search=-30%:+30%``,
``radio=:2000``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.optimize import minimize

from mediamix.analysis.metrics import (
    Interval,
    PlanComparison,
    Window,
    compare_spend,
    current_spend,
)
from mediamix.analysis.response import MediaParameters, Objective, SteadyStateResponse
from mediamix.errors import MediamixError
from mediamix.inference.fit import FitResult

__all__ = [
    "Allocation",
    "BudgetError",
    "Frontier",
    "allocate",
    "budget_frontier",
    "check_budget",
    "optimize_budget",
    "parse_bounds",
    "resolve_bounds",
]

FloatArray = npt.NDArray[np.float64]
Bound = float | str | None
BoundsSpec = Mapping[str, tuple[Bound, Bound]]
OBJECTIVES = ("mean", "risk-aware")


class BudgetError(MediamixError):
    """A budget, bound or objective that cannot be used; raised before any optimisation."""


def check_budget(budget: Any) -> float:
    """Validate a budget per period: a finite number > 0 (a numeric string is accepted).

    Raises
    ------
    BudgetError
        If the budget is not a number, not finite, or not positive.
    """
    if isinstance(budget, bool):
        raise BudgetError(f"budget must be a number > 0, got {budget!r}")
    try:
        value = float(budget)
    except (TypeError, ValueError):
        raise BudgetError(f"budget must be a number > 0, got {budget!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise BudgetError(f"budget must be a finite number > 0, got {budget!r}")
    return value


def parse_bounds(specs: Sequence[str]) -> dict[str, tuple[Bound, Bound]]:
    """Parse ``CHANNEL=MIN:MAX`` texts into a bounds mapping.

    Parameters
    ----------
    specs : sequence of str
        E.g. ``["tv=1000:5000", "search=-30%:+30%", "radio=:2000", "*=-50%:+50%"]``. Either side
        may be empty (0, or the budget); ``*`` stands for every channel not named.

    Returns
    -------
    dict
        ``{channel: (min, max)}`` with each side a string or None, for :func:`resolve_bounds`.

    Raises
    ------
    BudgetError
        If a text does not have the form ``CHANNEL=MIN:MAX`` or names a channel twice.
    """
    out: dict[str, tuple[Bound, Bound]] = {}
    for spec in specs:
        name, eq, rest = spec.partition("=")
        low, colon, high = rest.partition(":")
        name = name.strip()
        if not eq or not colon or not name:
            raise BudgetError(
                f"bounds {spec!r}: expected CHANNEL=MIN:MAX, e.g. tv=1000:5000 or tv=-30%:+30%"
            )
        if name in out:
            raise BudgetError(f"bounds {spec!r}: channel {name!r} has bounds already")
        out[name] = (low.strip() or None, high.strip() or None)
    return out


def _bound_value(value: Bound, current: float, default: float, where: str) -> float:
    if value is None:
        return default
    if isinstance(value, str) and value.strip().endswith("%"):
        text = value.strip()[:-1].strip()
        if not text.startswith(("+", "-")):
            raise BudgetError(
                f"{where}: a relative bound needs a sign, like -30% or +30%; got {value!r}"
            )
        try:
            change = float(text) / 100.0
        except ValueError:
            raise BudgetError(f"{where}: {value!r} is not a percentage") from None
        if not math.isfinite(change) or change < -1:
            raise BudgetError(f"{where}: a relative bound must be >= -100%, got {value!r}")
        return current * (1.0 + change)
    if isinstance(value, bool):
        raise BudgetError(f"{where}: expected an amount or a percentage, got {value!r}")
    try:
        amount = float(value)
    except (TypeError, ValueError):
        raise BudgetError(
            f"{where}: expected an amount (5000) or a change relative to current spend "
            f"(-30%, +30%), got {value!r}"
        ) from None
    if not math.isfinite(amount) or amount < 0:
        raise BudgetError(f"{where}: an amount must be finite and >= 0, got {value!r}")
    return amount


def resolve_bounds(
    bounds: BoundsSpec | None,
    channels: Sequence[str],
    current: npt.ArrayLike,
    budget: float,
) -> tuple[FloatArray, FloatArray]:
    """Turn a bounds mapping into absolute ``(lower, upper)`` arrays and check they can hold.

    Parameters
    ----------
    bounds : mapping, optional
        ``{channel or "*": (min, max)}`` (see the module docstring). Unbounded by default:
        every channel between 0 and the budget.
    channels : sequence of str
        Channel order of the result.
    current : array_like
        Current spend per period, for relative bounds.
    budget : float
        Budget per period.

    Returns
    -------
    lower, upper : numpy.ndarray
        Per channel, in currency per period; ``upper`` is capped at the budget.

    Raises
    ------
    BudgetError
        If a channel is unknown, a side is malformed, a minimum exceeds its maximum, the
        minimums add up to more than the budget, or the maximums to less.
    """
    budget = check_budget(budget)
    spec = dict(bounds or {})
    unknown = sorted(set(spec) - {*channels, "*"})
    if unknown:
        raise BudgetError(f"bounds name unknown channel(s) {unknown}; the channels are {channels}")
    now = np.asarray(current, dtype=np.float64)
    lower, upper = np.zeros(len(channels)), np.full(len(channels), budget)
    for j, ch in enumerate(channels):
        low, high = spec.get(ch, spec.get("*", (None, None)))
        lower[j] = _bound_value(low, float(now[j]), 0.0, f"bounds for {ch} (min)")
        upper[j] = min(_bound_value(high, float(now[j]), budget, f"bounds for {ch} (max)"), budget)
        if lower[j] > budget:
            raise BudgetError(
                f"bounds cannot all hold: the minimum for {ch}, {lower[j]:,.2f}, is more than "
                f"the budget {budget:,.2f}"
            )
        if lower[j] > upper[j]:
            raise BudgetError(
                f"bounds for {ch}: min {lower[j]:,.2f} > max {upper[j]:,.2f} "
                f"(max is capped at the budget {budget:,.2f})"
            )
    _check_feasible(lower, upper, budget)
    return lower, upper


def _check_feasible(lower: FloatArray, upper: FloatArray, budget: float) -> None:
    tol = 1e-9 * budget
    if lower.sum() > budget + tol:
        raise BudgetError(
            f"bounds cannot all hold: the minimums add up to {lower.sum():,.2f}, "
            f"more than the budget {budget:,.2f}"
        )
    if upper.sum() < budget - tol:
        raise BudgetError(
            f"bounds cannot all hold: the maximums add up to {upper.sum():,.2f}, "
            f"less than the budget {budget:,.2f}"
        )


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
    current = current_spend(result, window)
    lower, upper = resolve_bounds(bounds, result.channels, current.to_numpy(), budget)
    response = response or SteadyStateResponse(MediaParameters.from_fit(result, draws))
    scaled_current = current.to_numpy() * (budget / max(float(current.sum()), 1e-300))
    x = allocate(
        response,
        budget,
        lower,
        upper,
        objective=objective,
        risk_aversion=risk_aversion,
        starts=[scaled_current],
    )
    return _allocation(
        result, response, budget, x, current, lower, upper, objective, risk_aversion, started
    )


def _allocation(
    result: FitResult,
    response: SteadyStateResponse,
    budget: float,
    x: FloatArray,
    current: pd.Series,
    lower: FloatArray,
    upper: FloatArray,
    objective: str,
    risk_aversion: float,
    started: float,
) -> Allocation:
    index = pd.Index(result.channels, name="channel")
    plan = pd.Series(x, index=index, name="spend")
    return Allocation(
        budget=budget,
        allocation=plan,
        current=current.rename("spend"),
        lower=pd.Series(lower, index=index, name="min"),
        upper=pd.Series(upper, index=index, name="max"),
        objective=objective,
        risk_aversion=float(risk_aversion),
        comparison=compare_spend(response, plan, current, result.config.hdi_prob),
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
    current = current_spend(result, window)
    checked = [check_budget(b) for b in budgets]
    limits = [resolve_bounds(bounds, result.channels, current.to_numpy(), b) for b in checked]
    response = response or SteadyStateResponse(MediaParameters.from_fit(result, draws))
    out, previous = [], None
    for budget, (lower, upper) in zip(checked, limits, strict=True):
        started = time.perf_counter()
        starts = [current.to_numpy() * (budget / max(float(current.sum()), 1e-300))]
        if previous is not None:
            starts.append(previous * (budget / previous.sum()))
        x = allocate(
            response,
            budget,
            lower,
            upper,
            objective=objective,
            risk_aversion=risk_aversion,
            starts=starts,
        )
        previous = x
        out.append(
            _allocation(
                result,
                response,
                budget,
                x,
                current,
                lower,
                upper,
                objective,
                risk_aversion,
                started,
            )
        )
    return Frontier(out)
