from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from shared_fit import small_fit

from mediamix.analysis import metrics as analysis
from mediamix.analysis.response import (
    ChannelTransform,
    MediaParameters,
    SteadyStateResponse,
    media_contributions,
)
from mediamix.analysis.summary import fit_summary
from mediamix.config.base import parse_config
from mediamix.config.generator import GeneratorConfig
from mediamix.data.generator import Generator, SyntheticData
from mediamix.errors import MediamixError
from mediamix.inference.fit import FitResult
from mediamix.model.transforms import geometric_adstock, hill_saturation

# one channel of each transform kind: geometric + logistic, geometric + hill, delayed + logistic
MIXED_MEDIA: dict[str, Any] = {
    "tv": {
        "min": 100,
        "max": 1000,
        "beta": 0.8,
        "decay": "geometric",
        "alpha": 0.5,
        "saturation": "logistic",
        "mu": 2.0,
    },
    "search": {
        "min": 50,
        "max": 500,
        "beta": 0.5,
        "decay": "geometric",
        "alpha": 0.2,
        "saturation": "hill",
        "k": 0.4,
        "s": 1.5,
    },
    "radio": {
        "min": 10,
        "max": 300,
        "beta": 0.3,
        "decay": "delayed",
        "alpha": 0.6,
        "theta": 2.0,
        "saturation": "logistic",
        "mu": 3.0,
        "l_max": 6,
    },
}

# stored deterministics are rounded to float32 precision (inference.fit.compact_draws)
_STORED_RTOL = 1e-6


def _mixed() -> tuple[Generator, SyntheticData]:
    cfg = parse_config(
        GeneratorConfig,
        {
            "start_date": "2020-01-06",
            "end_date": "2021-12-27",
            "seed": 3,
            "outcome": {"name": "sales", "intercept": 2.0, "sigma": 0.05, "scale": 1000.0},
            "media": MIXED_MEDIA,
        },
    )
    gen = Generator(cfg)
    return gen, gen.generate()


@pytest.fixture(scope="module")
def mixed() -> tuple[Generator, SyntheticData]:
    return _mixed()


@pytest.fixture(scope="module")
def fitted() -> tuple[SyntheticData, FitResult]:
    return small_fit()


# ---------------------------------------------------------------- response core (no sampling)


def test_interval_of_known_draws(rng: np.random.Generator) -> None:
    draws = rng.normal(10.0, 2.0, size=40_000)
    iv = analysis.interval(draws, 0.94)
    assert iv.mean == pytest.approx(10.0, abs=0.05)
    # for a normal the 94 % HDI is mean +- 1.881 sd
    assert iv.hdi_low == pytest.approx(10.0 - 1.881 * 2.0, abs=0.08)
    assert iv.hdi_high == pytest.approx(10.0 + 1.881 * 2.0, abs=0.08)
    assert iv.to_dict() == {"mean": iv.mean, "hdi_low": iv.hdi_low, "hdi_high": iv.hdi_high}


def test_truth_contributions_match_the_generator(
    mixed: tuple[Generator, SyntheticData],
) -> None:
    _, syn = mixed
    mp = MediaParameters.from_truth(syn.truth)
    assert mp.channels == ("tv", "search", "radio")
    values = media_contributions(mp, syn.data[list(mp.channels)].to_numpy())
    assert values.shape == (1, len(syn.data), 3)
    np.testing.assert_allclose(values[0], syn.truth.contributions.to_numpy(), rtol=1e-12)


def test_steady_state_equals_long_constant_spend(mixed: tuple[Generator, SyntheticData]) -> None:
    gen, syn = mixed
    response = SteadyStateResponse(MediaParameters.from_truth(syn.truth))
    scale = syn.truth.meta["scale"]
    for spend in ([400.0, 200.0, 100.0], [0.0, 1000.0, 5.0], [2500.0, 10.0, 700.0]):
        got = response.draws(spend)[0]
        for j, ch in enumerate(gen.channels):
            series = np.full(3 * ch.window, spend[j])
            expected = ch.effect(series, syn.truth.params[ch.name]["spend_max"])[-1] * scale
            assert got[j] == pytest.approx(expected, rel=1e-12, abs=1e-12), (ch.name, spend)
        assert response.total(spend)[0] == pytest.approx(got.sum())


def _random_params(
    rng: np.random.Generator, n_draws: int, normalize: bool = True
) -> MediaParameters:
    """Three channels (logistic, hill, logistic with delayed adstock), random draws."""
    values = {
        "adstock_alpha": rng.uniform(0.1, 0.7, (n_draws, 3)),
        "adstock_theta": np.where([False, False, True], rng.uniform(0, 2, (n_draws, 3)), np.nan),
        "saturation_lam": rng.gamma(3.0, 1.0, (n_draws, 3)),
        "saturation_k": rng.uniform(0.2, 0.8, (n_draws, 3)),
        "saturation_s": rng.uniform(0.8, 2.5, (n_draws, 3)),
        "beta": rng.uniform(0.1, 1.0, (n_draws, 3)),
    }
    transforms = (
        ChannelTransform("geometric", 8, normalize, "logistic"),
        ChannelTransform("geometric", 8, normalize, "hill"),
        ChannelTransform("delayed", 5, normalize, "logistic"),
    )
    spend_max = np.array([1000.0, 500.0, 300.0])
    return MediaParameters(("a", "b", "c"), transforms, values, spend_max, 1000.0)


