"""A geo fit keeps its per-cell draws only as sums and means: they equal the full arrays' own.

A real geo fit (8 geos x 104 weeks x 3 channels, nutpie, tiny chains) is post-processed block by
block of draws. The reference is the direct computation: every per-cell variable evaluated at
every draw, one draw at a time through a plainly compiled PyTensor function (no vectorisation,
no blocks), held as one full array, then summed, averaged and divided as the readers did when
fits stored the cells.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pymc as pm
import pytest
import xarray as xr
from geo_fit import small_geo_data, small_geo_model_config

from mediamix.analysis import metrics
from mediamix.analysis.geo_draws import cell_draws, geo_total_draws
from mediamix.analysis.plots import figures_for_fit
from mediamix.analysis.summary import fit_summary
from mediamix.inference import predictive
from mediamix.inference.diagnostics import ConvergenceWarning
from mediamix.inference.fit import FitResult, fit, load_fit
from mediamix.inference.geo_draws import CELL_MEANS, NATIONAL_OUTCOME

pytestmark = pytest.mark.slow

CELLS = ("channel_contribution", "baseline")
#: Stored per-draw sums are rounded to float32 (``compact_draws``): 6e-8 relative each.
F32 = 1e-6


@pytest.fixture(scope="module")
def result() -> FitResult:
    config = small_geo_model_config(
        draws=30, tune=60, chains=2, target_accept=0.9, max_target_accept=0.9
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return fit(small_geo_data().data, config)


@pytest.fixture(scope="module")
def full(result: FitResult) -> dict[str, np.ndarray]:
    """Every per-cell variable at every draw ``(sample, date, geo, ...)``, and ``y``'s logp."""
    model = result.build_model()
    post = result.posterior
    free = list(model.free_RVs)
    y = model["y"]
    logp = pm.logp(y, model.rvs_to_values[y], warn_rvs=False)
    fn = pm.pytensorf.compile(
        free,
        [*(model[n] for n in CELLS), logp],
        mode="FAST_COMPILE",
        on_unused_input="ignore",
    )
    total = post.sizes["chain"] * post.sizes["draw"]
    flat = {
        rv.name: post[rv.name].transpose("chain", "draw", ...).values.reshape(total, -1)
        for rv in free
    }
    shapes = {rv.name: post[rv.name].shape[2:] for rv in free}
    rows = [fn(*(flat[rv.name][i].reshape(shapes[rv.name]) for rv in free)) for i in range(total)]
    return {name: np.stack([r[k] for r in rows]) for k, name in enumerate([*CELLS, "loglik"])}


def _stacked(da: xr.DataArray) -> np.ndarray:
    values = da.transpose("chain", "draw", ...).to_numpy()
    return values.reshape(-1, *values.shape[2:])


def _spend(result: FitResult, mask: np.ndarray | None = None) -> np.ndarray:
    """``(geo, channel)`` spend over the dates in ``mask`` (all by default)."""
    n_geo = len(result.scalers.geos)
    cube = result.frame[result.channels].to_numpy().reshape(-1, n_geo, len(result.channels))
    return cube[mask if mask is not None else slice(None)].sum(axis=0)


def test_a_geo_fit_stores_no_cells_per_draw(result: FitResult) -> None:
    post = result.posterior
    for name in CELLS:
        assert name not in post
    assert post["channel_contribution_national"].dims == ("chain", "draw", "date", "channel")
    assert post["channel_contribution_by_geo"].dims == ("chain", "draw", "geo", "channel")
    assert post["baseline_national"].dims == ("chain", "draw", "date")
    assert post["baseline_by_geo"].dims == ("chain", "draw", "geo")
    predictive_group = result.idata["posterior_predictive"].to_dataset()
    assert list(predictive_group.data_vars) == [NATIONAL_OUTCOME]
    assert predictive_group[NATIONAL_OUTCOME].dims == ("chain", "draw", "date")
    assert result.idata["log_likelihood"]["y"].dims == ("chain", "draw", "date", "geo")


def test_stored_sums_and_means_equal_the_full_arrays(
    result: FitResult, full: dict[str, np.ndarray]
) -> None:
    post = result.posterior
    for name in CELLS:
        cells = full[name]
        np.testing.assert_allclose(_stacked(post[f"{name}_national"]), cells.sum(2), rtol=F32)
        np.testing.assert_allclose(_stacked(post[f"{name}_by_geo"]), cells.sum(1), rtol=F32)
        # the means are float64 sums over blocks: equal up to the order of additions
        means = result.idata[CELL_MEANS][name].values
        np.testing.assert_allclose(means, cells.mean(axis=0), rtol=1e-12)
        np.testing.assert_allclose(cell_draws(result, name).values.reshape(cells.shape), cells)
    np.testing.assert_allclose(
        _stacked(result.idata["log_likelihood"]["y"]), full["loglik"], rtol=F32
    )


