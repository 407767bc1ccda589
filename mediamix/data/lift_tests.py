"""Lift tests (geo holdouts, go-dark tests, spend increases) as a validated table.

A lift test changed one channel's spend by ``spend_delta`` in total (negative for a go-dark
test), spread evenly over the periods ``start_date`` .. ``end_date`` inclusive, and measured the
incremental outcome ``lift`` (total over the same periods, original outcome units) with standard
error ``lift_se``. The modeling data already include the change: the spend the channel would
have had without the test is ``spend - spend_delta / n_periods`` in each period of the window.

Columns: ``channel, start_date, end_date, spend_delta, lift, lift_se`` and, for geo models,
``geo``: the geo the test ran in, or several geos separated by ``;`` (``north;south``) for one
test run in several geos whose ``lift``, ``lift_se`` and ``spend_delta`` are totals over them.
Checks:

- :func:`validate_lift_table` (no data needed): columns present, each value parses, ``end_date``
  not before ``start_date``, ``lift_se > 0``, ``spend_delta != 0``, a geo list without empty or
  repeated names, no test listed twice;
- :func:`lift_tests_for_data`: each test against a national model's data: the channel is
  modeled, the dates are dates of the data, no ``geo`` is given, and the spend without the test
  (``spend - spend_delta / n_periods``) is not negative in any period. A geo model's tests are
  matched by :mod:`mediamix.data.geo_lift_tests`.

Errors name the row (1-based, header not counted), the field and what is allowed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from mediamix.errors import MediamixError

__all__ = [
    "GEO_COLUMN",
    "GEO_SEPARATOR",
    "LIFT_TEST_COLUMNS",
    "LiftTestError",
    "LiftTests",
    "geo_names_of",
    "lift_tests_for_data",
    "match_lift_tests",
    "read_lift_tests",
    "validate_lift_table",
]

#: The required columns, in this order.
LIFT_TEST_COLUMNS = ("channel", "start_date", "end_date", "spend_delta", "lift", "lift_se")
#: The optional column naming a test's geo (geo models only).
GEO_COLUMN = "geo"
#: Separates the geos of one test that ran in several geos (``north;south``).
GEO_SEPARATOR = ";"

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]


class LiftTestError(MediamixError):
    """A lift-test table that is malformed or does not fit the modeling data."""


def _where(source: str, row: int, field: str) -> str:
    return f"{source}: row {row}, {field}"


def _number(value: Any, source: str, row: int, field: str) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise LiftTestError(f"{_where(source, row, field)}: {value!r} is not a number") from None
    if not np.isfinite(out):
        raise LiftTestError(f"{_where(source, row, field)}: {value!r} must be a finite number")
    return out


def _date(value: Any, source: str, row: int, field: str) -> pd.Timestamp:
    try:
        out: Any = pd.Timestamp(str(value).strip())
    except (TypeError, ValueError):
        out = pd.NaT
    if pd.isna(out) or str(value).strip() == "":
        raise LiftTestError(
            f"{_where(source, row, field)}: {value!r} is not a date (use ISO dates, 2024-03-04)"
        )
    return out.normalize()


def _row(record: Mapping[Any, Any], source: str, row: int, has_geo: bool) -> dict[str, Any]:
    """One row's values, typed and checked on their own."""
    channel = str(record["channel"]).strip() if not pd.isna(record["channel"]) else ""
    if not channel:
        raise LiftTestError(f"{_where(source, row, 'channel')}: empty; name a modeled channel")
    start = _date(record["start_date"], source, row, "start_date")
    end = _date(record["end_date"], source, row, "end_date")
    if end < start:
        raise LiftTestError(
            f"{_where(source, row, 'end_date')}: {end.date()} is before start_date "
            f"{start.date()}; end_date must be on or after start_date"
        )
    delta = _number(record["spend_delta"], source, row, "spend_delta")
    if delta == 0:
        raise LiftTestError(
            f"{_where(source, row, 'spend_delta')}: 0 changes nothing; give the total change of "
            "spend over the test (negative for a go-dark test)"
        )
    lift = _number(record["lift"], source, row, "lift")
    se = _number(record["lift_se"], source, row, "lift_se")
    if se <= 0:
        raise LiftTestError(f"{_where(source, row, 'lift_se')}: {se} must be > 0")
    out = {
        "channel": channel,
        "start_date": start,
        "end_date": end,
        "spend_delta": delta,
        "lift": lift,
        "lift_se": se,
    }
    if has_geo:
        out[GEO_COLUMN] = _geo_list(record[GEO_COLUMN], source, row)
    return out


