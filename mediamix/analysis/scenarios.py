"""Steady-state what-ifs of a fit: response curves, and a spend plan against current spend.

Both hold spend per period constant long enough for carry-over to build up and read the
expected incremental outcome per period off a
:class:`~mediamix.analysis.response.SteadyStateResponse`, under every posterior draw:

- :func:`response_curves`: the response against spend per period, current spend marked;
- :func:`compare_plan`: a spend plan per period against current spend, with the lift and the
  probability that it is positive (:func:`compare_spend` on two spend vectors).

"Current" spend is :func:`~mediamix.analysis.metrics.current_spend` over the window. For a geo
fit both are national: each channel's spend summed over geos, split across geos at their
historical shares (:mod:`mediamix.analysis.geo_response`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
import xarray as xr

from mediamix.analysis.geo_response import current_spend_of, geo_spend, steady_state_response
from mediamix.analysis.metrics import Interval, Window, interval, summarize_draws
from mediamix.analysis.response import SteadyStateResponse
from mediamix.errors import MediamixError
from mediamix.inference.fit import FitResult

FloatArray = npt.NDArray[np.float64]

__all__ = ["PlanComparison", "ResponseCurves", "compare_plan", "compare_spend", "response_curves"]


@dataclass(frozen=True)
class ResponseCurves:
    """Steady-state response curves per channel.

    Attributes
    ----------
    curves : pandas.DataFrame
        Columns ``channel``, ``spend`` (per period), ``mean``, ``hdi_low``, ``hdi_high``
        (incremental outcome per period).
    current : pandas.DataFrame
        Index ``channel``; ``spend`` (current spend per period) and the response there.
    hdi_prob : float
        The HDI probability.
    """

    curves: pd.DataFrame
    current: pd.DataFrame
    hdi_prob: float


def response_curves(
    result: FitResult,
    n_points: int = 41,
    max_multiple: float = 2.0,
    window: Window = None,
    draws: int | None = None,
    response: SteadyStateResponse | None = None,
    by_geo: bool = False,
) -> ResponseCurves:
    """Steady-state expected incremental outcome per period against spend per period.

    Parameters
    ----------
    result : FitResult
        The fit.
    n_points : int, default 41
        Grid points per channel, from 0 to ``max_multiple`` times current spend (the channel's
        largest observed spend when its current spend is 0).
    max_multiple : float, default 2.0
        End of the grid relative to current spend.
    window : (start, end), optional
        Window that defines current spend.
    draws : int, optional
        Use this many evenly spaced posterior draws; all by default.
    response : SteadyStateResponse, optional
        A compiled response to reuse (it must come from this fit, by geo if ``by_geo``).
    by_geo : bool, default False
        A geo fit's curve of every (geo, channel), each through the geo's own effect and
        against that geo's spend; the ``channel`` column and index then hold ``<geo>/<channel>``
        (see :func:`mediamix.analysis.geo_plots.geo_response_curves` for them split).

    Returns
    -------
    ResponseCurves
    """
    if n_points < 2 or max_multiple <= 0:
        raise MediamixError(
            f"need n_points >= 2 and max_multiple > 0, got {n_points} and {max_multiple}"
        )
    response = response or steady_state_response(result, draws, by_geo=by_geo)
    prob = result.config.hdi_prob
    current = current_spend_of(result, window, by_geo=by_geo)
    names = list(current.index)
    grid = _grid(result, current, n_points, max_multiple, by_geo)  # (point, channel)
    values = np.stack([response.draws(row) for row in grid], axis=1)  # (draw, point, channel)
    da = xr.DataArray(
        values,
        dims=("draw", "point", "channel"),
        coords={"point": np.arange(n_points), "channel": names},
    ).transpose("draw", "channel", "point")
    table = summarize_draws(da, prob).reset_index()
    column = table["channel"].map({c: j for j, c in enumerate(names)})
    table["spend"] = grid[table["point"].to_numpy(), column.to_numpy()]
    curves = table[["channel", "spend", "mean", "hdi_low", "hdi_high"]]
    at_current = xr.DataArray(response.draws(current.to_numpy()), dims=("draw", "channel"))
    now = summarize_draws(at_current, prob)
    now.index = pd.Index(names, name="channel")
    now.insert(0, "spend", current.to_numpy())
    return ResponseCurves(curves=curves.reset_index(drop=True), current=now, hdi_prob=prob)


def _grid(
    result: FitResult, current: pd.Series, n_points: int, max_multiple: float, by_geo: bool
) -> FloatArray:
    """Spend per period ``(point, channel)``: 0 to ``max_multiple`` x current spend."""
    # a channel without current spend: up to its largest observed spend per period
    top = np.where(current > 0, current * max_multiple, _largest_spend(result, by_geo))
    return np.asarray(np.linspace(0.0, 1.0, n_points)[:, None] * top[None, :], dtype=np.float64)


def _largest_spend(result: FitResult, by_geo: bool) -> FloatArray:
    """The largest spend per period of each channel (national sums, or per geo and channel)."""
    if not result.scalers.geos:
        return (
            result.frame[[result.config.spend_column(c) for c in result.channels]]
            .max()
            .to_numpy(np.float64)
        )
    cube = geo_spend(result)  # (date, geo, channel)
    return np.asarray(cube.max(axis=0).reshape(-1) if by_geo else cube.sum(axis=1).max(axis=0))


@dataclass(frozen=True)
class PlanComparison:
    """A spend plan per period against current spend, in steady state.

    Attributes
    ----------
    plan, current : pandas.Series
        Spend per period and channel.
    plan_outcome, current_outcome : Interval
        Expected incremental outcome per period (all channels) of each.
    lift : Interval
        ``plan_outcome - current_outcome``, draw by draw.
    p_lift_positive : float
        Posterior probability that the lift is positive.
    channels : pandas.DataFrame
        Index ``channel``: ``current_spend``, ``plan_spend``, ``current_outcome``,
        ``plan_outcome`` (posterior means) and ``lift``.
    hdi_prob : float
        The HDI probability.
    """

    plan: pd.Series
    current: pd.Series
    plan_outcome: Interval
    current_outcome: Interval
    lift: Interval
    p_lift_positive: float
    channels: pd.DataFrame
    hdi_prob: float


def _as_plan(plan: Mapping[str, float] | pd.Series, channels: list[str]) -> pd.Series:
    given = {str(k): v for k, v in plan.items()}
    unknown = sorted(set(given) - set(channels))
    missing = [c for c in channels if c not in given]
    if unknown or missing:
        raise MediamixError(
            f"a plan needs spend for exactly the channels {channels}; "
            f"unknown {unknown}, missing {missing}"
        )
    series = pd.Series({c: given[c] for c in channels}, dtype=np.float64, name="spend")
    if not np.all(np.isfinite(series)) or (series < 0).any():
        raise MediamixError(f"plan spend must be finite and >= 0, got {series.to_dict()}")
    return series


def compare_plan(
    result: FitResult,
    plan: Mapping[str, float] | pd.Series,
    window: Window = None,
    draws: int | None = None,
    response: SteadyStateResponse | None = None,
) -> PlanComparison:
    """Compare a spend plan per period with current spend, in steady state.

    Parameters
    ----------
    result : FitResult
        The fit.
    plan : mapping or pandas.Series
        Spend per period for every channel (per week for weekly data).
    window : (start, end), optional
        Window that defines current spend (mean spend per period over it).
    draws : int, optional
        Use this many evenly spaced posterior draws; all by default.
    response : SteadyStateResponse, optional
        A compiled response to reuse (it must come from this fit).

    Returns
    -------
    PlanComparison

    Raises
    ------
    MediamixError
        If the plan misses or adds channels, or holds negative spend.
    """
    plan_s = _as_plan(plan, result.channels)
    current = current_spend_of(result, window)
    response = response or steady_state_response(result, draws)
    return compare_spend(response, plan_s, current, result.config.hdi_prob)


def compare_spend(
    response: SteadyStateResponse, plan: pd.Series, current: pd.Series, prob: float
) -> PlanComparison:
    """Compare two spend vectors per period under a compiled steady-state response.

    Parameters
    ----------
    response : SteadyStateResponse
        The compiled response (its channel order is the order of both series).
    plan, current : pandas.Series
        Spend per period and channel.
    prob : float
        HDI probability.

    Returns
    -------
    PlanComparison
    """
    new = response.draws(plan.to_numpy())
    old = response.draws(current.to_numpy())
    lift = new.sum(axis=1) - old.sum(axis=1)
    channels = pd.DataFrame(
        {
            "current_spend": current.to_numpy(),
            "plan_spend": plan.to_numpy(),
            "current_outcome": old.mean(axis=0),
            "plan_outcome": new.mean(axis=0),
        },
        index=pd.Index(list(response.channels), name="channel"),
    )
    channels["lift"] = channels["plan_outcome"] - channels["current_outcome"]
    return PlanComparison(
        plan=plan,
        current=current,
        plan_outcome=interval(new.sum(axis=1), prob),
        current_outcome=interval(old.sum(axis=1), prob),
        lift=interval(lift, prob),
        p_lift_positive=float(np.mean(lift > 0)),
        channels=channels,
        hdi_prob=prob,
    )
