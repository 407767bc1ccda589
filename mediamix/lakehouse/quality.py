"""Data-quality rules of the medallion pipeline: row rules for silver, grid rules for gold.

Row rules turn a bronze feed (every value a string, as received) into typed rows and *rejects*:
one row per (input row, broken rule) with the rule, the column, a reason and the raw record.
Grid rules check the date grid that the gold table needs. Every problem is summarized as an
:class:`Issue`; a failing step raises :class:`DataQualityError`, whose message names the rule,
the column and example rows. :data:`RULES` lists every rule.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from mediamix.errors import MediamixError
from mediamix.lakehouse.tables import DATE_DTYPE

__all__ = [
    "META_COLUMNS",
    "QUARANTINE_COLUMNS",
    "RULES",
    "DataQualityError",
    "Issue",
    "feed_frequency",
    "normalize_name",
    "parse_dates",
    "parse_numbers",
    "summarize",
    "validate_controls",
    "validate_outcome",
    "validate_spend",
]

Frequency = Literal["daily", "weekly"]

RULES: dict[str, str] = {
    "columns_missing": "a feed lacks a required column, or its header is not usable",
    "date_unparseable": "a date that is not an ISO calendar date (YYYY-MM-DD)",
    "value_missing": "an empty or NaN value where a number is needed (spend, outcome, control)",
    "value_not_numeric": "a value that is not a finite number",
    "spend_negative": "a negative spend",
    "channel_unknown": "a channel that is not expected, empty, or not a valid column name",
    "duplicate_conflict": "several rows for one key (date, or date and channel) that disagree",
    "channel_missing": "an expected channel with no spend rows",
    "date_grid_gap": "periods missing from the date grid: no outcome (or control) for them",
    "frequency_mixed": "dates that follow no single daily or weekly grid, or do not fit the "
    "target frequency",
}

# Columns the pipeline adds to bronze rows; everything else in a bronze table is input data.
META_COLUMNS = ("source", "source_row", "ingested_at")
QUARANTINE_COLUMNS = (
    "feed",
    "source",
    "source_row",
    "rule",
    "column",
    "reason",
    "record",
    "ingested_at",
)
_MISSING_TOKENS = {"", "nan", "na", "n/a", "null", "none"}
_DATE_RE = r"^(\d{4}-\d{2}-\d{2})(?:[T ]00:00(?::00(?:\.0+)?)?(?:Z|[+-]00:?00)?)?$"
_EXAMPLES = 3


@dataclass(frozen=True)
class Issue:
    """One data-quality problem: the rule, the column, what is wrong and example rows."""

    rule: str
    column: str
    reason: str
    count: int
    examples: tuple[str, ...] = ()
    unit: str = "rows"

    def format(self) -> str:
        """One line: ``rule [column]: reason (N rows), e.g. ...``."""
        shown = "; ".join(self.examples)
        unit = self.unit[:-1] if self.count == 1 and self.unit.endswith("s") else self.unit
        return f"{self.rule} [{self.column}]: {self.reason} ({self.count} {unit})" + (
            f", e.g. {shown}" if shown else ""
        )


class DataQualityError(MediamixError):
    """A pipeline step that found bad data: nothing was written to the step's output tables.

    Attributes
    ----------
    step : str
        ``bronze``, ``silver`` or ``gold``.
    issues : list of Issue
        Every problem found, with rule, column and examples.
    report : Any
        The run's :class:`~mediamix.lakehouse.medallion.IngestReport` (what was written
        before the failure).
    """

    def __init__(self, step: str, issues: Sequence[Issue], note: str = "") -> None:
        self.step = step
        self.issues = list(issues)
        self.report: Any = None
        head = f"{step} step failed: {len(self.issues)} data-quality problem(s)"
        lines = [head + (f"; {note}" if note else "")]
        lines += [f"  - {issue.format()}" for issue in self.issues]
        super().__init__("\n".join(lines))


def normalize_name(name: object) -> str:
    """``"Paid Search"`` -> ``"paid_search"``; ``""`` when nothing usable is left.

    Lower case, runs of other characters become ``_``; a name must start with a letter or ``_``.
    """
    text = re.sub(r"[^0-9a-z]+", "_", str(name).strip().lower()).strip("_")
    return text if text and not text[0].isdigit() else ""


def _text(raw: pd.Series) -> pd.Series:
    return raw.astype(object).where(raw.notna(), "").astype(str).str.strip()


def parse_dates(raw: pd.Series) -> pd.Series:
    """Parse ``YYYY-MM-DD`` (optionally with a midnight time); ``NaT`` where that fails."""
    day = _text(raw).str.extract(_DATE_RE, expand=False)
    return pd.to_datetime(day, format="%Y-%m-%d", errors="coerce").astype(DATE_DTYPE)


def parse_numbers(raw: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Parse numbers: ``(values, missing, not_numeric)``.

    ``missing``: empty or a NaN token (``nan``, ``NA``, ``null``...); ``not_numeric``: anything
    else that is not a finite number (``12,5``, ``abc``, ``inf``).
    """
    text = _text(raw)
    missing = text.str.lower().isin(_MISSING_TOKENS)
    values = pd.to_numeric(text.where(~missing), errors="coerce").astype("float64")
    not_numeric = ~missing & ~np.isfinite(values.fillna(np.inf))
    return values, missing, not_numeric


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


