"""Which dates a question covers, and the spend over them: the windows of every metric.

A window is ``(start, end)``, inclusive dates (``None`` for an open end), or ``None`` for the
fit's whole data range. "Current" spend is the mean spend per period over the window; a geo
fit's national spend per period is the sum over its geos' rows of that date.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from mediamix.errors import MediamixError
from mediamix.inference.fit import FitResult

__all__ = ["Window", "current_spend", "spend_columns", "window_mask"]

Window = tuple[Any, Any] | None


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
    rows = result.frame.loc[window_mask(result, window), ["date", *spend_columns(result)]]
    # a geo model's national spend per period is the sum over its geos' rows of that date
    per_date = rows.groupby("date", sort=False).sum() if result.scalers.geos else rows.iloc[:, 1:]
    return per_date.set_axis(result.channels, axis=1).mean().astype(np.float64).rename("spend")


def spend_columns(result: FitResult) -> list[str]:
    """Each channel's spend column (currency): its ``spend`` column for an exposure channel."""
    return [result.config.spend_column(c) for c in result.channels]
