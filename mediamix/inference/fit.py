"""Fitting one model, and saving a fit to one file.

``fit(frame, config)`` validates the data, builds the model, samples with the configured sampler
(nutpie, PyMC's NUTS, numpyro, or ADVI as a fast approximation), adds the deterministics nutpie
leaves out, the posterior predictive and the pointwise log-likelihood (all draws at once, see
:mod:`mediamix.inference.predictive`), and returns a :class:`FitResult`. A fit that does not
meet the convergence thresholds in :data:`~mediamix.inference.diagnostics.THRESHOLDS` warns with
:class:`ConvergenceWarning` and says so in its diagnostics; it never passes silently.
"""

from __future__ import annotations

import json
import logging
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr

from mediamix.config.model import ModelConfig
from mediamix.data.columns import prepare_frame
from mediamix.data.frames import DATE_DTYPE
from mediamix.errors import MediamixError
from mediamix.inference.diagnostics import (
    ConvergenceWarning,
    Diagnostics,
    compute_diagnostics,
)
from mediamix.inference.geo_draws import add_cell_means, cell_variables, geo_predictive
from mediamix.inference.interrupts import interrupt_guard
from mediamix.inference.predictive import add_deterministics, add_predictive
from mediamix.inference.samplers import sample_posterior
from mediamix.model.builder import ModelData, Scalers, build_model, prepare_data
from mediamix.model.calibration import resolve_calibration

__all__ = [
    "FitResult",
    "fit",
    "load_fit",
]

log = logging.getLogger(__name__)

_FORMAT_VERSION = 1
_FRAME_GROUP = "mediamix_frame"


