"""Adstock (carry-over) and saturation (diminishing returns) transforms.

Every function has one formula and two backends: called with numpy arrays it computes with
numpy and returns a numpy array; called with any PyTensor variable among its arguments it
builds a PyTensor graph and returns a variable, so the same code serves the data generator,
the PyMC model and the budget optimizer.

Shapes: ``x`` is a 1-D series ``(time,)`` or a matrix ``(time, channel)``. Parameters are
scalars, or vectors of length ``channel`` (one value per channel) for a matrix. The graph
has no Python loop over time or channels: the lag window is gathered with one indexing
operation and reduced with one sum.

Definitions (see README):

- geometric adstock, ``w_l = alpha**l`` for ``l = 0..l_max-1``;
- delayed adstock, ``w_l = alpha**((l - theta)**2)``, peaking ``theta`` periods after spend;
- either one: ``y_t = sum_l w_l x_{t-l}`` (divided by ``sum_l w_l`` when ``normalize``), with
  ``x`` before the first period taken as 0;
- logistic saturation ``(1 - exp(-lam x)) / (1 + exp(-lam x))``;
- Hill saturation ``x**s / (x**s + k**s)``.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, overload

import numpy as np
import numpy.typing as npt
import pytensor.tensor as pt
from pytensor.graph.basic import Variable
from scipy.special import expit

from mediamix.errors import MediamixError

__all__ = [
    "delayed_adstock",
    "geometric_adstock",
    "hill_saturation",
    "logistic_saturation",
]

ArrayLike = npt.ArrayLike
FloatArray = npt.NDArray[np.float64]


class TransformInputError(MediamixError):
    """Raised when a transform receives an array or parameter of the wrong shape or type."""


def _is_symbolic(*args: Any) -> bool:
    return any(isinstance(a, Variable) for a in args)


def _as_numeric_array(value: ArrayLike, name: str) -> FloatArray:
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise TransformInputError(
            f"{name} must be real numbers (int or float), got dtype {arr.dtype}"
        )
    return arr.astype(np.float64, copy=False)


def _as_tensor(value: Any, name: str) -> Any:
    if isinstance(value, Variable):
        # the same kinds the numpy backend accepts: bool, signed and unsigned int, float
        if np.dtype(value.type.dtype).kind not in "biuf":
            raise TransformInputError(
                f"{name} must be a real-valued tensor (int or float), got {value.type}"
            )
        return value
    return pt.as_tensor_variable(_as_numeric_array(value, name))


def _ndim(value: Any) -> int:
    return int(value.ndim)


def _static_len(value: Any, axis: int) -> int | None:
    if isinstance(value, Variable):
        dim = value.type.shape[axis]
        return None if dim is None else int(dim)
    return int(value.shape[axis])


def _check_x(x: Any) -> None:
    if _ndim(x) not in (1, 2):
        raise TransformInputError(
            f"x must be 1-D (time,) or 2-D (time, channel), got {_ndim(x)} dimensions"
        )


def _check_param(x: Any, param: Any, name: str) -> None:
    """A parameter is a scalar, or one value per channel for a (time, channel) x."""
    nd = _ndim(param)
    if nd == 0:
        return
    if nd == 1 and _ndim(x) == 2:
        n_param, n_channel = _static_len(param, 0), _static_len(x, 1)
        if n_param is not None and n_channel is not None and n_param != n_channel:
            raise TransformInputError(
                f"{name} has {n_param} values but x has {n_channel} channels; "
                f"give one value per channel or a scalar"
            )
        return
    allowed = "a scalar or a vector of one value per channel" if _ndim(x) == 2 else "a scalar"
    raise TransformInputError(f"{name} must be {allowed} for {_ndim(x)}-D x, got {nd} dimensions")


def _check_l_max(l_max: int) -> None:
    if isinstance(l_max, bool) or not isinstance(l_max, int | np.integer) or l_max < 1:
        raise TransformInputError(f"l_max must be a positive integer, got {l_max!r}")


def _lagged(x: Any, l_max: int, xp: ModuleType) -> Any:
    """Stack ``x_{t-l}`` for ``l = 0..l_max-1`` along a new axis 1: shape (time, lag, ...)."""
    n_time = x.shape[0]
    pad_shape = (l_max - 1,) if x.ndim == 1 else (l_max - 1, x.shape[1])
    pad = xp.zeros(pad_shape, dtype=x.dtype)
    padded = xp.concatenate([pad, x], axis=0)
    # index[t, l] points at x_{t-l} in the padded series
    index = xp.arange(n_time)[:, None] + (l_max - 1) - xp.arange(l_max)[None, :]
    return padded[index]


def _convolve(x: Any, weights: Any, l_max: int, normalize: bool, xp: ModuleType) -> Any:
    """Apply lag ``weights`` of shape (lag,) or (lag, channel) to ``x``."""
    if normalize:
        weights = weights / weights.sum(axis=0)
    lagged = _lagged(x, l_max, xp)
    if x.ndim == 1:
        return (lagged * weights[None, :]).sum(axis=1)
    if weights.ndim == 1:
        weights = weights[:, None]
    return (lagged * weights[None, :, :]).sum(axis=1)


def _lag_axis(param: Any, l_max: int, xp: ModuleType) -> Any:
    """Lags 0..l_max-1 arranged to broadcast against a scalar or per-channel parameter."""
    lags = xp.arange(l_max, dtype="float64")
    return lags if param.ndim == 0 else lags[:, None]


def _prepare(x: Any, params: dict[str, Any]) -> tuple[ModuleType, Any, dict[str, Any]]:
    """Validate inputs and convert them all to one backend."""
    if _is_symbolic(x, *params.values()):
        xp: ModuleType = pt
        x = _as_tensor(x, "x")
        params = {k: _as_tensor(v, k) for k, v in params.items()}
    else:
        xp = np
        x = _as_numeric_array(x, "x")
        params = {k: _as_numeric_array(v, k) for k, v in params.items()}
    _check_x(x)
    for name, value in params.items():
        _check_param(x, value, name)
    return xp, x, params


@overload
def geometric_adstock(
    x: Variable, alpha: Any, l_max: int = ..., normalize: bool = ...
) -> Variable: ...
@overload
def geometric_adstock(
    x: Any, alpha: Variable, l_max: int = ..., normalize: bool = ...
) -> Variable: ...
@overload
def geometric_adstock(
    x: ArrayLike, alpha: ArrayLike, l_max: int = ..., normalize: bool = ...
) -> FloatArray: ...
def geometric_adstock(x: Any, alpha: Any, l_max: int = 12, normalize: bool = True) -> Any:
    """Carry spend over to later periods with geometrically decaying weights.

    Parameters
    ----------
    x : array_like or TensorVariable
        Spend, shape ``(time,)`` or ``(time, channel)``.
    alpha : float, array_like or TensorVariable
        Retention rate in [0, 1): the weight of lag ``l`` is ``alpha**l``. A scalar, or one
        value per channel.
    l_max : int, default 12
        Number of lags in the window, the current period included.
    normalize : bool, default True
        Divide the weights by their sum so the transform preserves total spend (up to the
        window's truncation at the end of the series).

    Returns
    -------
    numpy.ndarray or TensorVariable
        Adstocked spend with the shape of ``x``; numpy in, numpy out.

    Raises
    ------
    TransformInputError
        If shapes or dtypes do not fit, or (numpy) ``alpha`` is outside [0, 1].
    """
    _check_l_max(l_max)
    xp, x, p = _prepare(x, {"alpha": alpha})
    alpha = p["alpha"]
    if xp is np:
        _check_range(alpha, "alpha", 0.0, 1.0)
    weights = alpha ** _lag_axis(alpha, l_max, xp)
    return _convolve(x, weights, l_max, normalize, xp)


@overload
def delayed_adstock(
    x: Variable, alpha: Any, theta: Any, l_max: int = ..., normalize: bool = ...
) -> Variable: ...
@overload
def delayed_adstock(
    x: Any, alpha: Variable, theta: Any, l_max: int = ..., normalize: bool = ...
) -> Variable: ...
@overload
def delayed_adstock(
    x: Any, alpha: Any, theta: Variable, l_max: int = ..., normalize: bool = ...
) -> Variable: ...
@overload
def delayed_adstock(
    x: ArrayLike, alpha: ArrayLike, theta: ArrayLike, l_max: int = ..., normalize: bool = ...
) -> FloatArray: ...
def delayed_adstock(x: Any, alpha: Any, theta: Any, l_max: int = 12, normalize: bool = True) -> Any:
    """Carry spend over with a delayed peak: weight ``alpha**((l - theta)**2)`` at lag ``l``.

    Parameters
    ----------
    x : array_like or TensorVariable
        Spend, shape ``(time,)`` or ``(time, channel)``.
    alpha : float, array_like or TensorVariable
        Retention rate in [0, 1]; smaller values concentrate the effect around the peak.
    theta : float, array_like or TensorVariable
        Lag of the peak effect, in [0, l_max - 1].
    l_max : int, default 12
        Number of lags in the window, the current period included.
    normalize : bool, default True
        Divide the weights by their sum.

    Returns
    -------
    numpy.ndarray or TensorVariable
        Adstocked spend with the shape of ``x``; numpy in, numpy out.

    Raises
    ------
    TransformInputError
        If shapes or dtypes do not fit, or (numpy) a parameter is outside its range.
    """
    _check_l_max(l_max)
    xp, x, p = _prepare(x, {"alpha": alpha, "theta": theta})
    alpha, theta = p["alpha"], p["theta"]
    if xp is np:
        _check_range(alpha, "alpha", 0.0, 1.0)
        _check_range(theta, "theta", 0.0, float(l_max - 1))
    lags = _lag_axis(alpha if alpha.ndim >= theta.ndim else theta, l_max, xp)
    weights = alpha ** ((lags - theta) ** 2)
    if xp is np and normalize and np.any(weights.sum(axis=0) == 0):
        # alpha = 0 puts all weight on lag theta, which exists only for a whole-number theta
        raise TransformInputError(
            f"alpha = 0 needs a whole-number theta (the lag that gets all the weight), "
            f"got alpha={alpha}, theta={theta}"
        )
    return _convolve(x, weights, l_max, normalize, xp)


@overload
def logistic_saturation(x: Variable, lam: Any) -> Variable: ...
@overload
def logistic_saturation(x: Any, lam: Variable) -> Variable: ...
@overload
def logistic_saturation(x: ArrayLike, lam: ArrayLike) -> FloatArray: ...
def logistic_saturation(x: Any, lam: Any) -> Any:
    """Logistic saturation ``(1 - exp(-lam x)) / (1 + exp(-lam x))``.

    Computed as ``tanh(lam x / 2)``, the same function without overflow for large ``lam x``.
    It is 0 at 0, increasing for ``lam > 0``, and tends to 1.

    Parameters
    ----------
    x : array_like or TensorVariable
        Non-negative input (usually adstocked, scaled spend), ``(time,)`` or ``(time, channel)``.
    lam : float, array_like or TensorVariable
        Steepness, > 0. A scalar, or one value per channel.

    Returns
    -------
    numpy.ndarray or TensorVariable
        Saturated input in [0, 1), shape of ``x``.
    """
    xp, x, p = _prepare(x, {"lam": lam})
    if xp is np:
        _check_positive(p["lam"], "lam")
    return xp.tanh(p["lam"] * x / 2.0)


@overload
def hill_saturation(x: Variable, k: Any, s: Any) -> Variable: ...
@overload
def hill_saturation(x: Any, k: Variable, s: Any) -> Variable: ...
@overload
def hill_saturation(x: Any, k: Any, s: Variable) -> Variable: ...
@overload
def hill_saturation(x: ArrayLike, k: ArrayLike, s: ArrayLike) -> FloatArray: ...
def hill_saturation(x: Any, k: Any, s: Any) -> Any:
    """Hill saturation ``x**s / (x**s + k**s)``.

    Computed as ``sigmoid(s (log x - log k))`` for ``x > 0`` and 0 at ``x = 0``, which is the
    same function with finite gradients everywhere (the literal form has ``0 * log 0`` in its
    gradient with respect to ``s`` at zero spend).

    Parameters
    ----------
    x : array_like or TensorVariable
        Non-negative input, ``(time,)`` or ``(time, channel)``.
    k : float, array_like or TensorVariable
        Half-saturation point (output 0.5 at ``x = k``), > 0.
    s : float, array_like or TensorVariable
        Shape (slope), > 0; ``s > 1`` gives an S-curve.

    Returns
    -------
    numpy.ndarray or TensorVariable
        Saturated input in [0, 1), shape of ``x``.
    """
    xp, x, p = _prepare(x, {"k": k, "s": s})
    k, s = p["k"], p["s"]
    if xp is np:
        _check_positive(k, "k")
        _check_positive(s, "s")
        if np.any(x < 0):
            raise TransformInputError("x must be non-negative for Hill saturation")
        with np.errstate(divide="ignore"):
            z = s * (np.log(np.where(x > 0, x, 1.0)) - np.log(k))
        return np.where(x > 0, expit(z), 0.0)
    positive = pt.gt(x, 0)
    safe_x = pt.switch(positive, x, 1.0)
    return pt.switch(positive, pt.sigmoid(s * (pt.log(safe_x) - pt.log(k))), 0.0)


def _check_range(value: FloatArray, name: str, low: float, high: float) -> None:
    if not np.all(np.isfinite(value)) or np.any(value < low) or np.any(value > high):
        raise TransformInputError(f"{name} must be in [{low:g}, {high:g}], got {value}")


def _check_positive(value: FloatArray, name: str) -> None:
    if not np.all(np.isfinite(value)) or np.any(value <= 0):
        raise TransformInputError(f"{name} must be finite and > 0, got {value}")
