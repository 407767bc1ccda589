"""The geo scenario runs on the same job, set by two parameters (README, "Geo-level data")."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mediamix.config.model import load_model_config
from mediamix.data.generator import Generator
from mediamix.data.geo_generator import GeoSyntheticData
from mediamix.databricks.display import data_columns, geo_truth_table, national_frame
from mediamix.databricks.notebook import job_parameters

REPO = Path(__file__).resolve().parents[2]
GEO = {
    "generator_config": "config/generator/geo_config.yaml",
    "model_config": "config/model/geo_config.yaml",
}


def test_the_geo_scenario_is_two_job_parameters() -> None:
    env = {f"MEDIAMIX_{k.upper()}": v for k, v in GEO.items()}
    params = job_parameters(env=env)
    assert {k: params[k] for k in GEO} == GEO
    generator = Generator.from_config_file(REPO / GEO["generator_config"])
    assert generator.config.geos is not None
    config = load_model_config(REPO / GEO["model_config"])
    assert config.geo is not None and config.geo.population == "population"


def test_geo_data_is_shown_nationally_and_per_geo() -> None:
    data = pd.DataFrame(
        {
            "date": pd.to_datetime(["2024-01-01"] * 2 + ["2024-01-08"] * 2),
            "geo": ["a", "b"] * 2,
            "population": [10.0, 5.0] * 2,
            "tv": [1.0, 2.0, 3.0, 4.0],
            "sales": [10.0, 20.0, 30.0, 40.0],
        }
    )
    truth = {
        "channels": {"tv": {"roas": 2.0}},
        "outcome": "sales",
        "geo_column": "geo",
        "population_column": "population",
        "geos": {
            "a": {"population": 10.0, "channels": {"tv": {"roas": 1.5}}},
            "b": {"population": 5.0, "channels": {"tv": {"roas": 3.0}}},
        },
    }
    synthetic = GeoSyntheticData(data=data, truth=truth)
    assert data_columns(synthetic) == (["tv"], "sales")
    national = national_frame(synthetic)
    assert national["tv"].tolist() == [3.0, 7.0] and national["sales"].tolist() == [30.0, 70.0]
    assert "population" not in national.columns
    table = geo_truth_table(truth)
    assert table.loc["b", "roas_tv"] == 3.0 and table.loc["a", "population"] == 10.0
