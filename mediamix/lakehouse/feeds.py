"""The raw feeds of the medallion pipeline: spend, outcome and controls, every value as text.

A feed comes from CSV or Parquet files, an existing table or a DataFrame (:func:`read_feed`),
or from the generator's output (:func:`synthetic_feeds`). Files are named by a path, a folder
(every ``.csv`` and ``.parquet`` file in it) or a glob (``spend_*.csv``); the same code reads a
local folder and a Unity Catalog Volume (``/Volumes/<catalog>/<schema>/<volume>/...``), which
Databricks mounts as a file system. Its values are kept as the strings a CSV would hold,
so bronze stores exactly what was received; its column names are normalized
(``Paid Search`` -> ``paid_search``) and the columns each kind needs are checked.
"""

from __future__ import annotations

import glob
import io
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from mediamix.data.frames import Frequency
from mediamix.errors import MediamixError
from mediamix.lakehouse.backend import Backend
from mediamix.lakehouse.names import LakeError, TableName
from mediamix.lakehouse.quality import (
    GEO_COLUMN,
    META_COLUMNS,
    POPULATION_COLUMN,
    DataQualityError,
    Issue,
    normalize_name,
)
from mediamix.lakehouse.tables import looks_like_table_name, read_table

if TYPE_CHECKING:
    from mediamix.data.generator import SyntheticData
    from mediamix.data.geo_generator import GeoSyntheticData

__all__ = [
    "FEEDS",
    "FILE_SUFFIXES",
    "Feed",
    "empty_feed",
    "feed_files",
    "feeds_in_folder",
    "read_feed",
    "synthetic_feeds",
    "synthetic_frequency",
]

#: The kinds of feed, in pipeline order.
FEEDS = ("spend", "outcome", "controls")
#: File types a feed can be read from, by suffix.
FILE_SUFFIXES = (".csv", ".parquet")
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
    columns = [n for n in names if n not in ("date", GEO_COLUMN, POPULATION_COLUMN)]
    problems = []
    if bad or dupes:
        problems.append(f"unusable or repeated column names {bad + dupes}")
    if missing:
        problems.append(f"missing required columns {missing}")
    if kind == "outcome" and len(columns) != 1:
        problems.append(
            f"needs exactly one column besides 'date', '{GEO_COLUMN}' and '{POPULATION_COLUMN}' "
            f"(the outcome), got {columns}"
        )
    if problems:
        reason = f"the {kind} feed " + "; ".join(problems)
        header = ", ".join(str(c) for c in frame.columns)
        raise DataQualityError(
            "bronze",
            [Issue("columns_missing", "header", reason, 1, (f"{source} header: {header}",))],
        )
    return frame.set_axis(names, axis=1)


def feed_files(source: str | Path, kind: str = "feed") -> list[Path]:
    """The files a feed source names: one file, a folder's CSV/Parquet files, or a glob.

    Parameters
    ----------
    source : str or Path
        A file, a folder or a glob pattern (``*``, ``?``, ``[...]``), local or on a Volume.
    kind : str
        The feed's kind, for messages.

    Returns
    -------
    list of Path
        Sorted by name, so that rows keep a stable order between runs.

    Raises
    ------
    LakeError
        If nothing matches, or a file is neither ``.csv`` nor ``.parquet``.
    """
    text = str(source)
    if glob.has_magic(text):
        found = [Path(p) for p in glob.glob(text) if Path(p).is_file()]
        where = f"no {kind} file matches {text}"
    elif Path(text).is_dir():
        found = [p for p in Path(text).iterdir() if p.is_file() and p.suffix in FILE_SUFFIXES]
        where = f"no {kind} file ({', '.join(FILE_SUFFIXES)}) in folder {text}"
    else:
        found = [Path(text)] if Path(text).is_file() else []
        where = f"{kind} file not found: {text}"
    if not found:
        raise LakeError(where)
    wrong = [str(p) for p in found if p.suffix.lower() not in FILE_SUFFIXES]
    if wrong:
        raise LakeError(f"{kind} files must be {' or '.join(FILE_SUFFIXES)}, got {wrong}")
    return sorted(found)


def feeds_in_folder(folder: str | Path) -> dict[str, str]:
    """The feed sources in a folder of raw feeds, such as a Volume's.

    Each kind is a sub-folder named after it (``spend/``) or the files whose names start with
    it (``spend*.csv``, ``spend_2024.parquet``); ``controls`` may be absent.

    Parameters
    ----------
    folder : str or Path
        The folder (``/Volumes/<catalog>/<schema>/<volume>`` on Databricks).

    Returns
    -------
    dict
        ``{"spend": source, "outcome": source}`` and ``"controls"`` when present, each a folder
        or a glob for :func:`read_feed`.

    Raises
    ------
    LakeError
        If the folder does not exist, or has no spend or no outcome feed.
    """
    root = Path(folder)
    if not root.is_dir():
        raise LakeError(f"raw feed folder not found: {root}")
    out = {}
    for kind in FEEDS:
        if (root / kind).is_dir():
            out[kind] = str(root / kind)
        elif any(p.is_file() for p in root.glob(f"{kind}*")):
            out[kind] = f"{root}/{kind}*"
    missing = [k for k in ("spend", "outcome") if k not in out]
    if missing:
        listing = sorted(p.name for p in root.iterdir())[:10]
        raise LakeError(
            f"no {' or '.join(missing)} feed in {root}: expected a folder or files named "
            f"{', '.join(k + '*' for k in missing)}; found {listing}"
        )
    return out


