"""Data-quality rules of the medallion pipeline, and the row rules that build silver.

Row rules turn a bronze feed (every value a string, as received) into typed rows and *rejects*:
one row per (input row, broken rule) with the rule, the column, a reason and the raw record.
The grid rules that the gold table needs are in :mod:`mediamix.lakehouse.gold`. Every problem is
summarized as an :class:`Issue`; a failing step raises :class:`DataQualityError`, whose message
names the rule, the column and example rows. :data:`RULES` lists every rule, row and grid.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mediamix.data.frames import DATE_DTYPE, TIMESTAMP_DTYPE
from mediamix.data.validation import MAX_MAGNITUDE
from mediamix.errors import MediamixError

__all__ = [
    "GEO_COLUMN",
    "MAX_EXAMPLES",
    "META_COLUMNS",
    "POPULATION_COLUMN",
    "QUARANTINE_COLUMNS",
    "RULES",
    "DataQualityError",
    "Issue",
    "empty_rejects",
    "normalize_name",
    "outcome_name",
    "parse_dates",
    "parse_numbers",
    "summarize",
    "validate_controls",
    "validate_outcome",
    "validate_spend",
]

RULES: dict[str, str] = {
    "columns_missing": "a feed lacks a required column, or its header is not usable",
    "date_unparseable": "a date that is not an ISO calendar date (YYYY-MM-DD)",
    "value_missing": "an empty or NaN value where a number is needed (spend, outcome, control)",
    "value_not_numeric": "a value that is not a finite number",
    "value_absurd": "a finite value of magnitude 1e15 or more (a unit or typing error)",
    "spend_negative": "a negative spend",
    "channel_unknown": "a channel that is not expected, empty, or not a valid column name",
    "duplicate_conflict": "several rows for one key (date, or date and channel, and geo when "
    "there is one) that disagree",
    "channel_missing": "an expected channel with no spend rows",
    "geo_missing": "a row with no geo in a feed that has a geo column",
    "geo_mismatch": "geos that differ between feeds, a geo with its own date grid, or a "
    "population that is missing, not positive or not constant within its geo",
    "date_grid_gap": "periods missing from the date grid: no outcome (or control) for them",
    "frequency_mixed": "dates that follow no single daily or weekly grid, or do not fit the "
    "target frequency",
}

# Columns the pipeline adds to bronze rows; everything else in a bronze table is input data.
META_COLUMNS = ("source", "source_row", "ingested_at")
#: The optional geo column of every feed (long data: one row per date and geo).
GEO_COLUMN = "geo"
#: The optional population column of the outcome feed (constant per geo).
POPULATION_COLUMN = "population"
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
#: Example rows (or dates) an :class:`Issue` shows.
MAX_EXAMPLES = 3


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
    frame["ingested_at"] = pd.Series(dtype=TIMESTAMP_DTYPE)
    return frame


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=False) if frames else empty_rejects()


def _check_values(
    bronze: pd.DataFrame, column: str, feed: str, label: str
) -> tuple[pd.Series, list[pd.DataFrame]]:
    values, missing, not_numeric = parse_numbers(bronze[column])
    bad = _text(bronze[column]).map(repr)
    # the model refuses such values too (data.validation); quarantined here, before silver
    absurd = values.abs() >= MAX_MAGNITUDE
    return values, [
        _reject(bronze, missing, feed, "value_missing", column, f"{label} is empty or NaN"),
        _reject(
            bronze, not_numeric, feed, "value_not_numeric", column, bad + " is not a finite number"
        ),
        _reject(
            bronze,
            absurd,
            feed,
            "value_absurd",
            column,
            bad + f" has magnitude >= {MAX_MAGNITUDE:.0e}; check its units",
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


def _geo(bronze: pd.DataFrame, feed: str) -> tuple[dict[str, pd.Series], list[pd.DataFrame]]:
    """The geo column as typed text (``{}`` without one) and the rows that have no geo."""
    if GEO_COLUMN not in bronze.columns:
        return {}, []
    geo = _text(bronze[GEO_COLUMN])
    missing = geo.str.lower().isin(_MISSING_TOKENS)
    reason = f"{feed} row has no geo (column {GEO_COLUMN!r} is empty); every row needs one"
    return {GEO_COLUMN: geo}, [_reject(bronze, missing, feed, "geo_missing", GEO_COLUMN, reason)]


def _channel_names(
    bronze: pd.DataFrame, channels: Sequence[str] | None
) -> tuple[pd.Series, list[pd.DataFrame]]:
    """Normalized channel names of a spend feed, and the rows whose channel is unusable."""
    names = _text(bronze["channel"]).map(normalize_name)
    raw_names = _text(bronze["channel"]).map(repr)
    invalid = names.eq("") | names.eq("date")
    rejects = [
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
    return names, rejects


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
    names, rejects = _channel_names(bronze, channels)
    rejects.insert(0, date_rejects)
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
    geo, geo_rejects = _geo(bronze, "spend")
    found = _concat(rejects + geo_rejects)
    typed = _typed(bronze, date=dates, **geo, channel=names, spend=spend)
    typed = typed.drop(index=found.index.unique())
    keys = ["date", *geo, "channel"]
    typed, dup_rejects, removed = _dedupe(typed, bronze, keys, ["spend"], "spend")
    return typed.reset_index(drop=True), _concat([found, dup_rejects]), removed


def outcome_name(columns: Iterable[object]) -> str:
    """The outcome column of an outcome feed: the one that is not date, geo, population or meta."""
    skip = ("date", GEO_COLUMN, POPULATION_COLUMN, *META_COLUMNS)
    return next(str(c) for c in columns if c not in skip)


def validate_outcome(bronze: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """Type and validate a bronze outcome feed (``date, <outcome>``); see :func:`validate_spend`.

    With a ``geo`` column, rows are keyed by (date, geo); an optional ``population`` column
    must be a positive number (its constancy within a geo is a gold rule).
    """
    name = outcome_name(bronze.columns)
    dates, date_rejects = _check_dates(bronze, "outcome")
    values, value_rejects = _check_values(bronze, name, "outcome", f"outcome {name!r}")
    geo, geo_rejects = _geo(bronze, "outcome")
    found_list = [date_rejects, *value_rejects, *geo_rejects]
    columns = {**geo, name: values}
    if geo and POPULATION_COLUMN in bronze.columns:
        pop, pop_rejects = _check_values(bronze, POPULATION_COLUMN, "outcome", "population")
        bad = pd.Series(pop.le(0).to_numpy(), index=bronze.index)
        reason = "population " + pop.astype(str) + " is not positive"
        pop_rejects.append(_reject(bronze, bad, "outcome", "geo_mismatch", "population", reason))
        found_list += pop_rejects
        columns[POPULATION_COLUMN] = pop
    found = _concat(found_list)
    typed = _typed(bronze, date=dates, **columns).drop(index=found.index.unique())
    keys = ["date", *geo]
    typed, dup_rejects, removed = _dedupe(typed, bronze, keys, [name], "outcome")
    return typed.reset_index(drop=True), _concat([found, dup_rejects]), removed


def validate_controls(bronze: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """Type and validate a bronze controls feed (``date, <control...>``).

    See :func:`validate_spend` for what is returned.
    """
    names = [c for c in _raw_columns(bronze) if c not in ("date", GEO_COLUMN)]
    dates, date_rejects = _check_dates(bronze, "controls")
    geo, geo_rejects = _geo(bronze, "controls")
    found_list, values = [date_rejects, *geo_rejects], {}
    for name in names:
        values[name], rejects = _check_values(bronze, name, "controls", f"control {name!r}")
        found_list += rejects
    found = _concat(found_list)
    typed = _typed(bronze, date=dates, **geo, **values).drop(index=found.index.unique())
    if not names:
        return typed.reset_index(drop=True), found, 0
    typed, dup_rejects, removed = _dedupe(typed, bronze, ["date", *geo], names, "controls")
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
        examples = tuple(_example(r) for _, r in rows.head(MAX_EXAMPLES).iterrows())
        issues.append(Issue(str(rule), str(column), reason, len(rows), examples))
    return issues
