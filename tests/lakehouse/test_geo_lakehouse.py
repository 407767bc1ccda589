"""Geo-level feeds through bronze -> silver -> gold on real delta-rs tables."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from deltalake import DeltaTable

from mediamix.config.base import parse_config
from mediamix.config.generator import GeneratorConfig
from mediamix.data.generator import Generator
from mediamix.data.geo_generator import generate_geos
from mediamix.lakehouse import tables as lake
from mediamix.lakehouse.incremental import ingest_increment
from mediamix.lakehouse.medallion import ingest, ingest_synthetic, table_name
from mediamix.lakehouse.quality import RULES, DataQualityError

WEEKS = pd.date_range("2024-01-01", periods=5, freq="7D")
GEOS = {"north": 1000.0, "south": 250.0, "east": 40.0}


def spend_feed() -> pd.DataFrame:
    rows = []
    for g, (geo, pop) in enumerate(GEOS.items()):
        for i, d in enumerate(WEEKS):
            rows.append({"date": d, "geo": geo, "channel": "tv", "spend": pop / 10 + i})
            rows.append({"date": d, "geo": geo, "channel": "search", "spend": 5.0 * g + i})
    return pd.DataFrame(rows)


def outcome_feed() -> pd.DataFrame:
    rows = [
        {"date": d, "geo": geo, "sales": pop * 2 + 7 * i, "population": pop}
        for geo, pop in GEOS.items()
        for i, d in enumerate(WEEKS)
    ]
    return pd.DataFrame(rows)


def controls_feed() -> pd.DataFrame:
    return pd.DataFrame({"date": WEEKS, "price": [2.0, 2.1, 2.2, 2.3, 2.4]})


def test_geo_feeds_build_one_long_gold_table_partitioned_by_geo(tmp_path: Path) -> None:
    root = tmp_path / "lh"
    report = ingest(spend_feed(), outcome_feed(), controls_feed(), lakehouse=root)
    assert report.quarantined == 0
    gold = lake.load_modeling_frame("mmm_gold", lakehouse=root)
    assert list(gold.columns) == ["date", "geo", "search", "tv", "price", "sales", "population"]
    assert len(gold) == len(WEEKS) * len(GEOS)
    # sorted by date, then geo; every geo on the same date grid
    expected_keys = [(d, g) for d in WEEKS for g in sorted(GEOS)]
    assert list(zip(gold["date"], gold["geo"], strict=True)) == expected_keys
    for geo, pop in GEOS.items():
        rows = gold[gold["geo"] == geo].reset_index(drop=True)
        assert rows["tv"].tolist() == [pop / 10 + i for i in range(5)]
        assert rows["sales"].tolist() == [pop * 2 + 7 * i for i in range(5)]
        assert (rows["population"] == pop).all()
        # national controls are the same in every geo
        assert rows["price"].tolist() == [2.0, 2.1, 2.2, 2.3, 2.4]
    path = root / "main" / "mediamix" / "mmm_gold"
    assert DeltaTable(str(path)).metadata().partition_columns == ["geo"]
    # the same input again writes nothing new
    again = ingest(spend_feed(), outcome_feed(), controls_feed(), lakehouse=root)
    assert all(res.skipped for _, res in again.writes)


def test_geo_controls_are_kept_per_geo(tmp_path: Path) -> None:
    controls = pd.DataFrame(
        [
            {"date": d, "geo": g, "price": float(i + len(g))}
            for g in GEOS
            for i, d in enumerate(WEEKS)
        ]
    )
    ingest(spend_feed(), outcome_feed(), controls, lakehouse=tmp_path)
    gold = lake.read_table("mmm_gold", lakehouse=tmp_path)
    south = gold[gold["geo"] == "south"]["price"].tolist()
    assert south == [float(i + 5) for i in range(5)]


def test_national_gold_is_not_partitioned(tmp_path: Path) -> None:
    spend = spend_feed().query("geo == 'north'").drop(columns="geo")
    outcome = outcome_feed().query("geo == 'north'").drop(columns=["geo", "population"])
    ingest(spend, outcome, lakehouse=tmp_path)
    gold = lake.read_table("mmm_gold", lakehouse=tmp_path)
    assert list(gold.columns) == ["date", "search", "tv", "sales"]
    path = tmp_path / "main" / "mediamix" / "mmm_gold"
    assert DeltaTable(str(path)).metadata().partition_columns == []


def test_rows_without_a_geo_are_quarantined(tmp_path: Path) -> None:
    spend = spend_feed().astype({"geo": object})
    spend.loc[3, "geo"] = ""
    with pytest.raises(DataQualityError, match="geo_missing") as info:
        ingest(spend, outcome_feed(), lakehouse=tmp_path)
    assert "no geo" in str(info.value)
    quarantine = lake.read_table(table_name("quarantine"), lakehouse=tmp_path)
    assert quarantine["rule"].tolist() == ["geo_missing"]
    assert quarantine["source_row"].tolist() == [4]
    assert "mmm_gold" not in {t.name.table for t in lake.list_tables(lakehouse=tmp_path)}


def test_rejects_carry_their_geo(tmp_path: Path) -> None:
    outcome = outcome_feed().astype({"sales": object})
    outcome.loc[outcome["geo"].eq("south").idxmax(), "sales"] = "n/a"
    with pytest.raises(DataQualityError, match="value_missing") as info:
        ingest(spend_feed(), outcome, lakehouse=tmp_path)
    assert "geo=south" in str(info.value)
    quarantine = lake.read_table(table_name("quarantine"), lakehouse=tmp_path)
    assert json.loads(quarantine["record"].iloc[0])["geo"] == "south"


def test_duplicates_are_keyed_by_geo(tmp_path: Path) -> None:
    spend = spend_feed()
    # the same (date, channel) in another geo is not a duplicate; the same geo twice is
    clash = spend.iloc[[0]].assign(spend=999.0)
    with pytest.raises(DataQualityError, match="duplicate_conflict") as info:
        ingest(pd.concat([spend, clash]), outcome_feed(), lakehouse=tmp_path)
    assert "(date, geo, channel)" in str(info.value)
    assert "north" in str(info.value)
    exact = spend.iloc[[0]]
    report = ingest(pd.concat([spend, exact]), outcome_feed(), lakehouse=tmp_path / "ok")
    assert any("1 exact duplicate" in n for n in report.notes)


def test_a_gap_in_one_geo_names_that_geo(tmp_path: Path) -> None:
    outcome = outcome_feed()
    outcome = outcome[~((outcome["geo"] == "east") & (outcome["date"] == WEEKS[2]))]
    with pytest.raises(DataQualityError, match="date_grid_gap") as info:
        ingest(spend_feed(), outcome, lakehouse=tmp_path)
    assert "geo 'east'" in str(info.value)
    assert "north" not in str(info.value)


def test_geos_on_different_date_ranges_are_refused(tmp_path: Path) -> None:
    outcome = outcome_feed()
    spend = spend_feed()
    late = (outcome["geo"] == "east") & (outcome["date"] == WEEKS[0])
    late_spend = (spend["geo"] == "east") & (spend["date"] == WEEKS[0])
    with pytest.raises(DataQualityError, match="geo_mismatch") as info:
        ingest(spend[~late_spend], outcome[~late], lakehouse=tmp_path)
    assert "east" in str(info.value)


def test_geo_in_one_feed_only_is_refused(tmp_path: Path) -> None:
    outcome = outcome_feed().groupby("date", as_index=False)["sales"].sum()
    with pytest.raises(DataQualityError, match="geo_mismatch") as info:
        ingest(spend_feed(), outcome, lakehouse=tmp_path)
    assert "the spend feed has a 'geo' column but the outcome feed has none" in str(info.value)


def test_spend_for_a_geo_without_outcome_is_refused(tmp_path: Path) -> None:
    spend = pd.concat([spend_feed(), spend_feed().query("geo == 'east'").assign(geo="west")])
    with pytest.raises(DataQualityError, match="geo_mismatch") as info:
        ingest(spend, outcome_feed(), lakehouse=tmp_path)
    assert "west" in str(info.value)


def test_population_must_be_one_positive_number_per_geo(tmp_path: Path) -> None:
    outcome = outcome_feed()
    outcome.loc[outcome["geo"].eq("south").idxmax(), "population"] = 251.0
    with pytest.raises(DataQualityError, match="geo_mismatch") as info:
        ingest(spend_feed(), outcome, lakehouse=tmp_path)
    assert "south" in str(info.value) and "north" not in str(info.value)
    negative = outcome_feed()
    negative.loc[0, "population"] = -5.0
    with pytest.raises(DataQualityError, match=r"population -5\.0 is not positive"):
        ingest(spend_feed(), negative, lakehouse=tmp_path / "neg")


def test_geo_rules_are_documented() -> None:
    assert {"geo_missing", "geo_mismatch"} <= set(RULES)


def test_geo_generator_output_round_trips_through_the_pipeline(
    tmp_path: Path, repo_root: Path
) -> None:
    raw = yaml.safe_load((repo_root / "config" / "generator" / "geo_config.yaml").read_text())
    raw["geos"] = {"count": 4, "population": {"min": 10000, "max": 800000}}
    raw["end_date"] = "2021-06-28"
    generator = Generator(parse_config(GeneratorConfig, raw))
    data = generate_geos(generator)
    report = ingest_synthetic(data, lakehouse=tmp_path)
    assert report.quarantined == 0
    gold = lake.load_modeling_frame("mmm_gold", lakehouse=tmp_path)
    want = data.data.sort_values(["date", "geo"], kind="stable").reset_index(drop=True)
    assert set(gold.columns) == set(want.columns)
    assert list(gold.columns[:2]) == ["date", "geo"] and gold.columns[-1] == "population"
    pd.testing.assert_frame_equal(gold[want.columns], want, check_dtype=False)


def test_a_geo_delivery_merges_by_date_and_geo(tmp_path: Path) -> None:
    root = tmp_path / "lh"
    first = WEEKS[:4]
    spend, outcome = spend_feed(), outcome_feed()
    ingest(spend[spend["date"].isin(first)], outcome[outcome["date"].isin(first)], lakehouse=root)
    # week 5 arrives, and south's week 2 sales are restated
    new_spend = spend[spend["date"] == WEEKS[4]]
    new_outcome = outcome[outcome["date"] == WEEKS[4]]
    fix = outcome[(outcome["geo"] == "south") & (outcome["date"] == WEEKS[1])].assign(sales=1.0)
    report = ingest_increment(new_spend, pd.concat([new_outcome, fix]), lakehouse=root)
    assert report.result("gold").rows == len(GEOS) + 1
    gold = lake.load_modeling_frame("mmm_gold", lakehouse=root)
    assert len(gold) == len(WEEKS) * len(GEOS)
    south = gold[gold["geo"] == "south"].set_index("date")["sales"]
    assert south[WEEKS[1]] == 1.0 and south[WEEKS[4]] == GEOS["south"] * 2 + 28
    north = gold[gold["geo"] == "north"].set_index("date")["sales"]
    assert north[WEEKS[1]] == GEOS["north"] * 2 + 7  # the same date in another geo untouched
