"""Adstock and saturation: formulas, backends, graph shape and input errors.

Expected values come from naive loop implementations written here from the definitions
(DESIGN.md / README), never from the code under test.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import hypothesis.extra.numpy as hnp
import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from pytensor.graph.basic import Variable
from pytensor.graph.traversal import applys_between
from pytensor.scan.op import Scan

from mediamix.errors import MediamixError
from mediamix.model.transforms import (
    TransformInputError,
    delayed_adstock,
    geometric_adstock,
    hill_saturation,
    logistic_saturation,
)

ATOL = 1e-10  # numpy vs pytensor, and implementation vs reference

# --------------------------------------------------------------------------------------
# Reference implementations: loops, straight from the definitions
# --------------------------------------------------------------------------------------


def ref_geometric_weights(alpha: float, l_max: int) -> list[float]:
    return [alpha**lag for lag in range(l_max)]


def ref_delayed_weights(alpha: float, theta: float, l_max: int) -> list[float]:
    return [alpha ** ((lag - theta) ** 2) for lag in range(l_max)]


def ref_convolve(x: np.ndarray, weights: list[float], normalize: bool) -> np.ndarray:
    """y_t = sum_l w_l x_{t-l}, x before the first period = 0; 1-D x."""
    total = sum(weights)
    w = [wl / total for wl in weights] if normalize else weights
    y = np.zeros(len(x))
    for t in range(len(x)):
        for lag, wl in enumerate(w):
            if t - lag >= 0:
                y[t] += wl * x[t - lag]
    return y


def ref_per_channel(
    x: np.ndarray, fn: Callable[..., np.ndarray], *params: np.ndarray | float
) -> np.ndarray:
    """Apply a 1-D reference to each column of x with that column's parameters."""
    if x.ndim == 1:
        return fn(x, *params)
    out = np.empty_like(x, dtype=float)
    for c in range(x.shape[1]):
        ps = [np.broadcast_to(p, (x.shape[1],))[c] for p in params]
        out[:, c] = fn(x[:, c], *ps)
    return out


def ref_geometric(x: np.ndarray, alpha: float, l_max: int = 12, normalize: bool = True):
    return ref_convolve(x, ref_geometric_weights(float(alpha), l_max), normalize)


def ref_delayed(x: np.ndarray, alpha: float, theta: float, l_max: int = 12, normalize=True):
    return ref_convolve(x, ref_delayed_weights(float(alpha), float(theta), l_max), normalize)


def ref_logistic(x: np.ndarray, lam: float) -> np.ndarray:
    # the literal definition (no overflow for x >= 0)
    return (1 - np.exp(-lam * x)) / (1 + np.exp(-lam * x))


def ref_hill(x: np.ndarray, k: float, s: float) -> np.ndarray:
    return x**s / (x**s + k**s)


def compile_fn(inputs: list[Variable], output: Variable) -> Callable[..., np.ndarray]:
    return pytensor.function(inputs, output)


def impulse(n: int, at: int, amount: float = 1.0) -> np.ndarray:
    x = np.zeros(n)
    x[at] = amount
    return x


# --------------------------------------------------------------------------------------
# numpy vs pytensor vs reference, 1-D and 2-D with per-channel parameters
# --------------------------------------------------------------------------------------

N_TIME, N_CHANNEL = 40, 3
ALPHA = np.array([0.0, 0.45, 0.9])
THETA = np.array([0.0, 1.5, 4.0])
LAM = np.array([0.5, 2.0, 6.0])
K = np.array([0.2, 0.5, 1.3])
S = np.array([0.7, 1.0, 3.0])


def _cases() -> list[Any]:
    """(name, transform, reference, params-for-2D, keyword args)."""
    return [
        pytest.param(geometric_adstock, ref_geometric, (ALPHA,), {}, id="geometric"),
        pytest.param(
            geometric_adstock,
            ref_geometric,
            (ALPHA,),
            {"l_max": 5, "normalize": False},
            id="geometric-raw-l5",
        ),
        pytest.param(delayed_adstock, ref_delayed, (ALPHA + 0.05, THETA), {}, id="delayed"),
        pytest.param(
            delayed_adstock,
            ref_delayed,
            (ALPHA + 0.05, THETA),
            {"l_max": 6, "normalize": False},
            id="delayed-raw-l6",
        ),
        pytest.param(logistic_saturation, ref_logistic, (LAM,), {}, id="logistic"),
        pytest.param(hill_saturation, ref_hill, (K, S), {}, id="hill"),
    ]


