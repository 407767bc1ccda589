"""The forward pass: both backends and both parameter layouts give the same numbers."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from numpy.testing import assert_allclose

from mediamix.model import forward, registry
from mediamix.model.forward import BaselineInputs, ForwardInputError, Group

N_DRAWS, N_TIME = 5, 30


def _stages(rng: np.random.Generator, n: int | None) -> list[list[Group]]:
    """Four channels; the groups list their channels out of order and interleaved."""
    shape = (lambda g: (g,)) if n is None else (lambda g: (n, g))
    adstocks = [
        Group(
            registry.DelayedAdstock(6, True),
            [3, 0],
            {"alpha": rng.uniform(0.2, 0.8, shape(2)), "theta": rng.uniform(0, 3, shape(2))},
        ),
        Group(registry.GeometricAdstock(4, False), [1], {"alpha": rng.uniform(0.1, 0.7, shape(1))}),
        Group(registry.NoAdstock(), [2]),
    ]
    saturations = [
        Group(
            registry.HillSaturation(),
            [2, 1],
            {"k": rng.uniform(0.2, 0.9, shape(2)), "s": rng.uniform(0.5, 3, shape(2))},
        ),
        Group(registry.LogisticSaturation(), [0, 3], {"lam": rng.gamma(3, 1, shape(2))}),
    ]
    return [adstocks, saturations]


def _draw(stages: list[list[Group]], d: int) -> list[list[Group]]:
    """One draw of sampled stages, without the sample axis."""
    return [
        [Group(g.transform, g.columns, {p: v[d] for p, v in g.values.items()}) for g in stage]
        for stage in stages
    ]


@pytest.fixture
def spend(rng: np.random.Generator) -> np.ndarray:
    return rng.uniform(0, 100, (N_TIME, 4))


SPEND_MAX = np.array([100.0, 80.0, 120.0, 90.0])


def test_sample_axis_equals_one_draw_at_a_time(rng: np.random.Generator, spend: Any) -> None:
    stages = _stages(rng, N_DRAWS)
    beta = rng.uniform(0.1, 1.0, (N_DRAWS, 4))
    together = forward.media(spend, SPEND_MAX, stages, beta)
    assert together.shape == (N_DRAWS, N_TIME, 4)
    for d in range(N_DRAWS):
        alone = forward.media(spend, SPEND_MAX, _draw(stages, d), beta[d])
        assert_allclose(together[d], alone, rtol=1e-14)


def test_pytensor_equals_numpy(rng: np.random.Generator, spend: Any) -> None:
    stages = _stages(rng, None)
    beta = rng.uniform(0.1, 1.0, 4)
    x = pt.dmatrix("spend")
    fn = pytensor.function([x], forward.media(x, SPEND_MAX, stages, beta))
    assert_allclose(fn(spend), forward.media(spend, SPEND_MAX, stages, beta), rtol=1e-12)


def test_each_channel_gets_its_own_transform(rng: np.random.Generator, spend: Any) -> None:
    stages = _stages(rng, None)
    out = forward.media(spend, SPEND_MAX, stages, np.ones(4))
    adstock, saturation = stages
    delayed, logistic = adstock[0], saturation[1]
    x = spend[:, 3] / SPEND_MAX[3]
    carried = delayed.transform.apply(x, {p: v[0] for p, v in delayed.values.items()})
    expected = logistic.transform.apply(carried, {"lam": logistic.values["lam"][1]})
    assert_allclose(out[:, 3], expected, rtol=1e-14)
    # channel 2 has no carry-over: hill saturation of its own period's spend only
    hill = saturation[0]
    expected = hill.transform.apply(
        spend[:, 2] / SPEND_MAX[2], {p: v[0] for p, v in hill.values.items()}
    )
    assert_allclose(out[:, 2], expected, rtol=1e-14)


def test_steady_state_is_the_long_run_of_constant_spend(rng: np.random.Generator) -> None:
    stages = _stages(rng, N_DRAWS)
    beta = rng.uniform(0.1, 1.0, (N_DRAWS, 4))
    level = np.array([50.0, 20.0, 0.0, 70.0])
    carried = forward.carryover(stages[0], N_DRAWS)
    # normalized windows keep constant spend as it is; the unnormalized one sums its weights
    assert_allclose(carried[:, [0, 2, 3]], 1.0, rtol=1e-14)
    alpha = stages[0][1].values["alpha"][:, 0]
    assert_allclose(carried[:, 1], (1 - alpha**4) / (1 - alpha), rtol=1e-14)
    steady = forward.steady_state(level, SPEND_MAX, carried, stages[1:], beta)
    long_run = forward.media(np.tile(level, (20, 1)), SPEND_MAX, stages, beta)[:, -1, :]
    assert_allclose(steady, long_run, rtol=1e-12)


def test_values_must_match_samples_and_channels(rng: np.random.Generator, spend: Any) -> None:
    stages = _stages(rng, N_DRAWS)
    with pytest.raises(ForwardInputError, match=r"adstock_alpha.*\(5, 1\), got \(5, 2\)"):
        bad = Group(registry.GeometricAdstock(4), [1], {"alpha": np.full((N_DRAWS, 2), 0.5)})
        forward.media(spend, SPEND_MAX, [[*stages[0][:1], bad, stages[0][2]]], np.ones((5, 4)))
    with pytest.raises(ForwardInputError, match="beta"):
        forward.media(spend, SPEND_MAX, stages, np.ones((N_DRAWS, 4, 1)))


def _baseline_inputs(rng: np.random.Generator) -> BaselineInputs:
    return BaselineInputs(
        N_TIME,
        trend_time=np.linspace(0, 1, N_TIME),
        fourier=rng.normal(size=(N_TIME, 4)),
        controls=rng.uniform(1, 2, (N_TIME, 2)),
        control_scale=np.array([2.0, 3.0]),
        index_codes={"promo": rng.integers(0, 3, N_TIME)},
    )


def _baseline_params(rng: np.random.Generator, *lead: int) -> dict[str, Any]:
    return {
        "intercept": rng.normal(size=lead),
        "trend_slope": rng.normal(size=lead),
        "seasonality_coef": rng.normal(size=(*lead, 4)),
        "control_coef": rng.normal(size=(*lead, 2)),
        "promo_effect": rng.normal(size=(*lead, 2)),
    }


def test_baseline_terms_by_hand(rng: np.random.Generator) -> None:
    inputs, p = _baseline_inputs(rng), _baseline_params(rng)
    terms = forward.baseline(inputs, p)
    controls = inputs.controls / inputs.control_scale * p["control_coef"]
    effect = np.concatenate([[0.0], p["promo_effect"]])[inputs.index_codes["promo"]]
    expected = (
        p["intercept"]
        + p["trend_slope"] * inputs.trend_time
        + inputs.fourier @ p["seasonality_coef"]
        + controls.sum(axis=1)
        + effect
    )
    assert_allclose(terms.total, expected, rtol=1e-13)
    assert_allclose(terms.seasonality, inputs.fourier @ p["seasonality_coef"], rtol=1e-13)
    assert_allclose(terms.control_contribution, controls, rtol=1e-13)
    only_intercept = forward.baseline(BaselineInputs(N_TIME), {"intercept": np.float64(2.0)})
    assert_allclose(only_intercept.total, np.full(N_TIME, 2.0))


def test_baseline_sample_axis_and_backends(rng: np.random.Generator) -> None:
    inputs, p = _baseline_inputs(rng), _baseline_params(rng, N_DRAWS)
    together = forward.baseline(inputs, p)
    assert together.total.shape == (N_DRAWS, N_TIME)
    assert together.control_contribution.shape == (N_DRAWS, N_TIME, 2)
    symbols = {k: pt.tensor(k, shape=v.shape[1:], dtype="float64") for k, v in p.items()}
    terms = forward.baseline(inputs, symbols)
    fn = pytensor.function(list(symbols.values()), [terms.total, terms.control_contribution])
    for d in range(N_DRAWS):
        alone = forward.baseline(inputs, {k: v[d] for k, v in p.items()})
        assert_allclose(together.total[d], alone.total, rtol=1e-13)
        assert_allclose(together.seasonality[d], alone.seasonality, rtol=1e-13)
        total, contribution = fn(*(v[d] for v in p.values()))
        assert_allclose(total, alone.total, rtol=1e-12)
        assert_allclose(contribution, alone.control_contribution, rtol=1e-12)


def test_mean_adds_every_channel_to_the_baseline() -> None:
    base = np.arange(6.0).reshape(2, 3)
    media = np.ones((2, 3, 4))
    assert_allclose(forward.mean(base, media), base + 4)