def _geo_list(value: Any, source: str, row: int) -> str | None:
    """A row's geo(s): None when empty, else the names separated by ``;`` (spaces stripped)."""
    if value is None or pd.isna(value) or str(value).strip() == "":
        return None
    names = [part.strip() for part in str(value).split(GEO_SEPARATOR)]
    if "" in names:
        raise LiftTestError(
            f"{_where(source, row, GEO_COLUMN)}: {value!r} has an empty geo name; name one geo, "
            f"or several separated by {GEO_SEPARATOR!r} (north;south)"
        )
    repeated = sorted({g for g in names if names.count(g) > 1})
    if repeated:
        raise LiftTestError(
            f"{_where(source, row, GEO_COLUMN)}: {value!r} lists {repeated} more than once; "
            "name each geo of the test once"
        )
    return GEO_SEPARATOR.join(names)


def geo_names_of(value: Any) -> list[str]:
    """The geos of a checked ``geo`` value (none for None or NaN): ``"north;south"`` to two."""
    if not isinstance(value, str):
        return []
    return value.split(GEO_SEPARATOR)


def validate_lift_table(table: pd.DataFrame, source: str = "lift tests") -> pd.DataFrame:
    """Check a lift-test table on its own (no data needed) and return it typed.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per test with the columns :data:`LIFT_TEST_COLUMNS` (and optionally ``geo``).
    source : str
        Where the table came from, for error messages.

    Returns
    -------
    pandas.DataFrame
        The required columns (and ``geo`` if given): dates as timestamps, numbers as floats.

    Raises
    ------
    LiftTestError
        Naming the row and field: a missing column, an unparseable value, ``end_date`` before
        ``start_date``, ``lift_se <= 0``, ``spend_delta == 0`` or a test listed twice.
    """
    missing = [c for c in LIFT_TEST_COLUMNS if c not in table.columns]
    if missing:
        raise LiftTestError(
            f"{source}: missing columns {missing}; a lift-test table needs "
            f"{list(LIFT_TEST_COLUMNS)} (and optionally {GEO_COLUMN!r})"
        )
    if table.empty:
        raise LiftTestError(f"{source}: no tests (the table has no rows)")
    has_geo = GEO_COLUMN in table.columns
    rows = [
        _row(rec, source, i, has_geo)
        for i, rec in enumerate(table.to_dict(orient="records"), start=1)
    ]
    out = pd.DataFrame(rows)
    _check_repeats(out, rows, source)
    return out


def _check_repeats(out: pd.DataFrame, rows: list[dict[str, Any]], source: str) -> None:
    """No test listed twice: same channel, dates and (in any order) geos."""
    key = out[["channel", "start_date", "end_date"]].copy()
    if GEO_COLUMN in out.columns:
        key[GEO_COLUMN] = [";".join(sorted(geo_names_of(g))) for g in out[GEO_COLUMN]]
    repeated = key.duplicated(keep="first").to_numpy()
    if repeated.any():
        second = int(np.flatnonzero(repeated)[0])
        first = int(np.flatnonzero((key == key.iloc[second]).all(axis=1).to_numpy())[0])
        rec = rows[second]
        where = f" in {rec[GEO_COLUMN]!r}" if rec.get(GEO_COLUMN) else ""
        raise LiftTestError(
            f"{_where(source, second + 1, 'channel')}: the test of {rec['channel']!r}{where} from "
            f"{rec['start_date'].date()} to {rec['end_date'].date()} repeats row {first + 1}; "
            "list each test once (combine repeated measurements)"
        )


def read_lift_tests(path: str | Path) -> pd.DataFrame:
    """Read and check a lift-test CSV file (see :func:`validate_lift_table`).

    Raises
    ------
    LiftTestError
        If the file cannot be read or the table is malformed.
    """
    path = Path(path)
    if not path.is_file():
        raise LiftTestError(f"lift tests: no file at {path}")
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise LiftTestError(f"lift tests: {path} is not a readable CSV file: {exc}") from None
    return validate_lift_table(raw, str(path))


@dataclass(frozen=True)
class LiftTests:
    """Lift tests matched to the modeling data's rows, as arrays (one entry per test).

    Attributes
    ----------
    channel : numpy.ndarray
        Position of each test's channel on the model's channel axis.
    start, end : numpy.ndarray
        First and last row of each test's window (inclusive).
    spend_delta, lift, lift_se : numpy.ndarray
        As in the table, original units.
    labels : tuple of str
        ``channel start..end`` per test (then `` geo`` for a test that names its geos), the
        ``lift_test`` coordinate.
    """

    channel: IntArray
    start: IntArray
    end: IntArray
    spend_delta: FloatArray
    lift: FloatArray
    lift_se: FloatArray
    labels: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.labels)

    def delta_per_period(self) -> FloatArray:
        """Spend change per period of each test's window."""
        return self.spend_delta / (self.end - self.start + 1)


def _row_of(dates: pd.DatetimeIndex, day: pd.Timestamp, source: str, row: int, field: str) -> int:
    found = dates.get_indexer(pd.DatetimeIndex([day]))[0]
    if found >= 0:
        return int(found)
    where = _where(source, row, field)
    if day < dates[0] or day > dates[-1]:
        raise LiftTestError(
            f"{where}: {day.date()} is outside the data ({dates[0].date()} to {dates[-1].date()})"
        )
    raise LiftTestError(
        f"{where}: {day.date()} is not a date of the data's grid; use one of its dates "
        f"(e.g. {dates[dates.get_indexer(pd.DatetimeIndex([day]), method='nearest')[0]].date()})"
    )


