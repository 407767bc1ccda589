"""The budget optimizer's constraints: a budget per period and per-channel bounds.

Both are parsed and checked here, before anything is compiled, so bad input fails in
milliseconds with :class:`BudgetError` naming the channel, the side and what is allowed.

Bounds are ``(min, max)`` per channel, each side an absolute amount per period (``5000``), a
change relative to the channel's current spend (``"-30%"``, ``"+30%"``), or ``None`` (0 and the
budget). The key ``"*"`` sets the bounds of every channel not named on its own. On the command
line the same bounds read ``CHANNEL=MIN:MAX``: ``tv=1000:5000``, ``search=-30%:+30%``,
``radio=:2000``.

A by-geo allocation of a geo fit decides ``<geo>/<channel>`` amounts (``north/tv``): a bound
may name one of them (``north/tv=:500``), or a channel, which then bounds that channel in every
geo not named on its own (``tv=-30%:+30%``), or ``*``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from mediamix.errors import MediamixError

__all__ = [
    "MAX_BUDGET_RATIO",
    "Bound",
    "BoundsSpec",
    "BudgetError",
    "check_budget",
    "check_budget_scale",
    "parse_bounds",
    "resolve_bounds",
]

FloatArray = npt.NDArray[np.float64]
Bound = float | str | None
BoundsSpec = Mapping[str, tuple[Bound, Bound]]


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


#: Largest budget accepted, as a multiple of current total spend per period: far beyond the
#: spend the model saw, every response is an extrapolation of the saturation curves.
MAX_BUDGET_RATIO = 1000.0


def check_budget_scale(budget: float, current_total: float) -> None:
    """Refuse a budget more than :data:`MAX_BUDGET_RATIO` times current total spend.

    Raises
    ------
    BudgetError
        Naming both amounts and the largest budget allowed.
    """
    limit = MAX_BUDGET_RATIO * current_total
    if current_total > 0 and budget > limit:
        raise BudgetError(
            f"budget {budget:,.2f} is {budget / current_total:,.0f}x current spend per period "
            f"({current_total:,.2f}); at most {MAX_BUDGET_RATIO:.0f}x ({limit:,.2f}) is allowed, "
            "as the model has seen nothing near it"
        )


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
        Channel order of the result (``<geo>/<channel>`` names for a by-geo allocation).
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
    # a by-geo decision "<geo>/<channel>" also takes the bounds of its channel
    parts = {ch: ch.rpartition("/")[2] for ch in channels}
    unknown = sorted(set(spec) - {*channels, *parts.values(), "*"})
    if unknown:
        raise BudgetError(f"bounds name unknown channel(s) {unknown}; the channels are {channels}")
    now = np.asarray(current, dtype=np.float64)
    lower, upper = np.zeros(len(channels)), np.full(len(channels), budget)
    for j, ch in enumerate(channels):
        low, high = spec.get(ch, spec.get(parts[ch], spec.get("*", (None, None))))
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
