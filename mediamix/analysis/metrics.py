"""What a fit says about the media: pure functions of a :class:`~mediamix.inference.fit.FitResult`.

Every number is in original units (currency, outcome) and comes with its posterior mean and the
highest-density interval (HDI) at ``config.hdi_prob``:

- :func:`contributions_over_time`: each channel's contribution and the baseline, per date;
- :func:`decomposition`: each component's total over a window and its share of the outcome;
- :func:`roas`: return on ad spend, ``sum(contribution) / sum(spend)`` over a window;
- :func:`marginal_roas`: the extra outcome from one more unit of spend at the current level,
  ``(outcome(spend * 1.01) - outcome(spend)) / (0.01 * spend)`` through the full time-series
  model (adstock included, carry-over after the window counted);
- :func:`response_curves`: steady-state expected incremental outcome per period against spend
  per period (see :mod:`mediamix.analysis.response`), current spend marked;
- :func:`compare_plan`: a spend plan per period against the current one, with the lift and the
  probability that it is positive;
- :func:`contributions_for_spend`: contributions of any spend matrix under every posterior draw.

"Current" spend is the mean spend per period (per week for weekly data) over the window, the
whole data range unless a window is given.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import arviz_stats as azs
import numpy as np
import numpy.typing as npt
import pandas as pd
import xarray as xr

from mediamix.analysis.response import MediaParameters, SteadyStateResponse, media_contributions
from mediamix.errors import MediamixError
from mediamix.inference.fit import FitResult

__all__ = [
    "Interval",
    "PlanComparison",
    "ResponseCurves",
    "compare_plan",
    "compare_spend",
    "contributions_for_spend",
    "contributions_over_time",
    "current_spend",
    "decomposition",
    "interval",
    "marginal_roas",
    "response_curves",
    "roas",
    "summarize_draws",
    "window_mask",
]

FloatArray = npt.NDArray[np.float64]
Window = tuple[Any, Any] | None


@dataclass(frozen=True)
class Interval:
    """A posterior mean and its highest-density interval."""

    mean: float
    hdi_low: float
    hdi_high: float

    def to_dict(self) -> dict[str, float]:
        """``{"mean", "hdi_low", "hdi_high"}``."""
        return {"mean": self.mean, "hdi_low": self.hdi_low, "hdi_high": self.hdi_high}


def interval(draws: npt.ArrayLike | xr.DataArray, prob: float) -> Interval:
    """Mean and HDI of a one-dimensional set of draws.

    Parameters
    ----------
    draws : array_like or xarray.DataArray
        Posterior draws of one quantity (any shape; all values are pooled).
    prob : float
        HDI probability mass, e.g. ``config.hdi_prob``.

    Returns
    -------
    Interval
    """
    values = np.asarray(draws, dtype=np.float64).reshape(-1)
    hdi = azs.hdi(xr.DataArray(values, dims="draw"), prob=prob, dim="draw")
    return Interval(
        float(values.mean()),
        float(hdi.sel(ci_bound="lower")),
        float(hdi.sel(ci_bound="upper")),
    )


def summarize_draws(da: xr.DataArray, prob: float, dim: str | list[str] = "draw") -> pd.DataFrame:
    """Posterior mean and HDI over the sample dims, one row per remaining coordinate.

    Parameters
    ----------
    da : xarray.DataArray
        Draws, e.g. ``(chain, draw, date)`` or ``(draw, channel)``.
    prob : float
        HDI probability.
    dim : str or list of str, default "draw"
        The sample dims to reduce (``["chain", "draw"]`` for a posterior variable).

    Returns
    -------
    pandas.DataFrame
        Columns ``mean``, ``hdi_low``, ``hdi_high``, indexed by the remaining dims.
    """
    dims = [dim] if isinstance(dim, str) else dim
    hdi = azs.hdi(da, prob=prob, dim=dims)
    out = xr.Dataset(
        {
            "mean": da.mean(dims),
            "hdi_low": hdi.sel(ci_bound="lower", drop=True),
            "hdi_high": hdi.sel(ci_bound="upper", drop=True),
        }
    )
    return out.to_dataframe()[["mean", "hdi_low", "hdi_high"]]


def window_mask(result: FitResult, window: Window = None) -> npt.NDArray[np.bool_]:
    """Which dates of the fit fall in ``window``.

    Parameters
    ----------
    result : FitResult
        The fit.
    window : (start, end), optional
        Inclusive date bounds (anything :class:`pandas.Timestamp` accepts; ``None`` for open).
        The whole data range by default.

    Returns
    -------
    numpy.ndarray
        Boolean mask over the fit's dates.

    Raises
    ------
    MediamixError
        If the window is malformed or holds no date of the fit.
    """
    dates = pd.DatetimeIndex(result.frame["date"])
    if window is None:
        return np.ones(len(dates), dtype=bool)
    if not isinstance(window, tuple | list) or len(window) != 2:
        raise MediamixError(f"window must be (start, end), got {window!r}")
    try:
        start, end = (None if w is None else pd.Timestamp(w) for w in window)
    except (TypeError, ValueError) as exc:
        raise MediamixError(f"window {window!r}: not dates ({exc})") from exc
    mask = np.ones(len(dates), dtype=bool)
    if start is not None:
        mask &= dates >= start
    if end is not None:
        mask &= dates <= end
    if not mask.any():
        raise MediamixError(
            f"window {window!r} holds no date of the fit ({dates[0].date()} to {dates[-1].date()})"
        )
    return mask


def current_spend(result: FitResult, window: Window = None) -> pd.Series:
    """Mean spend per period and channel over the window (the whole data range by default).

    Returns
    -------
    pandas.Series
        Indexed by channel, currency per period (per week for weekly data).
    """
    rows = result.frame.loc[window_mask(result, window), result.channels]
    return rows.mean().astype(np.float64).rename("spend")


def _spend_matrix(result: FitResult, spend: pd.DataFrame | npt.ArrayLike) -> tuple[FloatArray, Any]:
    """Spend as a ``(time, channel)`` array in channel order, and its date coordinate."""
    channels = result.channels
    if isinstance(spend, pd.DataFrame):
        missing = [c for c in channels if c not in spend.columns]
        if missing:
            raise MediamixError(
                f"spend lacks channel columns {missing}; the fit's channels are {channels}"
            )
        matrix = spend[channels].to_numpy(dtype=np.float64)
        if "date" in spend.columns:
            return matrix, pd.DatetimeIndex(spend["date"])
        if isinstance(spend.index, pd.DatetimeIndex):
            return matrix, spend.index
    else:
        matrix = np.asarray(spend, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[1] != len(channels):
        raise MediamixError(
            f"spend must be (time, channel) with the channels {channels}, got shape {matrix.shape}"
        )
    if len(matrix) == len(result.frame):
        return matrix, pd.DatetimeIndex(result.frame["date"])
    return matrix, np.arange(len(matrix))


def contributions_for_spend(
    result: FitResult,
    spend: pd.DataFrame | npt.ArrayLike,
    draws: int | None = None,
) -> xr.DataArray:
    """Contributions of each channel for a given spend matrix, under every posterior draw.

    The same formula as the model's ``channel_contribution``: given the observed spend it
    reproduces that deterministic. Spend before the first row counts as 0.

    Parameters
    ----------
    result : FitResult
        The fit.
    spend : pandas.DataFrame or array_like
        ``(time, channel)`` spend in currency: a frame with one column per channel (and a
        ``date`` column or a DatetimeIndex for the date coordinate), or an array with the
        channels in model order.
    draws : int, optional
        Use this many evenly spaced posterior draws (chains stacked); all by default.

    Returns
    -------
    xarray.DataArray
        Dims ``(draw, date, channel)``, outcome units. ``date`` holds the spend's dates, the
        fit's dates when the array has as many rows as the fit, or positions 0, 1, ...

    Raises
    ------
    MediamixError
        If the spend has the wrong shape or channels, or negative or non-finite values.
    """
    matrix, dates = _spend_matrix(result, spend)
    mp = MediaParameters.from_fit(result, draws)
    values = media_contributions(mp, matrix)
    return xr.DataArray(
        values,
        dims=("draw", "date", "channel"),
        coords={"draw": np.arange(values.shape[0]), "date": dates, "channel": result.channels},
        name="channel_contribution",
    )


def contributions_over_time(result: FitResult) -> pd.DataFrame:
    """Each channel's contribution and the baseline per date, with HDIs.

    Returns
    -------
    pandas.DataFrame
        Columns ``date``, ``component`` (``baseline`` then the channels), ``mean``,
        ``hdi_low``, ``hdi_high``; outcome units per period.
    """
    post, prob = result.posterior, result.config.hdi_prob
    base = summarize_draws(post["baseline"], prob, ["chain", "draw"]).reset_index()
    base.insert(1, "component", "baseline")
    media = summarize_draws(post["channel_contribution"], prob, ["chain", "draw"]).reset_index()
    media = media.rename(columns={"channel": "component"})
    out = pd.concat([base, media], ignore_index=True)
    order = {c: i for i, c in enumerate(["baseline", *result.channels])}
    out["rank"] = out["component"].map(order)
    out = out.sort_values(["date", "rank"], kind="stable")
    return out[["date", "component", "mean", "hdi_low", "hdi_high"]].reset_index(drop=True)


def _stacked(da: xr.DataArray) -> xr.DataArray:
    """Chains and draws stacked into one ``draw`` dim (chain-major)."""
    flat = da.stack(sample=("chain", "draw")).transpose("sample", ...)
    return flat.drop_vars(["sample", "chain", "draw"]).rename(sample="draw")


def decomposition(result: FitResult, window: Window = None) -> pd.DataFrame:
    """Total of each component over the window and its share of the predicted outcome.

    Returns
    -------
    pandas.DataFrame
        Index ``component`` (``baseline`` then the channels); columns ``contribution``,
        ``contribution_hdi_low``, ``contribution_hdi_high`` (outcome units, summed over the
        window) and ``share``, ``share_hdi_low``, ``share_hdi_high`` (fraction of baseline plus
        all contributions).
    """
    mask = window_mask(result, window)
    post, prob = result.posterior, result.config.hdi_prob
    media = _stacked(post["channel_contribution"].isel(date=mask).sum("date"))
    base = _stacked(post["baseline"].isel(date=mask).sum("date"))
    parts = xr.concat([base.expand_dims(channel=["baseline"]), media], dim="channel")
    parts = parts.rename(channel="component")
    total = parts.sum("component")
    contribution = summarize_draws(parts, prob).add_prefix("contribution_")
    share = summarize_draws(parts / total, prob).add_prefix("share_")
    out = pd.concat([contribution, share], axis=1)
    out = out.rename(columns={"contribution_mean": "contribution", "share_mean": "share"})
    out.index.name = "component"
    return out


def roas(result: FitResult, window: Window = None) -> pd.DataFrame:
    """Return on ad spend per channel over the window: total contribution / total spend.

    Returns
    -------
    pandas.DataFrame
        Index ``channel``; columns ``spend`` (total over the window), ``mean``, ``hdi_low``,
        ``hdi_high``. NaN for a channel with no spend in the window.
    """
    mask = window_mask(result, window)
    spend = result.frame.loc[mask, result.channels].sum().astype(np.float64)
    contrib = _stacked(result.posterior["channel_contribution"].isel(date=mask).sum("date"))
    total = xr.DataArray(spend.to_numpy(), dims="channel", coords={"channel": result.channels})
    out = summarize_draws(contrib / total.where(total > 0), result.config.hdi_prob)
    out.insert(0, "spend", spend.to_numpy())
    return out


def marginal_roas(
    result: FitResult, window: Window = None, step: float = 0.01, draws: int | None = None
) -> pd.DataFrame:
    """Marginal ROAS per channel: extra outcome per extra unit of spend at the current level.

    Spend in the window is raised by ``step`` (1 %); the extra outcome is summed over every
    date from the window's start to the end of the data (so carry-over is counted) and divided
    by the extra spend. Channels are additive in the model, so all are raised at once.

    Parameters
    ----------
    result : FitResult
        The fit.
    window : (start, end), optional
        Dates whose spend is raised; the whole data range by default.
    step : float, default 0.01
        Relative increase of spend.
    draws : int, optional
        Use this many evenly spaced posterior draws; all by default.

    Returns
    -------
    pandas.DataFrame
        Index ``channel``; columns ``spend`` (extra spend), ``mean``, ``hdi_low``, ``hdi_high``.
    """
    if not (isinstance(step, int | float) and 0 < step <= 1):
        raise MediamixError(f"step must be a number in (0, 1], got {step!r}")
    mask = window_mask(result, window)
    base = result.frame[result.channels].to_numpy(dtype=np.float64)
    raised = base.copy()
    raised[mask] *= 1.0 + step
    mp = MediaParameters.from_fit(result, draws)
    extra = (media_contributions(mp, raised) - media_contributions(mp, base)).sum(axis=1)
    extra_spend = step * base[mask].sum(axis=0)
    ratio = xr.DataArray(
        extra / np.where(extra_spend > 0, extra_spend, np.nan),
        dims=("draw", "channel"),
        coords={"channel": result.channels},
    )
    out = summarize_draws(ratio, result.config.hdi_prob)
    out.insert(0, "spend", extra_spend)
    return out


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
        A compiled response to reuse (it must come from this fit).

    Returns
    -------
    ResponseCurves
    """
    if n_points < 2 or max_multiple <= 0:
        raise MediamixError(
            f"need n_points >= 2 and max_multiple > 0, got {n_points} and {max_multiple}"
        )
    response = response or SteadyStateResponse(MediaParameters.from_fit(result, draws))
    prob = result.config.hdi_prob
    current = current_spend(result, window)
    top = np.where(current > 0, current * max_multiple, response.params.spend_max)
    grid = np.linspace(0.0, 1.0, n_points)[:, None] * top[None, :]  # (point, channel)
    values = np.stack([response.draws(row) for row in grid], axis=1)  # (draw, point, channel)
    da = xr.DataArray(
        values,
        dims=("draw", "point", "channel"),
        coords={"point": np.arange(n_points), "channel": result.channels},
    ).transpose("draw", "channel", "point")
    table = summarize_draws(da, prob).reset_index()
    column = table["channel"].map({c: j for j, c in enumerate(result.channels)})
    table["spend"] = grid[table["point"].to_numpy(), column.to_numpy()]
    curves = table[["channel", "spend", "mean", "hdi_low", "hdi_high"]]
    at_current = xr.DataArray(response.draws(current.to_numpy()), dims=("draw", "channel"))
    now = summarize_draws(at_current, prob)
    now.index = pd.Index(result.channels, name="channel")
    now.insert(0, "spend", current.to_numpy())
    return ResponseCurves(curves=curves.reset_index(drop=True), current=now, hdi_prob=prob)


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
    current = current_spend(result, window)
    response = response or SteadyStateResponse(MediaParameters.from_fit(result, draws))
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