def lift_tests_for_data(
    table: pd.DataFrame,
    dates: Sequence[Any] | pd.Series | pd.DatetimeIndex,
    spend: pd.DataFrame,
    *,
    geo_model: bool = False,
    source: str = "lift tests",
) -> LiftTests:
    """Match a checked lift-test table to a national model's data.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`validate_lift_table` or :func:`read_lift_tests`.
    dates : sequence of dates
        The data's dates, one per row, sorted.
    spend : pandas.DataFrame
        The observed spend (currency), one column per modeled channel in model order, one row
        per date; the test's change is already in it.
    geo_model : bool, default False
        Skip the national model's refusal of a ``geo`` (a geo model's tests are matched to its
        geos by :func:`mediamix.data.geo_lift_tests.geo_lift_tests_for_data`).
    source : str
        Where the table came from, for error messages.

    Returns
    -------
    LiftTests

    Raises
    ------
    LiftTestError
        Naming the row and field: an unmodeled channel, a date outside the data or off its
        grid, a geo on a national model, or a spend without the test below zero.
    """
    table = validate_lift_table(table, source)
    if not geo_model:
        _check_national(table, source)
    tests = match_lift_tests(table, dates, list(spend.columns), source)
    _check_spend(tests, spend.to_numpy(np.float64), source)
    return tests


def match_lift_tests(
    table: pd.DataFrame,
    dates: Sequence[Any] | pd.Series | pd.DatetimeIndex,
    channels: Sequence[str],
    source: str = "lift tests",
) -> LiftTests:
    """Each test's channel and window as positions in the data (no spend checked).

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`validate_lift_table`.
    dates : sequence of dates
        The data's dates, sorted (each once).
    channels : sequence of str
        The modeled channels in model order.
    source : str
        Where the table came from, for error messages.

    Returns
    -------
    LiftTests
        Labelled ``channel start..end`` (and `` geo`` when the test names one).

    Raises
    ------
    LiftTestError
        For an unmodeled channel or a date outside the data or off its grid.
    """
    index = pd.DatetimeIndex(pd.to_datetime(pd.Series(dates))).normalize()
    channels = list(channels)
    records = table.to_dict(orient="records")
    pos, start, end = rows = ([], [], [])  # type: tuple[list[int], list[int], list[int]]
    for i, rec in enumerate(records, start=1):
        if rec["channel"] not in channels:
            raise LiftTestError(
                f"{_where(source, i, 'channel')}: {rec['channel']!r} is not a modeled channel; "
                f"the channels are {channels}"
            )
        pos.append(channels.index(rec["channel"]))
        start.append(_row_of(index, rec["start_date"], source, i, "start_date"))
        end.append(_row_of(index, rec["end_date"], source, i, "end_date"))
    labels = tuple(
        f"{r['channel']} {r['start_date'].date()}..{r['end_date'].date()}"
        + (f" {r[GEO_COLUMN]}" if r.get(GEO_COLUMN) else "")
        for r in records
    )
    column = {k: table[k].to_numpy(np.float64) for k in ("spend_delta", "lift", "lift_se")}
    found = {k: np.array(v, dtype=np.intp) for k, v in zip(("channel", "start", "end"), rows)}  # noqa: B905
    return LiftTests(**found, **column, labels=labels)  # type: ignore[arg-type]


def _check_national(table: pd.DataFrame, source: str) -> None:
    """A national model takes no geo: the column may be absent or empty."""
    if GEO_COLUMN in table.columns and table[GEO_COLUMN].notna().any():
        row = int(np.flatnonzero(table[GEO_COLUMN].notna().to_numpy())[0]) + 1
        raise LiftTestError(
            f"{_where(source, row, GEO_COLUMN)}: {table.loc[row - 1, GEO_COLUMN]!r} given, but "
            "the model is national (no geos); leave the geo column empty or drop it"
        )


def _check_spend(tests: LiftTests, spend: FloatArray, source: str) -> None:
    """The spend without the test, ``spend - delta per period``, must not be negative."""
    for i, delta in enumerate(tests.delta_per_period()):
        window = spend[tests.start[i] : tests.end[i] + 1, tests.channel[i]]
        if np.any(window - delta < -1e-9 * max(1.0, abs(delta))):
            raise LiftTestError(
                f"{_where(source, i + 1, 'spend_delta')}: {tests.spend_delta[i]:g} over "
                f"{len(window)} periods is {delta:g} per period, more than the observed spend "
                f"({window.min():g} in its lowest period, {window.sum():g} in all) of the "
                "window, which already includes the test's change; the spend without the test "
                "(observed minus the change) cannot be negative"
            )
