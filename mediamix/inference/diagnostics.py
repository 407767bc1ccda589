"""Convergence and fit-quality diagnostics of a fit, and the ``converged`` verdict."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Protocol

import arviz_stats as azs
import numpy as np
import pandas as pd
import xarray as xr

from mediamix.config.model import ModelConfig
from mediamix.inference.geo_draws import CELL_MEANS
from mediamix.model.geo import PER_CELL, per_cell_sums

__all__ = ["THRESHOLDS", "ConvergenceWarning", "Diagnostics", "SampledFit", "compute_diagnostics"]

#: A fit is ``converged`` when all of these hold.
THRESHOLDS = {"r_hat_max": 1.01, "ess_bulk_min": 400.0, "divergences": 0, "bfmi_min": 0.3}


class ConvergenceWarning(UserWarning):
    """The sampler's diagnostics miss the convergence thresholds."""


class SampledFit(Protocol):
    """What the diagnostics read from a fit; :class:`~mediamix.inference.fit.FitResult` is one.

    A protocol rather than the class itself, so that this module does not import the module
    that calls it.
    """

    idata: Any
    frame: pd.DataFrame
    config: ModelConfig

    @property
    def posterior(self) -> xr.Dataset:
        """The posterior group."""
        ...


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


#: Posterior variables derived from the parameters: no convergence check of their own.
_DERIVED = {
    "channel_contribution",
    "baseline",
    "seasonality",
    "control_contribution",
    *(name for cell in PER_CELL for name in per_cell_sums(cell)),
}


def _free_vars(result: SampledFit) -> list[str]:
    post = result.posterior
    return [str(v) for v in post.data_vars if v not in _DERIVED]


def _predicted_mean(result: SampledFit) -> np.ndarray:
    if CELL_MEANS in result.idata.children:  # a geo fit: per-cell means, not per-cell draws
        means = result.idata[CELL_MEANS].to_dataset()
        mu = means["baseline"] + means["channel_contribution"].sum("channel")
        return np.asarray(mu.transpose("date", "geo").values).reshape(-1)
    post = result.posterior
    mu = post["baseline"] + post["channel_contribution"].sum("channel")
    # skipna=False: a NaN draw (a sampler stopped early) must make R² NaN, not vanish
    # a geo model's (date, geo) flattens date-major: the order of its long frame's rows
    return np.asarray(mu.mean(("chain", "draw"), skipna=False).values).reshape(-1)


def _sampler_stats(result: SampledFit) -> dict[str, Any]:
    """R-hat, ESS, divergences and BFMI; NaN (0 divergences) where there is no MCMC to judge.

    One MCMC chain is still MCMC: its divergences, ESS and BFMI count; only R-hat, which
    compares chains, is NaN.
    """
    post = result.posterior[_free_vars(result)]
    if result.config.sampler.sampler == "advi":
        nan = float("nan")
        return {
            "r_hat_max": nan,
            "ess_bulk_min": nan,
            "ess_tail_min": nan,
            "divergences": 0,
            "bfmi_min": nan,
            "is_mcmc": False,
        }
    stats = result.idata["sample_stats"].to_dataset()
    one_chain = post.sizes["chain"] < 2
    return {
        "r_hat_max": float("nan") if one_chain else float(azs.rhat(post).to_array().max()),
        "ess_bulk_min": float(azs.ess(post, method="bulk").to_array().min()),
        "ess_tail_min": float(azs.ess(post, method="tail").to_array().min()),
        "divergences": int(stats["diverging"].sum()) if "diverging" in stats else 0,
        "bfmi_min": (
            float(azs.bfmi(stats[["energy"]])["energy"].min()) if "energy" in stats else np.nan
        ),
        "is_mcmc": True,
    }


def _fit_quality(result: SampledFit) -> dict[str, Any]:
    """R², MAPE over periods with a nonzero outcome, and LOO where the log-likelihood exists."""
    y = result.frame[result.config.outcome.name].to_numpy()
    y_hat = _predicted_mean(result)
    nonzero = y != 0
    out: dict[str, Any] = {
        "r2": 1.0 - float(np.sum((y - y_hat) ** 2) / np.sum((y - y.mean()) ** 2)),
        "mape": float(np.mean(np.abs((y - y_hat)[nonzero] / y[nonzero])) * 100),
        "elpd_loo": np.nan,
        "p_loo": np.nan,
        "pareto_k_high": 0,
    }
    sizes = result.posterior.sizes
    # Pareto-smoothed LOO needs a tail of draws to smooth: with very few it is left NaN
    if "log_likelihood" in result.idata.children and sizes["chain"] * sizes["draw"] >= 20:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                loo = azs.loo(result.idata, pointwise=True)
            except (ValueError, IndexError):
                return out
        out["elpd_loo"], out["p_loo"] = float(loo.elpd), float(loo.p)
        out["pareto_k_high"] = int((np.asarray(loo.pareto_k) > 0.7).sum())
    return out


def _problems(stats: dict[str, Any]) -> list[str]:
    """The thresholds of :data:`THRESHOLDS` that ``stats`` misses, as sentences."""
    if not stats["is_mcmc"]:
        return ["approximate inference (ADVI): no MCMC convergence guarantee"]
    problems = []
    if stats["chains"] < 2:
        problems.append("1 chain: R-hat needs at least 2 chains to judge convergence")
    elif not stats["r_hat_max"] <= THRESHOLDS["r_hat_max"]:
        problems.append(f"max R-hat {stats['r_hat_max']:.3f} > {THRESHOLDS['r_hat_max']}")
    if not stats["ess_bulk_min"] >= THRESHOLDS["ess_bulk_min"]:
        problems.append(
            f"min bulk ESS {stats['ess_bulk_min']:.0f} < {THRESHOLDS['ess_bulk_min']:.0f}"
        )
    if stats["divergences"] > THRESHOLDS["divergences"]:
        problems.append(f"{stats['divergences']} divergent transitions")
    if stats["bfmi_min"] < THRESHOLDS["bfmi_min"]:
        problems.append(f"min BFMI {stats['bfmi_min']:.2f} < {THRESHOLDS['bfmi_min']}")
    return problems


def compute_diagnostics(result: SampledFit) -> Diagnostics:
    """Diagnostics of a fit: R-hat, ESS, divergences, BFMI, R², MAPE, LOO and a verdict.

    Parameters
    ----------
    result : SampledFit
        The fit (a :class:`~mediamix.inference.fit.FitResult`).

    Returns
    -------
    Diagnostics
        ``converged`` is True when every threshold in :data:`THRESHOLDS` holds; ``problems``
        lists the ones that do not. ADVI fits are approximate and never ``converged``.
    """
    stats = _sampler_stats(result)
    stats["chains"] = int(result.posterior.sizes["chain"])
    problems = _problems(stats)
    quality = _fit_quality(result)
    if not np.isfinite(quality["r2"]):
        # NaN predictions (e.g. draws of a sampler that stopped early) are a failed fit
        problems.append("R² is not finite: the posterior mean predictions contain NaN")
    del stats["is_mcmc"], stats["chains"]
    return Diagnostics(**stats, **quality, converged=not problems, problems=problems)
