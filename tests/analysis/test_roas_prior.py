"""A ROAS prior is the prior of the ROAS that analysis reports (through analysis.metrics)."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytest
import xarray as xr

from mediamix.analysis.metrics import roas_draws
from mediamix.config.base import parse_config
from mediamix.config.generator import GeneratorConfig
from mediamix.config.model import ModelConfig
from mediamix.data.generator import Generator
from mediamix.inference.fit import FitResult
from mediamix.model.builder import build_model, prepare_data


def test_prior_predictive_roas_follows_the_configured_prior() -> None:
    media = {
        "tv": {"min": 100, "max": 1000, "beta": 0.8, "decay": "geometric", "alpha": 0.5, "mu": 2.0},
        "radio": {
            "min": 10,
            "max": 300,
            "beta": 0.3,
            "decay": "geometric",
            "alpha": 0.2,
            "mu": 3.0,
        },
    }
    gen = parse_config(
        GeneratorConfig,
        {
            "start_date": "2021-01-04",
            "end_date": "2022-12-26",
            "seed": 5,
            "outcome": {"name": "sales", "intercept": 2.0, "sigma": 0.05, "scale": 1000.0},
            "media": media,
        },
    )
    data = Generator(gen).generate().data
    median, sigma = 2.5, 0.3
    config = parse_config(
        ModelConfig,
        {
            "outcome": {"name": "sales"},
            "channels": {
                "tv": {
                    "prior": {"roas": {"dist": "LogNormal", "mu": np.log(median), "sigma": sigma}}
                },
                "radio": {},
            },
        },
    )
    md = prepare_data(data, config)
    with build_model(md, config):
        prior = pm.sample_prior_predictive(draws=4000, random_seed=11)
    idata = xr.DataTree.from_dict({"posterior": prior["prior"].to_dataset()})
    result = FitResult(idata, md.frame, config, md.scalers, {})
    tv = roas_draws(result).sel(channel="tv").to_numpy()
    z = 1.6448536269514722  # the 95 % quantile of a standard normal
    for q, expected in [
        (0.5, median),
        (0.05, median * np.exp(-z * sigma)),
        (0.95, median * np.exp(z * sigma)),
    ]:
        assert np.quantile(tv, q) == pytest.approx(expected, rel=0.03)
    # draw by draw, the reported ROAS is the roas variable itself
    np.testing.assert_allclose(tv, prior["prior"]["roas"].to_numpy().reshape(-1), rtol=1e-9)
    # the other channel keeps its beta prior: its ROAS is not LogNormal(log 2.5, 0.3)
    radio = roas_draws(result).sel(channel="radio").to_numpy()
    assert abs(np.median(radio) - median) > 0.1 * median
