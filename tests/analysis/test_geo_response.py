"""Geo response and allocation on synthetic posterior draws, against formulas written out here."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mediamix.analysis.constraints import BudgetError, resolve_bounds
from mediamix.analysis.geo_response import (
    GeoParameters,
    GeoSteadyStateResponse,
    geo_media_contributions,
    geo_shares,
)
from mediamix.analysis.optimize import allocate
from mediamix.analysis.response import PARAMETER_NAMES, ChannelTransform, MediaParameters

CHANNELS = ("tv", "search")
GEOS = ("north", "south", "east")
L_MAX = 4


def synthetic(draws: int = 6, seed: int = 0) -> GeoParameters:
    """Posterior-like draws: geometric adstock, logistic saturation, beta per geo and channel."""
    rng = np.random.default_rng(seed)
    n_c, n_g = len(CHANNELS), len(GEOS)
    values = {p: np.full((draws, n_c), np.nan) for p in PARAMETER_NAMES}
    values["adstock_alpha"] = rng.uniform(0.2, 0.7, (draws, n_c))
    values["saturation_lam"] = rng.uniform(0.5, 3.0, (draws, n_c))
    values["beta"] = rng.uniform(0.1, 0.5, (draws, n_c))
    transform = ChannelTransform("geometric", L_MAX, True, "logistic")
    media = MediaParameters(
        channels=CHANNELS,
        transforms=(transform,) * n_c,
        values=values,
        spend_max=np.array([0.8, 0.3]),  # per capita
        y_scale=2.5,
    )
    beta = rng.lognormal(np.log(0.3), 0.4, (draws, n_g, n_c))
    population = np.array([1000.0, 250.0, 20.0])
    share = geo_shares(np.array([[500.0, 80.0], [300.0, 20.0], [200.0, 0.0]]), population)
    return GeoParameters(media, GEOS, beta, population, share)


def expected_contributions(gp: GeoParameters, spend: np.ndarray) -> np.ndarray:
    """The model's formula with explicit loops: adstock, logistic, beta, per capita."""
    mp = gp.media
    draws, (time, n_g, n_c) = gp.beta.shape[0], spend.shape
    out = np.zeros((draws, time, n_g, n_c))
    for d in range(draws):
        for g in range(n_g):
            for c in range(n_c):
                alpha = mp.values["adstock_alpha"][d, c]
                weights = alpha ** np.arange(L_MAX)
                weights /= weights.sum()
                x = spend[:, g, c] / gp.population[g] / mp.spend_max[c]
                ad = np.zeros(time)
                for t in range(time):
                    ad[t] = sum(weights[k] * x[t - k] for k in range(L_MAX) if t - k >= 0)
                lam = mp.values["saturation_lam"][d, c]
                sat = (1 - np.exp(-lam * ad)) / (1 + np.exp(-lam * ad))
                out[d, :, g, c] = mp.y_scale * gp.population[g] * gp.beta[d, g, c] * sat
    return out


def steady(gp: GeoParameters, spend_gc: np.ndarray) -> np.ndarray:
    """Steady-state response per draw, geo and channel (normalized adstock: multiplier 1)."""
    mp = gp.media
    x = spend_gc[None] / gp.population[None, :, None] / mp.spend_max[None, None, :]
    lam = mp.values["saturation_lam"][:, None, :]
    sat = (1 - np.exp(-lam * x)) / (1 + np.exp(-lam * x))
    return mp.y_scale * gp.population[None, :, None] * gp.beta * sat


def test_shares_split_each_channel_and_fall_back_to_population() -> None:
    gp = synthetic()
    np.testing.assert_allclose(gp.share.sum(axis=0), [1.0, 1.0])
    np.testing.assert_allclose(gp.share[:, 0], [0.5, 0.3, 0.2])
    zero = geo_shares(np.zeros((3, 1)), gp.population)
    np.testing.assert_allclose(zero[:, 0], gp.population / gp.population.sum())


def test_geo_contributions_follow_the_formula() -> None:
    gp = synthetic()
    rng = np.random.default_rng(3)
    spend = rng.uniform(0, 400, (7, len(GEOS), len(CHANNELS)))
    got = geo_media_contributions(gp, spend)
    np.testing.assert_allclose(got, expected_contributions(gp, spend), rtol=1e-10)


def test_national_steady_state_sums_geos_at_their_shares() -> None:
    gp = synthetic()
    response = GeoSteadyStateResponse(gp)
    assert response.channels == CHANNELS
    spend = np.array([600.0, 90.0])
    want = steady(gp, gp.share * spend[None, :]).sum(axis=1)  # (draw, channel)
    np.testing.assert_allclose(response.draws(spend), want, rtol=1e-10)


def test_by_geo_steady_state_is_per_geo_and_channel() -> None:
    gp = synthetic()
    response = GeoSteadyStateResponse(gp, by_geo=True)
    assert response.channels[:3] == ("north/tv", "north/search", "south/tv")
    spend = np.array([300.0, 40.0, 150.0, 10.0, 5.0, 1.0])
    want = steady(gp, spend.reshape(3, 2)).reshape(gp.beta.shape[0], -1)
    np.testing.assert_allclose(response.draws(spend), want, rtol=1e-10)
    value, grad = response.objective("mean")(spend)
    assert value == pytest.approx(want.sum(axis=1).mean())
    # exact gradient against a central difference
    h = 1e-4
    for j in range(6):
        step = np.zeros(6)
        step[j] = h
        up = response.objective("mean")(spend + step)[0]
        down = response.objective("mean")(spend - step)[0]
        assert grad[j] == pytest.approx((up - down) / (2 * h), rel=1e-5)


def test_by_geo_allocation_beats_every_grid_split_of_two_geos() -> None:
    gp = synthetic(draws=4, seed=5)
    response = GeoSteadyStateResponse(gp, by_geo=True)
    names = list(response.channels)
    current = pd.Series(np.full(6, 50.0), index=names)
    # fix everything but north/tv and south/tv, then brute force their split
    bounds = {n: ("50", "50") for n in names if n not in ("north/tv", "south/tv")}
    budget = 500.0
    lower, upper = resolve_bounds(bounds, names, current.to_numpy(), budget)
    x = allocate(response, budget, lower, upper)
    assert x.sum() == pytest.approx(budget)
    best = -np.inf
    for a in np.linspace(0, 300, 301):
        trial = np.full(6, 50.0)
        trial[0], trial[2] = a, 300 - a
        best = max(best, response.total(trial).mean())
    assert response.total(x).mean() >= best - 1e-6 * abs(best)


def test_channel_bounds_apply_to_every_geo_and_geo_bounds_override() -> None:
    names = [f"{g}/{c}" for g in GEOS for c in CHANNELS]
    current = np.full(6, 100.0)
    bounds = {"tv": ("-10%", "+10%"), "east/tv": ("0", "20"), "*": (None, "150")}
    lower, upper = resolve_bounds(bounds, names, current, 600.0)
    assert lower.tolist() == [90.0, 0.0, 90.0, 0.0, 0.0, 0.0]
    assert upper.tolist() == pytest.approx([110.0, 150.0, 110.0, 150.0, 20.0, 150.0])
    with pytest.raises(BudgetError, match=r"unknown channel\(s\) \['west/tv'\]"):
        resolve_bounds({"west/tv": ("0", "1")}, names, current, 600.0)
