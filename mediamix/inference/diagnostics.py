"""Convergence and fit-quality diagnostics of a fit, and the ``converged`` verdict."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import arviz_stats as azs
import numpy as np

if TYPE_CHECKING:
    from mediamix.inference.fit import FitResult

__all__ = ["THRESHOLDS", "ConvergenceWarning", "Diagnostics", "compute_diagnostics"]

#: A fit is ``converged`` when all of these hold.
THRESHOLDS = {"r_hat_max": 1.01, "ess_bulk_min": 400.0, "divergences": 0, "bfmi_min": 0.3}


class ConvergenceWarning(UserWarning):
    """The sampler's diagnostics miss the convergence thresholds."""


@dataclass(frozen=True)
class Diagnostics:
    """Sampling and fit-quality diagnostics of one fit."""

    r_hat_max: float
    ess_bulk_min: float
    ess_tail_min: float
    divergences: int
    bfmi_min: float
    r2: float
    mape: float
    elpd_loo: float
    p_loo: float
    pareto_k_high: int
    converged: bool
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _free_vars(result: FitResult) -> list[str]:
    post = result.posterior
    derived = {"channel_contribution", "baseline", "seasonality", "control_contribution"}
    return [str(v) for v in post.data_vars if v not in derived]


def _predicted_mean(result: FitResult) -> np.ndarray:
    post = result.posterior
    mu = post["baseline"] + post["channel_contribution"].sum("channel")
    return np.asarray(mu.mean(("chain", "draw")).values)


def compute_diagnostics(result: FitResult) -> Diagnostics:
    """Diagnostics of a fit: R-hat, ESS, divergences, BFMI, R², MAPE, LOO and a verdict.

    Parameters
    ----------
    result : FitResult
        The fit.

    Returns
    -------
    Diagnostics
        ``converged`` is True when every threshold in :data:`THRESHOLDS` holds; ``problems``
        lists the ones that do not. ADVI fits are approximate and never ``converged``.
    """
    post = result.posterior[_free_vars(result)]
    is_mcmc = result.config.sampler.sampler != "advi" and post.sizes["chain"] > 1
    if is_mcmc:
        r_hat = float(azs.rhat(post).to_array().max())
        ess_bulk = float(azs.ess(post, method="bulk").to_array().min())
        ess_tail = float(azs.ess(post, method="tail").to_array().min())
        stats = result.idata["sample_stats"].to_dataset()
        divergences = int(stats["diverging"].sum()) if "diverging" in stats else 0
        bfmi = float(azs.bfmi(stats[["energy"]])["energy"].min()) if "energy" in stats else np.nan
    else:
        r_hat, ess_bulk, ess_tail, divergences, bfmi = np.nan, np.nan, np.nan, 0, np.nan
    y = result.frame[result.config.outcome.name].to_numpy()
    y_hat = _predicted_mean(result)
    r2 = 1.0 - float(np.sum((y - y_hat) ** 2) / np.sum((y - y.mean()) ** 2))
    nonzero = y != 0
    mape = float(np.mean(np.abs((y - y_hat)[nonzero] / y[nonzero])) * 100)
    elpd, p_loo, k_high = np.nan, np.nan, 0
    if "log_likelihood" in result.idata.children:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loo = azs.loo(result.idata, pointwise=True)
        elpd, p_loo = float(loo.elpd), float(loo.p)
        k_high = int((np.asarray(loo.pareto_k) > 0.7).sum())
    problems = []
    if not is_mcmc:
        problems.append("approximate inference (ADVI): no MCMC convergence guarantee")
    else:
        if not r_hat <= THRESHOLDS["r_hat_max"]:
            problems.append(f"max R-hat {r_hat:.3f} > {THRESHOLDS['r_hat_max']}")
        if not ess_bulk >= THRESHOLDS["ess_bulk_min"]:
            problems.append(f"min bulk ESS {ess_bulk:.0f} < {THRESHOLDS['ess_bulk_min']:.0f}")
        if divergences > THRESHOLDS["divergences"]:
            problems.append(f"{divergences} divergent transitions")
        if bfmi < THRESHOLDS["bfmi_min"]:
            problems.append(f"min BFMI {bfmi:.2f} < {THRESHOLDS['bfmi_min']}")
    return Diagnostics(
        r_hat_max=r_hat,
        ess_bulk_min=ess_bulk,
        ess_tail_min=ess_tail,
        divergences=divergences,
        bfmi_min=bfmi,
        r2=r2,
        mape=mape,
        elpd_loo=elpd,
        p_loo=p_loo,
        pareto_k_high=k_high,
        converged=not problems,
        problems=problems,
    )
