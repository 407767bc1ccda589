"""Synthetic data generator: the ground truth adds up, and the same seed gives the same data."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from mediamix.config.base import ConfigError, parse_config
from mediamix.config.generator import GeneratorConfig
from mediamix.data.generator import Channel, Generator, SyntheticData
from mediamix.model import transforms

RTOL = 1e-9


def config_dict(
    frequency: str = "weekly",
    saturation: str = "logistic",
    *,
    seed: int | None = 11,
    sigma: float = 0.05,
    scale: float = 1000.0,
) -> dict[str, Any]:
    """Three channels (one per adstock kind), two controls, trend and seasonality."""
    sat: dict[str, Any] = (
        {"saturation": "logistic", "mu": 2.5}
        if saturation == "logistic"
        else {"saturation": "hill", "k": 0.4, "s": 1.8}
    )
    return {
        "start_date": "2020-01-06",
        "end_date": "2021-12-27" if frequency == "weekly" else "2020-12-31",
        "frequency": frequency,
        "l_max": 8,
        "seed": seed,
        "outcome": {"name": "revenue", "intercept": 2.0, "sigma": sigma, "scale": scale},
        "trend": {"slope": 0.3},
        "seasonality": {"amplitude": 0.25, "peak": 0.4},
        "media": {
            "search": {
                "signal": {"base": "walk", "sigma": 1.0},
                "min": 100.0,
                "max": 900.0,
                "beta": 1.2,
                "decay": "geometric",
                "alpha": 0.4,
                **sat,
            },
            "tv": {
                "signal": {"base": "walk", "sigma": 2.0},
                "min": 0.0,
                "max": 5000.0,
                "beta": 0.8,
                "decay": "delayed",
                "alpha": 0.6,
                "theta": 2.0,
                "l_max": 6,
                **sat,
            },
            "social": {
                "signal": {"base": "noise", "sigma": 1.0},
                "min": 50.0,
                "max": 300.0,
                "beta": 0.3,
                **sat,
            },
        },
        "controls": {
            "price": {"min": 9.0, "max": 11.0, "coef": -0.05},
            "promo": {
                "signal": {"base": "walk", "sigma": 1.0},
                "min": 0.0,
                "max": 1.0,
                "coef": 0.2,
            },
        },
    }


def make(data: dict[str, Any]) -> Generator:
    return Generator(parse_config(GeneratorConfig, data))


def generate(data: dict[str, Any], seed: int | None = None) -> SyntheticData:
    return make(data).generate(seed=seed)


VARIANTS = [
    pytest.param(freq, sat, id=f"{freq}-{sat}")
    for freq in ("daily", "weekly")
    for sat in ("logistic", "hill")
]


@pytest.fixture(scope="module")
def weekly() -> SyntheticData:
    return generate(config_dict())


# --------------------------------------------------------------------------------------
# The ground truth adds up
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("frequency", "saturation"), VARIANTS)
def test_outcome_minus_noise_is_baseline_plus_contributions(
    frequency: str, saturation: str
) -> None:
    result = generate(config_dict(frequency, saturation))
    data, truth = result.data, result.truth
    outcome = data["revenue"].to_numpy()
    noise = truth.components["noise"].to_numpy()
    explained = truth.baseline.to_numpy() + truth.contributions.sum(axis=1).to_numpy()
    assert_allclose(outcome - noise, explained, rtol=RTOL, atol=0)
    assert np.all(np.abs(noise) > 0)  # the noise is really there and really separated


@pytest.mark.parametrize(("frequency", "saturation"), VARIANTS)
def test_components_sum_to_baseline(frequency: str, saturation: str) -> None:
    truth = generate(config_dict(frequency, saturation)).truth
    parts = truth.components.drop(columns="noise")
    assert list(parts.columns) == ["intercept", "trend", "seasonality", "price", "promo"]
    assert_allclose(parts.sum(axis=1), truth.baseline, rtol=RTOL, atol=0)


def test_without_noise_outcome_is_exactly_explained() -> None:
    result = generate(config_dict(sigma=0.0))
    explained = result.truth.baseline + result.truth.contributions.sum(axis=1)
    assert_allclose(result.data["revenue"], explained, rtol=1e-12, atol=0)
    assert_array_equal(result.truth.components["noise"], 0.0)


@pytest.mark.parametrize(("frequency", "saturation"), VARIANTS)
def test_contributions_follow_the_documented_formula(frequency: str, saturation: str) -> None:
    # effect = scale * beta * saturation(adstock(spend / max spend)), composed here by hand
    cfg = config_dict(frequency, saturation)
    result = generate(cfg)
    scale = cfg["outcome"]["scale"]
    for name, ch in cfg["media"].items():
        spend = result.data[name].to_numpy()
        x = spend / spend.max()
        if ch.get("decay") == "geometric":
            x = transforms.geometric_adstock(x, ch["alpha"], l_max=cfg["l_max"])
        elif ch.get("decay") == "delayed":
            x = transforms.delayed_adstock(x, ch["alpha"], ch["theta"], l_max=ch["l_max"])
        if saturation == "logistic":
            x = transforms.logistic_saturation(x, ch["mu"])
        else:
            x = transforms.hill_saturation(x, ch["k"], ch["s"])
        expected = scale * ch["beta"] * x
        assert_allclose(result.truth.contributions[name], expected, rtol=RTOL, atol=0)


def test_baseline_components_follow_the_documented_formulas(weekly: SyntheticData) -> None:
    cfg = config_dict()
    scale = cfg["outcome"]["scale"]
    comp = weekly.truth.components
    dates = pd.DatetimeIndex(weekly.data["date"])
    days = np.array([(d - dates[0]).days for d in dates], dtype=float)
    year_frac = np.array([(d.day_of_year - 1) / 365.25 for d in dates])
    assert_allclose(comp["intercept"], scale * 2.0, rtol=RTOL)
    assert_allclose(comp["trend"], scale * 0.3 * days / 365.25, rtol=RTOL, atol=1e-9)
    expected_season = scale * 0.25 * np.cos(2 * np.pi * (year_frac - 0.4))
    assert_allclose(comp["seasonality"], expected_season, rtol=RTOL, atol=1e-9)
    assert_allclose(comp["price"], scale * -0.05 * weekly.data["price"], rtol=RTOL)
    assert_allclose(comp["promo"], scale * 0.2 * weekly.data["promo"], rtol=RTOL)


def test_noise_has_the_configured_sigma() -> None:
    result = generate(config_dict("daily", sigma=0.1, scale=50.0))
    noise = result.truth.components["noise"] / 50.0
    assert noise.std() == pytest.approx(0.1, rel=0.1)
    assert abs(noise.mean()) < 0.1 * 4 / np.sqrt(len(noise))


def test_roas_is_contribution_over_spend(weekly: SyntheticData) -> None:
    truth = weekly.truth
    for name in ("search", "tv", "social"):
        spend_total = weekly.data[name].sum()
        contribution_total = truth.contributions[name].sum()
        assert truth.spend_total[name] == pytest.approx(spend_total, rel=1e-12)
        assert truth.roas[name] == pytest.approx(contribution_total / spend_total, rel=1e-12)
        assert truth.roas[name] > 0


def test_params_record_the_true_values(weekly: SyntheticData) -> None:
    params = weekly.truth.params
    assert params["search"] == {
        "adstock": "geometric",
        "l_max": 8,
        "saturation": "logistic",
        "beta": 1.2,
        "adstock_alpha": 0.4,
        "saturation_lam": 2.5,
        "spend_max": float(weekly.data["search"].max()),
    }
    assert params["tv"]["adstock"] == "delayed"
    assert params["tv"]["l_max"] == 6  # the channel's own window wins over the default
    assert params["tv"]["adstock_theta"] == 2.0
    assert params["social"]["adstock"] == "none"
    assert "adstock_alpha" not in params["social"]
    hill = generate(config_dict(saturation="hill")).truth.params["search"]
    assert (hill["saturation"], hill["saturation_k"], hill["saturation_s"]) == ("hill", 0.4, 1.8)
    assert "saturation_lam" not in hill


# --------------------------------------------------------------------------------------
# The data table
# --------------------------------------------------------------------------------------


def test_columns_and_dtypes(weekly: SyntheticData) -> None:
    data = weekly.data
    assert list(data.columns) == ["date", "search", "tv", "social", "price", "promo", "revenue"]
    assert pd.api.types.is_datetime64_any_dtype(data["date"])
    assert all(pd.api.types.is_float_dtype(data[c]) for c in data.columns[1:])
    assert isinstance(data.index, pd.RangeIndex)
    assert not data.isna().any().any()


@pytest.mark.parametrize(("frequency", "step"), [("weekly", 7), ("daily", 1)])
def test_date_grid(frequency: str, step: int) -> None:
    cfg = config_dict(frequency)
    dates = pd.DatetimeIndex(generate(cfg).data["date"])
    start, end = pd.Timestamp(cfg["start_date"]), pd.Timestamp(cfg["end_date"])
    assert dates[0] == start
    assert dates[-1] <= end < dates[-1] + pd.Timedelta(days=step)
    assert (np.diff(dates.to_numpy()) == np.timedelta64(step, "D")).all()
    expected_n = (end - start).days // step + 1
    assert len(dates) == expected_n
    assert make(cfg).dates().equals(dates.rename("date"))


def test_truth_series_are_indexed_by_date(weekly: SyntheticData) -> None:
    dates = pd.DatetimeIndex(weekly.data["date"])
    assert weekly.truth.contributions.index.equals(dates)
    assert weekly.truth.baseline.index.equals(dates)
    assert list(weekly.truth.contributions.columns) == ["search", "tv", "social"]


def test_spend_within_range_and_in_cents(weekly: SyntheticData) -> None:
    for name, ch in config_dict()["media"].items():
        spend = weekly.data[name]
        assert spend.min() >= ch["min"]
        assert spend.max() <= ch["max"]
        assert_allclose(spend * 100, np.round(spend * 100), atol=1e-6)
        # rescaled: the range is used end to end (up to rounding to cents)
        assert spend.min() == pytest.approx(ch["min"], abs=0.01)
        assert spend.max() == pytest.approx(ch["max"], abs=0.01)


def test_spend_within_range_whose_ends_are_not_whole_cents() -> None:
    cfg = config_dict()
    cfg["media"]["search"].update(min=1.005, max=2.0049)
    for seed in range(5):
        spend = generate(cfg, seed=seed).data["search"]
        assert spend.min() >= 1.005
        assert spend.max() <= 2.0049


def test_controls_within_range(weekly: SyntheticData) -> None:
    for name, c in config_dict()["controls"].items():
        assert weekly.data[name].min() == pytest.approx(c["min"], abs=1e-12)
        assert weekly.data[name].max() == pytest.approx(c["max"], abs=1e-12)


def test_walk_is_smoother_than_noise(weekly: SyntheticData) -> None:
    def roughness(s: pd.Series) -> float:
        u = (s - s.min()) / (s.max() - s.min())
        return float(np.abs(np.diff(u)).mean())

    assert roughness(weekly.data["search"]) < roughness(weekly.data["social"])


# --------------------------------------------------------------------------------------
# Seeds and random streams
# --------------------------------------------------------------------------------------


def test_same_seed_same_data_bit_for_bit() -> None:
    cfg = config_dict("daily", "hill")
    first, second = generate(cfg, seed=5), make(cfg).generate(seed=5)
    pd.testing.assert_frame_equal(first.data, second.data, check_exact=True)
    pd.testing.assert_frame_equal(
        first.truth.contributions, second.truth.contributions, check_exact=True
    )
    pd.testing.assert_frame_equal(first.truth.components, second.truth.components, check_exact=True)
    assert first.truth.to_dict() == second.truth.to_dict()


def test_different_seed_different_data() -> None:
    cfg = config_dict()
    a, b = generate(cfg, seed=1).data, generate(cfg, seed=2).data
    for col in ("search", "tv", "social", "price", "promo", "revenue"):
        assert not np.array_equal(a[col], b[col]), col


def test_seed_argument_overrides_config_seed() -> None:
    cfg = config_dict(seed=3)
    from_config = generate(cfg)
    assert from_config.truth.seed == 3
    pd.testing.assert_frame_equal(from_config.data, generate(cfg, seed=3).data, check_exact=True)
    overridden = generate(cfg, seed=4)
    assert overridden.truth.seed == 4
    assert not overridden.data.equals(from_config.data)


def test_without_any_seed_a_seed_is_drawn_and_recorded() -> None:
    cfg = config_dict(seed=None)
    first = generate(cfg)
    assert isinstance(first.truth.seed, int)
    replay = generate(cfg, seed=first.truth.seed)
    pd.testing.assert_frame_equal(first.data, replay.data, check_exact=True)


@pytest.mark.parametrize("seed", [-1, 2.5, "7", True])
def test_bad_seed_is_a_config_error(seed: Any) -> None:
    with pytest.raises(ConfigError, match="seed must be a non-negative integer"):
        make(config_dict()).generate(seed=seed)


def test_numpy_integer_seed_is_accepted() -> None:
    cfg = config_dict()
    a, b = generate(cfg, seed=np.int64(9)).data, generate(cfg, seed=9).data
    pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_adding_a_channel_leaves_other_series_unchanged() -> None:
    base = config_dict()
    more = copy.deepcopy(base)
    # a new channel first, so a positional scheme would shift every other series
    more["media"] = {"radio": dict(base["media"]["social"]), **base["media"]}
    more["controls"]["weather"] = {"min": 0.0, "max": 30.0, "coef": 0.01}
    a, b = generate(base, seed=21).data, generate(more, seed=21).data
    for col in ("search", "tv", "social", "price", "promo"):
        assert_array_equal(a[col], b[col], err_msg=col)
    noise_a = generate(base, seed=21).truth.components["noise"]
    noise_b = generate(more, seed=21).truth.components["noise"]
    assert_array_equal(noise_a, noise_b)


def test_removing_a_channel_leaves_other_series_unchanged() -> None:
    base = config_dict()
    fewer = copy.deepcopy(base)
    del fewer["media"]["search"]
    a, b = generate(base, seed=8).data, generate(fewer, seed=8).data
    for col in ("tv", "social", "price", "promo"):
        assert_array_equal(a[col], b[col], err_msg=col)


def test_channels_with_the_same_settings_get_different_spend() -> None:
    cfg = config_dict()
    cfg["media"]["search_copy"] = dict(cfg["media"]["search"])
    data = generate(cfg).data
    assert not np.array_equal(data["search"], data["search_copy"])


# --------------------------------------------------------------------------------------
# Ground-truth JSON and the shipped config
# --------------------------------------------------------------------------------------


def test_truth_json_schema(weekly: SyntheticData, tmp_path: Path) -> None:
    path = tmp_path / "sub" / "truth.json"
    weekly.truth.write_json(path)
    doc = json.loads(path.read_text())
    assert doc["baseline_total"] == pytest.approx(weekly.truth.baseline.sum(), rel=1e-12)
    assert set(doc["channels"]) == {"search", "tv", "social"}
    for name, ch in doc["channels"].items():
        assert set(ch) == {"roas", "contribution_total", "spend_total", "params"}
        assert ch["contribution_total"] == pytest.approx(
            weekly.truth.contributions[name].sum(), rel=1e-12
        )
        assert ch["spend_total"] == pytest.approx(weekly.data[name].sum(), rel=1e-12)
        assert ch["roas"] == pytest.approx(ch["contribution_total"] / ch["spend_total"], rel=1e-12)
        assert ch["params"]["beta"] == config_dict()["media"][name]["beta"]
    assert doc["seed"] == 11
    assert doc["outcome"] == "revenue"
    assert doc["n_periods"] == len(weekly.data)


def test_outcome_is_additive_in_truth_json(weekly: SyntheticData) -> None:
    doc = weekly.truth.to_dict()
    explained = doc["baseline_total"] + sum(
        c["contribution_total"] for c in doc["channels"].values()
    )
    noise_total = weekly.truth.components["noise"].sum()
    assert weekly.data["revenue"].sum() - noise_total == pytest.approx(explained, rel=RTOL)


def test_shipped_config_generates(basic_config_path: Path) -> None:
    result = Generator.from_config_file(basic_config_path).generate()
    assert list(result.data.columns) == ["date", "adwords", "facebook", "linkedin", "sales"]
    assert len(result.data) == 209  # weekly, 2019-01-01 through 2022-12-31
    assert result.truth.seed == 42
    explained = result.truth.baseline + result.truth.contributions.sum(axis=1)
    noise = result.truth.components["noise"].to_numpy()
    assert_allclose(result.data["sales"].to_numpy() - noise, explained, rtol=RTOL, atol=0)


def test_channel_effect_with_fixed_scale_is_monotone_in_spend() -> None:
    cfg = parse_config(GeneratorConfig, config_dict())
    channel = Channel("search", cfg.media["search"], l_max=cfg.l_max)
    spend = np.linspace(100.0, 900.0, 30)
    base = channel.effect(spend)
    more = channel.effect(spend * 1.01, spend_max=spend.max())
    assert np.all(more > base)
    assert_allclose(channel.effect(spend, spend_max=spend.max()), base, rtol=1e-15)
    assert channel.window == 8
