"""Delta table I/O: read, write, history and description of tables, on the right backend.

Tables are named ``catalog.schema.table`` (:class:`~mediamix.lakehouse.names.TableName`;
defaults: catalog ``main``, schema ``mediamix``). The backend is chosen automatically by
:func:`get_backend`: inside Databricks, or with an active SparkSession that has Delta, tables are
Spark tables written with ``format("delta")`` and ``saveAsTable``
(:mod:`mediamix.lakehouse.spark`); otherwise they are written with ``deltalake`` (delta-rs,
:mod:`mediamix.lakehouse.delta_rs`) under a local lakehouse root laid out as
``<root>/<catalog>/<schema>/<table>``. Both write real Delta tables: a transaction log, one
version per write, and older versions readable by time travel.

This module sits above the backends: it imports them, and they import only what a backend is
(:mod:`mediamix.lakehouse.backend`, :mod:`mediamix.lakehouse.names`) and the Arrow conversion
(:mod:`mediamix.lakehouse.arrow`). In pandas, Delta ``date`` columns are ``datetime64[us]``
(tz-naive, at midnight) and Delta ``timestamp`` columns are ``datetime64[us, UTC]``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from mediamix.data.frames import DATE_DTYPE
from mediamix.lakehouse.backend import (
    FINGERPRINT_KEY,
    Backend,
    HistoryEntry,
    TableInfo,
    WriteMode,
    WriteResult,
    frame_fingerprint,
)
from mediamix.lakehouse.delta_rs import DeltaRsBackend
from mediamix.lakehouse.names import LakeError, TableName
from mediamix.lakehouse.spark import SparkBackend, active_delta_spark

__all__ = [
    "LAKEHOUSE_ENV",
    "describe_table",
    "get_backend",
    "lakehouse_root",
    "list_tables",
    "load_modeling_frame",
    "looks_like_table_name",
    "read_table",
    "resolve_backend",
    "table_history",
    "write_table",
]

LAKEHOUSE_ENV = "MEDIAMIX_LAKEHOUSE"

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*){0,2}$")
_FILE_SUFFIXES = (".csv", ".tsv", ".txt", ".gz", ".zip", ".parquet", ".json")


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
    if lakehouse is None:
        spark = active_delta_spark()
        if spark is not None:
            return SparkBackend(spark)
    return DeltaRsBackend(lakehouse_root(lakehouse))


def resolve_backend(backend: Backend | None, lakehouse: str | Path | None) -> Backend:
    """The backend given, else :func:`get_backend` at ``lakehouse``; giving both is an error."""
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
    return resolve_backend(backend, lakehouse).read(TableName.parse(name), version)


def write_table(
    df: pd.DataFrame,
    name: str | TableName,
    *,
    mode: WriteMode = "overwrite",
    replace_schema: bool = False,
    fingerprint: str | None = None,
    metadata: Mapping[str, str] | None = None,
    partition_by: Sequence[str] = (),
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
    metadata : mapping, optional
        More commit metadata (keys ``mediamix.*``), such as why the commit was made; recorded
        in the table's history.
    partition_by : sequence of str
        Columns to partition by (``["geo"]`` for the gold table of geo data).
    backend, lakehouse
        As in :func:`read_table`.

    Returns
    -------
    WriteResult
        The table, its version after the call, the rows written and whether it was skipped.
    """
    if mode not in ("overwrite", "append"):
        raise LakeError(f"mode must be 'overwrite' or 'append', got {mode!r}")
    be = resolve_backend(backend, lakehouse)
    table = TableName.parse(name)
    fp = fingerprint or frame_fingerprint(df)
    if mode == "overwrite" and be.exists(table):
        last = be.history(table, limit=1)
        if last and last[0].metadata.get(FINGERPRINT_KEY) == fp:
            return WriteResult(table, last[0].version, len(df), skipped=True)
    meta = dict(metadata or {}) | {FINGERPRINT_KEY: fp}
    parts = list(partition_by)
    version = be.write(
        df, table, mode=mode, replace_schema=replace_schema, metadata=meta, partition_by=parts
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
    return resolve_backend(backend, lakehouse).history(TableName.parse(name), limit)


def describe_table(
    name: str | TableName, *, backend: Backend | None = None, lakehouse: str | Path | None = None
) -> TableInfo:
    """A table's current version, row count, columns and location (see :class:`TableInfo`)."""
    be = resolve_backend(backend, lakehouse)
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
    be = resolve_backend(backend, lakehouse)
    return [describe_table(t, backend=be) for t in be.list_tables(catalog, schema)]


def looks_like_table_name(source: str | Path) -> bool:
    """Whether ``source`` is a table name rather than a file: an existing file never is."""
    text = str(source)
    if Path(text).exists() or text.lower().endswith(_FILE_SUFFIXES):
        return False
    return bool(_NAME.match(text))


def _read_csv(path: Path) -> pd.DataFrame:
    """Read a CSV file, or say in one line why it is not one (empty, binary, malformed)."""
    with path.open("rb") as handle:
        if b"\x00" in handle.read(8192):  # text never holds NUL bytes; binaries nearly always do
            raise LakeError(f"{path} is not a text CSV file (it holds binary data)")
    try:
        df = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise LakeError(f"{path} is empty: expected a CSV file with a header row") from None
    except UnicodeDecodeError as exc:
        raise LakeError(
            f"{path} is not a text CSV file (byte {exc.start} is not UTF-8 text)"
        ) from None
    except pd.errors.ParserError as exc:
        raise LakeError(f"{path} is not a well-formed CSV file: {exc}".strip()) from None
    if df.empty:
        raise LakeError(f"{path} has a header but no data rows")
    return df


def load_modeling_frame(
    source: str | Path,
    *,
    version: int | None = None,
    backend: Backend | None = None,
    lakehouse: str | Path | None = None,
    date_column: str = "date",
    date_format: str | None = None,
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
    date_column, date_format : str, optional
        The column that holds the dates (renamed ``date``) and its ``strftime`` format (ISO
        dates by default): the model config's keys of the same names.

    Returns
    -------
    pandas.DataFrame
        ``date`` as ``datetime64[us]``, index ``0..n-1``; a table's rows sorted by date (then
        ``geo``), a file's in their order (so the model's checks can report unsorted dates).

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
        df = _read_csv(path)
    if date_column != "date" and date_column in df.columns and "date" not in df.columns:
        df = df.rename(columns={date_column: "date"})
    if "date" not in df.columns:
        raise LakeError(
            f"{source} has no {date_column!r} column; its columns are {list(df.columns)} "
            "(the model config's date_column names the date column)"
        )
    try:
        df["date"] = pd.to_datetime(df["date"], format=date_format or "ISO8601").astype(DATE_DTYPE)
    except (ValueError, TypeError) as exc:
        raise LakeError(
            f"{source}: column {date_column!r} holds values that are not dates in the format "
            f"{date_format or 'ISO (2021-03-01)'}: {exc}"
        ) from None
    if looks_like_table_name(source):
        # a table has no row order (nor has a geo table); a file's order is validated, not fixed
        df = df.sort_values([c for c in ("date", "geo") if c in df.columns], kind="stable")
    return df.reset_index(drop=True)
