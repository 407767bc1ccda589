"""The fit window: the rows a model learns from, and the warm-up rows before them.

``window: {start, end}`` in the model config fits on part of the data. The window's first
periods still carry over spend from before it: the media of up to ``l_max - 1`` earlier rows
(the warm-up) go through the same forward pass and are sliced off afterwards (see
:mod:`mediamix.model.builder`), so a window loses no carry-over that the full data would have.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mediamix.config.model import ModelConfig
from mediamix.data.validation import DataValidationError, validate_frame

__all__ = ["fit_window", "geo_fit_window"]


def _window_bound(dates: pd.Series, key: str, value: Any) -> pd.Timestamp:
    """A window bound as a data date; errors name the key and the data's range and grid."""
    first, last = dates.iloc[0].date(), dates.iloc[-1].date()
    when = pd.Timestamp(value)
    if not first <= when.date() <= last:
        raise DataValidationError(
            f"{key} {when.date()} is outside the data, which runs from {first} to {last}"
        )
    if when not in set(dates):
        step = (dates.iloc[1] - dates.iloc[0]).days
        raise DataValidationError(
            f"{key} {when.date()} is not one of the data's dates, which run from {first} to "
            f"{last} every {step} day(s)"
        )
    return when


def _bounds(dates: pd.Series, config: ModelConfig, min_rows: int) -> tuple[pd.Timestamp, ...]:
    """The window's first and last date, checked against the data's dates and ``min_rows``."""
    window = config.window
    first, last = dates.iloc[0], dates.iloc[-1]
    start = first if window.start is None else _window_bound(dates, "window.start", window.start)
    end = last if window.end is None else _window_bound(dates, "window.end", window.end)
    rows = int(((dates >= start) & (dates <= end)).sum())
    if rows < max(min_rows, 3):
        raise DataValidationError(
            f"window {start.date()} to {end.date()} holds {rows} rows; this model needs at "
            f"least {max(min_rows, 3)} (data from {first.date()} to {last.date()})"
        )
    return start, end


def fit_window(
    clean: pd.DataFrame, config: ModelConfig, max_lag: int, min_rows: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rows inside ``config.window``, and the media of up to ``max_lag - 1`` rows before it.

    The window is checked again as a modeling frame of its own (enough rows, some spend on each
    channel), so a window that cannot be fitted fails before any sampling.

    Parameters
    ----------
    clean : pandas.DataFrame
        The validated modeling frame (``date`` first, one row per period, sorted).
    config : ModelConfig
        Its ``window`` (either bound may be None: the data's first or last date).
    max_lag : int
        The longest adstock window of the model's channels.
    min_rows : int
        The fewest rows the model can be fitted on.

    Returns
    -------
    tuple of pandas.DataFrame
        The window's rows (index reset) and the warm-up rows' media columns (paid channels'
        media inputs, then organic media), oldest first; no warm-up rows without a window.

    Raises
    ------
    DataValidationError
        If a bound lies outside the data or off its date grid, the window holds too few rows,
        or the window's rows fail the modeling frame's checks.
    """
    window = config.window
    media = [*config.channel_names, *config.organic_names]
    if window.start is None and window.end is None:
        return clean, clean.iloc[:0][media]
    start, end = _bounds(clean["date"], config, min_rows)
    inside = ((clean["date"] >= start) & (clean["date"] <= end)).to_numpy()
    first = int(np.flatnonzero(inside)[0])
    warmup = clean.iloc[max(first - (max_lag - 1), 0) : first][media].reset_index(drop=True)
    frame = clean.loc[inside].reset_index(drop=True)
    try:
        validate_frame(
            frame,
            channels=config.channel_names,
            organic=config.organic_names,
            exposure={c: e for c, (e, _) in config.exposure_channels.items()},
            spend=[s for _, s in config.exposure_channels.values()],
            outcome=config.outcome.name,
            controls=config.controls,
            index_variables=config.index_variables,
            min_rows=min_rows,
        )
    except DataValidationError as exc:
        raise DataValidationError(f"window {start.date()} to {end.date()}: {exc}") from None
    return frame, warmup


def geo_fit_window(
    clean: pd.DataFrame, config: ModelConfig, max_lag: int, min_rows: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`fit_window` for a geo model's long frame: the same dates in every geo.

    Parameters
    ----------
    clean : pandas.DataFrame
        The validated long frame, sorted by date then geo.
    config : ModelConfig
        Its ``window`` and ``geo``.
    max_lag : int
        The longest adstock window of the model's channels.
    min_rows : int
        The fewest dates per geo the model can be fitted on.

    Returns
    -------
    tuple of pandas.DataFrame
        The window's rows (index reset; the caller checks them again as a modeling frame) and
        the warm-up rows before it: ``date``, the geo column and the media inputs, sorted as
        the frame is; no warm-up rows without a window.

    Raises
    ------
    DataValidationError
        If a bound lies outside the data or off its date grid, or the window holds too few
        dates.
    """
    assert config.geo is not None
    window, column = config.window, config.geo.column
    keep = ["date", column, *config.channel_names, *config.organic_names]
    if window.start is None and window.end is None:
        return clean, clean.iloc[:0][keep]
    dates = pd.Series(clean["date"].unique())
    start, end = _bounds(dates, config, min_rows)
    first = int(np.flatnonzero((dates >= start).to_numpy())[0])
    before = dates.iloc[max(first - (max_lag - 1), 0) : first]
    warmup = clean.loc[clean["date"].isin(before), keep].reset_index(drop=True)
    inside = ((clean["date"] >= start) & (clean["date"] <= end)).to_numpy()
    return clean.loc[inside].reset_index(drop=True), warmup
