"""Geo frames: the per-geo checks (errors name geo, column and rows) and the geo generator."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from mediamix.config.base import ConfigError, parse_config
from mediamix.config.generator import GeneratorConfig
from mediamix.data.generator import Generator
from mediamix.data.geo import GeoDataWarning, validate_geo_frame
from mediamix.data.geo_generator import generate_geos
from mediamix.data.validation import DataValidationError

CHECKS = {"channels": ["tv", "search"], "outcome": "sales", "controls": ["price"], "min_rows": 4}


def _frame(n_dates: int = 8, geos: tuple[str, ...] = ("a", "b", "c")) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    dates = pd.date_range("2022-01-03", periods=n_dates, freq="7D")
    rows = [
        {
            "date": d.strftime("%Y-%m-%d"),
            "geo": g,
            "population": 1000.0 * (k + 1),
            "tv": float(rng.uniform(1, 10)),
            "search": float(rng.uniform(1, 10)),
            "price": float(rng.uniform(1, 2)),
            "sales": float(rng.uniform(50, 100)),
        }
        for d in dates
        for k, g in enumerate(geos)
    ]
    return pd.DataFrame(rows)


def _validate(frame: pd.DataFrame, population: str | None = "population") -> tuple:
    return validate_geo_frame(frame, geo_column="geo", population=population, **CHECKS)


def test_a_valid_frame_comes_back_sorted_with_geos_and_populations() -> None:
    frame = _frame().sample(frac=1.0, random_state=1)  # any row order
    out, geos, pop = _validate(frame)
    assert set(geos) == {"a", "b", "c"} and geos == list(dict.fromkeys(frame["geo"]))
    assert pop == {"a": 1000.0, "b": 2000.0, "c": 3000.0}
    assert list(out.columns[:3]) == ["date", "geo", "population"]
    assert out["date"].is_monotonic_increasing
    np.testing.assert_array_equal(out["geo"].to_numpy()[:3], geos)
    expected = frame.set_index(["date", "geo"])["sales"]
    got = out.assign(date=out["date"].dt.strftime("%Y-%m-%d")).set_index(["date", "geo"])["sales"]
    pd.testing.assert_series_equal(got.sort_index(), expected.sort_index())


def test_without_a_population_column_every_geo_counts_one() -> None:
    _, _, pop = _validate(_frame().drop(columns="population"), population=None)
    assert pop == {"a": 1.0, "b": 1.0, "c": 1.0}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.drop(columns="geo"), "no geo column 'geo'"),
        (lambda f: f.assign(geo=np.nan), "geo column 'geo' is empty"),
        (lambda f: f.assign(geo=np.where(f.index == 4, "", f["geo"])), "rows 4 have no geo name"),
        (lambda f: f.assign(geo="a"), "single geo \\('a'\\).*national model"),
        (lambda f: pd.concat([f, f.iloc[[5]]], ignore_index=True), "repeat a \\(date, geo\\)"),
        (lambda f: f.drop(index=[7]), "geo 'b' has no rows for 1 of the 8 dates"),
        (lambda f: f.drop(columns="population"), "no population column 'population'"),
        (
            lambda f: f.assign(population=np.where(f.index == 2, 0.0, f["population"])),
            "rows 2 are <= 0",
        ),
        (
            lambda f: f.assign(population=np.where(f["geo"] == "c", np.nan, f["population"])),
            "missing or not numbers \\(geos \\['c'\\]\\)",
        ),
        (
            lambda f: f.assign(population=f["population"] + np.where(f.index == 4, 1.0, 0.0)),
            "varies over time within geos \\['b'\\]",
        ),
        (
            lambda f: f.assign(tv=np.where(f.index == 10, -1.0, f["tv"])),
            "geo 'b': spend column 'tv': rows 10 are negative",
        ),
        (
            lambda f: f.assign(sales=np.where(f.index == 12, np.inf, f["sales"])),
            "geo 'a': outcome column 'sales': rows 12 are NaN",
        ),
        (lambda f: f.iloc[:9], "geo 'a': 3 rows is too few"),
        (lambda f: f.assign(tv=0.0), "'tv' is zero in every period of every geo"),
    ],
)
def test_bad_geo_frames_are_refused_naming_geo_column_and_rows(change, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DataValidationError, match=message):
        _validate(change(_frame()))


def test_a_geo_without_spend_on_a_channel_warns_and_still_validates() -> None:
    frame = _frame()
    frame.loc[frame["geo"] == "c", "search"] = 0.0
    with pytest.warns(GeoDataWarning, match="'c'/'search'"):
        out, _, _ = _validate(frame)
    assert (out.loc[out["geo"] == "c", "search"] == 0).all()


# ----------------------------------------------------------------- the generator


def _generator(geos: object, **extra: object) -> Generator:
    raw = {
        "start_date": "2021-01-04",
        "end_date": "2021-12-27",
        "seed": 3,
        "geos": geos,
        "outcome": {"name": "sales", "intercept": 2.0, "sigma": 0.05, "scale": 1e6},
        "media": {
            "tv": {"min": 1000, "max": 9000, "beta": 1.0, "decay": True, "alpha": 0.5, "mu": 2.0},
            "search": {"min": 500, "max": 3000, "beta": 0.5, "mu": 3.0},
        },
        "controls": {"price": {"min": 1.0, "max": 2.0, "coef": -0.2}},
        **extra,
    }
    return Generator(parse_config(GeneratorConfig, raw))


def test_generated_geo_data_is_long_sorted_and_its_truth_adds_up(tmp_path) -> None:  # type: ignore[no-untyped-def]
    gen = _generator({"count": 6, "population": {"min": 10_000, "max": 1_000_000}})
    result = generate_geos(gen)
    data, truth = result.data, result.truth
    assert list(data.columns) == ["date", "geo", "population", "tv", "search", "price", "sales"]
    assert len(data) == 52 * 6 and data["date"].is_monotonic_increasing
    pops = data.groupby("geo")["population"].agg(["min", "max"])
    assert (pops["min"] == pops["max"]).all()
    assert pops["max"].max() / pops["min"].min() >= 50
    for ch in ("tv", "search"):
        geo_contrib = sum(g["channels"][ch]["contribution_total"] for g in truth["geos"].values())
        nat = truth["channels"][ch]
        assert nat["contribution_total"] == pytest.approx(geo_contrib, rel=1e-12)
        assert nat["spend_total"] == pytest.approx(data[ch].sum(), rel=1e-12)
        assert nat["roas"] == pytest.approx(geo_contrib / data[ch].sum(), rel=1e-12)
        for geo, g in truth["geos"].items():
            spend = data.loc[data["geo"] == geo, ch].sum()
            assert g["channels"][ch]["roas"] == pytest.approx(
                g["channels"][ch]["contribution_total"] / spend, rel=1e-12
            )
        betas = [g["channels"][ch]["beta"] for g in truth["geos"].values()]
        assert len(set(betas)) == 6  # drawn per geo around the national beta
    # the outcome is the baseline plus the contributions plus noise, per geo
    for geo, g in truth["geos"].items():
        total = data.loc[data["geo"] == geo, "sales"].sum()
        explained = g["baseline_total"] + sum(
            c["contribution_total"] for c in g["channels"].values()
        )
        assert total == pytest.approx(explained, rel=0.02)
    path = tmp_path / "truth.json"
    result.write_json(path)
    assert json.loads(path.read_text())["geos"]["geo_01"]["population"] == 1_000_000.0
    again = generate_geos(gen)
    pd.testing.assert_frame_equal(again.data, data)


def test_named_geos_and_bad_geo_configs() -> None:
    named = [{"name": "paris", "population": 2e6}, {"name": "lyon", "population": 5e5}]
    data = generate_geos(_generator(named)).data
    assert data["geo"].iloc[:2].tolist() == ["paris", "lyon"]
    with pytest.raises(ConfigError, match="geos"):
        _generator({"count": 3})
    with pytest.raises(ConfigError, match="distinct"):
        _generator([{"name": "x", "population": 1.0}, {"name": "x", "population": 2.0}])
    with pytest.raises(ConfigError, match="groups and geos"):
        _generator(named, groups=2)
    with pytest.raises(ConfigError, match="no `geos:`"):
        generate_geos(_generator(None))


def test_the_shipped_geo_config_is_40_geos_by_156_weeks_by_5_channels() -> None:
    gen = Generator.from_config_file("config/generator/geo_config.yaml")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data = generate_geos(gen).data
    assert data["geo"].nunique() == 40 and data["date"].nunique() == 156
    assert [c for c in data.columns if c in gen.config.media] == list(gen.config.media)
    assert len(gen.config.media) == 5