def _read_file(path: Path, kind: str) -> pd.DataFrame:
    if path.suffix.lower() == ".parquet":
        try:
            return pd.read_parquet(path)
        except (OSError, ValueError) as exc:
            raise LakeError(f"{kind} file {path} is not a readable Parquet file: {exc}") from None
    return _read_csv(path, kind)


def _read_files(source: str | Path, kind: str) -> pd.DataFrame:
    """All files of a source, as text, one after the other (the columns must agree)."""
    paths = feed_files(source, kind)
    frames = []
    for path in paths:
        frame = _read_file(path, kind)
        frames.append(pd.DataFrame({c: _as_text(frame[c]) for c in frame.columns}))
    first = list(frames[0].columns)
    for path, frame in zip(paths[1:], frames[1:], strict=True):
        if list(frame.columns) != first:
            raise LakeError(
                f"{kind} files disagree on columns: {paths[0]} has {first}, "
                f"{path} has {list(frame.columns)}"
            )
    return pd.concat(frames, ignore_index=True)


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
    """Read one raw feed: CSV/Parquet files, an existing table or a DataFrame.

    Parameters
    ----------
    kind : {"spend", "outcome", "controls"}
        ``spend``: long ``date, channel, spend``; ``outcome``: ``date, <outcome>``;
        ``controls``: wide ``date, <control...>``.
    source : str, Path or pandas.DataFrame
        A file, folder or glob of CSV/Parquet files (local or under ``/Volumes/...``; see
        :func:`feed_files`), a table name (``catalog.schema.table``) or a frame.
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
        named = str(source)
        where = label or (named if glob.has_magic(named) else str(Path(named).resolve()))
        frame = _read_files(source, kind)
    frame = frame.reset_index(drop=True)
    text = pd.DataFrame({c: _as_text(frame[c]) for c in frame.columns}, index=frame.index)
    return Feed(kind, _normalize_columns(text, kind, where), where)


def empty_feed(kind: str) -> Feed:
    """A feed with no rows: bronze holds an empty table for a feed that was not given."""
    return Feed(kind, pd.DataFrame({"date": pd.Series(dtype="str")}), "")


def _synthetic_layout(
    data: SyntheticData | GeoSyntheticData,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Generator output as ``(frame, facts)``: channels, outcome, seed and the key columns.

    Geo data (its truth is JSON) gets its geo and population columns renamed to ``geo`` and
    ``population``, the names the pipeline gives them.
    """
    truth = data.truth
    if isinstance(truth, Mapping):
        names = {truth["geo_column"]: GEO_COLUMN}
        if truth.get("population_column"):
            names[truth["population_column"]] = POPULATION_COLUMN
        frame = data.data.rename(columns=names)
        channels, outcome, seed = list(truth["channels"]), str(truth["outcome"]), truth["seed"]
        frequency = truth.get("frequency")
    else:
        frame, channels = data.data, [str(c) for c in truth.contributions.columns]
        outcome = str(truth.meta.get("outcome", frame.columns[-1]))
        seed, frequency = truth.seed, truth.meta.get("frequency")
    keys = ["date", *([GEO_COLUMN] if GEO_COLUMN in frame.columns else [])]
    extra = [POPULATION_COLUMN] if len(keys) > 1 and POPULATION_COLUMN in frame.columns else []
    facts = {"channels": channels, "outcome": outcome, "seed": seed, "keys": keys, "extra": extra}
    return frame, facts | {"frequency": "daily" if frequency == "daily" else "weekly"}


def synthetic_frequency(data: SyntheticData | GeoSyntheticData) -> Frequency:
    """The gold grid of generator output: ``daily`` or ``weekly``, as the data were generated."""
    return "daily" if _synthetic_layout(data)[1]["frequency"] == "daily" else "weekly"


def synthetic_feeds(data: SyntheticData | GeoSyntheticData) -> dict[str, Feed]:
    """Turn generator output into raw feeds: long per-channel spend, outcome and controls.

    Parameters
    ----------
    data : SyntheticData or GeoSyntheticData
        The generator's result (national, or geo data from
        :func:`~mediamix.data.geo_generator.generate_geos`).

    Returns
    -------
    dict
        ``{"spend": Feed, "outcome": Feed}`` and ``"controls"`` if the data has controls; values
        rendered as text
        (floats with ``repr``, so the gold table reproduces the generated numbers exactly).
        Geo data keeps ``geo`` in every feed, and ``population`` in the outcome feed.
    """
    frame, facts = _synthetic_layout(data)
    keys, extra, channels, outcome = (
        facts["keys"],
        facts["extra"],
        facts["channels"],
        facts["outcome"],
    )
    controls = [c for c in frame.columns if c not in (*keys, outcome, *channels, *extra)]
    label = f"generator(seed={facts['seed']})"
    long = frame.melt(id_vars=keys, value_vars=channels, var_name="channel", value_name="spend")
    feeds = {
        "spend": read_feed("spend", long, label=f"{label}/spend"),
        "outcome": read_feed("outcome", frame[[*keys, outcome, *extra]], label=f"{label}/outcome"),
    }
    if controls:
        feeds["controls"] = read_feed(
            "controls", frame[[*keys, *controls]], label=f"{label}/controls"
        )
    return feeds
