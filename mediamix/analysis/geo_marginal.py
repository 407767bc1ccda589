"""Marginal ROAS of a geo fit: nationally and per geo, through each geo's own effects.

As for a national fit (:func:`mediamix.analysis.metrics.marginal_roas`), the spend of every
channel in the window is raised by ``step`` (1 %), in every geo; the extra outcome is summed
from the window's start to the end of the data (carry-over counted) and divided by the extra
spend. Per geo, a (geo, channel)'s extra outcome comes from its own effect ``beta[geo,
channel]`` and its own spend; channels and geos are additive in the model, so everything is
raised at once. The national marginal ROAS of a channel is its extra outcome summed over geos
over its extra spend summed over geos: what one more unit of national spend returns when it is
split across geos as the spend was.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd
import xarray as xr

from mediamix.analysis.geo_response import GeoParameters, geo_media_totals, geo_spend
from mediamix.analysis.intervals import summarize_draws
from mediamix.analysis.windows import Window, window_mask
from mediamix.errors import MediamixError
from mediamix.inference.fit import FitResult

__all__ = [
    "geo_marginal_draws",
    "geo_marginal_ratio_draws",
    "geo_marginal_roas",
    "national_marginal_draws",
]

FloatArray = npt.NDArray[np.float64]


def _raised_window(result: FitResult, window: Window) -> npt.NDArray[np.bool_]:
    """Which of the fit's distinct dates are in ``window``."""
    rows = window_mask(result, window)
    dates = pd.DatetimeIndex(result.frame["date"])
    return np.asarray(dates.unique().isin(dates[rows]), dtype=bool)


def geo_marginal_draws(
    result: FitResult, window: Window = None, step: float = 0.01, draws: int | None = None
) -> tuple[FloatArray, FloatArray]:
    """Extra outcome per draw ``(draw, geo, channel)`` and extra spend ``(geo, channel)``.

    Raises
    ------
    MediamixError
        If ``step`` is not in (0, 1], the window holds no date, or the fit has no geos.
    """
    if not (isinstance(step, int | float) and 0 < step <= 1):
        raise MediamixError(f"step must be a number in (0, 1], got {step!r}")
    gp = GeoParameters.from_fit(result, draws)
    raised_dates = _raised_window(result, window)
    base = geo_spend(result)  # (date, geo, channel), currency
    first = int(np.argmax(raised_dates))
    lo = max(0, first - gp.media.window + 1)  # the rows the first raised row looks back on
    raised = base.copy()
    raised[raised_dates] *= 1.0 + step
    extra = geo_media_totals(gp, raised[lo:], first - lo) - geo_media_totals(
        gp, base[lo:], first - lo
    )
    return extra, step * base[raised_dates].sum(axis=0)


def national_marginal_draws(
    result: FitResult, window: Window = None, step: float = 0.01, draws: int | None = None
) -> tuple[xr.DataArray, FloatArray]:
    """A geo fit's national marginal ROAS per draw ``(draw, channel)``, and the extra spend."""
    extra, extra_spend = geo_marginal_draws(result, window, step, draws)
    total = extra_spend.sum(axis=0)
    ratio = extra.sum(axis=1) / np.where(total > 0, total, np.nan)
    da = xr.DataArray(ratio, dims=("draw", "channel"), coords={"channel": list(result.channels)})
    return da, total


def geo_marginal_ratio_draws(
    result: FitResult, window: Window = None, step: float = 0.01, draws: int | None = None
) -> tuple[xr.DataArray, FloatArray]:
    """Each geo's marginal ROAS per draw and the extra spend.

    Returns
    -------
    tuple of (xarray.DataArray, numpy.ndarray)
        ``(draw, geo, channel)`` (NaN where a geo has no spend on a channel) and ``(geo,
        channel)``.
    """
    extra, extra_spend = geo_marginal_draws(result, window, step, draws)
    ratio = xr.DataArray(
        extra / np.where(extra_spend > 0, extra_spend, np.nan)[None],
        dims=("draw", "geo", "channel"),
        coords={"geo": list(result.scalers.geos), "channel": list(result.channels)},
    )
    return ratio, extra_spend


def geo_marginal_roas(
    result: FitResult, window: Window = None, step: float = 0.01, draws: int | None = None
) -> pd.DataFrame:
    """Each geo's marginal ROAS per channel, with its HDI.

    Parameters are those of :func:`mediamix.analysis.metrics.marginal_roas`.

    Returns
    -------
    pandas.DataFrame
        Index ``(geo, channel)``; columns ``spend`` (the extra spend), ``mean``, ``hdi_low``,
        ``hdi_high``; NaN where a geo has no spend on a channel.
    """
    ratio, extra_spend = geo_marginal_ratio_draws(result, window, step, draws)
    out = summarize_draws(ratio, result.config.hdi_prob)
    out.insert(0, "spend", extra_spend.reshape(-1))
    return out
