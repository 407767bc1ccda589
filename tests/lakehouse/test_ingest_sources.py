"""Raw feeds from folders, globs and Parquet (a Volume is a folder), and ingest's all-or-nothing.

A Unity Catalog Volume (``/Volumes/<catalog>/<schema>/<volume>/...``) is mounted as a file
system on Databricks, so the same code reads it and a local folder; here a local folder laid
out like a Volume stands in for it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mediamix.lakehouse import tables as lake
from mediamix.lakehouse.delta_rs import DeltaRsBackend
from mediamix.lakehouse.feeds import feed_files, read_feed
from mediamix.lakehouse.medallion import RESTORE_KEY, TABLES, ingest, table_name
from mediamix.lakehouse.names import LakeError
from mediamix.lakehouse.quality import DataQualityError

WEEKS = pd.date_range("2024-01-01", periods=8, freq="7D")


def spend_rows(weeks: range) -> pd.DataFrame:
    rows = [
        (WEEKS[i].date().isoformat(), ch, 100.0 + 10 * i + k)
        for i in weeks
        for k, ch in enumerate(["tv", "search"])
    ]
    return pd.DataFrame(rows, columns=["date", "channel", "spend"])


def outcome_rows(weeks: range, value: float | None = None) -> pd.DataFrame:
    sales = [value if value is not None else 1000.0 + 17 * i for i in weeks]
    return pd.DataFrame({"date": [WEEKS[i].date().isoformat() for i in weeks], "sales": sales})


@pytest.fixture
def volume(tmp_path: Path) -> Path:
    """A folder laid out like /Volumes/main/mediamix/raw: spend split over two files."""
    root = tmp_path / "Volumes" / "main" / "mediamix" / "raw"
    (root / "spend").mkdir(parents=True)
    spend_rows(range(4)).to_csv(root / "spend" / "spend_2024_01.csv", index=False)
    spend_rows(range(4, 6)).to_parquet(root / "spend" / "spend_2024_02.parquet", index=False)
    (root / "spend" / "README").write_text("not a feed\n")
    outcome_rows(range(6)).to_csv(root / "outcome.csv", index=False)
    return root


def test_a_folder_or_a_glob_names_the_files_of_a_feed_in_name_order(volume: Path) -> None:
    folder = feed_files(volume / "spend", "spend")
    assert [p.name for p in folder] == ["spend_2024_01.csv", "spend_2024_02.parquet"]
    assert feed_files(f"{volume}/spend/*.csv", "spend") == folder[:1]
    assert feed_files(volume / "outcome.csv") == [volume / "outcome.csv"]


def test_csv_and_parquet_files_are_read_as_one_feed_of_text(volume: Path) -> None:
    feed = read_feed("spend", volume / "spend")
    assert len(feed.frame) == 12
    assert feed.frame["date"].iloc[-1] == WEEKS[5].date().isoformat()
    assert feed.frame["spend"].iloc[-1] == "151.0"  # Parquet floats rendered like CSV text
    assert feed.source == str((volume / "spend").resolve())


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("nothing/here/*.csv", "no spend file matches nothing/here/\\*.csv"),
        ("missing.csv", "spend file not found: missing.csv"),
    ],
)
def test_a_source_that_names_nothing_is_an_error(source: str, message: str) -> None:
    with pytest.raises(LakeError, match=message):
        feed_files(source, "spend")


def test_an_empty_folder_and_other_file_types_are_errors(tmp_path: Path) -> None:
    with pytest.raises(LakeError, match=r"no spend file \(\.csv, \.parquet\) in folder"):
        feed_files(tmp_path, "spend")
    (tmp_path / "spend.json").write_text("{}")
    with pytest.raises(LakeError, match=r"spend files must be \.csv or \.parquet"):
        feed_files(f"{tmp_path}/spend.*", "spend")


def test_files_that_disagree_on_columns_are_refused(volume: Path) -> None:
    outcome_rows(range(2)).to_csv(volume / "spend" / "spend_2024_03.csv", index=False)
    with pytest.raises(LakeError, match="spend files disagree on columns"):
        read_feed("spend", volume / "spend")


def test_ingest_reads_a_volume_folder_like_any_path(volume: Path, tmp_path: Path) -> None:
    root = tmp_path / "lh"
    report = ingest(volume / "spend", f"{volume}/outcome*", lakehouse=root)
    gold = lake.read_table("mmm_gold", lakehouse=root)
    assert len(gold) == 6 and list(gold.columns) == ["date", "search", "tv", "sales"]
    assert report.result("gold").version == 0


# --------------------------------------------------------------------------- all or nothing


def test_a_single_period_or_a_constant_outcome_changes_no_table(tmp_path: Path) -> None:
    root = tmp_path / "lh"
    with pytest.raises(DataQualityError, match="too_few_periods") as info:
        ingest(spend_rows(range(1)), outcome_rows(range(1)), lakehouse=root)
    assert "no table was changed" in str(info.value)
    with pytest.raises(DataQualityError, match="outcome_constant"):
        ingest(spend_rows(range(5)), outcome_rows(range(5), value=7.0), lakehouse=root)
    assert lake.list_tables(lakehouse=root) == []
    # and on top of existing tables, nothing moves either
    ingest(spend_rows(range(5)), outcome_rows(range(5)), lakehouse=root)
    before = {t.name.table: t.version for t in lake.list_tables(lakehouse=root)}
    with pytest.raises(DataQualityError, match="outcome_constant"):
        ingest(spend_rows(range(6)), outcome_rows(range(6), value=7.0), lakehouse=root)
    assert {t.name.table: t.version for t in lake.list_tables(lakehouse=root)} == before


class FailingGold(DeltaRsBackend):
    """delta-rs, except that writing the gold table fails (a lost connection, a permission)."""

    def write(self, df, table, **kwargs):  # type: ignore[no-untyped-def]
        if table.table == TABLES["gold"]:
            raise LakeError(f"writing {table} failed: connection reset")
        return super().write(df, table, **kwargs)


def test_a_failing_gold_write_puts_silver_back(tmp_path: Path) -> None:
    root = tmp_path / "lh"
    ingest(spend_rows(range(5)), outcome_rows(range(5)), lakehouse=root)
    silver = table_name("silver_outcome")
    rows_before = lake.read_table(silver, lakehouse=root)
    with pytest.raises(LakeError, match="connection reset"):
        ingest(spend_rows(range(6)), outcome_rows(range(6)), backend=FailingGold(root))
    # silver's content is its previous version's again, and the history says why
    pd.testing.assert_frame_equal(lake.read_table(silver, lakehouse=root), rows_before)
    last = lake.table_history(silver, lakehouse=root, limit=1)[0]
    assert last.metadata[RESTORE_KEY] == "version 0 (gold write failed: LakeError)"
    assert lake.describe_table("mmm_gold", lakehouse=root).version == 0
    # the next good run moves both again
    report = ingest(spend_rows(range(6)), outcome_rows(range(6)), lakehouse=root)
    assert len(lake.read_table("mmm_gold", lakehouse=root)) == 6
    assert not report.result("silver_outcome").skipped
