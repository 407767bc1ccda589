"""Delta table I/O: Unity Catalog style names, a Spark backend and a delta-rs backend.

Tables are named ``catalog.schema.table`` (defaults: catalog ``main``, schema ``mediamix``).
The backend is chosen automatically by :func:`get_backend`: inside Databricks, or with an active
SparkSession that has Delta, tables are Spark tables written with ``format("delta")`` and
``saveAsTable``; otherwise they are written with ``deltalake`` (delta-rs) under a local lakehouse
root laid out as ``<root>/<catalog>/<schema>/<table>``. Both write real Delta tables: a
transaction log, one version per write, and older versions readable by time travel.

The backends live in :mod:`mediamix.lakehouse.delta_rs` and :mod:`mediamix.lakehouse.spark`.
In pandas,
Delta ``date`` columns are ``datetime64[us]`` (tz-naive, at midnight) and Delta
``timestamp`` columns are ``datetime64[us, UTC]``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from mediamix.errors import MediamixError

__all__ = [
    "DEFAULT_CATALOG",
    "DEFAULT_SCHEMA",
    "FINGERPRINT_KEY",
    "Backend",
    "HistoryEntry",
    "LakeError",
    "TableInfo",
    "TableName",
    "WriteResult",
    "describe_table",
    "frame_fingerprint",
    "get_backend",
    "lakehouse_root",
    "list_tables",
    "load_modeling_frame",
    "looks_like_table_name",
    "read_table",
    "table_history",
    "write_table",
]

DEFAULT_CATALOG = "main"
DEFAULT_SCHEMA = "mediamix"
LAKEHOUSE_ENV = "MEDIAMIX_LAKEHOUSE"
FINGERPRINT_KEY = "mediamix.fingerprint"
DATE_DTYPE: Literal["datetime64[us]"] = "datetime64[us]"

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*){0,2}$")
_FILE_SUFFIXES = (".csv", ".tsv", ".txt", ".gz", ".zip", ".parquet", ".json")

WriteMode = Literal["overwrite", "append"]


def is_identifier(part: str) -> bool:
    """Whether ``part`` is a valid catalog, schema or table name (letters, digits, ``_``)."""
    return bool(_IDENT.match(part))


class LakeError(MediamixError):
    """A table that does not exist, a bad table name, or data that does not fit a table."""


@dataclass(frozen=True, order=True)
class TableName:
    """A Unity Catalog style three-part table name ``catalog.schema.table`` (lower case)."""

    catalog: str
    schema: str
    table: str

    @classmethod
    def parse(
        cls, name: str | TableName, *, catalog: str | None = None, schema: str | None = None
    ) -> TableName:
        """Parse ``table``, ``schema.table`` or ``catalog.schema.table``.

        Parameters
        ----------
        name : str or TableName
            The name; missing parts come from ``catalog`` and ``schema``.
        catalog, schema : str, optional
            Defaults for missing parts (``main`` and ``mediamix`` when not given).

        Returns
        -------
        TableName
            The full name, lower-cased as Unity Catalog stores it.

        Raises
        ------
        LakeError
            If a part is not letters, digits and underscores (not starting with a digit).
        """
        if isinstance(name, TableName):
            return name
        parts = str(name).strip().split(".")
        if len(parts) > 3:
            raise LakeError(f"invalid table name {name!r}: use table, schema.table or c.s.table")
        parts = [catalog or DEFAULT_CATALOG, schema or DEFAULT_SCHEMA][: 3 - len(parts)] + parts
        for part in parts:
            if not _IDENT.match(part):
                raise LakeError(
                    f"invalid table name {name!r}: {part!r} must be letters, digits and "
                    "underscores, not starting with a digit (catalog.schema.table)"
                )
        return cls(*(p.lower() for p in parts))

    def __str__(self) -> str:
        return f"{self.catalog}.{self.schema}.{self.table}"


@dataclass(frozen=True)
class WriteResult:
    """What one :func:`write_table` call did.

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
    ) -> int | None:
        """Write ``df`` as one commit; return the new version."""
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


