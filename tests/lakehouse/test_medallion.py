"""The medallion pipeline on real delta-rs tables: bronze -> silver (+ quarantine) -> gold."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mediamix.config.base import parse_config
from mediamix.config.generator import GeneratorConfig
from mediamix.data.generator import Generator
from mediamix.lakehouse import tables as lake
from mediamix.lakehouse.feeds import read_feed, synthetic_feeds
from mediamix.lakehouse.medallion import (
    TABLES,
    bronze_step,
    gold_step,
    ingest,
    ingest_synthetic,
    silver_step,
    table_name,
)
from mediamix.lakehouse.names import LakeError
from mediamix.lakehouse.quality import RULES, DataQualityError

MONDAYS = pd.date_range("2024-01-01", periods=6, freq="7D")


def day(i: int) -> str:
    return str((MONDAYS[0] + pd.Timedelta(weeks=i)).date())


def write_csv(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


@pytest.fixture
def good(tmp_path: Path) -> dict[str, Path]:
    """Six weeks of clean feeds: tv every week, search with one week off, a price control."""
    spend = [f"{day(i)},tv,{100 + i}" for i in range(6)]
    spend += [f"{day(i)},search,{10 * i}.5" for i in range(6) if i != 3]
    outcome = [f"{day(i)},{1000 + 10 * i}" for i in range(6)]
    controls = [f"{day(i)},{2.0 + i / 10}" for i in range(6)]
    return {
        "spend": write_csv(tmp_path / "spend.csv", "date,channel,spend", spend),
        "outcome": write_csv(tmp_path / "outcome.csv", "date,sales", outcome),
        "controls": write_csv(tmp_path / "controls.csv", "date,price", controls),
    }


def tables_in(root: Path) -> set[str]:
    return {i.name.table for i in lake.list_tables(lakehouse=root)}


def version(root: Path, key: str) -> int | None:
    return lake.describe_table(table_name(key), lakehouse=root).version


# --------------------------------------------------------------------------- happy path


def test_ingest_builds_every_layer_and_a_complete_gold_table(
    tmp_path: Path, good: dict[str, Path]
) -> None:
    root = tmp_path / "lh"
    report = ingest(good["spend"], good["outcome"], good["controls"], lakehouse=root)
    assert tables_in(root) == set(TABLES.values())
    assert [layer for layer, _ in report.writes] == ["bronze"] * 3 + ["quarantine"] + [
        "silver"
    ] * 3 + ["gold"]
    assert all(r.version == 0 and not r.skipped for _, r in report.writes)
    assert report.quarantined == 0 and report.issues == []
    gold = lake.read_table("mmm_gold", lakehouse=root)
    assert list(gold.columns) == ["date", "search", "tv", "price", "sales"]
    assert gold["date"].tolist() == list(MONDAYS)
    assert gold["tv"].tolist() == [100.0 + i for i in range(6)]
    # the week without a search row is a zero, not a missing value
    assert gold["search"].tolist() == [0.5, 10.5, 20.5, 0.0, 40.5, 50.5]
    assert gold["sales"].tolist() == [1000.0 + 10 * i for i in range(6)]
    np.testing.assert_allclose(gold["price"], [2.0 + i / 10 for i in range(6)])
    assert str(gold["date"].dtype) == "datetime64[us]"
    text = report.format()
    assert "main.mediamix.mmm_gold" in text and "quarantined rows: 0" in text


def test_bronze_keeps_raw_values_and_ingestion_metadata(
    tmp_path: Path, good: dict[str, Path]
) -> None:
    root = tmp_path / "lh"
    ingest(good["spend"], good["outcome"], lakehouse=root)
    bronze = lake.read_table("mmm_bronze_spend", lakehouse=root)
    assert list(bronze.columns) == [
        "date",
        "channel",
        "spend",
        "source",
        "source_row",
        "ingested_at",
    ]
    assert bronze["spend"].iloc[6] == "0.5"  # as received: text
    assert bronze["source"].iloc[0] == str(good["spend"].resolve())
    assert bronze["source_row"].tolist() == list(range(1, len(bronze) + 1))
    assert str(bronze["ingested_at"].dtype) == "datetime64[us, UTC]"
    # without a controls feed the controls table is empty and gold has no controls
    assert lake.read_table("mmm_bronze_controls", lakehouse=root).empty
    assert "price" not in lake.read_table("mmm_gold", lakehouse=root).columns


def test_silver_is_typed_and_deduplicated(tmp_path: Path) -> None:
    root = tmp_path / "lh"
    spend = write_csv(
        tmp_path / "s.csv",
        "Date,Channel,Spend",
        [f"{day(0)},Paid Search,5", f"{day(0)},paid_search,5", f"{day(1)}, Paid Search ,6"],
    )
    outcome = write_csv(tmp_path / "o.csv", "date,Revenue", [f"{day(0)},1", f"{day(1)},2"])
    report = ingest(spend, outcome, lakehouse=root)
    silver = lake.read_table("mmm_silver_spend", lakehouse=root)
    assert silver["channel"].tolist() == ["paid_search", "paid_search"]
    assert silver["spend"].tolist() == [5.0, 6.0]
    assert str(silver["date"].dtype) == "datetime64[us]"
    assert any("collapsed 1 exact duplicate" in n for n in report.notes)
    assert report.quarantined == 0
    gold = lake.read_table("mmm_gold", lakehouse=root)
    assert list(gold.columns) == ["date", "paid_search", "revenue"]


def test_synthetic_data_round_trips_through_the_pipeline(tmp_path: Path) -> None:
    config = parse_config(
        GeneratorConfig,
        {
            "start_date": "2022-01-04",
            "end_date": "2022-06-28",
            "seed": 3,
            "outcome": {"name": "sales", "intercept": 1.0, "sigma": 0.1, "scale": 1000.0},
            "media": {
                "tv": {"min": 5.0, "max": 50.0, "beta": 1.0, "mu": 2.0},
                "radio": {"min": 1.0, "max": 9.0, "beta": 0.5, "mu": 1.0},
            },
            "controls": {"price": {"min": 1.0, "max": 2.0, "coef": -0.1}},
        },
    )
    result = Generator(config).generate()
    feeds = synthetic_feeds(result)
    assert list(feeds["spend"].frame.columns) == ["date", "channel", "spend"]
    assert len(feeds["spend"].frame) == 2 * len(result.data)
    report = ingest_synthetic(result, lakehouse=tmp_path)
    gold = lake.read_table("mmm_gold", lakehouse=tmp_path)
    expected = result.data.astype({"date": "datetime64[us]"})
    pd.testing.assert_frame_equal(gold, expected)  # exact: floats travel as repr text
    assert report.result("gold").rows == len(result.data)
    assert lake.read_table("mmm_bronze_spend", lakehouse=tmp_path)["source"].iloc[0] == (
        "generator(seed=3)/spend"
    )


def test_basic_config_generates_into_gold(tmp_path: Path, basic_config_path: Path) -> None:
    result = Generator.from_config_file(basic_config_path).generate(seed=5)
    ingest_synthetic(result, lakehouse=tmp_path)
    gold = lake.load_modeling_frame("mmm_gold", lakehouse=tmp_path)
    pd.testing.assert_frame_equal(gold, result.data.astype({"date": "datetime64[us]"}))


# --------------------------------------------------------------------------- idempotence


def test_rerun_on_the_same_input_writes_nothing(tmp_path: Path, good: dict[str, Path]) -> None:
    root = tmp_path / "lh"
    ingest(good["spend"], good["outcome"], good["controls"], lakehouse=root)
    gold_before = lake.read_table("mmm_gold", lakehouse=root)
    again = ingest(good["spend"], good["outcome"], good["controls"], lakehouse=root)
    assert all(r.skipped and r.version == 0 for _, r in again.writes)
    assert "unchanged" in again.format()
    for short in TABLES.values():
        assert len(lake.table_history(short, lakehouse=root)) == 1
    pd.testing.assert_frame_equal(lake.read_table("mmm_gold", lakehouse=root), gold_before)


def test_changed_input_creates_new_versions_and_keeps_the_old_gold(
    tmp_path: Path, good: dict[str, Path]
) -> None:
    root = tmp_path / "lh"
    ingest(good["spend"], good["outcome"], lakehouse=root)
    first = lake.read_table("mmm_gold", lakehouse=root)
    with good["spend"].open("a") as fh:
        fh.write(f"{day(3)},search,7\n")
    report = ingest(good["spend"], good["outcome"], lakehouse=root)
    assert report.result("bronze_spend").version == 1
    assert report.result("bronze_outcome").skipped
    assert report.result("gold").version == 1
    assert lake.read_table("mmm_gold", lakehouse=root)["search"].iloc[3] == 7.0
    pd.testing.assert_frame_equal(lake.read_table("mmm_gold", version=0, lakehouse=root), first)


def test_steps_can_run_one_at_a_time(tmp_path: Path, good: dict[str, Path]) -> None:
    backend = lake.get_backend(tmp_path)
    feeds = {k: read_feed(k, good[k]) for k in ("spend", "outcome")}
    bronze = bronze_step(feeds, backend=backend)
    assert [r.table.table for _, r in bronze] == [
        "mmm_bronze_spend",
        "mmm_bronze_outcome",
        "mmm_bronze_controls",
    ]
    silver = silver_step(backend=backend)
    assert silver.result("silver_spend").rows == 11
    gold = gold_step(backend=backend)
    assert gold.result("gold").rows == 6
    # the same step again on the same input is skipped
    assert gold_step(backend=backend).result("gold").skipped


def test_catalog_and_schema_choose_the_table_names(tmp_path: Path, good: dict[str, Path]) -> None:
    ingest(good["spend"], good["outcome"], catalog="dev", schema="mmm", lakehouse=tmp_path)
    assert (tmp_path / "dev" / "mmm" / "mmm_gold" / "_delta_log").is_dir()
    assert str(table_name("gold", "dev", "mmm")) == "dev.mmm.mmm_gold"


def test_feeds_can_come_from_existing_tables(tmp_path: Path, good: dict[str, Path]) -> None:
    spend = pd.read_csv(good["spend"], parse_dates=["date"])
    outcome = pd.read_csv(good["outcome"], parse_dates=["date"])
    lake.write_table(spend, "raw.spend_feed", lakehouse=tmp_path)
    lake.write_table(outcome, "raw.outcome_feed", lakehouse=tmp_path)
    ingest("raw.spend_feed", "main.raw.outcome_feed", lakehouse=tmp_path)
    bronze = lake.read_table("mmm_bronze_spend", lakehouse=tmp_path)
    assert bronze["source"].iloc[0] == "main.raw.spend_feed"
    assert bronze["date"].iloc[0] == "2024-01-01"
    gold = lake.read_table("mmm_gold", lakehouse=tmp_path)
    assert gold["sales"].tolist() == [1000.0 + 10 * i for i in range(6)]


# --------------------------------------------------------------------------- row rules


ROW_CASES = {
    "date_unparseable": ("spend", "2024/01/08,tv,5", "date", "2024/01/08"),
    "value_not_numeric": ("spend", f"{day(1)},tv,12;5", "spend", "12;5"),
    "value_missing": ("outcome", f"{day(6)},", "sales", "sales=''"),
    "spend_negative": ("spend", f"{day(1)},radio,-3", "spend", "spend=-3"),
    "channel_unknown": ("spend", f"{day(1)},print,3", "channel", "channel=print"),
    "duplicate_conflict": ("spend", f"{day(1)},tv,999", "spend", "spend=999"),
}


@pytest.mark.parametrize("rule", sorted(ROW_CASES))
def test_each_row_rule_quarantines_and_fails_the_run(
    tmp_path: Path, good: dict[str, Path], rule: str
) -> None:
    feed, line, column, example = ROW_CASES[rule]
    with good[feed].open("a") as fh:
        fh.write(line + "\n")
    root = tmp_path / "lh"
    with pytest.raises(DataQualityError) as info:
        ingest(good["spend"], good["outcome"], channels=["tv", "search", "radio"], lakehouse=root)
    err = info.value
    assert err.step == "silver"
    assert [(i.rule, i.column) for i in err.issues] == [(rule, column)]
    message = str(err)
    assert f"{rule} [{column}]" in message and example in message
    assert f"{good[feed].name} row" in message
    # bronze and the quarantine were written; silver and gold were not
    assert tables_in(root) == {
        "mmm_bronze_spend",
        "mmm_bronze_outcome",
        "mmm_bronze_controls",
        "mmm_quarantine",
    }
    quarantine = lake.read_table("mmm_quarantine", lakehouse=root)
    assert set(quarantine["rule"]) == {rule}
    assert set(quarantine["feed"]) == {feed}
    assert err.report is not None and err.report.quarantined == len(
        quarantine[["feed", "source_row"]].drop_duplicates()
    )


def test_duplicate_conflict_quarantines_every_row_of_the_key(
    tmp_path: Path, good: dict[str, Path]
) -> None:
    with good["spend"].open("a") as fh:
        fh.write(f"{day(0)},tv,1\n")
    with pytest.raises(DataQualityError):
        ingest(good["spend"], good["outcome"], lakehouse=tmp_path)
    quarantine = lake.read_table("mmm_quarantine", lakehouse=tmp_path)
    assert quarantine["source_row"].tolist() == [1, 12]
    assert "(2024-01-01, tv) -> 100.0, 1.0" in quarantine["reason"].iloc[0]


def test_a_row_breaking_two_rules_is_one_rejected_row(
    tmp_path: Path, good: dict[str, Path]
) -> None:
    with good["spend"].open("a") as fh:
        fh.write("someday,tv,abc\n")
    with pytest.raises(DataQualityError) as info:
        ingest(good["spend"], good["outcome"], lakehouse=tmp_path)
    assert {i.rule for i in info.value.issues} == {"date_unparseable", "value_not_numeric"}
    assert info.value.report.quarantined == 1
    quarantine = lake.read_table("mmm_quarantine", lakehouse=tmp_path)
    assert len(quarantine) == 2 and quarantine["source_row"].nunique() == 1


def test_controls_are_validated_too(tmp_path: Path, good: dict[str, Path]) -> None:
    with good["controls"].open("a") as fh:
        fh.write(f"{day(6)},cheap\n")
    with pytest.raises(DataQualityError) as info:
        ingest(good["spend"], good["outcome"], good["controls"], lakehouse=tmp_path)
    assert [(i.rule, i.column) for i in info.value.issues] == [("value_not_numeric", "price")]


def test_allow_rejects_builds_gold_from_the_rows_that_passed(
    tmp_path: Path, good: dict[str, Path]
) -> None:
    with good["spend"].open("a") as fh:
        fh.write(f"{day(2)},tv,-1\n")
    report = ingest(good["spend"], good["outcome"], allow_rejects=True, lakehouse=tmp_path)
    assert report.quarantined == 1
    assert [i.rule for i in report.issues] == ["spend_negative"]
    assert report.result("gold").version == 0
    assert len(lake.read_table("mmm_quarantine", lakehouse=tmp_path)) == 1
    assert "spend_negative" in report.format()


# --------------------------------------------------------------------------- failing steps


def test_a_failing_run_leaves_the_previous_versions_current(
    tmp_path: Path, good: dict[str, Path]
) -> None:
    root = tmp_path / "lh"
    ingest(good["spend"], good["outcome"], lakehouse=root)
    gold_before = lake.read_table("mmm_gold", lakehouse=root)
    silver_before = lake.read_table("mmm_silver_spend", lakehouse=root)
    with good["spend"].open("a") as fh:
        fh.write(f"{day(2)},tv,-1\n")
    with pytest.raises(DataQualityError):
        ingest(good["spend"], good["outcome"], lakehouse=root)
    # bronze holds the new batch and the quarantine its rejects ...
    assert version(root, "bronze_spend") == 1
    assert version(root, "quarantine") == 1
    assert len(lake.read_table("mmm_quarantine", lakehouse=root)) == 1
    # ... while silver and gold are untouched and readable
    assert version(root, "silver_spend") == 0 and version(root, "gold") == 0
    pd.testing.assert_frame_equal(lake.read_table("mmm_gold", lakehouse=root), gold_before)
    pd.testing.assert_frame_equal(
        lake.read_table("mmm_silver_spend", lakehouse=root), silver_before
    )
    # fixing the input recovers: the quarantine is emptied in a new version
    good["spend"].write_text("\n".join(good["spend"].read_text().splitlines()[:-1]) + "\n")
    report = ingest(good["spend"], good["outcome"], lakehouse=root)
    assert report.quarantined == 0 and version(root, "quarantine") == 2
    assert report.result("gold").skipped


def test_a_failing_gold_step_keeps_the_previous_gold(tmp_path: Path, good: dict[str, Path]) -> None:
    root = tmp_path / "lh"
    ingest(good["spend"], good["outcome"], lakehouse=root)
    before = lake.read_table("mmm_gold", lakehouse=root)
    lines = good["outcome"].read_text().splitlines()
    good["outcome"].write_text("\n".join(lines[:3] + lines[4:]) + "\n")  # drop week 2
    with pytest.raises(DataQualityError) as info:
        ingest(good["spend"], good["outcome"], lakehouse=root)
    assert info.value.step == "gold"
    assert [(i.rule, i.column) for i in info.value.issues] == [("date_grid_gap", "sales")]
    assert "2024-01-15" in str(info.value)
    # silver and gold move together: silver's rows passed, but gold failed, so neither moved
    assert version(root, "silver_outcome") == 0
    assert version(root, "silver_spend") == 0
    assert version(root, "gold") == 0
    pd.testing.assert_frame_equal(lake.read_table("mmm_gold", lakehouse=root), before)


def test_missing_required_columns_fail_before_anything_is_written(
    tmp_path: Path, good: dict[str, Path]
) -> None:
    bad = write_csv(tmp_path / "wide.csv", "date,tv,search", [f"{day(0)},1,2"])
    with pytest.raises(
        DataQualityError, match=r"columns_missing \[header\].*\['channel', 'spend'\]"
    ):
        ingest(bad, good["outcome"], lakehouse=tmp_path / "lh")
    assert not (tmp_path / "lh").exists()


def test_outcome_feed_needs_exactly_one_value_column(tmp_path: Path, good: dict[str, Path]) -> None:
    two = write_csv(tmp_path / "o2.csv", "date,sales,visits", [f"{day(0)},1,2"])
    with pytest.raises(DataQualityError, match="exactly one column besides 'date'"):
        ingest(good["spend"], two, lakehouse=tmp_path)


def test_unreadable_inputs_are_mediamix_errors(tmp_path: Path, good: dict[str, Path]) -> None:
    with pytest.raises(LakeError, match="spend file not found"):
        ingest(tmp_path / "nope.csv", good["outcome"], lakehouse=tmp_path)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(LakeError, match="not a readable CSV"):
        ingest(empty, good["outcome"], lakehouse=tmp_path)


def test_channel_order_follows_the_expected_list(tmp_path: Path, good: dict[str, Path]) -> None:
    ingest(good["spend"], good["outcome"], channels=["TV", "Search"], lakehouse=tmp_path)
    assert list(lake.read_table("mmm_gold", lakehouse=tmp_path).columns) == [
        "date",
        "tv",
        "search",
        "sales",
    ]


def test_every_rule_is_documented() -> None:
    assert set(ROW_CASES) <= set(RULES)
    assert {"date_grid_gap", "frequency_mixed", "channel_missing", "columns_missing"} <= set(RULES)
