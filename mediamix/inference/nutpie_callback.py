"""The model's log-density as a C callback for nutpie, cached on disk between processes.

nutpie samples fastest when the log-density is a C function pointer: its Rust threads then
call it with no Python in between (20 µs a step on the shipped model, against 58 µs through a
Python callback, which also serialises the chains on the GIL). nutpie's own numba path builds
that pointer with a closure that numba cannot cache, so every process pays about 20 s to
compile it again.

Here the callback's source is generated per model structure: it unpacks the model's data from
one float64 buffer (whose header holds offsets and shapes) and calls PyTensor's compiled
log-density. The source is keyed by PyTensor's own cache key of that function, so numba caches
the callback next to PyTensor's compiled code. That key includes the data's static shapes (the
model's dims have fixed lengths), so the cache is per structure *and* shape: a refit on new
values of the same shape (same periods, channels, controls) loads the callback in about a
second, while a different number of periods compiles once more (as long as a cold start) and
is cached from then on.

Every private nutpie and PyTensor piece this takes comes through
:mod:`mediamix.inference.nutpie_internals`, which raises
:class:`~mediamix.inference.nutpie_internals.NutpieInternalsError` when the installed versions
lack one; the sampler then falls back to nutpie's public API.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
import pymc as pm

from mediamix.inference.nutpie_internals import (
    NutpieFunctions,
    c_callback_nutpie_model,
    compile_source,
    jitted_function,
    make_nutpie_functions,
    nogil_numba_mode,
    pytensor_cache_key,
    python_callback_nutpie_model,
)

__all__ = [
    "c_callback_model",
    "callback_kind",
    "compiled_nutpie_model",
    "nogil_numba_mode",
    "pack_arrays",
    "python_callback_model",
]


def _locked_initial_point_fn(model: pm.Model) -> Callable[..., Any]:
    """PyMC's initial-point function behind a lock: nutpie calls it from each chain's thread."""
    from pymc.initial_point import make_initial_point_fn

    unlocked = make_initial_point_fn(
        model=model,
        return_transformed=True,
        jitter_rvs=set(model.free_RVs),
        default_strategy="support_point",
    )
    lock = threading.Lock()

    def point_fn(*args: Any, **kwargs: Any) -> Any:
        with lock:
            return unlocked(*args, **kwargs)

    return point_fn


def _pytensor_functions(model: pm.Model, *, join_expanded: bool) -> NutpieFunctions:
    """The PyTensor functions nutpie needs for ``model``, compiled with :func:`nogil_numba_mode`."""
    return make_nutpie_functions(
        model, join_expanded=join_expanded, initial_point_fn=_locked_initial_point_fn(model)
    )


def pack_arrays(arrays: Sequence[np.ndarray]) -> np.ndarray:
    """Pack float64 arrays into one buffer: ``[length, (offset, *shape) per array, data...]``.

    Parameters
    ----------
    arrays : sequence of numpy.ndarray
        The arrays, any shapes; converted to C-ordered float64.

    Returns
    -------
    numpy.ndarray
        The 1-D float64 buffer the generated callbacks read (shapes are exact below 2**53).
    """
    header = [0.0]
    for a in arrays:
        header += [0.0, *map(float, a.shape)]
    position, offset = 1, len(header)
    for a in arrays:
        header[position] = float(offset)
        position += 1 + a.ndim
        offset += a.size
    header[0] = float(offset)
    parts = [np.ascontiguousarray(a, dtype=np.float64).ravel() for a in arrays]
    return np.concatenate([np.asarray(header), *parts])


def _unpack_lines(ndims: Sequence[int]) -> tuple[list[str], int]:
    """Source lines that bind ``d0, d1, ...`` to views of ``buf``; and the header's length."""
    lines, position = [], 1
    for i, ndim in enumerate(ndims):
        dims = [f"int(hdr[{position + 1 + j}])" for j in range(ndim)]
        start = f"int(hdr[{position}])"
        size = " * ".join(dims) or "1"
        shape = "(" + ", ".join(dims) + ("," if ndim == 1 else "") + ")"
        view = f"buf[{start}:{start} + {size}]"
        lines.append(f"        d{i} = {view}.reshape({shape})")
        position += 1 + ndim
    return lines, position


def _callback_source(kind: str, ndims: Sequence[int], used: Sequence[int]) -> str:
    """The source of nutpie's ``logp`` or ``expand`` C callback."""
    unpack, header_len = _unpack_lines(ndims)
    args = ", ".join(["x", *(f"d{i}" for i in used)])
    if kind == "logp":
        head = [
            "def mm_logp(dim, x_, out_, logp_, ud_):",
            "    if dim != N_DIM:",
            "        return -1",
        ]
        call = [
            f"        value, grad = FN({args})",
            "        numba.carray(out_, (N_DIM,))[:] = grad",
            "        numba.carray(logp_, (1,))[0] = value",
            "        if not np.all(np.isfinite(grad)):",
            "            return 3",
            "        if not np.isfinite(value):",
            "            return 4",
        ]
        failed = "1"
    else:
        head = [
            "def mm_expand(dim, n_out, x_, out_, ud_):",
            "    if dim != N_DIM or n_out != N_OUT:",
            "        return -1",
        ]
        call = [
            f"        (values,) = FN({args})",
            "        numba.carray(out_, (N_OUT,))[:] = values",
        ]
        failed = "-2"
    body = [
        "    try:",
        "        x = numba.carray(x_, (N_DIM,))",
        f"        hdr = numba.carray(ud_, ({header_len},), np.float64)",
        "        buf = numba.carray(ud_, (int(hdr[0]),), np.float64)",
        *unpack,
        *call,
        "    except Exception:",
        f"        return {failed}",
        "    return 0",
    ]
    return "\n".join(head + body) + "\n"


