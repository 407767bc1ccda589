"""What a fit says about the media: pure functions of a :class:`~mediamix.inference.fit.FitResult`.

Every number is in original units (currency, outcome) and comes with its posterior mean and the
highest-density interval (HDI) at ``config.hdi_prob``:

- :func:`contributions_over_time`: each channel's contribution (organic channels too) and the
  baseline, per date;
- :func:`decomposition`: each component's total over a window and its share of the outcome;
- :func:`roas`: return on ad spend, ``sum(contribution) / sum(spend)`` over a window;
- :func:`marginal_roas`: the extra outcome from one more unit of spend at the current level,
  ``(outcome(spend * 1.01) - outcome(spend)) / (0.01 * spend)`` through the full time-series
  model (adstock included, carry-over after the window counted);
- :func:`contributions_for_spend`: contributions of any spend matrix under every posterior draw;
- :func:`roas_draws`, :func:`contribution_share_draws`: the posterior draws behind :func:`roas` and
  :func:`decomposition`'s shares, which :mod:`mediamix.analysis.summary` also reports.

A geo model's numbers are national (summed over geos) unless the function says otherwise;
:func:`geo_roas_draws` and :func:`geo_contribution_share_draws` are per (geo, channel).

"Current" spend is the mean spend per period (per week for weekly data) over the window, the
whole data range unless a window is given. Steady-state what-ifs (response curves, a plan
against current spend) are in :mod:`mediamix.analysis.scenarios`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import xarray as xr

from mediamix.analysis.geo_draws import geo_total_draws, national_draws
from mediamix.analysis.intervals import Interval, interval, summarize_draws
from mediamix.analysis.response import MediaParameters, media_contributions
from mediamix.analysis.windows import Window, current_spend, spend_columns, window_mask
from mediamix.errors import MediamixError
from mediamix.inference.fit import FitResult

__all__ = [
    "Interval",
    "Window",
    "component_totals",
    "contribution_share_draws",
    "contributions_for_spend",
    "contributions_over_time",
    "current_spend",
    "decomposition",
    "geo_contribution_share_draws",
    "geo_roas",
    "geo_roas_draws",
    "interval",
    "marginal_roas",
    "roas",
    "roas_draws",
    "summarize_draws",
    "window_mask",
]

FloatArray = npt.NDArray[np.float64]


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

    Organic channels follow the paid ones, marked ``kind == "organic"``: they contribute to the
    outcome like paid media but have no spend, so no ROAS.

    Returns
    -------
    pandas.DataFrame
        Columns ``date``, ``component`` (``baseline``, the channels, then the organic channels),
        ``kind`` (``baseline``, ``paid`` or ``organic``), ``mean``, ``hdi_low``, ``hdi_high``;
        outcome units per period (national for a geo model).
    """
    prob, sample = result.config.hdi_prob, ["chain", "draw"]
    base = summarize_draws(national_draws(result, "baseline"), prob, sample).reset_index()
    base.insert(1, "component", "baseline")
    media = summarize_draws(national_draws(result, "channel_contribution"), prob, sample)
    pieces = [base, media.reset_index().rename(columns={"channel": "component"})]
    organic = result.config.organic_names
    if organic:
        table = summarize_draws(national_draws(result, "organic_contribution"), prob, sample)
        pieces.append(table.reset_index().rename(columns={"organic": "component"}))
    out = pd.concat(pieces, ignore_index=True)
    order = {c: i for i, c in enumerate(["baseline", *result.channels, *organic])}
    out["rank"] = out["component"].map(order)
    out["kind"] = np.where(
        out["component"] == "baseline",
        "baseline",
        np.where(out["component"].isin(organic), "organic", "paid"),
    )
    out = out.sort_values(["date", "rank"], kind="stable")
    return out[["date", "component", "kind", "mean", "hdi_low", "hdi_high"]].reset_index(drop=True)


def _date_mask(result: FitResult, window: Window) -> npt.NDArray[np.bool_]:
    """:func:`window_mask` over the posterior's ``date`` dim (a geo frame has a row per geo)."""
    mask = window_mask(result, window)
    return mask[:: len(result.scalers.geos)] if result.scalers.geos else mask


def _stacked(da: xr.DataArray) -> xr.DataArray:
    """Chains and draws stacked into one ``draw`` dim (chain-major)."""
    flat = da.stack(sample=("chain", "draw")).transpose("sample", ...)
    return flat.drop_vars(["sample", "chain", "draw"]).rename(sample="draw")


def component_totals(result: FitResult, window: Window = None) -> xr.DataArray:
    """Posterior draws of each component's total over the window.

    Returns
    -------
    xarray.DataArray
        Dims ``(draw, component)`` (chains stacked), components ``baseline``, the channels,
        then the organic channels if any; outcome units summed over the window.
    """
    mask = _date_mask(result, window)
    return _component_totals(
        result, lambda name: national_draws(result, name).isel(date=mask).sum("date")
    )


def _component_totals(result: FitResult, total: Callable[[str], xr.DataArray]) -> xr.DataArray:
    """Each component's ``total(name)``, draws stacked, along a ``component`` dim."""
    media = _stacked(total("channel_contribution"))
    base = _stacked(total("baseline"))
    pieces = [base.expand_dims(channel=["baseline"]), media]
    if result.config.organic_names:
        organic = _stacked(total("organic_contribution"))
        pieces.append(organic.rename(organic="channel"))
    parts = xr.concat(pieces, dim="channel")
    return parts.rename(channel="component")


