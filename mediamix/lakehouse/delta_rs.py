"""The delta-rs backend: Delta tables in a local lakehouse directory.

A table ``catalog.schema.table`` lives at ``<root>/<catalog>/<schema>/<table>``: Parquet data
files and a ``_delta_log`` transaction log, the same protocol that Databricks reads. Naive
datetimes are stored as Delta ``date``, tz-aware ones as ``timestamp`` (UTC).
"""

from __future__ import annotations

import atexit
import datetime as dt
import gc
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from mediamix.lakehouse.arrow import from_arrow, to_arrow
from mediamix.lakehouse.backend import HistoryEntry, WriteMode, merge_predicate, schema_mismatch
from mediamix.lakehouse.names import LakeError, TableName, is_identifier

# Arrow's native scan threads can outlive the Python objects of a delta-rs read and abort the
# process at interpreter exit ("terminate called without an active exception", intermittent);
# collecting garbage while Arrow is still alive lets them finish first.
atexit.register(gc.collect)

__all__ = ["DeltaRsBackend"]


class DeltaRsBackend:
    """Delta tables on a local (or mounted) file system through delta-rs.

    Parameters
    ----------
    root : str or Path
        The lakehouse root; a table lives at ``<root>/<catalog>/<schema>/<table>``.
    """

    name = "delta-rs"

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser()

    def path(self, table: TableName) -> Path:
        """The table's directory."""
        return self.root / table.catalog / table.schema / table.table

    def location(self, table: TableName) -> str:
        """The table's directory as a string."""
        return str(self.path(table))

    def exists(self, table: TableName) -> bool:
        """Whether a Delta table (a ``_delta_log``) is at the table's path."""
        from deltalake import DeltaTable

        return bool(DeltaTable.is_deltatable(str(self.path(table))))

    def _open(self, table: TableName, version: int | None = None) -> Any:
        from deltalake import DeltaTable

        if not self.exists(table):
            raise LakeError(f"table {table} does not exist (looked in {self.path(table)})")
        dtable = DeltaTable(str(self.path(table)))
        if version is not None:
            current = dtable.version()
            if not 0 <= version <= current:
                raise LakeError(f"{table} has versions 0 to {current}, not {version}")
            dtable.load_as_version(version)
        return dtable

    def read(self, table: TableName, version: int | None = None) -> pd.DataFrame:
        """Read the current version, or ``version`` by time travel."""
        return from_arrow(self._open(table, version).to_pyarrow_table())

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
        """Write one commit with delta-rs, enforcing the table's schema unless replaced.

        ``partition_by`` (such as ``["geo"]``) lays the files out by those columns, so that a
        read of one geo touches only its files.
        """
        from deltalake import CommitProperties, write_deltalake

        data = to_arrow(df, table)
        if self.exists(table) and (mode == "append" or not replace_schema):
            self._check_schema(table, data.schema)
        self.path(table).mkdir(parents=True, exist_ok=True)
        write_deltalake(
            str(self.path(table)),
            data,
            mode=mode,
            schema_mode="overwrite" if replace_schema and mode == "overwrite" else None,
            commit_properties=CommitProperties(custom_metadata=metadata),
            partition_by=list(partition_by) or None,
        )
        return self.version(table)

    def merge(
        self, df: pd.DataFrame, table: TableName, *, keys: list[str], metadata: dict[str, str]
    ) -> int | None:
        """Upsert ``df`` by ``keys`` with delta-rs ``DeltaTable.merge``, as one commit."""
        from deltalake import CommitProperties

        data = to_arrow(df, table)
        self._check_schema(table, data.schema)
        (
            self._open(table)
            .merge(
                data,
                merge_predicate(keys),
                source_alias="s",
                target_alias="t",
                commit_properties=CommitProperties(custom_metadata=metadata),
            )
            .when_matched_update_all()
            .when_not_matched_insert_all()
            .execute()
        )
        return self.version(table)

    def _check_schema(self, table: TableName, new: pa.Schema) -> None:
        from deltalake import Schema

        have = self.columns(table)
        want = [(f.name, str(f.type.type)) for f in Schema.from_arrow(new).fields]
        schema_mismatch(table, have, want)

    def version(self, table: TableName) -> int | None:
        """The current version."""
        return int(self._open(table).version())

    def history(self, table: TableName, limit: int | None = None) -> list[HistoryEntry]:
        """Commits, newest first, with mediamix's commit metadata."""
        out = []
        for item in self._open(table).history(limit):
            stamp = item.get("timestamp")
            when = dt.datetime.fromtimestamp(stamp / 1000, tz=dt.UTC) if stamp else None
            meta = {k: str(v) for k, v in item.items() if k.startswith("mediamix.")}
            out.append(HistoryEntry(int(item["version"]), when, str(item["operation"]), meta))
        return out

    def columns(self, table: TableName) -> list[tuple[str, str]]:
        """Column names and Delta types of the current version."""
        fields = self._open(table).schema().fields
        return [(f.name, str(getattr(f.type, "type", f.type))) for f in fields]

    def count(self, table: TableName) -> int:
        """Rows in the current version."""
        return int(self._open(table).count())

    def list_tables(self, catalog: str | None = None, schema: str | None = None) -> list[TableName]:
        """Delta tables under the root, three directory levels down."""
        found = []
        for log in sorted(self.root.glob("*/*/*/_delta_log")):
            table_dir = log.parent
            parts = (table_dir.parent.parent.name, table_dir.parent.name, table_dir.name)
            if not all(is_identifier(p) for p in parts):
                continue
            name = TableName(*parts)
            if catalog not in (None, name.catalog) or schema not in (None, name.schema):
                continue
            if self.exists(name):
                found.append(name)
        return found
