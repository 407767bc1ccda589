"""The raw feeds of the medallion pipeline: spend, outcome and controls, every value as text.

A feed comes from a CSV file, an existing table or a DataFrame (:func:`read_feed`), or from the
generator's output (:func:`synthetic_feeds`). Its values are kept as the strings a CSV would hold,
so bronze stores exactly what was received; its column names are normalized
(``Paid Search`` -> ``paid_search``) and the columns each kind needs are checked.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from mediamix.errors import MediamixError
from mediamix.lakehouse.backend import Backend
from mediamix.lakehouse.names import LakeError, TableName
from mediamix.lakehouse.quality import META_COLUMNS, DataQualityError, Issue, normalize_name
from mediamix.lakehouse.tables import looks_like_table_name, read_table

if TYPE_CHECKING:
    from mediamix.data.generator import SyntheticData

__all__ = ["FEEDS", "Feed", "empty_feed", "read_feed", "synthetic_feeds"]

#: The kinds of feed, in pipeline order.
FEEDS = ("spend", "outcome", "controls")
_REQUIRED = {"spend": ("date", "channel", "spend"), "outcome": ("date",), "controls": ("date",)}


@dataclass(frozen=True)
class Feed:
    """One raw input: ``kind`` (spend, outcome, controls), rows as strings, and its source."""

    kind: str
    frame: pd.DataFrame
    source: str


def _as_text(s: pd.Series) -> pd.Series:
    """Render a column as the strings a CSV would have held."""
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        text = s.dt.strftime("%Y-%m-%d").where(s.dt.normalize() == s, s.astype(str))
    elif pd.api.types.is_float_dtype(s.dtype):
        text = s.map(lambda v: repr(float(v)))  # repr round-trips every float exactly
    else:
        text = s.astype(object).map(str)
    return text.where(s.notna(), "").astype("str")


def _normalize_columns(frame: pd.DataFrame, kind: str, source: str) -> pd.DataFrame:
    names = [normalize_name(c) for c in frame.columns]
    bad = [str(c) for c, n in zip(frame.columns, names, strict=True) if not n or n in META_COLUMNS]
    dupes = sorted({n for n in names if n and names.count(n) > 1})
    missing = [c for c in _REQUIRED[kind] if c not in names]
    columns = [n for n in names if n != "date"]
    problems = []
    if bad or dupes:
        problems.append(f"unusable or repeated column names {bad + dupes}")
    if missing:
        problems.append(f"missing required columns {missing}")
    if kind == "outcome" and len(columns) != 1:
        problems.append(f"needs exactly one column besides 'date' (the outcome), got {columns}")
    if problems:
        reason = f"the {kind} feed " + "; ".join(problems)
        header = ", ".join(str(c) for c in frame.columns)
        raise DataQualityError(
            "bronze",
            [Issue("columns_missing", "header", reason, 1, (f"{source} header: {header}",))],
        )
    return frame.set_axis(names, axis=1)


def _read_csv(path: Path, kind: str) -> pd.DataFrame:
    if not path.is_file():
        raise LakeError(f"{kind} file not found: {path}")
    try:
        text = path.read_text(encoding="utf-8-sig")
        return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, na_filter=False)
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise LakeError(f"{kind} file {path} is not a readable CSV: {exc}") from None


def read_feed(
    kind: str,
    source: str | Path | pd.DataFrame,
    *,
    backend: Backend | None = None,
    label: str | None = None,
) -> Feed:
    """Read one raw feed: a CSV file, an existing table or a DataFrame.

    Parameters
    ----------
    kind : {"spend", "outcome", "controls"}
        ``spend``: long ``date, channel, spend``; ``outcome``: ``date, <outcome>``;
        ``controls``: wide ``date, <control...>``.
    source : str, Path or pandas.DataFrame
        A CSV path, a table name (``catalog.schema.table``) or a frame.
    backend : Backend, optional
        For a table source.
    label : str, optional
        The ``source`` recorded in bronze; defaults to the resolved path or table name.

    Returns
    -------
    Feed
        Every value as a string, as received; column names normalized.

    Raises
    ------
    DataQualityError
        ``columns_missing`` if a required column is absent or a name is unusable.
    """
    if kind not in FEEDS:
        raise MediamixError(f"feed kind must be one of {list(FEEDS)}, got {kind!r}")
    if isinstance(source, pd.DataFrame):
        frame, where = source, label or f"<{kind} frame>"
    elif looks_like_table_name(source):
        table = TableName.parse(str(source))
        frame, where = read_table(table, backend=backend), label or str(table)
    else:
        path = Path(source)
        frame, where = _read_csv(path, kind), label or str(path.resolve())
    frame = frame.reset_index(drop=True)
    text = pd.DataFrame({c: _as_text(frame[c]) for c in frame.columns}, index=frame.index)
    return Feed(kind, _normalize_columns(text, kind, where), where)


def empty_feed(kind: str) -> Feed:
    """A feed with no rows: bronze holds an empty table for a feed that was not given."""
    return Feed(kind, pd.DataFrame({"date": pd.Series(dtype="str")}), "")


def synthetic_feeds(data: SyntheticData) -> dict[str, Feed]:
    """Turn generator output into raw feeds: long per-channel spend, outcome and controls.

    Parameters
    ----------
    data : SyntheticData
        The generator's result.

    Returns
    -------
    dict
        ``{"spend": Feed, "outcome": Feed}`` and ``"controls"`` if the data has controls; values
        rendered as text
        (floats with ``repr``, so the gold table reproduces the generated numbers exactly).
    """
    frame, truth = data.data, data.truth
    channels = list(truth.contributions.columns)
    outcome = str(truth.meta.get("outcome", frame.columns[-1]))
    controls = [c for c in frame.columns if c not in ("date", outcome, *channels)]
    label = f"generator(seed={truth.seed})"
    long = frame.melt(id_vars="date", value_vars=channels, var_name="channel", value_name="spend")
    feeds = {
        "spend": read_feed("spend", long, label=f"{label}/spend"),
        "outcome": read_feed("outcome", frame[["date", outcome]], label=f"{label}/outcome"),
    }
    if controls:
        feeds["controls"] = read_feed(
            "controls", frame[["date", *controls]], label=f"{label}/controls"
        )
    return feeds
