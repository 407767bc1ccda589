"""Incremental ingest: new weeks and restated weeks MERGEd into bronze, silver and gold.

delta-rs runs the MERGE locally; the Spark path (``MERGE INTO`` with the commit's
``userMetadata``) cannot run Delta here, so the statement and the calls it makes are checked
against a recording stand-in for the session.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest

from mediamix.lakehouse import tables as lake
from mediamix.lakehouse.incremental import (
    ADDED_KEY,
    REASON_KEY,
    RESTATED_KEY,
    diff_rows,
    ingest_increment,
    upsert,
)
from mediamix.lakehouse.medallion import ingest
from mediamix.lakehouse.names import LakeError, TableName
from mediamix.lakehouse.quality import DataQualityError
from mediamix.lakehouse.spark import SparkBackend, merge_statement

WEEKS = pd.date_range("2024-01-01", periods=10, freq="7D")


def spend(weeks: range, bump: float = 0.0) -> pd.DataFrame:
    rows = [
        (WEEKS[i].date().isoformat(), ch, 100.0 + 10 * i + k + bump)
        for i in weeks
        for k, ch in enumerate(["tv", "search"])
    ]
    return pd.DataFrame(rows, columns=["date", "channel", "spend"])


def outcome(weeks: range, fix: dict[int, float] | None = None) -> pd.DataFrame:
    fix = fix or {}
    sales = [fix.get(i, 1000.0 + 17 * i) for i in weeks]
    return pd.DataFrame({"date": [WEEKS[i].date().isoformat() for i in weeks], "sales": sales})


def gold_by_date(root: Path, version: int | None = None) -> pd.DataFrame:
    """Gold by date: a MERGE writes its rows in new files, so file order is not date order."""
    gold = lake.read_table("mmm_gold", version=version, lakehouse=root)
    return gold.sort_values("date").reset_index(drop=True)


def versions(root: Path) -> dict[str, int | None]:
    return {t.name.table: t.version for t in lake.list_tables(lakehouse=root)}


def last_commit(root: Path, table: str) -> Any:
    return lake.table_history(table, lakehouse=root, limit=1)[0]


def test_a_new_week_is_merged_then_a_restated_week_is_applied_and_recorded(
    tmp_path: Path,
) -> None:
    root = tmp_path / "lh"
    ingest(spend(range(5)), outcome(range(5)), lakehouse=root)
    start = versions(root)

    # week 6 arrives: one MERGE per table, only the new rows
    report = ingest_increment(spend(range(5, 6)), outcome(range(5, 6)), lakehouse=root)
    gold = gold_by_date(root)
    assert len(gold) == 6 and gold["sales"].iloc[-1] == 1000.0 + 17 * 5
    assert report.result("gold").rows == 1 and report.result("silver_spend").rows == 2
    commit = last_commit(root, "mmm_gold")
    assert commit.operation == "MERGE" and commit.version == start["mmm_gold"] + 1
    assert commit.metadata[ADDED_KEY] == WEEKS[5].date().isoformat()
    assert RESTATED_KEY not in commit.metadata
    assert len(lake.read_table("mmm_bronze_spend", lakehouse=root)) == 12  # appended
    after_add = versions(root)

    # the same delivery again: nothing changes, no versions
    again = ingest_increment(spend(range(5, 6)), outcome(range(5, 6)), lakehouse=root)
    assert all(r.skipped for _, r in again.writes)
    assert versions(root) == after_add

    # week 2's sales are corrected by the supplier
    why = "supplier corrected week 2024-01-15"
    fixed = ingest_increment(
        spend(range(2, 3)), outcome(range(2, 3), fix={2: 1500.0}), reason=why, lakehouse=root
    )
    gold = gold_by_date(root)
    assert gold.loc[gold["date"] == WEEKS[2], "sales"].item() == 1500.0
    assert gold["sales"].drop(index=2).tolist() == [1000.0 + 17 * i for i in range(6) if i != 2]
    commit = last_commit(root, "mmm_gold")
    assert commit.metadata[RESTATED_KEY] == "2024-01-15"
    assert commit.metadata[REASON_KEY] == why
    assert last_commit(root, "mmm_silver_outcome").metadata[RESTATED_KEY] == "2024-01-15"
    assert fixed.result("silver_spend").skipped  # the spend was delivered unchanged
    assert any("restated 1 row(s): 2024-01-15" in n for n in fixed.notes)
    # the old value stays readable by time travel
    old = gold_by_date(root, version=commit.version - 1)
    assert old.loc[old["date"] == WEEKS[2], "sales"].item() == 1000.0 + 17 * 2
    assert versions(root)["mmm_gold"] == after_add["mmm_gold"] + 1


def test_a_first_delivery_creates_the_tables(tmp_path: Path) -> None:
    root = tmp_path / "lh"
    ingest_increment(spend(range(3)), outcome(range(3)), lakehouse=root)
    assert len(lake.read_table("mmm_gold", lakehouse=root)) == 3
    assert last_commit(root, "mmm_gold").metadata[ADDED_KEY].count(",") == 2


@pytest.mark.parametrize(
    ("spend_rows", "outcome_rows", "rule"),
    [
        (spend(range(7, 8)), outcome(range(7, 8)), "date_grid_gap"),  # week 7 without week 6
        (spend(range(5, 6)), outcome(range(5, 6), fix={5: float("nan")}), "value_missing"),
    ],
)
def test_a_bad_delivery_changes_no_table(
    tmp_path: Path, spend_rows: pd.DataFrame, outcome_rows: pd.DataFrame, rule: str
) -> None:
    root = tmp_path / "lh"
    ingest(spend(range(5)), outcome(range(5)), lakehouse=root)
    before = versions(root)
    with pytest.raises(DataQualityError) as info:
        ingest_increment(spend_rows, outcome_rows, lakehouse=root)
    assert rule in {i.rule for i in info.value.issues}
    assert versions(root) == before


def test_a_delivery_with_other_columns_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "lh"
    ingest(spend(range(5)), outcome(range(5)), lakehouse=root)
    other = outcome(range(5, 6)).rename(columns={"sales": "revenue"})
    with pytest.raises(LakeError, match="differ from the table's"):
        ingest_increment(spend(range(5, 6)), other, lakehouse=root)


def test_diff_and_upsert_compare_values_not_lineage() -> None:
    current = pd.DataFrame({"date": [1, 2], "v": [1.0, float("nan")], "source": ["a", "a"]})
    same = current.assign(source="b")
    assert diff_rows(current, same, ["date"]).empty
    incoming = pd.DataFrame({"date": [2, 3], "v": [5.0, 6.0], "source": ["c", "c"]})
    changes = diff_rows(current, incoming, ["date"])
    assert changes.added == ["3"] and changes.restated == ["2"]
    merged = upsert(current, changes.rows, ["date"])
    assert merged["v"].tolist() == [1.0, 5.0, 6.0]


# --------------------------------------------------------------------------- Spark MERGE


def test_the_spark_merge_statement() -> None:
    sql = merge_statement("main.mediamix.mmm_gold", "mediamix_merge_mmm_gold", ["date"])
    assert sql == (
        "MERGE INTO main.mediamix.mmm_gold AS t USING mediamix_merge_mmm_gold AS s "
        "ON t.`date` = s.`date` WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *"
    )
    two = merge_statement("x", "v", ["date", "channel"])
    assert "ON t.`date` = s.`date` AND t.`channel` = s.`channel` " in two
    with pytest.raises(LakeError, match="plain column names"):
        merge_statement("x", "v", ["date; DROP TABLE x"])


class RecordingSpark:
    """Records what SparkBackend.merge asks of the session."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.settings: dict[str, str] = {}
        spark = self

        class Conf:
            def get(self, key: str, default: Any = None) -> Any:
                return spark.settings.get(key, default)

            def set(self, key: str, value: str) -> None:
                spark.calls.append(("conf.set", (key, value)))
                spark.settings[key] = value

            def unset(self, key: str) -> None:
                spark.calls.append(("conf.unset", key))
                spark.settings.pop(key, None)

        self.conf = Conf()
        self.catalog = SimpleNamespace(dropTempView=lambda v: self.calls.append(("drop", v)))

    def sql(self, statement: str) -> None:
        self.calls.append(("sql", statement))


