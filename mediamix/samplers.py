"""Samplers: how a built PyMC model becomes posterior draws.

``nutpie`` (the default) runs nutpie's Rust NUTS with its low-rank mass-matrix adaptation, which
follows the strong correlations between ``beta``, the saturation parameters and the intercept:
on the shipped 3-channel data it takes about 7 leapfrog steps per draw instead of about 45 with
a diagonal mass matrix (see docs/benchmarks.md).

The log-density and its gradient are PyTensor's numba-compiled function, called directly for
each evaluation. nutpie's own numba path wraps that function in a new C callback that is
compiled from scratch in every process (about 12 s on a 2-core machine); calling the cached
function directly costs a few microseconds more per evaluation but compiles in about 2 s once
PyTensor's on-disk cache is warm. The function is compiled with ``nogil``: nutpie runs each
chain in its own thread and calls it with the GIL held, so without ``nogil`` the chains take
turns; with it, two chains evaluate at once on two cores (28 µs per evaluation alone, 15 µs
each with two threads, on the shipped model). ``nutpie-native`` keeps nutpie's own compilation.

``pymc`` is PyMC's NUTS, ``numpyro`` the JAX sampler (the ``jax`` extra), ``advi`` a fast
mean-field variational approximation.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np
import pymc as pm

from mediamix.errors import MediamixError
from mediamix.model_config import SamplerConfig

__all__ = ["sample_posterior"]


@cache
def _nogil_numba_mode() -> Any:
    """PyTensor's NUMBA mode, with the final function compiled to release the GIL."""
    from pytensor.compile.mode import Mode, get_mode
    from pytensor.link.numba.dispatch.basic import numba_njit
    from pytensor.link.numba.linker import NumbaLinker

    class NogilNumbaLinker(NumbaLinker):
        def jit_compile(self, fn_and_cache: Any) -> Any:
            fn, cache_key = fn_and_cache
            return numba_njit(
                fn.py_func, final_function=True, cache=cache_key is not None, nogil=True
            )

    return Mode(linker=NogilNumbaLinker(), optimizer=get_mode("NUMBA").provided_optimizer)


def _fast_nutpie_model(model: pm.Model) -> Any:
    """A nutpie model whose log-density is PyTensor's cached numba function, called directly."""
    from nutpie.compile_pymc import _make_functions, _prepare_dims_and_coords
    from nutpie.compiled_pyfunc import from_pyfunc
    from pymc.initial_point import make_initial_point_fn

    unlocked = make_initial_point_fn(
        model=model,
        return_transformed=True,
        jitter_rvs=set(model.free_RVs),
        default_strategy="support_point",
    )
    lock = threading.Lock()

    def point_fn(*args: Any, **kwargs: Any) -> Any:
        # nutpie starts every chain in its own thread; PyMC's function is not thread-safe
        with lock:
            return unlocked(*args, **kwargs)

    n_dim, _, logp_pt, expand_pt, initial_point, shape_info, renamed = _make_functions(
        model,
        mode=_nogil_numba_mode(),
        compute_grad=True,
        join_expanded=False,
        pymc_initial_point_fn=point_fn,
        var_names=None,
    )
    logp_jit, expand_jit = logp_pt.vm.jit_fn, expand_pt.vm.jit_fn
    logp_data = tuple(np.asarray(v.get_value()) for v in logp_pt.get_shared())
    expand_data = tuple(np.asarray(v.get_value()) for v in expand_pt.get_shared())
    names, _, shapes = shape_info

    def make_logp() -> Callable[..., tuple[float, np.ndarray]]:
        def logp(x: np.ndarray, **_: Any) -> tuple[float, np.ndarray]:
            value, grad = logp_jit(x, *logp_data)
            return float(value), grad

        return logp

    def make_expand(*_: Any) -> Callable[..., dict[str, np.ndarray]]:
        def expand(x: np.ndarray, **__: Any) -> dict[str, np.ndarray]:
            values = expand_jit(x, *expand_data)
            return {
                n: np.asarray(v, dtype=np.float64).reshape(s)
                for n, v, s in zip(names, values, shapes, strict=True)
            }

        return expand

    dims, coords = _prepare_dims_and_coords(model, shape_info, renamed)
    return from_pyfunc(
        ndim=n_dim,
        make_logp_fn=make_logp,
        make_expand_fn=make_expand,
        make_initial_point_fn=initial_point,
        expanded_dtypes=[np.dtype("float64")] * len(names),
        expanded_shapes=shapes,
        expanded_names=names,
        dims=dims,
        coords=coords,
        reparameterized_names=renamed,
    )


def _sample_nutpie(model: pm.Model, s: SamplerConfig, progress: bool, native: bool) -> Any:
    import nutpie
    from pymc.backends.arviz import patch_nutpie_idata

    compiled = nutpie.compile_pymc_model(model) if native else _fast_nutpie_model(model)
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
