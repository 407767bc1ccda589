"""Samplers: how a built PyMC model becomes posterior draws.

``nutpie`` (the default) runs nutpie's Rust NUTS with its low-rank mass-matrix adaptation, which
follows the strong correlations between ``beta``, the saturation parameters and the intercept:
on the shipped 3-channel data it takes about 7 leapfrog steps per draw instead of about 45 with
a diagonal mass matrix (see docs/benchmarks.md).

nutpie gets the model from :mod:`mediamix.inference.nutpie_callback`: the log-density as a numba
C callback that nutpie's threads call with no Python in between, cached on disk per model
structure and data shape, so a refit on new data of the same shape compiles in about a second.
``nutpie-native`` keeps nutpie's own compilation (about 20 s in every process). The callback
needs nutpie and PyTensor internals; if the installed versions lack one, ``nutpie`` falls back
to ``nutpie-native``'s public path with one :class:`SamplerFallbackWarning`.

The posterior's root ``attrs["sampler_path"]`` records how the draws were made:
``"c_callback"``, ``"python_callback"`` or ``"nutpie_public_api"`` for nutpie (a fallback also
sets ``attrs["sampler_fallback_reason"]``), else the sampler's name. Saved fits keep both.

``pymc`` is PyMC's NUTS, ``numpyro`` the JAX sampler (the ``jax`` extra), ``advi`` a fast
mean-field variational approximation.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import pymc as pm

from mediamix.config.model import SamplerConfig
from mediamix.errors import MediamixError
from mediamix.inference.nutpie_callback import callback_kind, compiled_nutpie_model
from mediamix.inference.nutpie_internals import NutpieInternalsError

__all__ = ["PUBLIC_API_PATH", "SamplerFallbackWarning", "sample_posterior"]

#: ``attrs["sampler_path"]`` of draws made through ``nutpie.compile_pymc_model``.
PUBLIC_API_PATH = "nutpie_public_api"


class SamplerFallbackWarning(UserWarning):
    """The configured sampler's fast path is unavailable; a slower path with the same draws ran."""


def _nutpie_model(model: pm.Model, native: bool) -> tuple[Any, dict[str, str]]:
    """The compiled nutpie model and the attrs recording which path built it."""
    import nutpie

    if native:
        return nutpie.compile_pymc_model(model), {"sampler_path": PUBLIC_API_PATH}
    try:
        return compiled_nutpie_model(model), {"sampler_path": callback_kind(model)}
    except NutpieInternalsError as exc:
        warnings.warn(
            f"sampler 'nutpie' fell back to nutpie's public compile_pymc_model: {exc} "
            "Sampling works and gives the same posterior, but the model is compiled again in "
            "every process (about 20 s) instead of loading mediamix's cached C callback.",
            SamplerFallbackWarning,
            stacklevel=4,
        )
        attrs = {"sampler_path": PUBLIC_API_PATH, "sampler_fallback_reason": str(exc)}
        return nutpie.compile_pymc_model(model), attrs


def _sample_nutpie(model: pm.Model, s: SamplerConfig, progress: bool, native: bool) -> Any:
    import nutpie
    from pymc.backends.arviz import patch_nutpie_idata

    compiled, path_attrs = _nutpie_model(model, native)
    start = time.time()
    idata = nutpie.sample(
        compiled,
        draws=s.draws,
        tune=s.tune,
        chains=s.chains,
        cores=s.cores,
        seed=s.seed,
        save_warmup=False,
        progress_bar=progress,
        adaptation="low_rank",
        target_accept=s.target_accept,
    )
    patch_nutpie_idata(idata, model, sampling_time=time.time() - start)
    idata.attrs.update(path_attrs)
    return idata


def _sample_advi(model: pm.Model, s: SamplerConfig, progress: bool) -> Any:
    # PyMC 6 no longer re-exports the callbacks as pm.callbacks
    from pymc.variational.callbacks import CheckParametersConvergence

    with model:
        approx = pm.fit(
            n=s.advi_iterations,
            method="advi",
            random_seed=s.seed,
            progressbar=progress,
            callbacks=[CheckParametersConvergence(diff="relative")],
        )
        return approx.sample(draws=s.draws * s.chains, random_seed=s.seed)


def sample_posterior(model: pm.Model, sampler: SamplerConfig, *, progress: bool = False) -> Any:
    """Draw from the posterior of ``model`` with the configured sampler.

    Parameters
    ----------
    model : pymc.Model
        The built model.
    sampler : SamplerConfig
        Sampler name, draws, tune, chains, target acceptance and seed.
    progress : bool, default False
        Show the sampler's progress bar.

    Returns
    -------
    xarray.DataTree
        ``posterior``, ``sample_stats``, ``observed_data`` and ``constant_data``; its
        ``attrs["sampler_path"]`` says which path made the draws (see the module docstring).

    Raises
    ------
    MediamixError
        If the sampler's optional dependency is not installed.

    Warns
    -----
    SamplerFallbackWarning
        Once, when ``nutpie``'s cached C callback cannot be built with the installed nutpie and
        PyTensor and nutpie's public, slower-compiling path is used instead.
    """
    name = sampler.sampler
    if name in ("nutpie", "nutpie-native"):
        return _sample_nutpie(model, sampler, progress, native=name == "nutpie-native")
    idata = _sample_other(model, sampler, progress)
    idata.attrs["sampler_path"] = name
    return idata


def _sample_other(model: pm.Model, sampler: SamplerConfig, progress: bool) -> Any:
    name = sampler.sampler
    if name == "advi":
        return _sample_advi(model, sampler, progress)
    if name == "numpyro":
        try:
            import numpyro  # noqa: F401
        except ImportError:
            raise MediamixError(
                "sampler 'numpyro' needs the jax extra: pip install 'mediamix[jax]'"
            ) from None
    with model:
        return pm.sample(
            draws=sampler.draws,
            tune=sampler.tune,
            chains=sampler.chains,
            cores=sampler.cores,
            target_accept=sampler.target_accept,
            random_seed=sampler.seed,
            nuts_sampler=name,
            progressbar=progress,
            compute_convergence_checks=False,
        )
