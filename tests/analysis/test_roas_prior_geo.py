"""A geo model's ROAS prior is the prior of the national ROAS that analysis reports."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pymc as pm
import pytest
import xarray as xr
from shared_geo_fit import WEEKS, geo_config, geo_frame

from mediamix.analysis.metrics import roas_draws
from mediamix.config.base import ConfigError, parse_config
from mediamix.config.model import ModelConfig
from mediamix.inference.fit import FitResult
from mediamix.model.builder import build_model, prepare_data
from mediamix.model.calibration import resolve_calibration

MEDIAN, SIGMA = 2.5, 0.3


def _config(**extra: object) -> ModelConfig:
    raw = geo_config().model_dump(mode="json", exclude_none=True)
    prior = {"roas": {"dist": "LogNormal", "mu": float(np.log(MEDIAN)), "sigma": SIGMA}}
    raw["channels"] = {"tv": {"prior": prior}, "search": {}}
    return parse_config(ModelConfig, {**raw, **extra})


@pytest.mark.parametrize("window", [None, str(WEEKS[6].date())])
def test_prior_predictive_national_roas_follows_the_configured_prior(window: str | None) -> None:
    # with a fit window, the ROAS is over the window; the warm-up spend before it carries over
    config = _config(window={"start": window}) if window else _config()
    md = prepare_data(geo_frame(), config)
    with build_model(md, config) as model:
        prior = pm.sample_prior_predictive(draws=3000, random_seed=11)
    assert "roas" in model.named_vars and model["beta"] in model.deterministics
    idata = xr.DataTree.from_dict({"posterior": prior["prior"].to_dataset()})
    result = FitResult(idata, md.frame, config, md.scalers, {})
    tv = roas_draws(result).sel(channel="tv").to_numpy()
    z = 1.6448536269514722  # the 95 % quantile of a standard normal
    for q, expected in [
        (0.5, MEDIAN),
        (0.05, MEDIAN * np.exp(-z * SIGMA)),
        (0.95, MEDIAN * np.exp(z * SIGMA)),
    ]:
        assert np.quantile(tv, q) == pytest.approx(expected, rel=0.04)
    # draw by draw, the national ROAS (sum over geos) is the roas variable itself
    np.testing.assert_allclose(tv, prior["prior"]["roas"].to_numpy().reshape(-1), rtol=1e-9)
    # ... while each geo's ROAS varies around it with the geo spread
    contribution = prior["prior"]["channel_contribution_by_geo"].sel(channel="tv")
    spend = md.frame.groupby("geo", sort=False)["tv"].sum().to_numpy()
    per_geo = contribution.to_numpy().reshape(-1, len(spend)) / spend
    assert np.std(np.log(per_geo[:, 0] / tv)) > 0.01
    # the other channel keeps its beta prior: its ROAS is not LogNormal(log 2.5, 0.3)
    search = roas_draws(result).sel(channel="search").to_numpy()
    assert abs(np.median(search) - MEDIAN) > 0.1 * MEDIAN


def test_a_roas_prior_with_a_geo_lift_test_builds_and_organic_roas_is_refused() -> None:
    tests = pd.DataFrame(
        {
            "channel": ["tv"],
            "start_date": [WEEKS[5]],
            "end_date": [WEEKS[8]],
            "spend_delta": [-300.0],
            "lift": [-20.0],
            "lift_se": [5.0],
            "geo": ["north;east"],
        }
    )
    model = build_model(geo_frame(), resolve_calibration(_config(), tests))
    assert {"roas", "lift_test_observed", "beta_geo"} <= set(model.named_vars)
    assert np.isfinite(model.compile_logp()(model.initial_point(random_seed=7)))
    roas = {"roas": {"dist": "LogNormal", "mu": 0.0, "sigma": 1.0}}
    organic = {"organic_channels": {"brand": {"prior": roas}}}
    frame = geo_frame().assign(brand=lambda f: f["population"] * 0.1)
    with pytest.raises(ConfigError, match=r"organic_channels \['brand'\]: prior.roas needs spend"):
        build_model(frame, _config(**organic))