def _signature(kind: str) -> Any:
    from numba import types

    double_ptr = types.CPointer(types.double)
    if kind == "logp":
        return types.int64(types.uint64, double_ptr, double_ptr, double_ptr, types.voidptr)
    return types.int64(types.uint64, types.uint64, double_ptr, double_ptr, types.voidptr)


def _compile_callback(
    kind: str,
    fn_pt: Any,
    ndims: Sequence[int],
    used: Sequence[int],
    n_dim: int,
    n_out: int,
) -> Any:
    import numba

    jitted = jitted_function(fn_pt)
    source = _callback_source(kind, ndims, used)
    pt_key = pytensor_cache_key(jitted)
    key = None
    if pt_key is not None:
        text = f"{source}\n{pt_key}\n{n_dim}\n{n_out}"
        key = "mediamix_" + kind + "_" + hashlib.sha256(text.encode()).hexdigest()
    py_func = compile_source(
        source,
        f"mm_{kind}",
        # numba rebuilds a cached function's environment by importing its module by name
        {
            "__name__": __name__,
            "np": np,
            "numba": numba,
            "FN": jitted,
            "N_DIM": n_dim,
            "N_OUT": n_out,
        },
        key,
    )
    return numba.cfunc(_signature(kind), cache=key is not None)(py_func)


def c_callback_model(model: pm.Model) -> Any:
    """A nutpie model whose log-density and expansion are cached numba C callbacks.

    Parameters
    ----------
    model : pymc.Model
        The built model. Its data (``pm.Data``) must be float64.

    Returns
    -------
    nutpie.compile_pymc.CompiledPyMCModel
        Ready for ``nutpie.sample``.

    Raises
    ------
    TypeError
        If a data variable is not float64 (the buffer holds only float64).
    NutpieInternalsError
        If the installed nutpie or PyTensor lacks an internal this path needs.
    """
    functions = _pytensor_functions(model, join_expanded=True)
    logp_pt, expand_pt = functions.logp_fn, functions.expand_fn
    shared: list[Any] = []
    for var in [*logp_pt.get_shared(), *expand_pt.get_shared()]:
        if var not in shared:
            shared.append(var)
    values = [np.asarray(v.get_value()) for v in shared]
    for var, value in zip(shared, values, strict=True):
        if value.dtype != np.float64:
            raise TypeError(f"data variable {var.name!r} is {value.dtype}, not float64")
    ndims = [v.ndim for v in values]
    callbacks: dict[str, Any] = {}
    for kind, fn_pt in (("logp", logp_pt), ("expand", expand_pt)):
        used = [shared.index(v) for v in fn_pt.get_shared()]
        callbacks[kind] = _compile_callback(
            kind, fn_pt, ndims, used, functions.n_dim, functions.n_expanded
        )
    return c_callback_nutpie_model(
        model,
        functions,
        logp_callback=callbacks["logp"],
        expand_callback=callbacks["expand"],
        user_data=pack_arrays(values),
    )


def python_callback_model(model: pm.Model) -> Any:
    """A nutpie model that calls PyTensor's numba-compiled log-density through Python.

    The fallback for models whose data the C callback cannot carry (integer index codes).

    Raises
    ------
    NutpieInternalsError
        If the installed nutpie or PyTensor lacks an internal this path needs.
    """
    functions = _pytensor_functions(model, join_expanded=False)
    logp_pt, expand_pt = functions.logp_fn, functions.expand_fn
    logp_jit, expand_jit = jitted_function(logp_pt), jitted_function(expand_pt)
    logp_data = tuple(np.asarray(v.get_value()) for v in logp_pt.get_shared())
    expand_data = tuple(np.asarray(v.get_value()) for v in expand_pt.get_shared())
    names, _, shapes = functions.shape_info

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

    return python_callback_nutpie_model(
        model, functions, make_logp=make_logp, make_expand=make_expand
    )


def callback_kind(model: pm.Model) -> Literal["c_callback", "python_callback"]:
    """Which callback :func:`compiled_nutpie_model` builds for ``model``.

    Parameters
    ----------
    model : pymc.Model
        The built model.

    Returns
    -------
    str
        ``"c_callback"`` when all its data is float64, else ``"python_callback"``.
    """
    # decided before building anything: c_callback_model would build the functions, then refuse
    if all(np.asarray(v.get_value()).dtype == np.float64 for v in model.data_vars):
        return "c_callback"
    return "python_callback"


def compiled_nutpie_model(model: pm.Model) -> Any:
    """The fastest nutpie model this PyMC model allows.

    Parameters
    ----------
    model : pymc.Model
        The built model.

    Returns
    -------
    nutpie.sample.CompiledModel
        The C-callback model (:func:`c_callback_model`), or the Python-callback one
        (:func:`python_callback_model`) when the model has non-float64 data (see
        :func:`callback_kind`).

    Raises
    ------
    NutpieInternalsError
        If the installed nutpie or PyTensor lacks an internal these paths need.
    """
    if callback_kind(model) == "c_callback":
        return c_callback_model(model)
    return python_callback_model(model)