def test_spark_merge_runs_the_statement_with_the_commit_metadata(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spark = RecordingSpark()
    be = SparkBackend(spark)
    table = TableName("main", "mediamix", "mmm_gold")
    field = SimpleNamespace(name="date", dataType=SimpleNamespace(simpleString=lambda: "date"))
    sdf = SimpleNamespace(
        schema=SimpleNamespace(fields=[field]),
        createOrReplaceTempView=lambda v: spark.calls.append(("view", v)),
    )
    monkeypatch.setattr(be, "_require", lambda t: "main.mediamix.mmm_gold")
    monkeypatch.setattr(be, "_to_spark", lambda df, t: sdf)
    monkeypatch.setattr(be, "_spark_columns", lambda t: [("date", "date")])
    monkeypatch.setattr(be, "version", lambda t: 7)
    meta = {REASON_KEY: "supplier corrected", RESTATED_KEY: "2024-01-15"}
    assert be.merge(pd.DataFrame({"date": []}), table, keys=["date"], metadata=meta) == 7
    key = "spark.databricks.delta.commitInfo.userMetadata"
    assert spark.calls == [
        ("view", "mediamix_merge_mmm_gold"),
        ("conf.set", (key, json.dumps(meta, sort_keys=True))),
        ("sql", merge_statement("main.mediamix.mmm_gold", "mediamix_merge_mmm_gold", ["date"])),
        ("conf.unset", key),
        ("drop", "mediamix_merge_mmm_gold"),
    ]
    # a schema that does not match the table's is refused before any statement runs
    spark.calls.clear()
    monkeypatch.setattr(be, "_spark_columns", lambda t: [("date", "date"), ("tv", "double")])
    with pytest.raises(LakeError, match="schema mismatch"):
        be.merge(pd.DataFrame({"date": []}), table, keys=["date"], metadata=meta)
    assert not [c for c in spark.calls if c[0] == "sql"]