# --------------------------------------------------------------------------- pandas <-> arrow


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
            out[col] = s.dt.tz_convert("UTC").astype("datetime64[us, UTC]")
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


# --------------------------------------------------------------------------- selection


def lakehouse_root(lakehouse: str | Path | None = None) -> Path:
    """The local lakehouse root: ``lakehouse``, else ``$MEDIAMIX_LAKEHOUSE``, else ``lakehouse``."""
    if lakehouse is not None and str(lakehouse) != "":
        return Path(lakehouse).expanduser()
    env = os.environ.get(LAKEHOUSE_ENV, "")
    return Path(env).expanduser() if env else Path("lakehouse")


def get_backend(lakehouse: str | Path | None = None) -> Backend:
    """Choose the backend.

    Parameters
    ----------
    lakehouse : str or Path, optional
        A local lakehouse root. Given explicitly, it always selects delta-rs at that root.

    Returns
    -------
    Backend
        Spark (``format("delta")`` + ``saveAsTable``) inside Databricks or with an active
        SparkSession that has Delta; otherwise delta-rs at :func:`lakehouse_root`.
    """
    from mediamix.lakehouse.delta_rs import DeltaRsBackend

    if lakehouse is None:
        from mediamix.lakehouse.spark import SparkBackend, active_delta_spark

        spark = active_delta_spark()
        if spark is not None:
            return SparkBackend(spark)
    return DeltaRsBackend(lakehouse_root(lakehouse))


def _resolve(backend: Backend | None, lakehouse: str | Path | None) -> Backend:
    if backend is not None and lakehouse is not None:
        raise LakeError("give either a backend or a lakehouse directory, not both")
    return backend if backend is not None else get_backend(lakehouse)


# --------------------------------------------------------------------------- public I/O


def read_table(
    name: str | TableName,
    *,
    version: int | None = None,
    backend: Backend | None = None,
    lakehouse: str | Path | None = None,
) -> pd.DataFrame:
    """Read a table, optionally an older version.

    Parameters
    ----------
    name : str or TableName
        ``catalog.schema.table``; missing parts default to ``main`` and ``mediamix``.
    version : int, optional
        A version to time-travel to; the current one by default.
    backend : Backend, optional
        Defaults to :func:`get_backend` (``lakehouse``).
    lakehouse : str or Path, optional
        A local lakehouse root (delta-rs).

    Returns
    -------
    pandas.DataFrame
        The rows, dates as ``datetime64[us]``.

    Raises
    ------
    LakeError
        If the table or the version does not exist.
    """
    return _resolve(backend, lakehouse).read(TableName.parse(name), version)


def write_table(
    df: pd.DataFrame,
    name: str | TableName,
    *,
    mode: WriteMode = "overwrite",
    replace_schema: bool = False,
    fingerprint: str | None = None,
    backend: Backend | None = None,
    lakehouse: str | Path | None = None,
) -> WriteResult:
    """Write a frame as one Delta commit.

    Parameters
    ----------
    df : pandas.DataFrame
        The rows. Naive datetimes are stored as Delta ``date`` (midnight only).
    name : str or TableName
        Table name (see :meth:`TableName.parse`).
    mode : {"overwrite", "append"}
        Overwrite replaces the rows in a new version (older versions stay readable);
        append adds rows.
    replace_schema : bool
        With ``overwrite``, allow the columns to change; otherwise a different schema is a
        :class:`LakeError` (schema enforcement).
    fingerprint : str, optional
        Content hash recorded in the commit; defaults to :func:`frame_fingerprint` of ``df``.
        An overwrite whose fingerprint equals the current version's is skipped.
    backend, lakehouse
        As in :func:`read_table`.

    Returns
    -------
    WriteResult
        The table, its version after the call, the rows written and whether it was skipped.
    """
    if mode not in ("overwrite", "append"):
        raise LakeError(f"mode must be 'overwrite' or 'append', got {mode!r}")
    be = _resolve(backend, lakehouse)
    table = TableName.parse(name)
    fp = fingerprint or frame_fingerprint(df)
    if mode == "overwrite" and be.exists(table):
        last = be.history(table, limit=1)
        if last and last[0].metadata.get(FINGERPRINT_KEY) == fp:
            return WriteResult(table, last[0].version, len(df), skipped=True)
    version = be.write(
        df, table, mode=mode, replace_schema=replace_schema, metadata={FINGERPRINT_KEY: fp}
    )
    return WriteResult(table, version, len(df))