# --------------------------------------------------------------------------- rejects


def _raw_columns(bronze: pd.DataFrame) -> list[str]:
    return [c for c in bronze.columns if c not in META_COLUMNS]


def _reject(
    bronze: pd.DataFrame,
    mask: pd.Series,
    feed: str,
    rule: str,
    column: str,
    reason: str | pd.Series,
) -> pd.DataFrame:
    rows = bronze[mask.to_numpy(dtype=bool)]
    raw = rows[_raw_columns(bronze)]
    raw = raw.astype(object).where(raw.notna(), None)
    reasons = reason[mask] if isinstance(reason, pd.Series) else pd.Series(reason, rows.index)
    return pd.DataFrame(
        {
            "feed": feed,
            "source": rows["source"].astype(str),
            "source_row": rows["source_row"].astype("int64"),
            "rule": rule,
            "column": column,
            "reason": reasons.astype(str),
            "record": [json.dumps(r, default=str) for r in raw.to_dict("records")],
            "ingested_at": rows["ingested_at"],
        },
        index=rows.index,
    )


def empty_rejects() -> pd.DataFrame:
    """A quarantine frame with no rows and the quarantine table's column types."""
    frame = pd.DataFrame({c: pd.Series(dtype="str") for c in QUARANTINE_COLUMNS})
    frame["source_row"] = frame["source_row"].astype("int64")
    frame["ingested_at"] = pd.Series(dtype="datetime64[us, UTC]")
    return frame


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=False) if frames else empty_rejects()


def _check_values(
    bronze: pd.DataFrame, column: str, feed: str, label: str
) -> tuple[pd.Series, list[pd.DataFrame]]:
    values, missing, not_numeric = parse_numbers(bronze[column])
    bad = _text(bronze[column]).map(repr)
    return values, [
        _reject(bronze, missing, feed, "value_missing", column, f"{label} is empty or NaN"),
        _reject(
            bronze, not_numeric, feed, "value_not_numeric", column, bad + " is not a finite number"
        ),
    ]


def _check_dates(bronze: pd.DataFrame, feed: str) -> tuple[pd.Series, pd.DataFrame]:
    dates = parse_dates(bronze["date"])
    reason = _text(bronze["date"]).map(repr) + " is not a date (use YYYY-MM-DD)"
    return dates, _reject(bronze, dates.isna(), feed, "date_unparseable", "date", reason)


def _dedupe(
    typed: pd.DataFrame,
    bronze: pd.DataFrame,
    keys: list[str],
    values: list[str],
    feed: str,
) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """Collapse exact duplicates; reject every row of a key whose rows disagree."""
    dup = typed.duplicated(keys, keep=False)
    if not dup.any():
        return typed, empty_rejects(), 0
    groups = typed[dup].groupby(keys, sort=False)[values]
    conflicting = groups.transform(lambda s: s.nunique(dropna=False) > 1).any(axis=1)
    conflict_idx = conflicting[conflicting].index
    rejects = empty_rejects()
    if len(conflict_idx):
        bad = typed.loc[conflict_idx]
        shown = bad[values].astype(str).agg("/".join, axis=1)
        listing = shown.groupby([bad[k] for k in keys], sort=False).transform(", ".join)
        key_text = bad[keys].astype(str).agg(", ".join, axis=1)
        reason = f"rows for the same ({', '.join(keys)}) with different {'/'.join(values)}: "
        reason_s = pd.Series(reason, index=bad.index) + "(" + key_text + ") -> " + listing
        mask = pd.Series(bronze.index.isin(conflict_idx), index=bronze.index)
        reasons = reason_s.reindex(bronze.index)
        rejects = _reject(bronze, mask, feed, "duplicate_conflict", "/".join(values), reasons)
    kept = typed.drop(index=conflict_idx)
    deduped = kept.drop_duplicates(keys, keep="first")
    return deduped, rejects, len(kept) - len(deduped)


def _typed(bronze: pd.DataFrame, **cols: pd.Series) -> pd.DataFrame:
    return pd.DataFrame(
        {**cols, "source": bronze["source"], "source_row": bronze["source_row"]},
        index=bronze.index,
    )


