"""What a table backend is, and the checks every backend applies to a frame before writing.

A backend (:class:`Backend`) stores tables named by
:class:`~mediamix.lakehouse.names.TableName`: :mod:`mediamix.lakehouse.delta_rs` under a local
lakehouse directory, :mod:`mediamix.lakehouse.spark` in a Spark metastore. Both import this
module and nothing above it; choosing a backend and the public read/write functions live in
:mod:`mediamix.lakehouse.tables`. In pandas, Delta ``date`` columns are
:data:`~mediamix.data.frames.DATE_DTYPE` (tz-naive, at midnight) and Delta ``timestamp`` columns
:data:`~mediamix.data.frames.TIMESTAMP_DTYPE`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from mediamix.data.frames import DATE_DTYPE, TIMESTAMP_DTYPE
from mediamix.lakehouse.names import LakeError, TableName

__all__ = [
    "FINGERPRINT_KEY",
    "Backend",
    "HistoryEntry",
    "TableInfo",
    "WriteMode",
    "WriteResult",
    "check_columns",
    "frame_fingerprint",
    "merge_predicate",
    "normalize_dates",
    "schema_mismatch",
]

#: Commit metadata key holding the content hash of what was written.
FINGERPRINT_KEY = "mediamix.fingerprint"

WriteMode = Literal["overwrite", "append"]


@dataclass(frozen=True)
class WriteResult:
    """What one :func:`~mediamix.lakehouse.tables.write_table` call did.

    ``version`` is the table's current version after the call (``None`` for a non-Delta
    format); ``skipped`` is true when the content was unchanged and nothing was written.
    """

    table: TableName
    version: int | None
    rows: int
    skipped: bool = False


@dataclass(frozen=True)
class HistoryEntry:
    """One commit of a Delta table: its version, time, operation and mediamix metadata."""

    version: int
    timestamp: dt.datetime | None
    operation: str
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TableInfo:
    """A table's name, current version, row count, columns (name, Delta type) and location."""

    name: TableName
    version: int | None
    rows: int
    columns: list[tuple[str, str]]
    location: str
    backend: str


@runtime_checkable
class Backend(Protocol):
    """Storage of tables: one implementation on delta-rs, one on Spark."""

    name: str

    def location(self, table: TableName) -> str:
        """Where the table lives (a path or a metastore name)."""
        ...

    def exists(self, table: TableName) -> bool:
        """Whether the table exists."""
        ...

    def read(self, table: TableName, version: int | None = None) -> pd.DataFrame:
        """The table's rows at ``version`` (the current one by default)."""
        ...

    def write(
        self,
        df: pd.DataFrame,
        table: TableName,
        *,
        mode: WriteMode,
        replace_schema: bool,
        metadata: dict[str, str],
        partition_by: Sequence[str] = (),
    ) -> int | None:
        """Write ``df`` as one commit, partitioned by ``partition_by``; return the new version."""
        ...

    def merge(
        self, df: pd.DataFrame, table: TableName, *, keys: list[str], metadata: dict[str, str]
    ) -> int | None:
        """Upsert ``df`` by ``keys`` as one Delta MERGE commit; return the new version."""
        ...

    def version(self, table: TableName) -> int | None:
        """The current version, ``None`` if the format has no versions."""
        ...

    def history(self, table: TableName, limit: int | None = None) -> list[HistoryEntry]:
        """Commits, newest first."""
        ...

    def columns(self, table: TableName) -> list[tuple[str, str]]:
        """Column names and their Delta types."""
        ...

    def count(self, table: TableName) -> int:
        """Number of rows in the current version."""
        ...

    def list_tables(self, catalog: str | None = None, schema: str | None = None) -> list[TableName]:
        """Tables, optionally only those in one catalog and/or schema."""
        ...


# --------------------------------------------------------------------------- frame checks


