"""Fitting: samplers, diagnostics, summaries, and saving a fit to one file.

``fit(frame, config)`` validates the data, builds the model, samples with the configured sampler
(nutpie, PyMC's NUTS, numpyro, or ADVI as a fast approximation), adds the posterior predictive
and pointwise log-likelihood, and returns a :class:`FitResult`. A fit that does not meet the
convergence thresholds in :data:`THRESHOLDS` warns with :class:`ConvergenceWarning` and says so
in its diagnostics; it never passes silently.
"""

from __future__ import annotations

import json
import logging
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import arviz_stats as azs
import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr

from mediamix.errors import MediamixError
from mediamix.model import ModelData, Scalers, build_model, channel_parameters, prepare_data
from mediamix.model_config import ModelConfig
from mediamix.samplers import sample_posterior
from mediamix.validation import DATE_DTYPE

__all__ = [
    "THRESHOLDS",
    "ConvergenceWarning",
    "Diagnostics",
    "FitResult",
    "fit",
    "load_fit",
]

log = logging.getLogger(__name__)

#: A fit is ``converged`` when all of these hold.
THRESHOLDS = {"r_hat_max": 1.01, "ess_bulk_min": 400.0, "divergences": 0, "bfmi_min": 0.3}
_FORMAT_VERSION = 1
_FRAME_GROUP = "mediamix_frame"


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


