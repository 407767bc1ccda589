"""Geo lift tests simulated from the geo generator's truth, checked against its own effects."""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mediamix.analysis.experiments import ExperimentError, simulate_lift
from mediamix.analysis.geo_experiments import simulate_geo_lift
from mediamix.config.base import parse_config
from mediamix.config.generator import GeneratorConfig
from mediamix.data.generator import Channel, Generator
from mediamix.data.geo_generator import GeoSyntheticData, generate_geos

L_MAX = 6
ADSTOCK = {"decay": "geometric"}
GENERATOR: dict[str, Any] = {
    "start_date": "2021-01-04",
    "end_date": "2022-12-26",
    "l_max": L_MAX,
    "seed": 3,
    "geos": {"count": 5, "population": {"min": 50000, "max": 500000}},
    "outcome": {"name": "sales", "intercept": 2.0, "sigma": 0.05, "scale": 100000.0},
    "media": {
        "tv": {"min": 1000, "max": 20000, "beta": 0.8, "alpha": 0.5, "mu": 2.0, **ADSTOCK},
        "radio": {"min": 500, "max": 8000, "beta": 0.3, "alpha": 0.2, "mu": 3.0, **ADSTOCK},
    },
}


@cache
def _data() -> GeoSyntheticData:
    return generate_geos(Generator(parse_config(GeneratorConfig, GENERATOR)))


def _effect(truth: dict[str, Any], geo: str, channel: str, spend: np.ndarray) -> np.ndarray:
    """The generator's own channel effect, in outcome units, for one geo's spend series."""
    config = parse_config(GeneratorConfig, GENERATOR)
    ch = Channel(channel, config.media[channel], l_max=L_MAX)
    pop = truth["geos"][geo]["population"]
    total = sum(g["population"] for g in truth["geos"].values())
    m = truth["channels"][channel]["params"]["spend_max"]  # per capita
    relative = truth["geos"][geo]["channels"][channel]["beta"] / config.media[channel].beta
    return GENERATOR["outcome"]["scale"] * pop / total * relative * ch.effect(spend / pop, m)


def _series(frame: pd.DataFrame, geo: str, column: str) -> np.ndarray:
    return frame.loc[frame["geo"] == geo, column].to_numpy(np.float64)


def test_true_geo_lift_matches_the_generator_effect() -> None:
    data = _data()
    truth, frame = data.truth, data.data
    for geo, section in truth["geos"].items():  # the effect read from the truth is its own
        f = _effect(truth, geo, "tv", _series(frame, geo, "tv"))
        assert f.sum() == pytest.approx(section["channels"]["tv"]["contribution_total"], rel=1e-9)
    sim = simulate_geo_lift(
        truth, frame, "tv", "2022-03-07", 6, -0.4, geos=["geo_04", "geo_02"], seed=5
    )
    row, after = sim.row, sim.data
    assert row["geo"] == "geo_02;geo_04"  # in data order
    dates = pd.DatetimeIndex(frame.loc[frame["geo"] == "geo_01", "date"])
    window = (dates >= "2022-03-07") & (dates <= "2022-04-11")
    assert window.sum() == 6 and row["end_date"] == "2022-04-11"
    true_lift, delta = 0.0, 0.0
    for geo in ["geo_02", "geo_04"]:
        before_tv, after_tv = _series(frame, geo, "tv"), _series(after, geo, "tv")
        delta_g = -0.4 * before_tv[window].sum()
        np.testing.assert_allclose(after_tv - before_tv, window * delta_g / 6, atol=1e-9)
        change = _effect(truth, geo, "tv", after_tv) - _effect(truth, geo, "tv", before_tv)
        sales = _series(after, geo, "sales") - _series(frame, geo, "sales")
        np.testing.assert_allclose(sales, change, atol=1e-6)
        true_lift += change[window].sum()
        delta += delta_g
    assert sim.true_lift == pytest.approx(true_lift, rel=1e-9) and true_lift < 0
    assert row["spend_delta"] == pytest.approx(delta)
    assert row["lift_se"] == pytest.approx(0.1 * abs(true_lift))
    assert (
        row["lift"] != pytest.approx(true_lift)
        and abs(row["lift"] - true_lift) < 5 * row["lift_se"]
    )
    for geo in ["geo_01", "geo_03", "geo_05"]:  # control geos: unchanged
        for column in ("tv", "radio", "sales"):
            np.testing.assert_array_equal(_series(after, geo, column), _series(frame, geo, column))
    # the truth of the changed data: national and per-geo totals of the channel
    old, new = truth["channels"]["tv"], sim.truth["channels"]["tv"]
    assert new["spend_total"] == pytest.approx(old["spend_total"] + delta)
    shift = after["sales"].sum() - frame["sales"].sum()
    assert new["contribution_total"] == pytest.approx(old["contribution_total"] + shift)
    assert new["roas"] == pytest.approx(new["contribution_total"] / new["spend_total"])
    geo_new = sim.truth["geos"]["geo_02"]["channels"]["tv"]
    assert geo_new["spend_total"] == pytest.approx(_series(after, "geo_02", "tv").sum())
    assert sim.truth["geos"]["geo_01"] == truth["geos"]["geo_01"]
    assert truth["channels"]["tv"] == old  # the input truth is not changed


def test_test_geos_are_drawn_reproducibly() -> None:
    data = _data()
    args = (data.truth, data.data, "radio", "2022-03-07", 4, 0.5)
    first = simulate_geo_lift(*args, test_geos=2, seed=11)
    again = simulate_geo_lift(*args, test_geos=2, seed=11)
    assert first.row == again.row and len(first.row["geo"].split(";")) == 2
    others = {simulate_geo_lift(*args, test_geos=2, seed=s).row["geo"] for s in range(6)}
    assert len(others) > 1


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"geos": ["geo_09"]}, "test geo 'geo_09' is not a geo of the data"),
        ({"geos": ["geo_01"], "test_geos": 2}, "name the test geos (--geos G1,G2) or how many"),
        ({}, "name the test geos"),
        ({"test_geos": 6}, "--test-geos must be 1 to 5"),
        ({"geos": ["geo_01"], "channel": "print"}, "channel 'print' is not in the truth"),
        ({"geos": ["geo_01"], "start": "2022-03-08"}, "start 2022-03-08 is not a date"),
        # doubling spend is fine; cutting by 150 % is not
        ({"geos": ["geo_01"], "change": -1.5}, "spend change must be >= -100 %"),
        ({"geos": ["geo_02"], "change": -0.9}, "geo 'geo_02': a -90% change spread evenly"),
    ],
)
def test_bad_requests_are_refused(options: dict[str, Any], message: str) -> None:
    data = _data()
    channel = options.pop("channel", "tv")
    start, change = options.pop("start", "2022-03-07"), options.pop("change", -0.5)
    with pytest.raises(ExperimentError) as err:
        simulate_geo_lift(data.truth, data.data, channel, start, 4, change, **options)
    assert message in str(err.value)


def test_national_simulation_refuses_geo_data() -> None:
    data = _data()
    with pytest.raises(ExperimentError, match="grouped or geo data"):
        simulate_lift(data.truth, data.data, "tv", "2022-03-07", 4, -0.5)