@pytest.mark.parametrize("normalize", [True, False])
def test_steady_state_matches_time_series_for_every_draw(
    rng: np.random.Generator, normalize: bool
) -> None:
    mp = _random_params(rng, 25, normalize)
    spend = np.array([300.0, 120.0, 80.0])
    series = np.tile(spend, (20, 1))  # long enough for every window to fill
    expected = media_contributions(mp, series)[:, -1, :]
    np.testing.assert_allclose(SteadyStateResponse(mp).draws(spend), expected, rtol=1e-10)
    # independent spot check of one unnormalized draw with the numpy transforms
    if not normalize:
        carried = geometric_adstock(
            series[:, 1] / 500.0, mp.values["adstock_alpha"][0, 1], 8, False
        )
        k, s = mp.values["saturation_k"][0, 1], mp.values["saturation_s"][0, 1]
        direct = 1000.0 * mp.values["beta"][0, 1] * hill_saturation(carried, k, s)[-1]
        assert expected[0, 1] == pytest.approx(direct, rel=1e-12)


def test_media_contributions_rejects_bad_spend(rng: np.random.Generator) -> None:
    mp = _random_params(rng, 2)
    with pytest.raises(MediamixError, match=r"\(time, channel\) with 3 channels"):
        media_contributions(mp, np.ones((10, 2)))
    with pytest.raises(MediamixError, match=">= 0"):
        media_contributions(mp, -np.ones((10, 3)))
    with pytest.raises(MediamixError, match="one value per channel"):
        SteadyStateResponse(mp).draws([1.0, 2.0])