@dataclass
class FitResult:
    """A fitted model: posterior, the data and config it came from, scalers and timings.

    Attributes
    ----------
    idata : xarray.DataTree
        ``posterior`` (parameters, ``channel_contribution``, ``baseline``), ``sample_stats``,
        ``observed_data``, ``constant_data``, ``log_likelihood`` and ``posterior_predictive``.
    frame : pandas.DataFrame
        The validated modeling frame.
    config : ModelConfig
        The configuration (with any sampler overrides applied).
    scalers : Scalers
        Spend and outcome scales used by the model.
    timings : dict
        Seconds spent building, sampling, and post-processing.
    """

    idata: Any
    frame: pd.DataFrame
    config: ModelConfig
    scalers: Scalers
    timings: dict[str, float]
    _diagnostics: Diagnostics | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def channels(self) -> list[str]:
        """Channel names, in model order."""
        return self.config.channel_names

    @property
    def posterior(self) -> xr.Dataset:
        """The posterior group as an xarray Dataset."""
        return self.idata["posterior"].to_dataset()

    def model_data(self) -> ModelData:
        """The :class:`ModelData` the model was built from."""
        return ModelData(frame=self.frame, scalers=self.scalers, config=self.config)

    def build_model(self) -> pm.Model:
        """Rebuild the PyMC model (e.g. for counterfactuals with ``pm.set_data``)."""
        return build_model(self.model_data(), self.config)

    def diagnostics(self) -> Diagnostics:
        """The diagnostics (see :data:`THRESHOLDS`), computed once (LOO takes a moment)."""
        if self._diagnostics is None:
            self._diagnostics = compute_diagnostics(self)
        return self._diagnostics

    def summary(self) -> dict[str, Any]:
        """The ``summary.json`` content: per-channel ROAS, shares, parameters; diagnostics."""
        return summarize(self)

    def save(self, path: str | Path) -> Path:
        """Save to one NetCDF file that :func:`load_fit` reads back.

        Parameters
        ----------
        path : str or Path
            Target file (conventionally ``fit.nc``). Written to a temporary name first and
            renamed, so an interrupted save never leaves a half-written file.

        Returns
        -------
        Path
            The written file.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tree = self.idata.copy()
        stats = tree["sample_stats"].to_dataset() if "sample_stats" in tree.children else None
        if stats is not None:
            # free-text sampler messages (object dtype) are not NetCDF-serialisable
            keep = [v for v in stats.data_vars if stats[v].dtype != object]
            tree["sample_stats"] = xr.DataTree(stats[keep])
        tree.attrs = {
            **tree.attrs,
            "mediamix_format": _FORMAT_VERSION,
            "mediamix_config": self.config.model_dump_json(),
            "mediamix_scalers": self.scalers.to_json(),
            "mediamix_timings": json.dumps(self.timings),
        }
        # the modeling frame travels as its own group: exact float64, unlike JSON text
        tree[_FRAME_GROUP] = xr.DataTree(
            xr.Dataset({c: ("row", self.frame[c].to_numpy()) for c in self.frame.columns})
        )
        tmp = path.with_name(path.name + ".tmp")
        tree.to_netcdf(tmp, engine="h5netcdf")
        tmp.replace(path)
        return path


def load_fit(path: str | Path) -> FitResult:
    """Load a fit saved with :meth:`FitResult.save`.

    Parameters
    ----------
    path : str or Path
        The NetCDF file.

    Returns
    -------
    FitResult
        Identical posterior, frame, config and scalers; summaries match the original's.

    Raises
    ------
    MediamixError
        If the file is missing or is not a mediamix fit.
    """
    path = Path(path)
    if not path.is_file():
        raise MediamixError(f"no fit file at {path}")
    try:
        tree = xr.open_datatree(path, engine="h5netcdf").load()
    except (OSError, ValueError) as exc:
        raise MediamixError(f"{path} is not a readable NetCDF fit file: {exc}") from exc
    attrs = dict(tree.attrs)
    if "mediamix_config" not in attrs:
        raise MediamixError(f"{path} is NetCDF but not a mediamix fit (no mediamix_config)")
    if _FRAME_GROUP not in tree.children:
        raise MediamixError(f"{path} is a damaged mediamix fit: no {_FRAME_GROUP} group")
    stored = tree[_FRAME_GROUP].to_dataset()
    frame = pd.DataFrame({c: stored[c].to_numpy() for c in stored.data_vars})
    frame["date"] = frame["date"].astype(DATE_DTYPE)
    tree = tree.drop_nodes(_FRAME_GROUP)
    config = ModelConfig.model_validate_json(attrs.pop("mediamix_config"))
    scalers = Scalers.from_json(attrs.pop("mediamix_scalers"))
    timings = json.loads(attrs.pop("mediamix_timings"))
    attrs.pop("mediamix_format", None)
    tree.attrs = attrs
    return FitResult(tree, frame, config, scalers, timings)


def fit(frame: pd.DataFrame, config: ModelConfig, *, progress: bool = False) -> FitResult:
    """Validate, build, sample and post-process one media mix model.

    Parameters
    ----------
    frame : pandas.DataFrame
        The modeling frame: ``date``, spend per channel, controls, index variables, outcome.
    config : ModelConfig
        Model and sampler configuration.
    progress : bool, default False
        Show the sampler's progress bar.

    Returns
    -------
    FitResult
        Posterior with posterior predictive and log-likelihood, the data, config, scalers and
        timings. Check :meth:`FitResult.diagnostics` (a :class:`ConvergenceWarning` is issued
        for a fit that misses the thresholds).

    Raises
    ------
    DataValidationError
        If the frame does not fit the config; raised before any sampling.
    """
    t0 = time.perf_counter()
    md = prepare_data(frame, config)
    model = build_model(md, config)
    t1 = time.perf_counter()
    log.info("sampling with %s", config.sampler.sampler)
    idata = sample_posterior(model, config.sampler, progress=progress)
    t2 = time.perf_counter()
    with model, warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning)
        pm.sample_posterior_predictive(
            idata,
            var_names=["y"],
            extend_inferencedata=True,
            random_seed=config.sampler.seed,
            progressbar=False,
        )
        pm.compute_log_likelihood(idata, progressbar=False)
    t3 = time.perf_counter()
    result = FitResult(
        idata=idata,
        frame=md.frame,
        config=config,
        scalers=md.scalers,
        timings={
            "build_seconds": t1 - t0,
            "sample_seconds": t2 - t1,
            "postprocess_seconds": t3 - t2,
            "fit_seconds": t3 - t0,
        },
    )
    diag = result.diagnostics()
    if not diag.converged:
        warnings.warn(
            "the fit did NOT converge: " + "; ".join(diag.problems),
            ConvergenceWarning,
            stacklevel=2,
        )
    return result


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


def _interval(draws: xr.DataArray, prob: float) -> dict[str, float]:
    hdi = azs.hdi(draws, prob=prob)
    return {
        "mean": float(draws.mean()),
        "hdi_low": float(hdi.sel(ci_bound="lower")),
        "hdi_high": float(hdi.sel(ci_bound="upper")),
    }


def roas_draws(result: FitResult) -> xr.DataArray:
    """Posterior draws of ROAS per channel: total contribution / total spend, original units."""
    contrib = result.posterior["channel_contribution"].sum("date")
    spend = xr.DataArray(
        result.frame[result.channels].sum().to_numpy(),
        dims="channel",
        coords={"channel": result.channels},
    )
    return contrib / spend


def contribution_share_draws(result: FitResult) -> xr.DataArray:
    """Posterior draws of each channel's share of the predicted outcome over the window."""
    post = result.posterior
    contrib = post["channel_contribution"].sum("date")
    total = post["baseline"].sum("date") + contrib.sum("channel")
    return contrib / total


def summarize(result: FitResult) -> dict[str, Any]:
    """Build the ``summary.json`` mapping for a fit.

    Returns
    -------
    dict
        ``{"hdi_prob", "channels": {NAME: {"roas", "contribution_share", "params"}},
        "diagnostics": {...}}``, each interval as ``{"mean", "hdi_low", "hdi_high"}``.
    """
    prob = result.config.hdi_prob
    roas, share = roas_draws(result), contribution_share_draws(result)
    post = result.posterior
    channels: dict[str, Any] = {}
    for ch, params in channel_parameters(result.config).items():
        channels[ch] = {
            "roas": _interval(roas.sel(channel=ch), prob),
            "contribution_share": _interval(share.sel(channel=ch), prob),
            "params": {
                name: _interval(post[var].sel({dim: ch}) if dim else post[var], prob)
                for name, (var, dim) in params.items()
            },
        }
    diag = result.diagnostics().to_dict()
    diag["fit_seconds"] = result.timings.get("fit_seconds", float("nan"))
    diag["sampler"] = result.config.sampler.sampler
    return {"hdi_prob": prob, "channels": channels, "diagnostics": diag}