@pytest.mark.parametrize(("transform", "reference", "params", "kwargs"), _cases())
@pytest.mark.parametrize("ndim", [1, 2])
def test_numpy_pytensor_and_reference_agree(
    rng: np.random.Generator,
    transform: Callable[..., Any],
    reference: Callable[..., np.ndarray],
    params: tuple[np.ndarray, ...],
    kwargs: dict[str, Any],
    ndim: int,
) -> None:
    x = rng.uniform(0.0, 2.0, size=(N_TIME, N_CHANNEL))
    x[rng.uniform(size=x.shape) < 0.2] = 0.0  # zero spend periods (Hill's special case)
    if ndim == 1:
        x, params = x[:, 1], tuple(p[1] for p in params)

    expected = ref_per_channel(x, lambda xs, *ps: reference(xs, *ps, **kwargs), *params)

    got_np = transform(x, *params, **kwargs)
    assert isinstance(got_np, np.ndarray)
    assert got_np.shape == x.shape
    assert got_np.dtype == np.float64
    assert_allclose(got_np, expected, rtol=0, atol=ATOL)

    x_sym = pt.tensor("x", shape=(None,) * ndim, dtype="float64")
    p_syms = [pt.tensor(f"p{i}", shape=(None,) * (ndim - 1)) for i in range(len(params))]
    out = transform(x_sym, *p_syms, **kwargs)
    assert isinstance(out, Variable)
    got_pt = compile_fn([x_sym, *p_syms], out)(x, *params)
    assert got_pt.shape == x.shape
    assert_allclose(got_pt, got_np, rtol=0, atol=ATOL)


def test_mixed_numpy_and_symbolic_arguments_build_a_graph(rng: np.random.Generator) -> None:
    x = rng.uniform(size=(20, 2))
    alpha = pt.vector("alpha")
    out = geometric_adstock(x, alpha, l_max=4)
    assert isinstance(out, Variable)
    got = compile_fn([alpha], out)(np.array([0.3, 0.7]))
    assert_allclose(got, geometric_adstock(x, np.array([0.3, 0.7]), l_max=4), atol=ATOL, rtol=0)

    lam = pt.scalar("lam")
    got = compile_fn([lam], logistic_saturation(x, lam))(1.7)
    assert_allclose(got, ref_logistic(x, 1.7), atol=ATOL, rtol=0)


def test_list_input_returns_numpy() -> None:
    out = geometric_adstock([1, 0, 0], 0.5, l_max=2, normalize=False)
    assert isinstance(out, np.ndarray)
    assert_allclose(out, [1.0, 0.5, 0.0])


def test_scalar_parameter_applies_to_every_channel(rng: np.random.Generator) -> None:
    x = rng.uniform(size=(15, 4))
    out = geometric_adstock(x, 0.6, l_max=5)
    for c in range(4):
        assert_allclose(out[:, c], ref_geometric(x[:, c], 0.6, 5), atol=ATOL, rtol=0)


@pytest.mark.parametrize(
    ("dtype", "values"),
    [("int64", [3, 0, 1]), ("uint16", [3, 0, 1]), ("bool", [True, False, True])],
)
def test_integer_and_bool_inputs_are_accepted_by_both_backends(
    dtype: str, values: list[Any]
) -> None:
    x = np.array(values, dtype=dtype)
    expected = ref_geometric(x.astype(float), 0.5, 3)
    assert_allclose(geometric_adstock(x, 0.5, l_max=3), expected, atol=ATOL, rtol=0)
    x_sym = pt.vector("x", dtype=dtype)
    got = compile_fn([x_sym], geometric_adstock(x_sym, 0.5, l_max=3))(x)
    assert_allclose(got, expected, atol=ATOL, rtol=0)


@settings(max_examples=40, deadline=None)
@given(
    x=hnp.arrays(
        np.float64,
        st.integers(1, 30),
        elements=st.floats(0, 1e3, allow_nan=False, allow_subnormal=False),
    ),
    alpha=st.floats(0.0, 0.99),
    l_max=st.integers(1, 15),
    normalize=st.booleans(),
)
def test_geometric_adstock_matches_loop_reference(
    x: np.ndarray, alpha: float, l_max: int, normalize: bool
) -> None:
    got = geometric_adstock(x, alpha, l_max=l_max, normalize=normalize)
    expected = ref_geometric(x, alpha, l_max, normalize)
    assert_allclose(got, expected, rtol=1e-12, atol=1e-9)