def test_chunking_over_draws_changes_nothing(
    rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    mp = _random_params(rng, 30)
    spend = rng.uniform(0, 500, (40, 3))
    whole = media_contributions(mp, spend)
    monkeypatch.setattr(
        "mediamix.analysis.response._CHUNK_ELEMENTS", 1000
    )  # forces chunks of 1 draw
    np.testing.assert_array_equal(media_contributions(mp, spend), whole)


# ---------------------------------------------------------------- on a real fit


def _flat(da: Any) -> np.ndarray:
    dims = ["chain", "draw", *[d for d in da.dims if d not in ("chain", "draw")]]
    values = da.transpose(*dims).to_numpy()
    return values.reshape(-1, *values.shape[2:])


@pytest.mark.slow
def test_contributions_for_observed_spend_reproduce_the_posterior(
    fitted: tuple[SyntheticData, FitResult],
) -> None:
    _, result = fitted
    posterior = _flat(result.posterior["channel_contribution"])
    got = analysis.contributions_for_spend(result, result.frame)
    assert got.dims == ("draw", "date", "channel")
    assert list(got["channel"].values) == result.channels
    assert (got["date"].values == result.frame["date"].to_numpy()).all()
    np.testing.assert_allclose(got.to_numpy(), posterior, rtol=_STORED_RTOL)
    # an array in channel order, and a thinned posterior, select the same draws
    spend = result.frame[result.channels].to_numpy()
    thin = analysis.contributions_for_spend(result, spend, draws=7)
    assert thin.sizes["draw"] == 7
    index = np.linspace(0, posterior.shape[0] - 1, 7).round().astype(int)
    np.testing.assert_allclose(thin.to_numpy(), posterior[index], rtol=_STORED_RTOL)


@pytest.mark.slow
def test_contributions_for_a_plan(fitted: tuple[SyntheticData, FitResult]) -> None:
    _, result = fitted
    plan = pd.DataFrame(
        {"date": pd.date_range("2023-01-03", periods=10, freq="7D")}
        | {ch: np.full(10, 1000.0) for ch in result.channels}
    )
    got = analysis.contributions_for_spend(result, plan, draws=20)
    assert got.shape == (20, 10, 3)
    assert (got["date"].values == plan["date"].to_numpy()).all()
    # carry-over builds up from zero, so contributions never fall under constant spend
    assert (np.diff(got.to_numpy(), axis=1) >= -1e-9).all()
    with pytest.raises(MediamixError, match="lacks channel columns"):
        analysis.contributions_for_spend(result, plan.drop(columns="adwords"))


@pytest.mark.slow
def test_contributions_over_time(fitted: tuple[SyntheticData, FitResult]) -> None:
    _, result = fitted
    table = analysis.contributions_over_time(result)
    n_dates = len(result.frame)
    assert len(table) == n_dates * 4
    assert list(table["component"].iloc[:4]) == ["baseline", *result.channels]
    tv = table[table["component"] == "linkedin"]["mean"].to_numpy()
    expected = _flat(result.posterior["channel_contribution"].sel(channel="linkedin")).mean(0)
    np.testing.assert_allclose(tv, expected, rtol=1e-12)
    assert (table["hdi_low"] <= table["mean"]).all()
    assert (table["mean"] <= table["hdi_high"]).all()


@pytest.mark.slow
def test_decomposition_shares(fitted: tuple[SyntheticData, FitResult]) -> None:
    _, result = fitted
    table = analysis.decomposition(result)
    assert list(table.index) == ["baseline", *result.channels]
    assert table["share"].sum() == pytest.approx(1.0, abs=1e-9)
    totals = _flat(result.posterior["channel_contribution"]).sum(axis=1).mean(axis=0)
    np.testing.assert_allclose(table.loc[result.channels, "contribution"], totals, rtol=1e-12)
    # the model reproduces the outcome closely, so the parts add up to about the observed total
    observed = result.frame["sales"].sum()
    assert table["contribution"].sum() == pytest.approx(observed, rel=0.01)
    later = analysis.decomposition(result, window=("2021-01-01", None))
    assert (later["contribution"] < table["contribution"]).all()
    summary = fit_summary(result)["channels"]  # the summary reports the same shares
    for ch in result.channels:
        assert summary[ch]["contribution_share"]["mean"] == pytest.approx(
            table.loc[ch, "share"], rel=1e-12
        )


@pytest.mark.slow
def test_roas_over_windows(fitted: tuple[SyntheticData, FitResult]) -> None:
    _, result = fitted
    table = analysis.roas(result)
    summary = fit_summary(result)["channels"]
    for ch in result.channels:
        assert table.loc[ch, "mean"] == pytest.approx(summary[ch]["roas"]["mean"], rel=1e-12)
        assert table.loc[ch, "hdi_low"] == pytest.approx(summary[ch]["roas"]["hdi_low"])
    np.testing.assert_allclose(
        table["spend"], result.frame[result.channels].sum().to_numpy(), rtol=1e-12
    )
    window = ("2022-01-01", "2022-06-30")
    mask = (result.frame["date"] >= "2022-01-01") & (result.frame["date"] <= "2022-06-30")
    contrib = _flat(result.posterior["channel_contribution"])[:, mask.to_numpy(), :].sum(axis=1)
    expected = contrib.mean(axis=0) / result.frame.loc[mask, result.channels].sum().to_numpy()
    np.testing.assert_allclose(analysis.roas(result, window)["mean"], expected, rtol=1e-12)
    assert analysis.roas_draws(result).sizes["channel"] == len(table)


def _true_marginal_roas(gen: Generator, syn: SyntheticData, step: float = 0.01) -> dict[str, float]:
    scale = syn.truth.meta["scale"]
    out = {}
    for ch in gen.channels:
        spend = syn.data[ch.name].to_numpy()
        spend_max = syn.truth.params[ch.name]["spend_max"]
        extra = ch.effect(spend * (1 + step), spend_max) - ch.effect(spend, spend_max)
        out[ch.name] = scale * extra.sum() / (step * spend.sum())
    return out


@pytest.mark.slow
def test_marginal_roas_recovers_the_truth(fitted: tuple[SyntheticData, FitResult]) -> None:
    syn, result = fitted
    gen = Generator.from_config_file("config/generator/basic_config.yaml")
    truth = _true_marginal_roas(gen, syn)
    table = analysis.marginal_roas(result)
    roas = analysis.roas(result)
    for ch in result.channels:
        assert table.loc[ch, "mean"] == pytest.approx(truth[ch], rel=0.15), ch
        # logistic saturation is concave: the next unit earns less than the average unit
        assert table.loc[ch, "mean"] < roas.loc[ch, "mean"]
    np.testing.assert_allclose(
        table["spend"], 0.01 * result.frame[result.channels].sum().to_numpy(), rtol=1e-12
    )
    with pytest.raises(MediamixError, match="step"):
        analysis.marginal_roas(result, step=0.0)


@pytest.mark.slow
def test_windows(fitted: tuple[SyntheticData, FitResult]) -> None:
    _, result = fitted
    mask = analysis.window_mask(result, ("2022-01-01", None))
    assert mask.sum() == (result.frame["date"] >= "2022-01-01").sum()
    later = analysis.current_spend(result, ("2022-01-01", None))
    expected = result.frame.loc[result.frame["date"] >= "2022-01-01", result.channels].mean()
    np.testing.assert_allclose(later, expected, rtol=1e-12)
    with pytest.raises(MediamixError, match="holds no date"):
        analysis.window_mask(result, ("2030-01-01", None))
    with pytest.raises(MediamixError, match="not dates"):
        analysis.window_mask(result, ("soon", None))
    with pytest.raises(MediamixError, match=r"\(start, end\)"):
        analysis.window_mask(result, "2022")  # type: ignore[arg-type]
