"""The gold table: silver spend, outcome and controls on one complete date grid.

Grid rules check that the feeds fit one daily or weekly grid anchored on the outcome's dates, that
the grid has no gaps, and that every expected channel has spend; each problem is an
:class:`~mediamix.lakehouse.quality.Issue` of :data:`~mediamix.lakehouse.quality.RULES`, and a
failing build raises :class:`~mediamix.lakehouse.quality.DataQualityError`. Daily feeds can be
aggregated to weeks: spend and outcome summed, controls averaged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from mediamix.data.frames import DATE_DTYPE, Frequency
from mediamix.errors import MediamixError
from mediamix.lakehouse.quality import (
    MAX_EXAMPLES,
    META_COLUMNS,
    POPULATION_COLUMN,
    DataQualityError,
    Issue,
)

__all__ = ["MIN_PERIODS", "build_gold", "check_modelable", "feed_frequency"]


def _day_numbers(dates: pd.DatetimeIndex) -> npt.NDArray[np.int64]:
    return np.asarray(dates.to_numpy("datetime64[D]").astype(np.int64), dtype=np.int64)


def feed_frequency(dates: pd.Series | pd.DatetimeIndex) -> str:
    """Classify distinct dates: ``single``, ``daily``, ``weekly``, ``mixed`` or ``irregular``.

    ``weekly``: every step a multiple of 7 days; ``daily``: the smallest step is one day;
    ``mixed``: daily steps plus a run of weekly ones; ``irregular``: anything else.
    """
    days = np.unique(_day_numbers(pd.DatetimeIndex(dates).dropna()))
    if len(days) < 2:
        return "single"
    steps = np.diff(days)
    if (steps % 7 == 0).all():
        return "weekly"
    if steps.min() == 1:
        sevens = steps == 7
        return "mixed" if (sevens[1:] & sevens[:-1]).any() else "daily"
    return "irregular"


_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _dates_text(dates: Sequence[Any] | pd.Index) -> tuple[str, ...]:
    return tuple(str(pd.Timestamp(d).date()) for d in list(dates)[:MAX_EXAMPLES])


def _frequency_issues(
    dates: pd.Series, what: str, target: Frequency, anchor: int | None, strict: bool
) -> list[Issue]:
    """Frequency problems of one feed's dates against the target and the outcome's weeks."""
    uniq = pd.DatetimeIndex(dates.dropna().unique()).sort_values()
    freq = feed_frequency(uniq)
    if freq == "mixed" or (strict and freq == "irregular"):
        steps = np.diff(_day_numbers(uniq))
        common = np.bincount(steps).argmax()
        odd = uniq[1:][steps != common] if (steps != common).any() else uniq
        reason = (
            f"{what} dates follow no single daily or weekly grid "
            f"(steps of {sorted({int(s) for s in steps})[:6]} days; most are {common})"
        )
        return [Issue("frequency_mixed", "date", reason, len(odd), _dates_text(odd), "dates")]
    if target == "daily" and freq == "weekly":
        reason = f"{what} is weekly; weekly data cannot be made daily (use frequency weekly)"
        return [Issue("frequency_mixed", "date", reason, len(uniq), _dates_text(uniq), "dates")]
    if target == "weekly" and freq == "weekly" and anchor is not None:
        off = uniq[uniq.day_of_week != anchor]
        if len(off):
            reason = (
                f"{what} is weekly on {_DAYS[off[0].day_of_week]}s but the outcome's weeks start "
                f"on {_DAYS[anchor]}s"
            )
            return [Issue("frequency_mixed", "date", reason, len(off), _dates_text(off), "dates")]
    return []


def _outcome_issues(dates: pd.Series, name: str, target: Frequency) -> tuple[list[Issue], int]:
    """Frequency and gap problems of the outcome; also returns its native step in days."""
    uniq = pd.DatetimeIndex(dates.unique()).sort_values()
    if uniq.empty:
        return [Issue("date_grid_gap", name, "the outcome has no valid rows", 0)], 1
    issues = _frequency_issues(dates, "the outcome", target, None, strict=True)
    freq = feed_frequency(uniq)
    native = 7 if freq == "weekly" or (freq == "single" and target == "weekly") else 1
    if not issues:
        full = pd.date_range(uniq[0], uniq[-1], freq=f"{native}D")
        gaps = full.difference(uniq)
        if len(gaps):
            unit = "days" if native == 1 else "weeks"
            reason = f"the date grid has gaps: no outcome for these {unit} inside its range"
            issues.append(Issue("date_grid_gap", name, reason, len(gaps), _dates_text(gaps), unit))
    return issues, native


def _periods(dates: pd.Series, step: int, anchor: int) -> pd.Series:
    if step == 1:
        return dates
    shift = (dates.dt.day_of_week - anchor) % 7
    return (dates - pd.to_timedelta(shift, unit="D")).astype(DATE_DTYPE)


def _channel_issues(
    present: Sequence[str], channels: Sequence[str] | None, taken: set[str]
) -> tuple[list[str], list[Issue]]:
    order = list(channels) if channels is not None else sorted(present)
    issues = []
    missing = [c for c in order if c not in set(present)]
    if not order:
        reason = "no spend rows in the outcome's date range: gold would have no channels"
        issues.append(Issue("channel_missing", "channel", reason, 0))
    if missing:
        reason = "expected channels with no spend rows in the outcome's date range"
        issues.append(Issue("channel_missing", "channel", reason, len(missing), tuple(missing)))
    clash = [c for c in order if c in taken]
    if clash:
        reason = "channel names clash with the outcome or a control column"
        issues.append(Issue("channel_unknown", "channel", reason, len(clash), tuple(clash)))
    return order, issues


def _value_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c not in ("date", *META_COLUMNS)]


def _trim_partial_weeks(
    outcome: pd.DataFrame, spend: pd.DataFrame, controls: pd.DataFrame, anchor: int
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, list[str]]:
    """Drop weeks with fewer than 7 days of daily outcome (only the last can be) from all feeds."""
    days = _periods(outcome["date"], 7, anchor).value_counts()
    partial = days.index[days < 7]
    notes = []
    if len(partial):
        notes.append(
            f"dropped {len(partial)} partial week(s) of daily data at the end of the range "
            f"({', '.join(_dates_text(partial))}) from every feed"
        )
        outcome, spend, controls = (
            f[~_periods(f["date"], 7, anchor).isin(partial)] for f in (outcome, spend, controls)
        )
    notes.append("aggregated daily data to weeks: spend and outcome summed, controls averaged")
    return outcome, spend, controls, notes


def build_gold(
    spend: pd.DataFrame,
    outcome: pd.DataFrame,
    controls: pd.DataFrame,
    *,
    frequency: Frequency = "weekly",
    channels: Sequence[str] | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """Build the wide modeling table from the silver tables on a complete date grid.

    Parameters
    ----------
    spend, outcome, controls : pandas.DataFrame
        Silver ``date, channel, spend``; ``date, <outcome>``; ``date, <control...>``.
    frequency : {"weekly", "daily"}
        The gold grid. Daily feeds are aggregated to weeks starting on the outcome's first
        weekday: spend and outcome summed, controls averaged.
    channels : sequence of str, optional
        Expected channels, in column order; default: the channels present, sorted.

    Returns
    -------
    gold : pandas.DataFrame
        ``date``, one spend column per channel (zero where no spend), controls, the outcome.
    notes : list of str
        What was aggregated or trimmed (a trailing partial week of daily data).

    Raises
    ------
    DataQualityError
        ``frequency_mixed``, ``date_grid_gap``, ``channel_missing`` or ``channel_unknown``.
    """
    if frequency not in ("weekly", "daily"):
        raise MediamixError(f"frequency must be 'weekly' or 'daily', got {frequency!r}")
    name = _value_columns(outcome)[0]
    control_names = _value_columns(controls)
    issues, native = _outcome_issues(outcome["date"], name, frequency)
    anchor = int(outcome["date"].min().day_of_week) if len(outcome) else 0
    issues += _frequency_issues(spend["date"], "spend", frequency, anchor, strict=False)
    if control_names:
        issues += _frequency_issues(controls["date"], "controls", frequency, anchor, strict=True)
    if issues:
        raise DataQualityError("gold", issues)
    step = 7 if frequency == "weekly" else 1
    notes: list[str] = []
    if step == 7 and native == 1:
        outcome, spend, controls, notes = _trim_partial_weeks(outcome, spend, controls, anchor)
        if outcome.empty:
            reason = "the daily outcome does not cover one complete week"
            raise DataQualityError("gold", [Issue("date_grid_gap", name, reason, 0)])
    o_per = _periods(outcome["date"], step, anchor)
    grid = pd.DatetimeIndex(
        pd.date_range(o_per.min(), o_per.max(), freq=f"{step}D"), dtype=DATE_DTYPE
    )
    gold, more = _assemble(spend, outcome, controls, grid, step, anchor, channels)
    return gold, notes + more


def _assemble(
    spend: pd.DataFrame,
    outcome: pd.DataFrame,
    controls: pd.DataFrame,
    grid: pd.DatetimeIndex,
    step: int,
    anchor: int,
    channels: Sequence[str] | None,
) -> tuple[pd.DataFrame, list[str]]:
    name = _value_columns(outcome)[0]
    control_names = _value_columns(controls)
    s_per = _periods(spend["date"], step, anchor)
    # Timedelta(days=...) warns under pandas 2 with numpy >= 2.5; a unit does not
    lo, hi = grid[0], grid[-1] + pd.Timedelta(step - 1, unit="D")
    outside = spend["date"].lt(grid[0]) | spend["date"].gt(hi)
    issues = []
    if outside.any():
        dates = pd.DatetimeIndex(spend.loc[outside, "date"].unique()).sort_values()
        reason = f"spend dated outside the outcome's range {lo.date()} .. {hi.date()}"
        issues.append(Issue("date_grid_gap", name, reason, int(outside.sum()), _dates_text(dates)))
    present = spend.loc[~outside, "channel"].unique().tolist()
    order, more = _channel_issues(present, channels, {name, *control_names})
    issues += more
    c_per = _periods(controls["date"], step, anchor)
    ctl = controls[control_names].groupby(c_per.to_numpy()).mean().reindex(grid)
    for col in control_names:
        gaps = grid[ctl[col].isna().to_numpy()]
        if len(gaps):
            reason = "the date grid has gaps: no control value for these periods"
            issues.append(
                Issue("date_grid_gap", col, reason, len(gaps), _dates_text(gaps), "periods")
            )
    if issues:
        raise DataQualityError("gold", issues)
    kept = spend[~outside]
    wide = kept.groupby([s_per[~outside].to_numpy(), kept["channel"]])["spend"].sum()
    media = wide.unstack().reindex(index=grid, columns=order).fillna(0.0)
    o_per = _periods(outcome["date"], step, anchor)
    target = outcome[name].groupby(o_per.to_numpy()).sum().reindex(grid)
    gold = pd.DataFrame({"date": grid}, index=grid)
    gold = pd.concat([gold, media.astype("float64"), ctl.astype("float64")], axis=1)
    gold[name] = target.astype("float64")
    notes = []
    extra = int((controls["date"].lt(grid[0]) | controls["date"].gt(hi)).sum())
    if extra:
        notes.append(f"{extra} control rows outside the outcome's range were not used")
    return gold.reset_index(drop=True), notes


#: The fewest gold periods accepted: a single period leaves nothing to estimate from.
MIN_PERIODS = 2


def check_modelable(gold: pd.DataFrame) -> None:
    """Refuse a gold frame no model can learn from: too few periods or a constant outcome.

    Raises
    ------
    DataQualityError
        ``too_few_periods`` (fewer than :data:`MIN_PERIODS` dates) or ``outcome_constant``
        (the outcome, the last column before any ``population``, takes one value).
    """
    outcome = [str(c) for c in gold.columns if c != POPULATION_COLUMN][-1]
    periods = int(gold["date"].nunique()) if "date" in gold.columns else len(gold)
    issues = []
    if periods < MIN_PERIODS:
        reason = f"gold would have {periods} period(s); a model needs at least {MIN_PERIODS}"
        issues.append(Issue("too_few_periods", "date", reason, periods, ()))
    values = gold[outcome].dropna().unique()
    if len(gold) and len(values) <= 1:
        shown = values[0] if len(values) else "missing"
        reason = f"outcome {outcome!r} is constant ({shown}); there is nothing to explain"
        issues.append(Issue("outcome_constant", outcome, reason, len(gold), ()))
    if issues:
        raise DataQualityError("gold", issues, "no table was changed")