@dataclass
class FitResult:
    """A fitted model: posterior, the data and config it came from, scalers and timings.

    Attributes
    ----------
    idata : xarray.DataTree
        ``posterior`` (parameters, ``channel_contribution``, ``baseline``), ``sample_stats``,
        ``observed_data``, ``constant_data``, ``log_likelihood`` and ``posterior_predictive``.
        A geo fit's posterior holds the per-cell variables' sums instead, plus a
        ``posterior_mean`` group (see :mod:`mediamix.inference.geo_draws`).
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
        """The diagnostics and the ``converged`` verdict, computed once (LOO takes a moment)."""
        if self._diagnostics is None:
            self._diagnostics = compute_diagnostics(self)
        return self._diagnostics

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
        tree.to_netcdf(tmp, engine="h5netcdf", encoding=_compressed(tree))
        tmp.replace(path)
        return path


def _compressed(tree: Any) -> dict[str, dict[str, dict[str, Any]]]:
    """Compression (zlib, byte shuffle) for every numeric array; float32 where exact."""
    encoding: dict[str, dict[str, dict[str, Any]]] = {}
    for node in tree.subtree:
        ds = node.to_dataset(inherit=False)
        numeric = [v for v in ds.data_vars if ds[v].dtype.kind in "fiu" and ds[v].ndim]
        if not numeric:
            continue
        encoding[node.path] = {}
        for v in numeric:
            enc: dict[str, Any] = {"zlib": True, "complevel": 4, "shuffle": True}
            values = ds[v].values
            exact = values.dtype == np.float64 and np.array_equal(
                values, values.astype(np.float32), equal_nan=True
            )
            if node.name in _ROUNDED_GROUPS and exact:
                enc["dtype"] = "float32"
            encoding[node.path][v] = enc
    return encoding


def _widen(tree: Any) -> None:
    """Back to float64 what :func:`_compressed` stored as float32 (exactly, in place)."""
    for group in _ROUNDED_GROUPS:
        if group in tree.children:
            ds = tree[group].to_dataset()
            narrow = [v for v in ds.data_vars if ds[v].dtype == np.float32]
            if narrow:
                ds = ds.assign({v: ds[v].astype("float64") for v in narrow})
                tree[group] = xr.DataTree(ds, name=group)


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
    _widen(tree)
    config = ModelConfig.model_validate_json(attrs.pop("mediamix_config"))
    scalers = Scalers.from_json(attrs.pop("mediamix_scalers"))
    timings = json.loads(attrs.pop("mediamix_timings"))
    attrs.pop("mediamix_format", None)
    tree.attrs = attrs
    return FitResult(tree, frame, config, scalers, timings)


#: Groups whose float64 draws that float32 holds exactly are stored as float32.
_ROUNDED_GROUPS = ("posterior", "posterior_predictive", "log_likelihood")

#: Deterministics dropped after sampling: no analysis reads them, and each is recomputed from
#: the kept parameters and the frame by :mod:`mediamix.model.forward` where needed.
RECOMPUTABLE = ("seasonality", "control_contribution")


def _rounded(da: xr.DataArray) -> xr.DataArray:
    """Values rounded to float32 precision, kept as float64 (so sums stay exact).

    In place, one slice of the leading (chain) axis at a time: a geo fit's log-likelihood is
    1 GB at 4,000 draws, and rounding it through full float32 and float64 copies would add 1.5.
    """
    values = da.values
    if values.ndim == 0 or not values.flags.writeable:
        return da.astype("float32").astype("float64")
    for i in range(values.shape[0]):
        values[i] = values[i].astype(np.float32)
    return da.copy(data=values)


def compact_draws(idata: Any, parameters: list[str]) -> None:
    """Round derived draws to float32 precision and drop the recomputable ones, in place.

    Deterministics, the posterior predictive and the log-likelihood are about 90% of a fit's
    size; their Monte Carlo error is many orders of magnitude above float32's rounding (1e-7
    relative), so they are rounded to values float32 holds exactly, which :meth:`FitResult.save`
    then stores in half the bytes without any further loss. They stay float64 in memory, so
    sums over thousands of draws do not accumulate float32 error, and a loaded fit is identical
    to the fit that was saved. The sampled ``parameters`` are kept exactly: a fit is rebuilt
    from them.
    """
    post = idata["posterior"].to_dataset()
    post = post.drop_vars([v for v in RECOMPUTABLE if v in post.data_vars])
    derived = [v for v in post.data_vars if v not in parameters and post[v].dtype == "float64"]
    post = post.assign({v: _rounded(post[v]) for v in derived})
    idata["posterior"] = xr.DataTree(post, name="posterior")
    for group in _ROUNDED_GROUPS[1:]:
        if group in idata.children:
            ds = idata[group].to_dataset()
            ds = ds.assign({v: _rounded(ds[v]) for v in ds.data_vars if ds[v].dtype == "float64"})
            idata[group] = xr.DataTree(ds, name=group)


#: ``idata.attrs`` key that records an automatic escalation of ``target_accept``, and why.
ESCALATION_ATTR = "target_accept_escalation"


def _escalate(
    model: pm.Model, idata: Any, config: ModelConfig, progress: bool, check: Any
) -> tuple[Any, ModelConfig]:
    """Sample again at ``sampler.max_target_accept`` if NUTS diverged; record why.

    Divergences mean the step size was too large for the posterior's curvature somewhere
    (typically a funnel between ``beta`` and the saturation parameters of a weakly identified
    channel); a smaller step (a higher target acceptance) usually removes them, at the cost of
    more leapfrog steps, so it is paid only by fits that need it.
    """
    s = config.sampler
    stats = idata["sample_stats"] if "sample_stats" in idata.children else None
    if s.sampler == "advi" or stats is None or "diverging" not in stats:
        return idata, config
    divergent = int(stats["diverging"].sum())
    if not divergent or s.max_target_accept <= s.target_accept:
        return idata, config
    reason = (
        f"{divergent} divergent transitions at target_accept {s.target_accept}; "
        f"sampled again at {s.max_target_accept}"
    )
    log.warning(reason)
    config = config.with_sampler(target_accept=s.max_target_accept)
    idata = sample_posterior(model, config.sampler, progress=progress)
    check()
    idata.attrs[ESCALATION_ATTR] = reason
    return idata, config


def _sample(model: pm.Model, config: ModelConfig, progress: bool) -> tuple[Any, ModelConfig, float]:
    """Draws with the predictive added, the config they were drawn with, when sampling ended."""
    log.info("sampling with %s", config.sampler.sampler)
    with interrupt_guard() as guard:
        idata = sample_posterior(model, config.sampler, progress=progress)
        guard.check()  # nutpie returns partial, NaN-padded draws when interrupted
        idata, config = _escalate(model, idata, config, progress, guard.check)
        sampled = time.perf_counter()
        # a geo fit keeps its per-cell draws only as sums, means and a national predictive
        means = add_deterministics(model, idata, means=cell_variables(model))
        add_predictive(model, idata, config.sampler.seed, keep=geo_predictive(model))
        add_cell_means(model, idata, means)
        compact_draws(idata, [rv.name for rv in model.free_RVs])
    return idata, config, sampled


def fit(frame: pd.DataFrame, config: ModelConfig, *, progress: bool = False) -> FitResult:
    """Validate, build, sample and post-process one media mix model.

    Parameters
    ----------
    frame : pandas.DataFrame
        The data, read as :func:`mediamix.data.columns.prepare_frame` says (date column,
        events, holidays; other columns ignored with one warning).
    config : ModelConfig
        Model and sampler configuration; the result's adds the derived controls.
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
    FitInterrupted
        On ``SIGINT``/``SIGTERM`` while sampling: a partial fit is never returned.

    Notes
    -----
    NUTS fits with divergences are sampled again at ``sampler.max_target_accept`` (0.99; set it
    to ``target_accept`` to turn this off); ``idata.attrs["target_accept_escalation"]`` says so.
    """
    t0 = time.perf_counter()
    # the user's columns as the config reads them: date column, events, holidays, extras
    frame, config = prepare_frame(frame, resolve_calibration(config))  # lift tests read once
    md = prepare_data(frame, config)
    model = build_model(md, config)
    t1 = time.perf_counter()
    idata, config, t2 = _sample(model, config, progress)
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
