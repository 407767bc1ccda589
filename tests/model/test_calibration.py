"""Lift tests in the likelihood and ROAS priors, checked against numbers computed by hand."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from mediamix.config.base import ConfigError, parse_config
from mediamix.config.generator import GeneratorConfig
from mediamix.config.model import ModelConfig
from mediamix.data.generator import Generator, SyntheticData
from mediamix.model.builder import build_model
from mediamix.model.calibration import resolve_calibration

L_MAX = 6


def _synthetic() -> SyntheticData:
    media = {
        name: {"min": lo, "max": hi, "beta": b, "decay": "geometric", "alpha": a, "mu": 2.0}
        for name, lo, hi, b, a in [("tv", 100, 1000, 0.8, 0.5), ("search", 50, 500, 0.5, 0.2)]
    }
    cfg = parse_config(
        GeneratorConfig,
        {
            "start_date": "2021-01-04",
            "end_date": "2022-12-26",
            "seed": 3,
            "l_max": L_MAX,
            "outcome": {"name": "sales", "intercept": 2.0, "sigma": 0.05, "scale": 1000.0},
            "media": media,
        },
    )
    return Generator(cfg).generate()


def _config(**channel: Any) -> ModelConfig:
    return parse_config(
        ModelConfig,
        {
            "outcome": {"name": "sales"},
            "channels": {"tv": channel, "search": {}},
            "channel_defaults": {"adstock": {"l_max": L_MAX}},
        },
    )


def _by_hand(x: np.ndarray, alpha: float, lam: float, beta: float, x_max: float) -> np.ndarray:
    """beta * logistic(normalized geometric adstock(x / x_max)), written out with loops."""
    w = alpha ** np.arange(L_MAX)
    w = w / w.sum()
    z = x / x_max
    ad = np.array([sum(w[j] * z[t - j] for j in range(L_MAX) if t - j >= 0) for t in range(len(z))])
    return beta * (1 - np.exp(-lam * ad)) / (1 + np.exp(-lam * ad))


def test_predicted_lift_matches_a_hand_computation() -> None:
    syn = _synthetic()
    dates = syn.data["date"]
    tests = pd.DataFrame(
        {
            "channel": ["tv", "search", "tv"],
            "start_date": [dates[0], dates[40], dates[80]],  # the first starts on the first date
            "end_date": [dates[3], dates[47], dates[80]],
            "spend_delta": [-400.0, 300.0, -150.0],
            "lift": [-50.0, 20.0, -10.0],
            "lift_se": [5.0, 4.0, 3.0],
        }
    )
    config = resolve_calibration(_config(), tests)
    model = build_model(syn.data, config)
    names = ["lift_test_predicted", "beta", "adstock_alpha", "saturation_lam", "y_scale"]
    point = model.initial_point(random_seed=7)
    point = {k: v + 0.1 * np.arange(v.size).reshape(v.shape) for k, v in point.items()}
    fn = model.compile_fn(
        [model[n] for n in names], inputs=model.value_vars, on_unused_input="ignore"
    )
    pred, beta, alpha, lam, y_scale = fn(point)
    for i, row in tests.iterrows():
        c = ["tv", "search"].index(row["channel"])
        x = syn.data[row["channel"]].to_numpy(np.float64)
        rows = (dates >= row["start_date"]) & (dates <= row["end_date"])
        without = x - rows * row["spend_delta"] / rows.sum()
        f = _by_hand(x, alpha[c], lam[c], beta[c], x.max())
        g = _by_hand(without, alpha[c], lam[c], beta[c], x.max())
        expected = y_scale * (f - g)[rows.to_numpy()].sum()
        assert pred[i] == pytest.approx(expected, rel=1e-9)
        assert abs(expected) > 0
    assert model["lift_test_observed"].owner is not None
    assert tuple(model.coords["lift_test"])[:1] == (f"tv {dates[0].date()}..{dates[3].date()}",)


def test_lift_test_on_a_national_model_with_a_geo_is_refused() -> None:
    syn = _synthetic()
    d = syn.data["date"]
    tests = pd.DataFrame(
        {
            "channel": ["tv"],
            "start_date": [d[10]],
            "end_date": [d[12]],
            "spend_delta": [-100.0],
            "lift": [-5.0],
            "lift_se": [1.0],
            "geo": ["north"],
        }
    )
    with pytest.raises(Exception, match="row 1, geo: 'north' given, but the model is national"):
        build_model(syn.data, resolve_calibration(_config(), tests))
    tests["geo"] = [""]  # an empty geo column is accepted
    build_model(syn.data, resolve_calibration(_config(), tests))


def test_roas_prior_makes_beta_deterministic() -> None:
    syn = _synthetic()
    prior = {"roas": {"dist": "LogNormal", "mu": 0.0, "sigma": 0.3}}
    model = build_model(syn.data, _config(prior=prior))
    assert "roas" in model.named_vars and model["beta"] in model.deterministics
    assert "beta_free" in model.named_vars  # search keeps a beta prior
    with pytest.raises(ConfigError, match=r"beta or on prior\.roas, not both"):
        _config(prior=prior, beta={"dist": "HalfNormal", "sigma": 1.0})


def test_one_lift_test_compiles_for_nutpie() -> None:
    from mediamix.inference.nutpie_callback import c_callback_model

    syn = _synthetic()
    d = syn.data["date"]
    tests = pd.DataFrame(
        {
            "channel": ["tv"],
            "start_date": [d[10]],
            "end_date": [d[12]],
            "spend_delta": [-100.0],
            "lift": [-5.0],
            "lift_se": [1.0],
        }
    )
    # a length-1 dim must not put its length (an integer) into nutpie's float buffer
    model = build_model(syn.data, resolve_calibration(_config(), tests))
    assert c_callback_model(model) is not None
