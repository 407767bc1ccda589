"""Samplers: how a built PyMC model becomes posterior draws.

``nutpie`` (the default) runs nutpie's Rust NUTS with its low-rank mass-matrix adaptation, which
follows the strong correlations between ``beta``, the saturation parameters and the intercept:
on the shipped 3-channel data it takes about 7 leapfrog steps per draw instead of about 45 with
a diagonal mass matrix (see docs/benchmarks.md).

nutpie gets the model from :mod:`mediamix.inference.nutpie_callback`: the log-density as a numba
C callback that nutpie's threads call with no Python in between, cached on disk per model
structure, so a
refit on new data compiles in about a second. ``nutpie-native`` keeps nutpie's own compilation
(about 20 s in every process).

``pymc`` is PyMC's NUTS, ``numpyro`` the JAX sampler (the ``jax`` extra), ``advi`` a fast
mean-field variational approximation.
"""

from __future__ import annotations

import time
from typing import Any

import pymc as pm

from mediamix.config.model import SamplerConfig
from mediamix.errors import MediamixError
from mediamix.inference.nutpie_callback import compiled_nutpie_model

__all__ = ["sample_posterior"]


def _sample_nutpie(model: pm.Model, s: SamplerConfig, progress: bool, native: bool) -> Any:
    import nutpie
    from pymc.backends.arviz import patch_nutpie_idata

    compiled = nutpie.compile_pymc_model(model) if native else compiled_nutpie_model(model)
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
    return idata


def _sample_advi(model: pm.Model, s: SamplerConfig, progress: bool) -> Any:
    with model:
        approx = pm.fit(
            n=s.advi_iterations,
            method="advi",
            random_seed=s.seed,
            progressbar=progress,
            callbacks=[pm.callbacks.CheckParametersConvergence(diff="relative")],
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
        ``posterior``, ``sample_stats``, ``observed_data`` and ``constant_data``.

    Raises
    ------
    MediamixError
        If the sampler's optional dependency is not installed.
    """
    name = sampler.sampler
    if name in ("nutpie", "nutpie-native"):
        return _sample_nutpie(model, sampler, progress, native=name == "nutpie-native")
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
