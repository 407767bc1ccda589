"""The vectorised posterior predictive and log-likelihood against PyMC's per-draw functions."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pymc as pm
import pytest
import xarray as xr

from mediamix.config.model import load_model_config
from mediamix.data.generator import Generator
from mediamix.inference.predictive import predictive_datasets
from mediamix.model.builder import build_model
from tests.conftest import REPO_ROOT

N_CHAIN, N_DRAW = 2, 150


def _posterior(model: pm.Model, seed: int) -> xr.Dataset:
    """Prior draws of the free variables, shaped and named like a posterior."""
    with model, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prior = pm.sample_prior_predictive(
            draws=N_CHAIN * N_DRAW, var_names=[rv.name for rv in model.free_RVs], random_seed=seed
        )
    ds = prior["prior"].to_dataset()
    shaped = {
        name: (("chain", "draw", *da.dims[2:]), da.values.reshape(N_CHAIN, N_DRAW, *da.shape[2:]))
        for name, da in ds.data_vars.items()
    }
    return xr.Dataset(
        shaped,
        coords={d: ds[d] for d in ds.coords if d not in ("chain", "draw")},
    )


def _pymc_reference(model: pm.Model, posterior: xr.Dataset) -> tuple[xr.Dataset, xr.Dataset]:
    idata = xr.DataTree.from_dict({"posterior": posterior})
    names = [rv.name for rv in model.observed_RVs]
    with model, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pp = pm.sample_posterior_predictive(
            idata, var_names=names, random_seed=3, progressbar=False, extend_inferencedata=False
        )
        ll = pm.compute_log_likelihood(idata, progressbar=False, extend_inferencedata=False)
    return pp["posterior_predictive"].to_dataset(), ll


def _assert_agrees(model: pm.Model, posterior: xr.Dataset) -> None:
    fast_pp, fast_ll = predictive_datasets(model, posterior, seed=11)
    ref_pp, ref_ll = _pymc_reference(model, posterior)
    assert set(fast_ll.data_vars) == {rv.name for rv in model.observed_RVs}
    for name in fast_ll.data_vars:
        # the log-likelihood is deterministic: equal up to rounding
        assert fast_ll[name].dims == ref_ll[name].dims
        np.testing.assert_allclose(fast_ll[name].values, ref_ll[name].values, rtol=1e-9)
        # predictive draws differ by seed: same shape, dims and distribution
        a, b = fast_pp[name], ref_pp[name]
        assert a.dims == b.dims and a.shape == b.shape
        sd = float(b.std())
        np.testing.assert_allclose(a.mean(), b.mean(), atol=0.05 * sd)
        np.testing.assert_allclose(a.std(), b.std(), rtol=0.05)
        # per observation, over draws: the mean follows each draw's own mean
        err = np.abs(a.mean(("chain", "draw")) - b.mean(("chain", "draw"))).values
        assert err.max() < 5 * sd / np.sqrt(N_CHAIN * N_DRAW) * 3


@pytest.mark.parametrize("likelihood", ["normal", "studentt"])
def test_mmm_predictive_matches_pymc(likelihood: str) -> None:
    data = Generator.from_config_file(REPO_ROOT / "config/generator/basic_config.yaml").generate()
    config = load_model_config(REPO_ROOT / "config/model/basic_config.yaml")
    config = config.model_copy(
        update={"outcome": config.outcome.model_copy(update={"likelihood": likelihood})}
    )
    model = build_model(data.data, config)
    _assert_agrees(model, _posterior(model, seed=5))


def test_any_likelihood_shape_and_extra_observed_terms() -> None:
    """A (date, geo) likelihood plus a second observed term on its own dim, no mediamix code."""
    rng = np.random.default_rng(0)
    coords = {"date": pd.date_range("2024-01-01", periods=30, freq="W"), "geo": ["a", "b", "c"]}
    coords["test"] = ["t1", "t2"]
    with pm.Model(coords=coords) as model:
        x = pm.Data("x", rng.normal(size=(30, 3)), dims=("date", "geo"))
        level = pm.Normal("level", 0, 1, dims="geo")
        slope = pm.HalfNormal("slope", 1)
        sigma = pm.HalfNormal("sigma", 1)
        mu = level + slope * x
        pm.Deterministic("mu", mu, dims=("date", "geo"))
        pm.Normal("y", mu, sigma, observed=rng.normal(size=(30, 3)), dims=("date", "geo"))
        lift = pm.Data("lift", np.array([0.5, 1.5]), dims="test")
        pm.Gamma("lift_obs", mu=slope * lift + 0.1, sigma=0.2, observed=[0.6, 1.4], dims="test")
    _assert_agrees(model, _posterior(model, seed=1))


def test_deterministics_match_pymc() -> None:
    from mediamix.inference.predictive import add_deterministics

    data = Generator.from_config_file(REPO_ROOT / "config/generator/basic_config.yaml").generate()
    config = load_model_config(REPO_ROOT / "config/model/basic_config.yaml")
    model = build_model(data.data, config)
    posterior = _posterior(model, seed=7)
    idata = xr.DataTree.from_dict({"posterior": posterior})
    add_deterministics(model, idata)
    fast = idata["posterior"].to_dataset()
    with model:
        ref = pm.compute_deterministics(posterior, progressbar=False, merge_dataset=False)
    assert {d.name for d in model.deterministics} <= set(fast.data_vars)
    for name in ref.data_vars:
        assert fast[name].dims == ref[name].dims
        np.testing.assert_allclose(fast[name].values, ref[name].values, rtol=1e-9, atol=1e-9)