@pytest.fixture(scope="module")
def delayed_2d_fn() -> Callable[..., np.ndarray]:
    x, a, th = pt.matrix("x"), pt.vector("alpha"), pt.vector("theta")
    return compile_fn([x, a, th], delayed_adstock(x, a, th, l_max=8))


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_delayed_adstock_backends_agree_property(
    delayed_2d_fn: Callable[..., np.ndarray], data: st.DataObject
) -> None:
    n_time = data.draw(st.integers(1, 25), label="n_time")
    n_channel = data.draw(st.integers(1, 5), label="n_channel")
    x = data.draw(hnp.arrays(np.float64, (n_time, n_channel), elements=st.floats(0, 10)), label="x")
    alpha = data.draw(
        hnp.arrays(np.float64, n_channel, elements=st.floats(0.01, 0.99)), label="alpha"
    )
    theta = data.draw(hnp.arrays(np.float64, n_channel, elements=st.floats(0, 7)), label="theta")
    got_np = delayed_adstock(x, alpha, theta, l_max=8)
    assert_allclose(delayed_2d_fn(x, alpha, theta), got_np, rtol=0, atol=ATOL * 10)
    expected = ref_per_channel(x, lambda xs, a, t: ref_delayed(xs, a, t, 8), alpha, theta)
    assert_allclose(got_np, expected, rtol=0, atol=ATOL * 10)


# --------------------------------------------------------------------------------------
# Impulse responses and special values
# --------------------------------------------------------------------------------------


def test_geometric_impulse_response_hand_computed() -> None:
    y = geometric_adstock(impulse(8, 2), 0.5, l_max=4, normalize=False)
    assert_allclose(y, [0, 0, 1, 0.5, 0.25, 0.125, 0, 0], rtol=0, atol=1e-15)
    y = geometric_adstock(impulse(8, 2), 0.5, l_max=4)
    assert_allclose(y, np.array([0, 0, 1, 0.5, 0.25, 0.125, 0, 0]) / 1.875, rtol=0, atol=1e-15)


def test_delayed_impulse_response_hand_computed() -> None:
    # alpha=0.5, theta=2: weights 0.5^4, 0.5^1, 0.5^0, 0.5^1, 0.5^4
    y = delayed_adstock(impulse(9, 1), 0.5, 2.0, l_max=5, normalize=False)
    assert_allclose(y, [0, 0.0625, 0.5, 1, 0.5, 0.0625, 0, 0, 0], rtol=0, atol=1e-15)


def test_impulse_response_per_channel() -> None:
    x = np.zeros((6, 2))
    x[0] = [1.0, 2.0]
    y = geometric_adstock(x, np.array([0.5, 0.1]), l_max=3, normalize=False)
    assert_allclose(y[:, 0], [1, 0.5, 0.25, 0, 0, 0], rtol=0, atol=1e-15)
    assert_allclose(y[:, 1], [2, 0.2, 0.02, 0, 0, 0], rtol=0, atol=1e-15)


@pytest.mark.parametrize("l_max", [1, 3, 12])
@pytest.mark.parametrize("normalize", [True, False])
def test_alpha_zero_is_identity(rng: np.random.Generator, l_max: int, normalize: bool) -> None:
    x = rng.uniform(size=(30, 3))
    assert_array_equal(geometric_adstock(x, 0.0, l_max=l_max, normalize=normalize), x)
    assert_array_equal(geometric_adstock(x, np.zeros(3), l_max=l_max, normalize=normalize), x)
    assert_array_equal(delayed_adstock(x, 0.0, 0.0, l_max=l_max, normalize=normalize), x)
    x_sym = pt.matrix("x")
    got = compile_fn([x_sym], geometric_adstock(x_sym, 0.0, l_max=l_max, normalize=normalize))(x)
    assert_allclose(got, x, rtol=0, atol=ATOL)


def test_delayed_alpha_zero_integer_theta_is_a_pure_shift(rng: np.random.Generator) -> None:
    x = rng.uniform(size=20)
    y = delayed_adstock(x, 0.0, 3.0, l_max=6)
    assert_array_equal(y[:3], 0.0)
    assert_array_equal(y[3:], x[:-3])