def validate_spend(
    bronze: pd.DataFrame, channels: Sequence[str] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """Type and validate a bronze spend feed (``date, channel, spend`` as strings).

    Parameters
    ----------
    bronze : pandas.DataFrame
        The bronze rows, with ``source``, ``source_row`` and ``ingested_at``.
    channels : sequence of str, optional
        The expected channels (normalized names); others are ``channel_unknown``.

    Returns
    -------
    silver : pandas.DataFrame
        ``date, channel, spend, source, source_row`` for the rows that pass every rule.
    rejects : pandas.DataFrame
        One row per (input row, broken rule), in the quarantine table's columns.
    duplicates : int
        Exact duplicate rows that were collapsed.
    """
    dates, date_rejects = _check_dates(bronze, "spend")
    names = _text(bronze["channel"]).map(normalize_name)
    raw_names = _text(bronze["channel"]).map(repr)
    invalid = names.eq("") | names.eq("date")
    rejects = [
        date_rejects,
        _reject(
            bronze,
            invalid,
            "spend",
            "channel_unknown",
            "channel",
            raw_names + " is empty, reserved or not a usable column name",
        ),
    ]
    if channels is not None:
        unknown = ~invalid & ~names.isin(list(channels))
        allowed = f" is not one of the expected channels {sorted(channels)}"
        rejects.append(
            _reject(bronze, unknown, "spend", "channel_unknown", "channel", raw_names + allowed)
        )
    spend, value_rejects = _check_values(bronze, "spend", "spend", "spend")
    negative = spend < 0
    rejects += value_rejects
    rejects.append(
        _reject(
            bronze,
            negative,
            "spend",
            "spend_negative",
            "spend",
            "spend " + spend.astype(str) + " is negative",
        )
    )
    found = _concat(rejects)
    typed = _typed(bronze, date=dates, channel=names, spend=spend).drop(index=found.index.unique())
    typed, dup_rejects, removed = _dedupe(typed, bronze, ["date", "channel"], ["spend"], "spend")
    return typed.reset_index(drop=True), _concat([found, dup_rejects]), removed


def validate_outcome(bronze: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """Type and validate a bronze outcome feed (``date, <outcome>``); see :func:`validate_spend`."""
    name = _raw_columns(bronze)[1]
    dates, date_rejects = _check_dates(bronze, "outcome")
    values, value_rejects = _check_values(bronze, name, "outcome", f"outcome {name!r}")
    found = _concat([date_rejects, *value_rejects])
    typed = _typed(bronze, date=dates, **{name: values}).drop(index=found.index.unique())
    typed, dup_rejects, removed = _dedupe(typed, bronze, ["date"], [name], "outcome")
    return typed.reset_index(drop=True), _concat([found, dup_rejects]), removed


def validate_controls(bronze: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """Type and validate a bronze controls feed (``date, <control...>``).

    See :func:`validate_spend` for what is returned.
    """
    names = _raw_columns(bronze)[1:]
    dates, date_rejects = _check_dates(bronze, "controls")
    found_list, values = [date_rejects], {}
    for name in names:
        values[name], rejects = _check_values(bronze, name, "controls", f"control {name!r}")
        found_list += rejects
    found = _concat(found_list)
    typed = _typed(bronze, date=dates, **values).drop(index=found.index.unique())
    if not names:
        return typed.reset_index(drop=True), found, 0
    typed, dup_rejects, removed = _dedupe(typed, bronze, ["date"], names, "controls")
    return typed.reset_index(drop=True), _concat([found, dup_rejects]), removed


def _example(row: pd.Series) -> str:
    record = json.loads(row["record"])
    fields = ", ".join(f"{k}={v if v not in ('', None) else repr(v)}" for k, v in record.items())
    source = str(row["source"]).rsplit("/", 1)[-1]
    return f"{source} row {row['source_row']}: {fields} ({row['reason']})"


def summarize(rejects: pd.DataFrame) -> list[Issue]:
    """Summarize quarantine rows as one :class:`Issue` per (feed, rule, column)."""
    issues = []
    for (feed, rule, column), rows in rejects.groupby(["feed", "rule", "column"], sort=False):
        reason = f"{feed}: {RULES[str(rule)]}"
        examples = tuple(_example(r) for _, r in rows.head(_EXAMPLES).iterrows())
        issues.append(Issue(str(rule), str(column), reason, len(rows), examples))
    return issues


# --------------------------------------------------------------------------- gold grid

_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _dates_text(dates: Sequence[Any] | pd.Index) -> tuple[str, ...]:
    return tuple(str(pd.Timestamp(d).date()) for d in list(dates)[:_EXAMPLES])


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
    lo, hi = grid[0], grid[-1] + pd.Timedelta(days=step - 1)
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