def contribution_share_draws(result: FitResult, window: Window = None) -> xr.DataArray:
    """Posterior draws of each component's share of the predicted outcome over the window.

    Returns
    -------
    xarray.DataArray
        Dims ``(draw, component)``: each total of :func:`component_totals` divided by the
        baseline plus all contributions, draw by draw.
    """
    parts = component_totals(result, window)
    return parts / parts.sum("component")


def roas_draws(result: FitResult, window: Window = None) -> xr.DataArray:
    """Posterior draws of ROAS per channel: total contribution / total spend over the window.

    Returns
    -------
    xarray.DataArray
        Dims ``(draw, channel)``, outcome per unit of currency; NaN for a channel with no spend
        in the window.
    """
    mask = window_mask(result, window)
    spend = result.frame.loc[mask, spend_columns(result)].sum().astype(np.float64).to_numpy()
    contrib = national_draws(result, "channel_contribution")
    contrib = _stacked(contrib.isel(date=_date_mask(result, window)).sum("date"))
    total = xr.DataArray(spend, dims="channel", coords={"channel": result.channels})
    return contrib / total.where(total > 0)


def geo_roas_draws(result: FitResult, window: Window = None) -> xr.DataArray:
    """Posterior draws of each geo's ROAS per channel: its contribution / its spend.

    Returns
    -------
    xarray.DataArray
        Dims ``(draw, geo, channel)``; NaN where a geo has no spend on a channel.

    Raises
    ------
    MediamixError
        If the fit is not a geo model.
    """
    geos = _require_geo(result)
    total = xr.DataArray(
        _geo_spend(result, window).loc[geos].to_numpy(np.float64),
        dims=("geo", "channel"),
        coords={"geo": geos, "channel": result.channels},
    )
    contrib = geo_total_draws(result, "channel_contribution", _date_mask(result, window))
    return _stacked(contrib) / total.where(total > 0)


def geo_roas(result: FitResult, window: Window = None) -> pd.DataFrame:
    """Each geo's ROAS per channel over the window, with its HDI.

    Returns
    -------
    pandas.DataFrame
        Index ``(geo, channel)``; columns ``spend`` (the geo's total), ``mean``, ``hdi_low``,
        ``hdi_high``.
    """
    out = summarize_draws(geo_roas_draws(result, window), result.config.hdi_prob)
    per_cell = _geo_spend(result, window).set_axis(result.channels, axis=1).stack()
    out.insert(0, "spend", np.asarray(per_cell.loc[out.index], dtype=np.float64).reshape(-1))
    return out


def geo_contribution_share_draws(result: FitResult, window: Window = None) -> xr.DataArray:
    """Posterior draws of each component's share of each geo's predicted outcome.

    Returns
    -------
    xarray.DataArray
        Dims ``(draw, geo, component)``.
    """
    _require_geo(result)
    mask = _date_mask(result, window)
    parts = _component_totals(result, lambda name: geo_total_draws(result, name, mask))
    return (parts / parts.sum("component")).transpose("draw", "geo", "component")


def _geo_spend(result: FitResult, window: Window) -> pd.DataFrame:
    rows = result.frame.loc[window_mask(result, window)]
    return rows.groupby(result.scalers.geo_column, sort=False)[spend_columns(result)].sum()


def _require_geo(result: FitResult) -> list[str]:
    if not result.scalers.geos:
        raise MediamixError("this fit is a national model: it has no per-geo numbers")
    return list(result.scalers.geos)


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
    prob = result.config.hdi_prob
    contribution = summarize_draws(component_totals(result, window), prob)
    share = summarize_draws(contribution_share_draws(result, window), prob)
    out = pd.concat([contribution.add_prefix("contribution_"), share.add_prefix("share_")], axis=1)
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
    spend = result.frame.loc[mask, spend_columns(result)].sum().astype(np.float64)
    out = summarize_draws(roas_draws(result, window), result.config.hdi_prob)
    out.insert(0, "spend", spend.to_numpy())
    return out


def marginal_roas(
    result: FitResult, window: Window = None, step: float = 0.01, draws: int | None = None
) -> pd.DataFrame:
    """Marginal ROAS per channel: extra outcome per extra unit of spend at the current level.

    Spend in the window is raised by ``step`` (1 %); the extra outcome is summed over every
    date from the window's start to the end of the data (so carry-over is counted) and divided
    by the extra spend. Channels are additive in the model, so all are raised at once. A geo
    fit's is :func:`mediamix.analysis.geo_marginal.national_marginal_draws`'s (every geo's
    spend raised, each through its own effect).

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
    if result.scalers.geos:  # each geo through its own effects, summed over geos
        from mediamix.analysis.geo_marginal import national_marginal_draws

        ratio, extra_spend = national_marginal_draws(result, window, step, draws)
        out = summarize_draws(ratio, result.config.hdi_prob)
        out.insert(0, "spend", extra_spend)
        return out
    mask = window_mask(result, window)
    base = result.frame[spend_columns(result)].to_numpy(dtype=np.float64)
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