@settings(max_examples=50, deadline=None)
@given(
    alpha=st.floats(0.0, 0.99),
    l_max=st.integers(1, 20),
    at=st.integers(0, 10),
    amount=st.floats(1e-3, 1e6),
)
def test_normalized_adstock_preserves_impulse_total(
    alpha: float, l_max: int, at: int, amount: float
) -> None:
    x = impulse(at + l_max + 3, at, amount)  # the whole window fits inside the series
    assert geometric_adstock(x, alpha, l_max=l_max).sum() == pytest.approx(amount, rel=1e-12)
    theta = min(2.0, l_max - 1)
    y = delayed_adstock(x, max(alpha, 0.01), theta, l_max=l_max)
    assert y.sum() == pytest.approx(amount, rel=1e-12)
    assert_array_equal(y[:at], 0.0)  # nothing before the spend


def test_normalized_adstock_preserves_total_spend_with_zero_tail(rng: np.random.Generator) -> None:
    x = rng.uniform(size=(50, 3))
    x[-11:] = 0.0  # spend stops l_max - 1 periods before the end: nothing is cut off
    y = geometric_adstock(x, np.array([0.2, 0.5, 0.95]), l_max=12)
    assert_allclose(y.sum(axis=0), x.sum(axis=0), rtol=1e-12)


@pytest.mark.parametrize("theta", [0, 1, 3, 5])
def test_delayed_adstock_peaks_at_theta(theta: int) -> None:
    at = 2
    y = delayed_adstock(impulse(20, at), 0.6, float(theta), l_max=8)
    assert int(np.argmax(y)) == at + theta
    # symmetric around the peak, inside the window
    for d in range(1, 3):
        if theta - d >= 0 and theta + d <= 7:
            assert y[at + theta - d] == pytest.approx(y[at + theta + d], rel=1e-12)


def test_delayed_adstock_fractional_theta_peaks_between_lags() -> None:
    y = delayed_adstock(impulse(12, 0), 0.5, 2.5, l_max=8)
    assert y[2] == pytest.approx(y[3], rel=1e-12)
    assert y[2] > y[1] > y[0]
    assert y[3] > y[4] > y[5]


def test_geometric_adstock_decays_monotonically_after_spend() -> None:
    y = geometric_adstock(impulse(15, 0), 0.7, l_max=12)
    assert np.all(np.diff(y[:12]) < 0)
    assert_array_equal(y[12:], 0.0)  # past the window


# --------------------------------------------------------------------------------------
# Saturation properties
# --------------------------------------------------------------------------------------

X_GRID = np.linspace(0.0, 5.0, 501)


@pytest.mark.parametrize("lam", [0.1, 1.0, 4.0])
def test_logistic_saturation_shape(lam: float) -> None:
    y = logistic_saturation(X_GRID, lam)
    assert y[0] == 0.0
    assert np.all(np.diff(y) > 0)  # strictly increasing
    assert np.all((y >= 0) & (y < 1))
    assert_allclose(y, ref_logistic(X_GRID, lam), rtol=0, atol=ATOL)


@pytest.mark.parametrize(("k", "s"), [(0.3, 0.5), (1.0, 1.0), (2.0, 3.0)])
def test_hill_saturation_shape(k: float, s: float) -> None:
    y = hill_saturation(X_GRID, k, s)
    assert y[0] == 0.0
    assert np.all(np.diff(y) > 0)
    assert np.all((y >= 0) & (y < 1))
    assert hill_saturation(np.array([k]), k, s)[0] == pytest.approx(0.5, abs=1e-15)


def test_hill_half_saturation_per_channel() -> None:
    k = np.array([0.1, 1.0, 7.5])
    y = hill_saturation(k[None, :], k, np.array([0.5, 2.0, 4.0]))
    assert_allclose(y, 0.5, rtol=0, atol=1e-15)


@settings(max_examples=60, deadline=None)
@given(
    x=hnp.arrays(np.float64, st.integers(2, 20), elements=st.floats(0, 1e6)),
    lam=st.floats(1e-3, 50),
    k=st.floats(1e-3, 1e3),
    s=st.floats(0.1, 5),
)
def test_saturations_monotone_and_bounded_property(
    x: np.ndarray, lam: float, k: float, s: float
) -> None:
    xs = np.sort(x)
    for y in (logistic_saturation(xs, lam), hill_saturation(xs, k, s)):
        assert np.all(np.isfinite(y))
        assert np.all((y >= 0) & (y <= 1))  # < 1 in exact arithmetic; may round to 1.0
        assert np.all(np.diff(y) >= 0)
        assert_array_equal(y[xs == 0], 0.0)


