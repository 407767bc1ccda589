"""The one place mediamix uses nutpie's and PyTensor's private internals.

The cached C callback (:mod:`mediamix.inference.nutpie_callback`) needs pieces that neither
library publishes: nutpie's ``_make_functions`` and ``_prepare_dims_and_coords``, its
``CompiledPyMCModel`` and ``from_pyfunc`` constructors, and a subclass of PyTensor's
``NumbaLinker`` that calls ``numba_njit(..., final_function=True, cache=...)`` and
``compile_numba_function_src``. Any release may rename or reshape them, so nothing else in the
package imports them.

Before first use, :func:`require_internals` checks that each piece exists and accepts the
parameters it is called with; if one does not, it raises :class:`NutpieInternalsError`, which
names every missing piece and the installed versions. The sampler then falls back to nutpie's
public ``compile_pymc_model`` (slower to compile, same posterior).
"""

from __future__ import annotations

import importlib
import inspect
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from typing import Any, NamedTuple

import numpy as np

from mediamix.errors import MediamixError

__all__ = [
    "NutpieFunctions",
    "NutpieInternalsError",
    "c_callback_nutpie_model",
    "compile_source",
    "internals_problems",
    "jitted_function",
    "make_nutpie_functions",
    "nogil_numba_mode",
    "pytensor_cache_key",
    "python_callback_nutpie_model",
    "require_internals",
]

#: The releases whose internals this module was written against (and CI checks).
WRITTEN_FOR = "nutpie 0.16 and pytensor 3.3"


class NutpieInternalsError(MediamixError):
    """An internal of nutpie or PyTensor that the cached C callback needs is missing or changed."""


@dataclass(frozen=True)
class _Internal:
    """One private piece: where it lives and the parameter names mediamix passes to it."""

    module: str
    name: str  # may be dotted, as in ``NumbaLinker.jit_compile``
    params: tuple[str, ...]

    @property
    def qualname(self) -> str:
        return f"{self.module}.{self.name}"


# Every call below passes these by keyword, so a renamed parameter is caught here and not
# swallowed by a ``**kwargs`` (numba_njit forwards ``cache`` and ``nogil`` to numba that way).
_INTERNALS = (
    _Internal(
        "nutpie.compile_pymc",
        "_make_functions",
        (
            "model",
            "mode",
            "compute_grad",
            "join_expanded",
            "pymc_initial_point_fn",
            "var_names",
        ),
    ),
    _Internal(
        "nutpie.compile_pymc",
        "_prepare_dims_and_coords",
        ("model", "shape_info", "reparameterized_names"),
    ),
    _Internal(
        "nutpie.compile_pymc",
        "CompiledPyMCModel",
        (
            "_n_dim",
            "dims",
            "_coords",
            "_shapes",
            "compiled_logp_func",
            "compiled_expand_func",
            "initial_point_func",
            "shared_data",
            "shared_var_keys",
            "user_data",
            "n_expanded",
            "shape_info",
            "logp_func",
            "expand_func",
            "reparameterized_names",
        ),
    ),
    _Internal(
        "nutpie.compiled_pyfunc",
        "from_pyfunc",
        (
            "ndim",
            "make_logp_fn",
            "make_expand_fn",
            "make_initial_point_fn",
            "expanded_dtypes",
            "expanded_shapes",
            "expanded_names",
            "dims",
            "coords",
            "reparameterized_names",
        ),
    ),
    _Internal("pytensor.link.numba.linker", "NumbaLinker.jit_compile", ("self", "fn_and_cache")),
    _Internal("pytensor.link.numba.dispatch.basic", "numba_njit", ("final_function",)),
    _Internal(
        "pytensor.link.numba.cache",
        "compile_numba_function_src",
        ("src", "function_name", "global_env", "cache_key"),
    ),
)


