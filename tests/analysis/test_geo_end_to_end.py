"""A real geo fit (generated geo data, short chains) through plan predictions and the optimizer."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import yaml

from mediamix.analysis.geo_plan import NATIONAL, example_geo_plan, predict_geo_plan
from mediamix.analysis.geo_response import current_spend_of, steady_state_response
from mediamix.analysis.optimize import optimize_budget
from mediamix.config.base import parse_config
from mediamix.config.generator import GeneratorConfig
from mediamix.config.model import load_model_config
from mediamix.data.generator import Generator
from mediamix.data.geo_generator import generate_geos
from mediamix.inference.diagnostics import ConvergenceWarning
from mediamix.inference.fit import FitResult, fit
from mediamix.inference.geo_draws import CELL_MEANS

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def geo_fit() -> FitResult:
    raw = yaml.safe_load((REPO / "config/generator/geo_config.yaml").read_text())
    raw["geos"] = {"count": 4, "population": {"min": 20000, "max": 2000000}}
    raw["end_date"] = "2022-06-27"  # 78 weeks
    data = generate_geos(Generator(parse_config(GeneratorConfig, raw)))
    config = load_model_config(REPO / "config/model/geo_config.yaml").with_sampler(
        draws=100, tune=150, chains=1
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # so few draws miss the thresholds
        return fit(data.data, config)


@pytest.mark.slow
def test_a_geo_fit_predicts_its_own_data_and_allocates_a_budget(geo_fit: FitResult) -> None:
    means = geo_fit.idata[CELL_MEANS].to_dataset()
    # the training frame as a plan reproduces the model's own terms, averaged over draws
    out = predict_geo_plan(geo_fit, geo_fit.frame, draws=None)
    geos = list(geo_fit.scalers.geos)
    per_geo = out[out["geo"] != NATIONAL]
    model = means["baseline"] + means["channel_contribution"].sum("channel")
    for geo in geos:
        got = per_geo[per_geo["geo"] == geo]["prediction_mean"].to_numpy()
        np.testing.assert_allclose(got, model.sel(geo=geo).to_numpy(), rtol=1e-8)
    national = out[out["geo"] == NATIONAL]["prediction_mean"].to_numpy()
    np.testing.assert_allclose(national, model.sum("geo").to_numpy(), rtol=1e-8)
    # the fit tracks the data it saw
    sales = geo_fit.frame.groupby("date")["sales"].sum().to_numpy()
    assert np.corrcoef(national, sales)[0, 1] > 0.8
    # a plan after the training window, per geo and national
    plan = example_geo_plan(geo_fit, periods=3)
    ahead = predict_geo_plan(geo_fit, plan, draws=50)
    assert set(ahead["geo"]) == {NATIONAL, *geos} and len(ahead) == 3 * (len(geos) + 1)
    # the optimizer: never worse than current spend at the same budget, national and by geo
    current = current_spend_of(geo_fit)
    budget = float(current.sum())
    response = steady_state_response(geo_fit, 50)
    national_plan = optimize_budget(geo_fit, budget, draws=50, bounds={"*": ("-30%", "+30%")})
    assert national_plan.allocation.sum() == pytest.approx(budget)
    gain = response.total(national_plan.allocation.to_numpy()).mean()
    assert gain >= response.total(current.to_numpy()).mean() * (1 - 1e-9)
    by_geo = optimize_budget(geo_fit, budget, draws=50, by_geo=True, bounds={"*": ("-30%", "+30%")})
    assert len(by_geo.allocation) == len(geos) * len(geo_fit.channels)
    assert by_geo.lift.mean >= -1e-6 * budget