def test_saturations_finite_for_huge_inputs() -> None:
    x = np.array([0.0, 1e-300, 1.0, 1e300])
    assert_array_equal(logistic_saturation(x, 3.0)[[0, 3]], [0.0, 1.0])
    y = hill_saturation(x, 2.0, 3.0)
    assert np.all(np.isfinite(y))
    assert y[-1] == pytest.approx(1.0)


def test_gradients_finite_at_zero_spend() -> None:
    x = pt.vector("x")
    k, s, lam = pt.scalar("k"), pt.scalar("s"), pt.scalar("lam")
    hill = hill_saturation(x, k, s).sum()
    logistic = logistic_saturation(x, lam).sum()
    grads = pytensor.grad(hill, [x, k, s]) + pytensor.grad(logistic, [x, lam])
    fn = compile_fn([x, k, s, lam], grads)
    values = np.array([0.0, 0.0, 0.5, 2.0])
    for s_value in (0.5, 1.0, 2.5):
        for grad in fn(values, 1.0, s_value, 2.0):
            assert np.all(np.isfinite(grad)), grad


def test_adstock_gradients_finite(rng: np.random.Generator) -> None:
    x = pt.matrix("x")
    alpha, theta = pt.vector("alpha"), pt.vector("theta")
    out = delayed_adstock(x, alpha, theta, l_max=6).sum() + geometric_adstock(x, alpha).sum()
    fn = compile_fn([x, alpha, theta], pytensor.grad(out, [x, alpha, theta]))
    for grad in fn(rng.uniform(size=(10, 2)), np.array([0.3, 0.8]), np.array([0.0, 2.5])):
        assert np.all(np.isfinite(grad))


# --------------------------------------------------------------------------------------
# The graph: no Scan, no Python loop over time, channels or lags
# --------------------------------------------------------------------------------------


def _build(name: str, n_time: int, n_channel: int, l_max: int = 12) -> tuple[list[Any], Any]:
    x = pt.tensor("x", shape=(n_time, n_channel), dtype="float64")
    p1 = pt.tensor("p1", shape=(n_channel,), dtype="float64")
    p2 = pt.tensor("p2", shape=(n_channel,), dtype="float64")
    if name == "geometric":
        return [x, p1], geometric_adstock(x, p1, l_max=l_max)
    if name == "delayed":
        return [x, p1, p2], delayed_adstock(x, p1, p2, l_max=l_max)
    if name == "logistic":
        return [x, p1], logistic_saturation(x, p1)
    return [x, p1, p2], hill_saturation(x, p1, p2)


TRANSFORM_NAMES = ["geometric", "delayed", "logistic", "hill"]


@pytest.mark.parametrize("name", TRANSFORM_NAMES)
def test_graph_size_does_not_grow_with_time_channels_or_lags(name: str) -> None:
    sizes = {}
    for n_time, n_channel, l_max in [(10, 1, 12), (500, 1, 12), (10, 8, 12), (500, 8, 2)]:
        inputs, out = _build(name, n_time, n_channel, l_max)
        sizes[(n_time, n_channel, l_max)] = len(list(applys_between(inputs, [out])))
    assert len(set(sizes.values())) == 1, sizes
    assert next(iter(sizes.values())) < 60  # a handful of vectorised ops, not an unrolled loop


@pytest.mark.parametrize("name", TRANSFORM_NAMES)
def test_graph_has_no_scan(name: str) -> None:
    inputs, out = _build(name, 30, 3)
    assert not any(isinstance(node.op, Scan) for node in applys_between(inputs, [out]))
    compiled = pytensor.function(inputs, out)
    assert not any(isinstance(node.op, Scan) for node in compiled.maker.fgraph.apply_nodes)


# --------------------------------------------------------------------------------------
# Input errors: what was wrong and what is allowed
# --------------------------------------------------------------------------------------


def test_error_type_is_a_mediamix_value_error() -> None:
    assert issubclass(TransformInputError, MediamixError)
    assert issubclass(TransformInputError, ValueError)


@pytest.mark.parametrize("backend", ["numpy", "pytensor"])
def test_three_dimensional_x_is_rejected(backend: str) -> None:
    x: Any = np.zeros((4, 2, 2)) if backend == "numpy" else pt.tensor3("x")
    for call in (
        lambda: geometric_adstock(x, 0.5),
        lambda: delayed_adstock(x, 0.5, 1.0),
        lambda: logistic_saturation(x, 1.0),
        lambda: hill_saturation(x, 1.0, 1.0),
    ):
        with pytest.raises(TransformInputError, match=r"1-D .*2-D .*got 3 dimensions"):
            call()


