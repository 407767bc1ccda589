"""The Spark backend: Delta tables in a metastore, via ``saveAsTable``.

pyspark is never imported at module level: on Databricks it comes with the runtime, and on a
laptop it is an optional extra. On a Unity Catalog workspace a table is ``catalog.schema.table``;
where the session has no such catalog (a Hive metastore, a local session) the table is
``schema.table`` in the session's current catalog.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Sequence
from typing import Any

import pandas as pd

from mediamix.data.frames import DATE_DTYPE, TIMESTAMP_DTYPE
from mediamix.lakehouse.arrow import from_arrow, to_arrow
from mediamix.lakehouse.backend import (
    HistoryEntry,
    WriteMode,
    check_columns,
    merge_predicate,
    normalize_dates,
    schema_mismatch,
)
from mediamix.lakehouse.names import LakeError, TableName
from mediamix.runtime import on_databricks

__all__ = ["SparkBackend", "active_delta_spark", "merge_statement", "spark_has_delta"]

#: Spark Delta's session setting whose value each commit records as ``userMetadata``.
_USER_METADATA = "spark.databricks.delta.commitInfo.userMetadata"


def merge_statement(target: str, source_view: str, keys: list[str]) -> str:
    """The Delta ``MERGE INTO`` that upserts a view into a table by ``keys``.

    Rows whose keys match are replaced (``UPDATE SET *``), the others inserted
    (``INSERT *``); the source holds only new and changed rows, so every match is a change.
    """
    return (
        f"MERGE INTO {target} AS t USING {source_view} AS s ON {merge_predicate(keys)} "
        "WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *"
    )


_DELTA_EXTENSION = "io.delta.sql.DeltaSparkSessionExtension"


def spark_has_delta(spark: Any) -> bool:
    """Whether a SparkSession can read and write Delta (Databricks, or Delta's extension set)."""
    if on_databricks():
        return True
    extensions = str(spark.conf.get("spark.sql.extensions", "") or "")
    catalog = str(spark.conf.get("spark.sql.catalog.spark_catalog", "") or "")
    return _DELTA_EXTENSION in extensions or "DeltaCatalog" in catalog


def active_delta_spark() -> Any | None:
    """The SparkSession to use for tables, or ``None`` for the local delta-rs backend.

    Inside Databricks (``DATABRICKS_RUNTIME_VERSION`` set) this is the runtime's session.
    Elsewhere it is the active session only if pyspark is already imported, a session is
    active and it has Delta; pyspark is never imported just to look.
    """
    databricks = on_databricks()
    if not databricks and "pyspark.sql" not in sys.modules:
        return None
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        return None
    spark = SparkSession.getActiveSession()
    if spark is None and databricks:
        spark = SparkSession.builder.getOrCreate()
    if spark is None or not spark_has_delta(spark):
        return None
    return spark


_SPARK_TYPES = {"bool": "boolean", "int32": "int", "int64": "bigint", "float64": "double"}


def _spark_type(s: pd.Series) -> str:
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        return "timestamp"
    if pd.api.types.is_datetime64_dtype(s.dtype):
        return "date"
    kind = str(s.dtype).lower()
    if kind in _SPARK_TYPES:
        return _SPARK_TYPES[kind]
    if kind in ("int8", "int16"):
        return "int"
    if kind == "float32":
        return "float"
    if pd.api.types.is_string_dtype(s.dtype) or pd.api.types.is_object_dtype(s.dtype):
        return "string"
    raise LakeError(f"column {s.name!r}: dtype {s.dtype} has no Spark type mapping")


class SparkBackend:
    """Tables in a Spark metastore, written with ``format(fmt)`` and ``saveAsTable``.

    Parameters
    ----------
    spark : pyspark.sql.SparkSession
        The session.
    fmt : str
        The table format: ``delta`` (versions, history and time travel). Another format (such
        as ``parquet``) works for plain reads and writes but has no versions.
    use_catalog : bool, optional
        Address tables as ``catalog.schema.table``; by default only where the session knows the
        catalog (Unity Catalog), else as ``schema.table``.
    """

    name = "spark"

    def __init__(self, spark: Any, fmt: str = "delta", use_catalog: bool | None = None) -> None:
        self.spark = spark
        self.fmt = fmt
        self._use_catalog = use_catalog
        self._known_catalogs: set[str] | None = None

    @property
    def delta(self) -> bool:
        """Whether tables are Delta tables."""
        return self.fmt == "delta"

    def _catalogs(self) -> set[str]:
        if self._known_catalogs is None:
            try:
                found = {c.name.lower() for c in self.spark.catalog.listCatalogs()}
            except Exception:  # pragma: no cover - Spark before 3.4 has no listCatalogs
                found = set()
            self._known_catalogs = found
        return self._known_catalogs

    def schema_name(self, table: TableName) -> str:
        """The schema (database) as Spark addresses it: ``catalog.schema`` or ``schema``."""
        use = self._use_catalog
        if use is None:
            use = table.catalog in self._catalogs()
        return f"{table.catalog}.{table.schema}" if use else table.schema

    def qualified(self, table: TableName) -> str:
        """The table as Spark addresses it."""
        return f"{self.schema_name(table)}.{table.table}"

    def location(self, table: TableName) -> str:
        """The metastore name of the table."""
        return self.qualified(table)

    def exists(self, table: TableName) -> bool:
        """Whether the table is in the metastore."""
        return bool(self.spark.catalog.tableExists(self.qualified(table)))

    def _require(self, table: TableName) -> str:
        if not self.exists(table):
            raise LakeError(f"table {table} does not exist (looked for {self.qualified(table)})")
        return self.qualified(table)

    def read(self, table: TableName, version: int | None = None) -> pd.DataFrame:
        """Read the current version, or ``version`` by Delta time travel."""
        name = self._require(table)
        if version is None:
            sdf = self.spark.table(name)
        else:
            if not self.delta:
                raise LakeError(f"{table}: reading an older version needs Delta, not {self.fmt}")
            current = self.version(table) or 0
            if not 0 <= version <= current:
                raise LakeError(f"{table} has versions 0 to {current}, not {version}")
            sdf = self.spark.sql(f"SELECT * FROM {name} VERSION AS OF {int(version)}")
        return self._to_pandas(sdf)

    def _to_pandas(self, sdf: Any) -> pd.DataFrame:
        if hasattr(sdf, "toArrow"):  # Spark >= 4: Arrow across, no pandas conversion in Spark
            return from_arrow(sdf.toArrow())
        types = dict(sdf.dtypes)  # Spark 3.5 (Databricks Runtime 16.4 LTS)
        df = sdf.toPandas()
        tz = self.spark.conf.get("spark.sql.session.timeZone", "UTC") or "UTC"
        for col, kind in types.items():
            if kind == "date":
                df[col] = pd.to_datetime(df[col]).astype(DATE_DTYPE)
            elif kind == "timestamp":
                stamps = pd.to_datetime(df[col])
                if not isinstance(stamps.dtype, pd.DatetimeTZDtype):
                    stamps = stamps.dt.tz_localize(tz)
                df[col] = stamps.dt.tz_convert("UTC").astype(TIMESTAMP_DTYPE)
        return df

    def _to_spark(self, df: pd.DataFrame, table: TableName) -> Any:
        check_columns(df, table)
        df = normalize_dates(df, table)
        ddl = ", ".join(f"`{c}` {_spark_type(df[c])}" for c in df.columns)
        # Arrow across (Spark >= 4 takes an Arrow table): rows never pass through Python workers
        table_arrow = to_arrow(df, table)
        if int(str(self.spark.version).split(".")[0]) >= 4:
            return self.spark.createDataFrame(table_arrow, schema=ddl)
        data = table_arrow.to_pandas(date_as_object=True)  # Spark 3.5: pandas across
        return self.spark.createDataFrame(data, schema=ddl)

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
        """Write with ``format(fmt)`` and ``saveAsTable``, enforcing the schema unless replaced.

        ``partition_by`` partitions the table by those columns (``partitionBy``).
        """
        sdf = self._to_spark(df, table)
        if self.exists(table) and (mode == "append" or not replace_schema):
            want = [(f.name, f.dataType.simpleString()) for f in sdf.schema.fields]
            schema_mismatch(table, self._spark_columns(table), want)
        self.spark.sql(f"CREATE SCHEMA IF NOT EXISTS {self.schema_name(table)}")
        writer = sdf.write.format(self.fmt).mode(mode)
        if partition_by:
            writer = writer.partitionBy(*partition_by)
        if self.delta:
            writer = writer.option("userMetadata", json.dumps(metadata, sort_keys=True))
            if replace_schema and mode == "overwrite":
                writer = writer.option("overwriteSchema", "true")
        try:
            writer.saveAsTable(self.qualified(table))
        except Exception as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise LakeError(f"writing {table} failed: {first}") from exc
        return self.version(table)

    def merge(
        self, df: pd.DataFrame, table: TableName, *, keys: list[str], metadata: dict[str, str]
    ) -> int | None:
        """Upsert ``df`` by ``keys`` with Delta ``MERGE INTO``, recording ``metadata``.

        Delta has no per-statement option for commit metadata in SQL, so the session's
        ``userMetadata`` setting is set around the statement and put back afterwards.
        """
        name = self._require(table)
        if not self.delta:
            raise LakeError(f"{table}: MERGE needs Delta, not {self.fmt}")
        sdf = self._to_spark(df, table)
        want = [(f.name, f.dataType.simpleString()) for f in sdf.schema.fields]
        schema_mismatch(table, self._spark_columns(table), want)
        view = f"mediamix_merge_{table.table}"
        sdf.createOrReplaceTempView(view)
        before = self.spark.conf.get(_USER_METADATA, None)
        self.spark.conf.set(_USER_METADATA, json.dumps(metadata, sort_keys=True))
        try:
            self.spark.sql(merge_statement(name, view, keys))
        except Exception as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise LakeError(f"merging into {table} failed: {first}") from exc
        finally:
            if before is None:
                self.spark.conf.unset(_USER_METADATA)
            else:
                self.spark.conf.set(_USER_METADATA, before)
            self.spark.catalog.dropTempView(view)
        return self.version(table)

    def version(self, table: TableName) -> int | None:
        """The current Delta version (``None`` for other formats)."""
        if not self.delta:
            self._require(table)
            return None
        last = self.history(table, limit=1)
        return last[0].version if last else None

    def history(self, table: TableName, limit: int | None = None) -> list[HistoryEntry]:
        """Delta's ``DESCRIBE HISTORY`` (empty for other formats), newest first."""
        name = self._require(table)
        if not self.delta:
            return []
        sql = f"DESCRIBE HISTORY {name}" + (f" LIMIT {int(limit)}" if limit else "")
        out = []
        for row in self.spark.sql(sql).collect():
            item = row.asDict()
            meta: dict[str, str] = {}
            if item.get("userMetadata"):
                try:
                    meta = {str(k): str(v) for k, v in json.loads(item["userMetadata"]).items()}
                except (ValueError, AttributeError):
                    meta = {}
            when = self._utc(item.get("timestamp"))
            out.append(HistoryEntry(int(item["version"]), when, str(item["operation"]), meta))
        return out

    def _utc(self, stamp: Any) -> dt.datetime | None:
        """Spark hands out naive timestamps in the session's time zone: make them UTC."""
        if not isinstance(stamp, dt.datetime):
            return None
        if stamp.tzinfo is None:
            tz = self.spark.conf.get("spark.sql.session.timeZone", "UTC") or "UTC"
            return pd.Timestamp(stamp).tz_localize(tz).tz_convert("UTC").to_pydatetime()
        return stamp.astimezone(dt.UTC)

    def _spark_columns(self, table: TableName) -> list[tuple[str, str]]:
        schema = self.spark.table(self._require(table)).schema
        return [(f.name, f.dataType.simpleString()) for f in schema.fields]

    def columns(self, table: TableName) -> list[tuple[str, str]]:
        """Column names and Spark SQL types."""
        return self._spark_columns(table)

    def count(self, table: TableName) -> int:
        """Rows in the current version."""
        return int(self.spark.table(self._require(table)).count())

    def list_tables(self, catalog: str | None = None, schema: str | None = None) -> list[TableName]:
        """Tables of one schema (default ``main.mediamix``): a metastore can hold thousands."""
        probe = TableName.parse("probe", catalog=catalog, schema=schema)
        database = self.schema_name(probe)
        if not self.spark.catalog.databaseExists(database):
            return []
        names = [
            TableName(probe.catalog, probe.schema, t.name.lower())
            for t in self.spark.catalog.listTables(database)
            if not t.isTemporary
        ]
        return sorted(names)
