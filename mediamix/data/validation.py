"""Checks on a modeling frame before any sampling starts.

Every failure raises :class:`DataValidationError` naming the column, example rows and what is
allowed, so a bad table is rejected in milliseconds rather than after a minute of sampling.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from mediamix.data.frames import DATE_DTYPE, PERIOD_DAYS, example_rows
from mediamix.errors import MediamixError

__all__ = ["DataValidationError", "infer_frequency", "validate_frame"]

_FREQUENCIES = {days: name for name, days in PERIOD_DAYS.items()}

#: Spend and outcome magnitudes at or above this are refused: no budget or sales figure is that
#: large, and float64 sums of such values lose the small periods' digits.
MAX_MAGNITUDE = 1e15
#: Largest ratio between the largest and smallest nonzero magnitude in one column: beyond it,
#: one of the values is almost surely a unit or typing error (cents vs millions).
MAX_SPAN = 1e12


class DataValidationError(MediamixError):
    """A modeling frame that the model cannot use as it is."""


def _parse_dates(frame: pd.DataFrame) -> pd.Series:
    if "date" not in frame.columns:
        raise DataValidationError(
            f"no 'date' column; columns are {list(frame.columns)}. "
            "The modeling frame needs one row per period with a 'date' column"
        )
    raw = frame["date"]
    dates = pd.to_datetime(raw, errors="coerce")
    bad = dates.isna()
    if bad.any():
        example = raw[bad].iloc[0]
        raise DataValidationError(
            f"column 'date': {example_rows(bad)} cannot be parsed as dates (e.g. {example!r}); "
            "use ISO dates such as 2021-03-01"
        )
    return dates


def infer_frequency(dates: pd.Series) -> str:
    """Return ``daily`` or ``weekly`` for an evenly spaced, sorted date column.

    Parameters
    ----------
    dates : pandas.Series
        Parsed, sorted, unique dates.

    Returns
    -------
    str
        ``daily`` or ``weekly``.

    Raises
    ------
    DataValidationError
        If the spacing is neither 1 nor 7 days, or the grid has gaps.
    """
    steps = dates.diff().dt.days.iloc[1:]
    step = int(steps.mode().iloc[0])
    if step not in _FREQUENCIES:
        raise DataValidationError(
            f"column 'date': periods are {step} days apart; allowed spacings are "
            "1 day (daily) or 7 days (weekly)"
        )
    off = (steps != step).to_numpy()
    if off.any():
        i = int(np.flatnonzero(off)[0]) + 1
        raise DataValidationError(
            f"column 'date': the {_FREQUENCIES[step]} grid has gaps or uneven steps at "
            f"{example_rows(np.r_[False, off])} (e.g. {dates.iloc[i - 1].date()} -> "
            f"{dates.iloc[i].date()}); fill missing periods (zero spend is 0, not a gap)"
        )
    return _FREQUENCIES[step]


def _check_numeric(frame: pd.DataFrame, column: str, role: str) -> np.ndarray:
    values = pd.to_numeric(frame[column], errors="coerce")
    unparseable = values.isna() & frame[column].notna()
    if unparseable.any():
        example = frame[column][unparseable].iloc[0]
        raise DataValidationError(
            f"{role} column {column!r}: {example_rows(unparseable)} are not numbers "
            f"(e.g. {example!r})"
        )
    arr = values.to_numpy(dtype=np.float64)
    bad = ~np.isfinite(arr)
    if bad.any():
        raise DataValidationError(
            f"{role} column {column!r}: {example_rows(bad)} are NaN or infinite; "
            "every period needs a finite value"
        )
    return arr


def _check_magnitude(values: np.ndarray, column: str, role: str) -> None:
    """Refuse finite but absurd values: one huge value, or a column spanning > 12 decades."""
    size = np.abs(values)
    huge = size >= MAX_MAGNITUDE
    if huge.any():
        raise DataValidationError(
            f"{role} column {column!r}: {example_rows(huge)} have magnitude >= "
            f"{MAX_MAGNITUDE:.0e} (e.g. {values[huge][0]:g}); check the units of these rows"
        )
    nonzero = size > 0
    if nonzero.sum() >= 2:
        low, high = size[nonzero].min(), size[nonzero].max()
        if high / low > MAX_SPAN:
            rows = nonzero & ((size == low) | (size == high))
            raise DataValidationError(
                f"{role} column {column!r}: values span {np.log10(high / low):.0f} orders of "
                f"magnitude ({low:g} to {high:g}, {example_rows(rows)}); at most "
                f"{np.log10(MAX_SPAN):.0f} are allowed: check the units of these rows"
            )


def _check_columns(frame: pd.DataFrame, expected: list[str]) -> None:
    missing = [c for c in expected if c not in frame.columns]
    if missing:
        raise DataValidationError(
            f"missing columns {missing}; the config expects {expected[1:]} besides 'date'"
        )
    extra = [c for c in frame.columns if c not in expected]
    if extra:
        raise DataValidationError(
            f"unexpected columns {extra}: list them in the config as channels, controls or "
            "index_variables, or drop them"
        )


def _check_grid(dates: pd.Series, min_rows: int) -> None:
    """One row per period, in increasing order, enough of them, evenly spaced."""
    dup = dates.duplicated(keep=False)
    if dup.any():
        raise DataValidationError(
            f"column 'date': {example_rows(dup)} repeat a date ({dates[dup].iloc[0].date()}); "
            "the modeling frame needs one row per period"
        )
    unsorted = (dates.diff().dt.days < 0).to_numpy()
    if unsorted.any():
        raise DataValidationError(
            f"column 'date': dates are not in increasing order at {example_rows(unsorted)}; "
            "sort the frame by date"
        )
    if len(dates) < max(min_rows, 3):
        raise DataValidationError(
            f"{len(dates)} rows is too few: this model needs at least {max(min_rows, 3)} "
            "periods for its lags, seasonality and parameters"
        )
    infer_frequency(dates)


def _check_spend(
    frame: pd.DataFrame, channel: str, role: str = "spend", all_zero_ok: bool = False
) -> np.ndarray:
    spend = _check_numeric(frame, channel, role)
    _check_magnitude(spend, channel, role)
    negative = spend < 0
    if negative.any():
        raise DataValidationError(
            f"{role} column {channel!r}: {example_rows(negative)} are negative "
            f"(e.g. {spend[negative][0]}); {role} must be >= 0"
        )
    if not spend.any() and not all_zero_ok:
        raise DataValidationError(
            f"{role} column {channel!r} is zero in every period: its effect cannot be "
            "estimated; drop the channel from the config"
        )
    return spend


def _check_channel(
    frame: pd.DataFrame, channel: str, exposure: Mapping[str, str], all_zero_ok: bool
) -> np.ndarray:
    """A channel's media input: spend, or the exposure column named in errors."""
    if channel not in exposure:
        return _check_spend(frame, channel, all_zero_ok=all_zero_ok)
    return _check_spend(
        frame.rename(columns={channel: exposure[channel]}),
        exposure[channel],
        "exposure",
        all_zero_ok,
    )


