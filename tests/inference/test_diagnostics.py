"""The convergence verdict on edge cases: one MCMC chain, NaN predictions, ADVI."""

from __future__ import annotations

import dataclasses

import numpy as np
import xarray as xr

from mediamix.inference.diagnostics import compute_diagnostics
from mediamix.inference.fit import FitResult
from tests.shared_fit import small_fit


def _with_groups(result: FitResult, **groups: xr.Dataset) -> FitResult:
    tree = result.idata.copy()
    for name, ds in groups.items():
        tree[name] = xr.DataTree(ds)
    return dataclasses.replace(result, idata=tree)


def test_one_mcmc_chain_is_mcmc_not_advi() -> None:
    _, result = small_fit()
    stats = result.idata["sample_stats"].to_dataset().isel(chain=[0])
    stats["diverging"][:] = False
    stats["diverging"][0, :3] = True
    one = _with_groups(result, posterior=result.posterior.isel(chain=[0]), sample_stats=stats)
    diag = compute_diagnostics(one)
    assert not any("ADVI" in p for p in diag.problems), diag.problems
    assert any("1 chain" in p for p in diag.problems), diag.problems
    assert diag.divergences == 3
    assert np.isfinite(diag.ess_bulk_min) and np.isnan(diag.r_hat_max)
    assert not diag.converged


def test_nan_r2_is_a_failed_fit() -> None:
    _, result = small_fit()
    post = result.posterior.copy(deep=True)
    post["baseline"][0, 0, 0] = np.nan  # one NaN draw, as an aborted sampler leaves
    diag = compute_diagnostics(_with_groups(result, posterior=post))
    assert np.isnan(diag.r2)
    assert not diag.converged
    assert any("R²" in p for p in diag.problems), diag.problems


def test_too_few_draws_for_loo_leave_it_nan() -> None:
    _, result = small_fit()
    few = {"draw": slice(0, 2)}
    tiny = _with_groups(
        result,
        posterior=result.posterior.isel(few),
        sample_stats=result.idata["sample_stats"].to_dataset().isel(few),
        log_likelihood=result.idata["log_likelihood"].to_dataset().isel(few),
    )
    diag = compute_diagnostics(tiny)  # Pareto smoothing needs more draws: no error
    assert np.isnan(diag.elpd_loo) and np.isnan(diag.p_loo)
    assert not diag.converged
