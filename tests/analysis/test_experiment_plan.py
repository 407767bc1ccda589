"""The experiment planner: its predicted lift is the model's, and its reweighting behaves."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pymc as pm
import pytest
import xarray as xr

from mediamix.analysis.experiment_plan import plan_experiments, predicted_lifts
from mediamix.analysis.experiments import weighted_hdi_width
from mediamix.analysis.metrics import interval
from mediamix.analysis.response import MediaParameters
from mediamix.config.base import parse_config
from mediamix.config.generator import GeneratorConfig
from mediamix.config.model import ModelConfig
from mediamix.data.generator import Generator
from mediamix.inference.fit import FitResult
from mediamix.model.builder import build_model, prepare_data
from mediamix.model.calibration import resolve_calibration
from tests.experiment_checks import assert_precise_test_narrows_more

MEDIA = {
    "tv": {"min": 100, "max": 1000, "beta": 0.8, "decay": "geometric", "alpha": 0.5, "mu": 2.0},
    "radio": {"min": 50, "max": 300, "beta": 0.3, "decay": "geometric", "alpha": 0.2, "mu": 3.0},
}
CONFIG = parse_config(
    ModelConfig,
    {
        "outcome": {"name": "sales"},
        "channels": ["tv", "radio"],
        "channel_defaults": {"adstock": {"l_max": 6}},
    },
)


def _prior_fit(data: pd.DataFrame, config: ModelConfig, draws: int = 400) -> FitResult:
    """The prior draws of a model as if they were a posterior (no sampling needed)."""
    md = prepare_data(data, config)
    with build_model(md, config):
        prior = pm.sample_prior_predictive(draws=draws, random_seed=3)
    idata = xr.DataTree.from_dict({"posterior": prior["prior"].to_dataset()})
    return FitResult(idata, md.frame, config, md.scalers, {})


def _data() -> pd.DataFrame:
    gen = {
        "start_date": "2022-01-03",
        "end_date": "2023-12-25",
        "seed": 2,
        "l_max": 6,
        "outcome": {"name": "sales", "intercept": 2.0, "sigma": 0.05, "scale": 1000.0},
        "media": MEDIA,
    }
    return Generator(parse_config(GeneratorConfig, gen)).generate().data


def test_predicted_lift_is_the_models() -> None:
    data = _data()
    start, weeks, delta = 30, 5, 600.0
    tested = data.copy()
    tested.loc[start : start + weeks - 1, "tv"] += delta / weeks  # the data include the change
    row = {
        "channel": "tv",
        "start_date": data["date"][start],
        "end_date": data["date"][start + weeks - 1],
        "spend_delta": delta,
        "lift": 1.0,
        "lift_se": 1.0,
    }
    result = _prior_fit(tested, resolve_calibration(CONFIG, pd.DataFrame([row])))
    mp = MediaParameters.from_fit(result)
    without = data[["tv", "radio"]].to_numpy(np.float64)
    mine = predicted_lifts(mp, without, 0, start, weeks, delta)
    model = result.posterior["lift_test_predicted"].stack(s=("chain", "draw")).to_numpy()[0]
    np.testing.assert_allclose(mine, model, rtol=1e-8)


def test_weighted_hdi_width_agrees_with_the_hdi(rng: np.random.Generator) -> None:
    values = rng.normal(size=4000)
    uniform = np.full(len(values), 1 / len(values))
    iv = interval(values, 0.9)
    assert weighted_hdi_width(values, uniform, 0.9) == pytest.approx(
        iv.hdi_high - iv.hdi_low, rel=0.01
    )
    # weights of a N(0, 1) prior times a N(1, 0.5) likelihood: N(0.8, sqrt(0.2)) posterior
    w = np.exp(-0.5 * ((values - 1.0) / 0.5) ** 2)
    width = weighted_hdi_width(values, w / w.sum(), 0.9)
    assert width == pytest.approx(2 * 1.6449 * np.sqrt(0.2), rel=0.05)


def test_plan_ranks_channels_and_a_precise_test_narrows_more() -> None:
    result = _prior_fit(_data(), CONFIG)
    precise = plan_experiments(result, weeks=6, starts=2, se_fraction=0.05, draws=300)
    vague = plan_experiments(result, weeks=6, starts=2, se_fraction=5.0, draws=300)
    assert [p["channel"] for p in precise] != [] and len(precise) == 2
    assert_precise_test_narrows_more(precise, vague)
    ess = {p["channel"]: p["ess"] for p in vague}
    assert all(p["ess"] < ess[p["channel"]] <= 300 for p in precise)
    assert precise[0]["expected_narrowing"] >= precise[1]["expected_narrowing"]


def test_test_geos_for_a_national_fit_are_refused() -> None:
    from mediamix.analysis.experiments import ExperimentError

    with pytest.raises(ExperimentError, match="this fit has no geos"):
        plan_experiments(_prior_fit(_data(), CONFIG, draws=20), weeks=4, geos=["north"])