def _check_index(frame: pd.DataFrame, column: str) -> np.ndarray:
    missing = frame[column].isna()
    if missing.any():
        raise DataValidationError(f"index column {column!r}: {example_rows(missing)} are missing")
    return frame[column].astype(str).to_numpy()


def _check_outcome(frame: pd.DataFrame, outcome: str) -> np.ndarray:
    y = _check_numeric(frame, outcome, "outcome")
    _check_magnitude(y, outcome, "outcome")
    if np.ptp(y) == 0:
        raise DataValidationError(
            f"outcome column {outcome!r} is constant ({y[0]}); there is nothing to explain"
        )
    return y


def validate_frame(
    frame: pd.DataFrame,
    *,
    channels: Sequence[str],
    outcome: str,
    controls: Sequence[str] = (),
    index_variables: Sequence[str] = (),
    min_rows: int = 1,
    organic: Sequence[str] = (),
    exposure: Mapping[str, str] | None = None,
    spend: Sequence[str] = (),
    all_zero_ok: bool = False,
) -> pd.DataFrame:
    """Validate a modeling frame and return it typed, with ``date`` as datetime.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per period: ``date``, one spend column per channel, controls, the outcome.
    channels, controls, index_variables : sequence of str
        Expected column names.
    organic : sequence of str
        Organic media columns, checked like spend (finite, >= 0, not all zero).
    exposure, spend : mapping of str to str, sequence of str
        Channel to exposure column (impressions, clicks) where a channel's column holds an
        exposure metric (errors name that column), and those channels' spend columns.
    outcome : str
        The outcome column.
    min_rows : int
        Fewest rows the model can use (lags, seasonality and parameters need data).
    all_zero_ok : bool, default False
        Accept media columns that are zero in every row (one geo of a geo model).

    Returns
    -------
    pandas.DataFrame
        The frame with parsed dates and float columns, in the expected column order.

    Raises
    ------
    DataValidationError
        Naming the first problem found: the column, example rows and what is allowed.
    """
    if not isinstance(frame, pd.DataFrame):
        raise DataValidationError(f"expected a pandas DataFrame, got {type(frame).__name__}")
    dates = _parse_dates(frame)
    expected = ["date", *channels, *spend, *organic, *controls, *index_variables, outcome]
    _check_columns(frame, expected)
    _check_grid(dates, min_rows)
    out = pd.DataFrame({"date": dates.astype(DATE_DTYPE).to_numpy()})
    for c in channels:
        out[c] = _check_channel(frame, c, exposure or {}, all_zero_ok)
    for c, role in [(c, "spend") for c in spend] + [(c, "organic media") for c in organic]:
        out[c] = _check_spend(frame, c, role, all_zero_ok)
    for c in controls:
        out[c] = _check_numeric(frame, c, "control")
    for c in index_variables:
        out[c] = _check_index(frame, c)
    out[outcome] = _check_outcome(frame, outcome)
    return out