def test_wrong_parameter_length_is_rejected() -> None:
    x = np.zeros((10, 3))
    with pytest.raises(TransformInputError, match=r"alpha has 2 values but x has 3 channels"):
        geometric_adstock(x, np.array([0.1, 0.2]))
    with pytest.raises(TransformInputError, match=r"theta has 4 values but x has 3 channels"):
        delayed_adstock(x, 0.5, np.zeros(4))
    with pytest.raises(TransformInputError, match=r"s has 1 values but x has 3 channels"):
        hill_saturation(x, 1.0, np.ones(1))
    x_sym = pt.tensor("x", shape=(None, 3))
    with pytest.raises(TransformInputError, match=r"lam has 2 values but x has 3 channels"):
        logistic_saturation(x_sym, pt.tensor("lam", shape=(2,)))


def test_vector_parameter_for_1d_x_is_rejected() -> None:
    with pytest.raises(TransformInputError, match=r"alpha must be a scalar for 1-D x"):
        geometric_adstock(np.zeros(5), np.array([0.1, 0.2]))
    with pytest.raises(TransformInputError, match=r"k must be a scalar or a vector"):
        hill_saturation(np.zeros((5, 2)), np.ones((2, 2)), 1.0)


def test_non_numeric_dtype_is_rejected() -> None:
    with pytest.raises(TransformInputError, match=r"x must be real numbers .*dtype <U"):
        geometric_adstock(np.array(["1", "2"]), 0.5)
    with pytest.raises(TransformInputError, match=r"alpha must be real numbers"):
        geometric_adstock(np.ones(3), "0.5")
    with pytest.raises(TransformInputError, match=r"x must be real numbers .*object"):
        logistic_saturation(np.array([1.0, None]), 1.0)
    with pytest.raises(TransformInputError, match=r"x must be a real-valued tensor"):
        logistic_saturation(pt.vector("x", dtype="complex128"), 1.0)


@pytest.mark.parametrize("l_max", [0, -3, 2.5, True, "12", None])
def test_bad_l_max_is_rejected(l_max: Any) -> None:
    with pytest.raises(TransformInputError, match=r"l_max must be a positive integer"):
        geometric_adstock(np.ones(5), 0.5, l_max=l_max)
    with pytest.raises(TransformInputError, match=r"l_max must be a positive integer"):
        delayed_adstock(np.ones(5), 0.5, 0.0, l_max=l_max)


def test_numpy_l_max_integer_is_accepted() -> None:
    out = geometric_adstock(np.ones(5), 0.5, l_max=np.int64(2), normalize=False)
    assert_allclose(out, [1.0, 1.5, 1.5, 1.5, 1.5])


@pytest.mark.parametrize(
    ("call", "pattern"),
    [
        (lambda: geometric_adstock(np.ones(5), 1.5), r"alpha must be in \[0, 1\], got 1.5"),
        (lambda: geometric_adstock(np.ones(5), -0.1), r"alpha must be in \[0, 1\]"),
        (lambda: geometric_adstock(np.ones((5, 2)), [0.5, 2.0]), r"alpha must be in \[0, 1\]"),
        (lambda: geometric_adstock(np.ones(5), np.nan), r"alpha must be in \[0, 1\]"),
        (lambda: delayed_adstock(np.ones(5), 1.2, 0.0), r"alpha must be in \[0, 1\]"),
        (lambda: delayed_adstock(np.ones(5), 0.5, 12.0), r"theta must be in \[0, 11\]"),
        (lambda: delayed_adstock(np.ones(5), 0.5, -1.0), r"theta must be in \[0, 11\]"),
        (lambda: delayed_adstock(np.ones(5), 0.0, 1.5), r"alpha = 0 needs a whole-number theta"),
        (lambda: logistic_saturation(np.ones(5), 0.0), r"lam must be finite and > 0"),
        (lambda: logistic_saturation(np.ones(5), np.inf), r"lam must be finite and > 0"),
        (lambda: hill_saturation(np.ones(5), -1.0, 1.0), r"k must be finite and > 0"),
        (lambda: hill_saturation(np.ones(5), 1.0, 0.0), r"s must be finite and > 0"),
        (lambda: hill_saturation(-np.ones(5), 1.0, 1.0), r"x must be non-negative"),
    ],
)
def test_parameter_out_of_range_is_rejected(call: Callable[[], Any], pattern: str) -> None:
    with pytest.raises(TransformInputError, match=pattern):
        call()