def check_columns(df: pd.DataFrame, table: TableName | str) -> None:
    """Raise :class:`LakeError` unless column names are unique, non-empty Delta names."""
    names = [str(c) for c in df.columns]
    if any(not isinstance(c, str) for c in df.columns):
        raise LakeError(f"{table}: column names must be strings, got {list(df.columns)!r}")
    lowered = [n.lower() for n in names]
    dupes = sorted({n for n in names if lowered.count(n.lower()) > 1})
    if dupes:
        raise LakeError(f"{table}: column names repeat (case-insensitively): {dupes}")
    bad = [n for n in names if not n or re.search(r"[ ,;{}()\n\t=]", n)]
    if bad:
        raise LakeError(f"{table}: column names may not be empty or contain ' ,;{{}}()=': {bad}")


def normalize_dates(df: pd.DataFrame, table: TableName | str) -> pd.DataFrame:
    """Return ``df`` with naive datetimes as ``datetime64[us]`` and aware ones in UTC.

    Raises
    ------
    LakeError
        If a tz-naive datetime column holds a time of day: naive datetimes are stored as Delta
        ``date``; store instants as tz-aware (UTC) timestamps instead.
    """
    out = df.copy()
    for col in out.columns:
        s = out[col]
        if isinstance(s.dtype, pd.DatetimeTZDtype):
            out[col] = s.dt.tz_convert("UTC").astype(TIMESTAMP_DTYPE)
        elif pd.api.types.is_datetime64_dtype(s.dtype):
            if (s.dropna() != s.dropna().dt.normalize()).any():
                raise LakeError(
                    f"{table}: column {col!r} holds times of day; tz-naive datetimes are stored "
                    "as Delta dates, so use dates at midnight or tz-aware (UTC) timestamps"
                )
            out[col] = s.astype(DATE_DTYPE)
    return out


def frame_fingerprint(df: pd.DataFrame, exclude: tuple[str, ...] = ()) -> str:
    """A SHA-256 of a frame's column names, dtypes and values (row order matters).

    Parameters
    ----------
    df : pandas.DataFrame
        The data.
    exclude : tuple of str
        Columns left out, e.g. ingestion timestamps that change on every run.

    Returns
    -------
    str
        Hex digest; equal frames give equal digests.
    """
    keep = df[[c for c in df.columns if c not in exclude]]
    h = hashlib.sha256()
    h.update(repr([(str(c), str(t)) for c, t in keep.dtypes.items()]).encode())
    if len(keep.columns) and len(keep):
        rows = pd.util.hash_pandas_object(keep, index=False).to_numpy(dtype=np.uint64)
        h.update(rows.tobytes())
    h.update(str(len(keep)).encode())
    return h.hexdigest()


def merge_predicate(keys: list[str], target: str = "t", source: str = "s") -> str:
    """The join condition of a MERGE on ``keys``: ``t.`date` = s.`date` AND ...``.

    Raises
    ------
    LakeError
        If there is no key or a key is not a plain column name.
    """
    if not keys:
        raise LakeError("a merge needs at least one key column")
    bad = [k for k in keys if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", k)]
    if bad:
        raise LakeError(f"merge keys must be plain column names, got {bad}")
    return " AND ".join(f"{target}.`{k}` = {source}.`{k}`" for k in keys)


def schema_mismatch(
    table: TableName, have: list[tuple[str, str]], want: list[tuple[str, str]]
) -> None:
    """Raise :class:`LakeError` listing the differences if two column lists differ."""
    have_d, want_d = dict(have), dict(want)
    if have_d == want_d:
        return
    problems = []
    missing = [c for c in have_d if c not in want_d]
    extra = [c for c in want_d if c not in have_d]
    if missing:
        problems.append(f"missing columns {missing}")
    if extra:
        problems.append(f"unknown columns {extra}")
    for col in have_d.keys() & want_d.keys():
        if have_d[col] != want_d[col]:
            problems.append(f"column {col!r} is {want_d[col]} but the table has {have_d[col]}")
    raise LakeError(
        f"schema mismatch writing {table}: " + "; ".join(sorted(problems)) + ". The table's "
        f"schema is {have}; overwrite with replace_schema=True to change it"
    )