def _installed(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def _lookup(internal: _Internal) -> Any:
    """The object ``internal`` names; raises ``ImportError`` or ``AttributeError`` if absent."""
    obj: Any = importlib.import_module(internal.module)
    for part in internal.name.split("."):
        obj = getattr(obj, part)
    return obj


def _problem(internal: _Internal) -> str | None:
    """What is wrong with one internal, or None if it is there with every parameter."""
    try:
        obj = _lookup(internal)
    except (ImportError, AttributeError):
        return f"{internal.qualname} is missing"
    try:
        accepted = set(inspect.signature(obj).parameters)
    except (TypeError, ValueError):
        return f"{internal.qualname} has no inspectable signature"
    absent = [p for p in internal.params if p not in accepted]
    if absent:
        return f"{internal.qualname} no longer takes {', '.join(map(repr, absent))}"
    return None


@cache
def internals_problems() -> tuple[str, ...]:
    """Every internal that is missing or changed in the installed nutpie and PyTensor.

    Returns
    -------
    tuple of str
        One line per problem; empty when the fast nutpie path can be built. Computed once per
        process (``internals_problems.cache_clear()`` forgets it).
    """
    problems = [p for p in map(_problem, _INTERNALS) if p is not None]
    try:
        from pytensor.compile.mode import get_mode

        if not hasattr(get_mode("NUMBA"), "provided_optimizer"):
            problems.append("pytensor's NUMBA mode has no provided_optimizer")
    except (ImportError, AttributeError, ValueError) as exc:
        problems.append(f"pytensor's NUMBA mode cannot be built: {exc}")
    return tuple(problems)


def _error(problems: Iterable[str]) -> NutpieInternalsError:
    return NutpieInternalsError(
        "mediamix's cached nutpie C callback cannot be built with the installed nutpie "
        f"{_installed('nutpie')} and pytensor {_installed('pytensor')}: "
        + "; ".join(problems)
        + f". It is written for {WRITTEN_FOR}; install those, or use sampler 'nutpie-native'."
    )


def require_internals() -> None:
    """Check that every internal the fast nutpie path uses is there, once per process.

    Raises
    ------
    NutpieInternalsError
        Naming each missing or changed internal and the installed nutpie and pytensor versions.
    """
    problems = internals_problems()
    if problems:
        raise _error(problems)


#: PyTensor's cache key of each compiled function, keyed by its numba dispatcher.
_CACHE_KEYS: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


@cache
def nogil_numba_mode() -> Any:
    """PyTensor's NUMBA mode; the final function releases the GIL and its cache key is kept.

    Raises
    ------
    NutpieInternalsError
        If PyTensor's numba linker is not the one this subclass was written for.
    """
    require_internals()
    from pytensor.compile.mode import Mode, get_mode
    from pytensor.link.numba.dispatch.basic import numba_njit
    from pytensor.link.numba.linker import NumbaLinker

    class NogilNumbaLinker(NumbaLinker):
        def jit_compile(self, fn_and_cache: Any) -> Any:
            if not (isinstance(fn_and_cache, tuple) and len(fn_and_cache) == 2):
                raise _error(["NumbaLinker.jit_compile no longer gets (function, cache key)"])
            fn, cache_key = fn_and_cache
            jitted = numba_njit(
                fn.py_func, final_function=True, cache=cache_key is not None, nogil=True
            )
            if cache_key is not None:
                _CACHE_KEYS[jitted] = cache_key
            return jitted

    return Mode(linker=NogilNumbaLinker(), optimizer=get_mode("NUMBA").provided_optimizer)


def jitted_function(fn_pt: Any) -> Any:
    """The numba dispatcher behind a PyTensor function compiled with :func:`nogil_numba_mode`."""
    jitted = getattr(getattr(fn_pt, "vm", None), "jit_fn", None)
    if jitted is None:
        raise _error(["a PyTensor function compiled in NUMBA mode has no vm.jit_fn"])
    return jitted


def pytensor_cache_key(jitted: Any) -> str | None:
    """PyTensor's cache key of a dispatcher from :func:`jitted_function`; None if uncached."""
    return _CACHE_KEYS.get(jitted)


class NutpieFunctions(NamedTuple):
    """What nutpie's ``_make_functions`` returns, by name."""

    n_dim: int
    n_expanded: int
    logp_fn: Any
    expand_fn: Any
    initial_point_fn: Callable[..., Any]
    shape_info: Any
    reparameterized_names: Any


def make_nutpie_functions(
    model: Any, *, join_expanded: bool, initial_point_fn: Callable[..., Any]
) -> NutpieFunctions:
    """Nutpie's PyTensor functions for ``model``, compiled with :func:`nogil_numba_mode`.

    Parameters
    ----------
    model : pymc.Model
        The built model.
    join_expanded : bool
        Whether ``expand_fn`` returns one joined vector instead of one array per variable.
    initial_point_fn : callable
        PyMC's initial-point function (seed -> point), as nutpie's ``compile_pymc_model``
        makes it.

    Returns
    -------
    NutpieFunctions
        The log-density (value and gradient), the expansion to the sampled variables (not
        the deterministics), the initial point function, and the expanded variables' shapes
        and names.

    Raises
    ------
    NutpieInternalsError
        If nutpie's ``_make_functions`` is missing, changed, or returns another shape.
    """
    require_internals()
    from nutpie.compile_pymc import _make_functions

    functions = tuple(
        _make_functions(
            model=model,
            mode=nogil_numba_mode(),
            compute_grad=True,
            join_expanded=join_expanded,
            pymc_initial_point_fn=initial_point_fn,
            # only the sampled variables: deterministics are computed afterwards over all draws
            # at once (mediamix.inference.predictive), which keeps this compiled function small
            var_names=[rv.name for rv in model.free_RVs],
        )
    )
    if len(functions) != len(NutpieFunctions._fields):
        expected = len(NutpieFunctions._fields)
        raise _error([f"_make_functions returned {len(functions)} values, not {expected}"])
    return NutpieFunctions(*functions)


def _dims_and_coords(model: Any, functions: NutpieFunctions) -> tuple[Any, Any]:
    from nutpie.compile_pymc import _prepare_dims_and_coords

    dims, coords = _prepare_dims_and_coords(
        model=model,
        shape_info=functions.shape_info,
        reparameterized_names=functions.reparameterized_names,
    )
    return dims, coords


def compile_source(source: str, name: str, global_env: dict[str, Any], key: str | None) -> Any:
    """Compile generated source to a Python function that numba can cache under ``key``.

    Parameters
    ----------
    source : str
        The function's source.
    name : str
        The function's name in ``source``.
    global_env : dict
        Its globals; ``__name__`` must name an importable module (numba's cache imports it).
    key : str or None
        The cache key; None for a function numba must not cache.

    Returns
    -------
    callable
        The Python function, ready for ``numba.njit`` or ``numba.cfunc``.
    """
    require_internals()
    from pytensor.link.numba.cache import compile_numba_function_src

    return compile_numba_function_src(
        src=source, function_name=name, global_env=global_env, cache_key=key
    )


def c_callback_nutpie_model(
    model: Any,
    functions: NutpieFunctions,
    *,
    logp_callback: Any,
    expand_callback: Any,
    user_data: np.ndarray,
) -> Any:
    """Nutpie's ``CompiledPyMCModel`` around numba C callbacks.

    Parameters
    ----------
    model : pymc.Model
        The model ``functions`` were made from (for dims and coords).
    functions : NutpieFunctions
        From :func:`make_nutpie_functions` with ``join_expanded=True``.
    logp_callback, expand_callback : numba.core.ccallback.CFunc
        nutpie's ``logp`` and ``expand`` C callbacks.
    user_data : numpy.ndarray
        The buffer nutpie passes to both callbacks as their last argument.

    Returns
    -------
    nutpie.compile_pymc.CompiledPyMCModel
        Ready for ``nutpie.sample``.
    """
    require_internals()
    from nutpie.compile_pymc import CompiledPyMCModel

    dims, coords = _dims_and_coords(model, functions)
    names, _, shapes = functions.shape_info
    return CompiledPyMCModel(
        _n_dim=functions.n_dim,
        dims=dims,
        _coords=coords,
        _shapes={name: tuple(shape) for name, shape in zip(names, shapes, strict=True)},
        compiled_logp_func=logp_callback,
        compiled_expand_func=expand_callback,
        initial_point_func=functions.initial_point_fn,
        shared_data={},
        shared_var_keys={},
        user_data=user_data,
        n_expanded=functions.n_expanded,
        shape_info=functions.shape_info,
        logp_func=functions.logp_fn,
        expand_func=functions.expand_fn,
        reparameterized_names=functions.reparameterized_names,
    )


def python_callback_nutpie_model(
    model: Any,
    functions: NutpieFunctions,
    *,
    make_logp: Callable[..., Any],
    make_expand: Callable[..., Any],
) -> Any:
    """Nutpie's model around Python callbacks, from its ``from_pyfunc``.

    Parameters
    ----------
    model : pymc.Model
        The model ``functions`` were made from (for dims and coords).
    functions : NutpieFunctions
        From :func:`make_nutpie_functions` with ``join_expanded=False``.
    make_logp, make_expand : callable
        Factories of the log-density and expansion callbacks, as ``from_pyfunc`` takes them.

    Returns
    -------
    nutpie.compiled_pyfunc.PyFuncModel
        Ready for ``nutpie.sample``; every expanded variable is float64.
    """
    require_internals()
    from nutpie.compiled_pyfunc import from_pyfunc

    dims, coords = _dims_and_coords(model, functions)
    names, _, shapes = functions.shape_info
    return from_pyfunc(
        ndim=functions.n_dim,
        make_logp_fn=make_logp,
        make_expand_fn=make_expand,
        make_initial_point_fn=functions.initial_point_fn,
        expanded_dtypes=[np.dtype("float64")] * len(names),
        expanded_shapes=shapes,
        expanded_names=names,
        dims=dims,
        coords=coords,
        reparameterized_names=functions.reparameterized_names,
    )