def table_history(
    name: str | TableName,
    *,
    limit: int | None = None,
    backend: Backend | None = None,
    lakehouse: str | Path | None = None,
) -> list[HistoryEntry]:
    """A table's commits, newest first (see :class:`HistoryEntry`)."""
    return _resolve(backend, lakehouse).history(TableName.parse(name), limit)


def describe_table(
    name: str | TableName, *, backend: Backend | None = None, lakehouse: str | Path | None = None
) -> TableInfo:
    """A table's current version, row count, columns and location (see :class:`TableInfo`)."""
    be = _resolve(backend, lakehouse)
    table = TableName.parse(name)
    return TableInfo(
        name=table,
        version=be.version(table),
        rows=be.count(table),
        columns=be.columns(table),
        location=be.location(table),
        backend=be.name,
    )


def list_tables(
    *,
    catalog: str | None = None,
    schema: str | None = None,
    backend: Backend | None = None,
    lakehouse: str | Path | None = None,
) -> list[TableInfo]:
    """Describe every table, optionally only those of one catalog and/or schema."""
    be = _resolve(backend, lakehouse)
    return [describe_table(t, backend=be) for t in be.list_tables(catalog, schema)]


def looks_like_table_name(source: str | Path) -> bool:
    """Whether ``source`` is a table name rather than a file: an existing file never is."""
    text = str(source)
    if Path(text).exists() or text.lower().endswith(_FILE_SUFFIXES):
        return False
    return bool(_NAME.match(text))


def load_modeling_frame(
    source: str | Path,
    *,
    version: int | None = None,
    backend: Backend | None = None,
    lakehouse: str | Path | None = None,
) -> pd.DataFrame:
    """Load the modeling table from a gold table name or a CSV file.

    Parameters
    ----------
    source : str or Path
        A table name (``mmm_gold``, ``mediamix.mmm_gold``, ``main.mediamix.mmm_gold``) or the
        path of a CSV file with a ``date`` column.
    version : int, optional
        For a table: the version to read.
    backend, lakehouse
        For a table, as in :func:`read_table`.

    Returns
    -------
    pandas.DataFrame
        ``date`` as ``datetime64[us]``, index ``0..n-1``; a table's rows are sorted by date, a
        file's keep their order (so the model's checks can report unsorted dates).

    Raises
    ------
    LakeError
        If the file or table does not exist or has no parseable ``date`` column.
    """
    if looks_like_table_name(source):
        df = read_table(str(source), version=version, backend=backend, lakehouse=lakehouse)
    else:
        path = Path(source)
        if not path.is_file():
            raise LakeError(f"{source} is neither a file nor a table name (catalog.schema.table)")
        df = pd.read_csv(path)
    if "date" not in df.columns:
        raise LakeError(f"{source} has no 'date' column; its columns are {list(df.columns)}")
    try:
        df["date"] = pd.to_datetime(df["date"], format="ISO8601").astype(DATE_DTYPE)
    except (ValueError, TypeError) as exc:
        raise LakeError(f"{source}: column 'date' holds values that are not dates: {exc}") from None
    if looks_like_table_name(source):
        # a table has no row order; a file's order is the user's and is validated, not fixed
        df = df.sort_values("date", kind="stable")
    return df.reset_index(drop=True)
