"""The Spark backend with a local SparkSession (one per module, ``local[1]``).

Delta's Spark jars come from Maven Central, which these machines cannot reach, so most tests
drive the Spark code path with ``format("parquet")``: names, ``saveAsTable``, schema checks,
type conversions, listing and the whole medallion pipeline. The Delta-on-Spark test runs where
the jars are available (``DELTA_SPARK_JARS``: comma-separated paths of the delta-spark and
delta-storage jars matching the installed pyspark) and is skipped otherwise.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

pytest.importorskip("pyspark")

from mediamix.data.generator import Generator
from mediamix.lakehouse import tables as lake
from mediamix.lakehouse.backend import FINGERPRINT_KEY, frame_fingerprint
from mediamix.lakehouse.delta_rs import DeltaRsBackend
from mediamix.lakehouse.medallion import ingest, ingest_synthetic
from mediamix.lakehouse.names import LakeError, TableName
from mediamix.lakehouse.quality import DataQualityError
from mediamix.lakehouse.spark import SparkBackend, spark_has_delta

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
    # pyspark 3.5 (Databricks Runtime 16.4) calls APIs that pandas and numpy have deprecated
    pytest.mark.filterwarnings("ignore::DeprecationWarning:pyspark"),
]
if int(__import__("pyspark").__version__.split(".")[0]) < 4:
    # pyspark 3.5 leaves the socket of each collect to the garbage collector (fixed in 4.0)
    pytestmark += [
        pytest.mark.filterwarnings("ignore:unclosed <socket:ResourceWarning"),
        pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
    ]

NO_DELTA = (
    "Delta Lake's Spark jars are not available: they are downloaded from Maven Central, which "
    "cannot be reached here (set DELTA_SPARK_JARS to the delta-spark and delta-storage jars)"
)


def delta_jars() -> list[str]:
    return [p for p in os.environ.get("DELTA_SPARK_JARS", "").split(",") if p.strip()]


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from pyspark.sql import SparkSession

    warehouse = tmp_path_factory.mktemp("warehouse")
    builder = (
        SparkSession.builder.master("local[1]")
        .appName("mediamix-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.sql.warehouse.dir", str(warehouse))
        # as on Databricks, where Arrow carries pandas <-> Spark conversions (Spark 3.5's path)
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        # not UTC, so that timestamp conversions are really exercised
        .config("spark.sql.session.timeZone", "America/New_York")
    )
    jars = delta_jars()
    if jars:
        builder = (
            builder.config("spark.jars", ",".join(jars))
            .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
            .config(
                "spark.sql.catalog.spark_catalog",
                "org.apache.spark.sql.delta.catalog.DeltaCatalog",
            )
        )
    # Spark 3.5 converts pandas rows in Python workers: they must run this interpreter
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYSPARK_PYTHON", sys.executable)
        session = builder.getOrCreate()
        session.sparkContext.setLogLevel("ERROR")
        yield session
        session.stop()


@pytest.fixture
def parquet(spark: Any, request: pytest.FixtureRequest) -> SparkBackend:
    """A Spark backend writing parquet tables into a schema of its own per test."""
    backend = SparkBackend(spark, fmt="parquet")
    backend.test_schema = request.node.name.split("[")[0][:60]  # type: ignore[attr-defined]
    return backend


def name(backend: SparkBackend, table: str) -> TableName:
    return TableName.parse(table, schema=backend.test_schema)  # type: ignore[attr-defined]


def sample_frame(scale: float = 1.0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "date": pd.date_range("2024-01-01", periods=3, freq="7D").astype("datetime64[us]"),
            "tv": [1.5 * scale, 0.0, 2.25],
            "clicks": pd.Series([1, 2, 3], dtype="int64"),
            "note": pd.Series(["a", None, "c"], dtype="str"),
            "loaded_at": pd.Series(
                pd.to_datetime(["2024-02-01 12:30:00+01:00"] * 3, utc=True)
            ).astype("datetime64[us, UTC]"),
        }
    )


def test_round_trip_through_save_as_table(parquet: SparkBackend) -> None:
    table = name(parquet, "t")
    res = lake.write_table(sample_frame(), table, backend=parquet)
    assert res.version is None and res.rows == 3  # parquet has no versions
    pd.testing.assert_frame_equal(lake.read_table(table, backend=parquet), sample_frame())
    info = lake.describe_table(table, backend=parquet)
    assert info.backend == "spark" and info.rows == 3
    assert dict(info.columns) == {
        "date": "date",
        "tv": "double",
        "clicks": "bigint",
        "note": "string",
        "loaded_at": "timestamp",
    }


def test_names_without_unity_catalog_are_schema_dot_table(parquet: SparkBackend) -> None:
    table = name(parquet, "main.x.t")
    assert parquet.qualified(table) == f"{table.schema}.t"  # no catalog 'main' here
    assert (
        SparkBackend(parquet.spark, use_catalog=True).qualified(table) == f"main.{table.schema}.t"
    )


def test_three_part_names_where_the_catalog_exists(parquet: SparkBackend) -> None:
    table = TableName.parse(f"spark_catalog.{parquet.test_schema}.t")  # type: ignore[attr-defined]
    assert parquet.qualified(table) == f"spark_catalog.{table.schema}.t"
    lake.write_table(sample_frame(), table, backend=parquet)
    assert parquet.exists(table)
    assert lake.read_table(table, backend=parquet)["tv"].tolist() == [1.5, 0.0, 2.25]


def test_overwrite_replaces_rows(parquet: SparkBackend) -> None:
    table = name(parquet, "t")
    lake.write_table(sample_frame(), table, backend=parquet)
    lake.write_table(sample_frame(scale=2.0), table, backend=parquet)
    assert lake.read_table(table, backend=parquet)["tv"].iloc[0] == 3.0
    lake.write_table(sample_frame(), table, mode="append", backend=parquet)
    assert parquet.count(table) == 6


def test_schema_enforcement_and_replacement(parquet: SparkBackend) -> None:
    table = name(parquet, "t")
    lake.write_table(sample_frame(), table, backend=parquet)
    bad = sample_frame().assign(tv=["x", "y", "z"])
    with pytest.raises(LakeError, match="'tv' is string but the table has double"):
        lake.write_table(bad, table, backend=parquet)
    assert lake.read_table(table, backend=parquet)["tv"].iloc[0] == 1.5
    lake.write_table(bad, table, replace_schema=True, backend=parquet)
    assert lake.read_table(table, backend=parquet)["tv"].tolist() == ["x", "y", "z"]


def test_versions_need_delta(parquet: SparkBackend) -> None:
    table = name(parquet, "t")
    lake.write_table(sample_frame(), table, backend=parquet)
    assert lake.table_history(table, backend=parquet) == []
    with pytest.raises(LakeError, match="older version needs Delta"):
        lake.read_table(table, version=0, backend=parquet)


def test_missing_tables_and_listing(parquet: SparkBackend) -> None:
    with pytest.raises(LakeError, match="does not exist"):
        lake.read_table(name(parquet, "nope"), backend=parquet)
    schema = parquet.test_schema  # type: ignore[attr-defined]
    assert lake.list_tables(schema=schema, backend=parquet) == []
    lake.write_table(sample_frame(), name(parquet, "b"), backend=parquet)
    lake.write_table(sample_frame(), name(parquet, "a"), backend=parquet)
    infos = lake.list_tables(schema=schema, backend=parquet)
    assert [i.name.table for i in infos] == ["a", "b"]
    assert infos[0].location == f"{schema}.a"


def test_get_backend_ignores_a_session_without_delta(spark: Any, tmp_path: Path) -> None:
    backend = lake.get_backend()
    if spark_has_delta(spark):
        assert isinstance(backend, SparkBackend)
    else:
        assert isinstance(backend, DeltaRsBackend)


def test_medallion_pipeline_on_spark(parquet: SparkBackend, basic_config_path: Path) -> None:
    schema = parquet.test_schema  # type: ignore[attr-defined]
    result = Generator.from_config_file(basic_config_path).generate(seed=11)
    report = ingest_synthetic(result, schema=schema, backend=parquet)
    assert report.result("gold").rows == len(result.data)
    gold = lake.load_modeling_frame(f"main.{schema}.mmm_gold", backend=parquet)
    pd.testing.assert_frame_equal(gold, result.data.astype({"date": "datetime64[us]"}))


def test_rejects_on_spark_leave_gold_alone(parquet: SparkBackend, tmp_path: Path) -> None:
    schema = parquet.test_schema  # type: ignore[attr-defined]
    spend = tmp_path / "spend.csv"
    outcome = tmp_path / "outcome.csv"
    spend.write_text("date,channel,spend\n2024-01-01,tv,5\n2024-01-08,tv,6\n")
    outcome.write_text("date,sales\n2024-01-01,50\n2024-01-08,60\n")
    ingest(spend, outcome, schema=schema, backend=parquet)
    with spend.open("a") as fh:
        fh.write("2024-01-08,tv,-1\n")
    with pytest.raises(DataQualityError, match="spend_negative"):
        ingest(spend, outcome, schema=schema, backend=parquet)
    quarantine = lake.read_table(f"{schema}.mmm_quarantine", backend=parquet)
    assert quarantine["rule"].tolist() == ["spend_negative"]
    assert quarantine["source_row"].tolist() == [3]
    assert lake.read_table(f"{schema}.mmm_gold", backend=parquet)["tv"].tolist() == [5.0, 6.0]


def test_delta_on_spark(spark: Any) -> None:
    if not spark_has_delta(spark):
        pytest.skip(NO_DELTA)
    backend = SparkBackend(spark)
    table = TableName.parse("delta_t", schema="mediamix_delta_test")
    first = lake.write_table(sample_frame(), table, backend=backend)
    second = lake.write_table(sample_frame(scale=2.0), table, backend=backend)
    assert (first.version, second.version) == (0, 1)
    assert lake.write_table(sample_frame(scale=2.0), table, backend=backend).skipped
    pd.testing.assert_frame_equal(
        lake.read_table(table, version=0, backend=backend), sample_frame()
    )
    history = lake.table_history(table, backend=backend)
    assert [h.version for h in history] == [1, 0]
    assert history[0].metadata[FINGERPRINT_KEY] == frame_fingerprint(sample_frame(scale=2.0))
    assert isinstance(lake.get_backend(), SparkBackend)


def test_geo_gold_on_spark_is_partitioned_by_geo(parquet: SparkBackend, spark: Any) -> None:
    schema = parquet.test_schema  # type: ignore[attr-defined]
    weeks = pd.date_range("2024-01-01", periods=3, freq="7D")
    spend = pd.DataFrame(
        [
            {"date": d, "geo": g, "channel": "tv", "spend": 1.0 + i}
            for g in "ab"
            for i, d in enumerate(weeks)
        ]
    )
    outcome = pd.DataFrame(
        [
            {"date": d, "geo": g, "sales": 10.0 * (i + 1), "population": 5.0}
            for g in "ab"
            for i, d in enumerate(weeks)
        ]
    )
    ingest(spend, outcome, schema=schema, backend=parquet)
    gold = lake.load_modeling_frame(f"main.{schema}.mmm_gold", backend=parquet)
    assert sorted(gold.columns) == ["date", "geo", "population", "sales", "tv"]
    assert gold["geo"].tolist() == ["a", "b"] * 3
    columns = spark.catalog.listColumns(f"{schema}.mmm_gold")
    assert [c.name for c in columns if c.isPartition] == ["geo"]