def test_the_national_predictive_follows_the_expected_national_outcome(
    result: FitResult, full: dict[str, np.ndarray]
) -> None:
    draws = _stacked(result.idata["posterior_predictive"][NATIONAL_OUTCOME])
    expected = (full["baseline"] + full["channel_contribution"].sum(-1)).sum(-1)
    # each draw's national outcome is its expected value plus the summed per-capita noise
    sigma = _stacked(result.posterior["sigma"])
    pop = np.array([result.scalers.population[g] for g in result.scalers.geos])
    noise_sd = sigma * result.scalers.y_scale * np.sqrt((pop**2).sum())
    z = (draws - expected) / noise_sd[:, None]
    assert abs(z.mean()) < 5 / np.sqrt(z.size) and z.std() == pytest.approx(1.0, abs=0.1)


def test_answers_equal_the_full_array_computation(
    result: FitResult, full: dict[str, np.ndarray]
) -> None:
    contrib, base = full["channel_contribution"], full["baseline"]
    spend = _spend(result)
    roas = contrib.sum((1, 2)) / spend.sum(0)
    np.testing.assert_allclose(metrics.roas_draws(result).values, roas, rtol=F32)
    geo_roas = contrib.sum(1) / spend
    np.testing.assert_allclose(metrics.geo_roas_draws(result).values, geo_roas, rtol=F32)
    parts = np.concatenate([base.sum(1)[..., None], contrib.sum(1)], axis=-1)
    shares = metrics.geo_contribution_share_draws(result)
    np.testing.assert_allclose(shares.values, parts / parts.sum(-1, keepdims=True), rtol=F32)
    totals = metrics.component_totals(result)
    np.testing.assert_allclose(totals.transpose("draw", ...).values, parts.sum(1), rtol=F32)
    over_time = metrics.contributions_over_time(result)
    tv = over_time[over_time["component"] == "tv"]["mean"].to_numpy()
    np.testing.assert_allclose(tv, contrib[..., 0].sum(2).mean(0), rtol=F32)
    y = result.frame["sales"].to_numpy()
    fitted = (base + contrib.sum(-1)).mean(0).reshape(-1)
    r2 = 1 - ((y - fitted) ** 2).sum() / ((y - y.mean()) ** 2).sum()
    assert result.diagnostics().r2 == pytest.approx(r2, rel=1e-12)


def test_a_window_per_geo_is_evaluated_from_the_parameters(
    result: FitResult, full: dict[str, np.ndarray], tmp_path: Path
) -> None:
    dates = result.frame["date"].unique()
    window = (str(dates[40])[:10], str(dates[70])[:10])
    mask = np.zeros(len(dates), dtype=bool)
    mask[40:71] = True
    contrib, base = full["channel_contribution"], full["baseline"]
    loaded = load_fit(result.save(tmp_path / "fit.nc"))
    for fit_ in (result, loaded):
        got = metrics.geo_roas_draws(fit_, window).values
        np.testing.assert_allclose(got, contrib[:, mask].sum(1) / _spend(fit_, mask), rtol=1e-10)
        baseline = _stacked(geo_total_draws(fit_, "baseline", mask))
        np.testing.assert_allclose(baseline, base[:, mask].sum(1), rtol=1e-10)
        roas = metrics.roas_draws(fit_, window).values
        np.testing.assert_allclose(
            roas, contrib[:, mask].sum((1, 2)) / _spend(fit_, mask).sum(0), rtol=F32
        )


def test_block_size_does_not_change_the_sums(
    result: FitResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, post = result.build_model(), result.posterior

    def sums(block: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {"by_geo": block["channel_contribution"].sum(axis=1)}

    many = predictive.reduce_draws(model, post, ["channel_contribution"], sums)["by_geo"]
    monkeypatch.setattr(predictive, "BLOCK_BYTES", 1)  # one draw per block
    one = predictive.reduce_draws(model, post, ["channel_contribution"], sums)["by_geo"]
    np.testing.assert_allclose(one, many, rtol=1e-13)
    assert one.shape == (post.sizes["chain"] * post.sizes["draw"], 8, 3)


def test_a_loaded_geo_fit_answers_as_the_fit_did(result: FitResult, tmp_path: Path) -> None:
    loaded = load_fit(result.save(tmp_path / "fit.nc"))
    assert CELL_MEANS in loaded.idata.children
    a, b = fit_summary(result), fit_summary(loaded)
    assert a["geos"] == b["geos"] and a["channels"] == b["channels"]
    assert set(figures_for_fit(loaded)) >= {"fit", "contributions", "roas_by_geo"}
