from __future__ import annotations

import ctypes
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pymc as pm
import pytest

from mediamix.config.model import load_model_config
from mediamix.data.generator import Generator
from mediamix.inference.nutpie_callback import (
    c_callback_model,
    compiled_nutpie_model,
    nogil_numba_mode,
    pack_arrays,
    python_callback_model,
)
from mediamix.model.builder import build_model

REPO = Path(__file__).resolve().parents[2]
MODEL_CONFIG = REPO / "config/model/basic_config.yaml"


def _data(seed: int | None = None) -> pd.DataFrame:
    gen = Generator.from_config_file(REPO / "config/generator/basic_config.yaml")
    return gen.generate(seed).data


@pytest.fixture(scope="module")
def model() -> pm.Model:
    return build_model(_data(), load_model_config(MODEL_CONFIG))


def _pymc_logp_and_grad(model: pm.Model, x: np.ndarray) -> tuple[float, np.ndarray]:
    """PyMC's own log-density and gradient at the flat point ``x`` (value-variable order)."""
    point = model.initial_point()
    names = [v.name for v in model.value_vars]
    offsets = np.cumsum([0, *(point[n].size for n in names)])
    at = {n: x[offsets[i] : offsets[i + 1]].reshape(point[n].shape) for i, n in enumerate(names)}
    return float(model.compile_logp()(at)), np.asarray(model.compile_dlogp()(at))


def _call_c_logp(compiled: Any, x: np.ndarray) -> tuple[int, float, np.ndarray]:
    grad, logp = np.zeros_like(x), np.zeros(1)
    ptr = ctypes.POINTER(ctypes.c_double)
    code = compiled.compiled_logp_func.ctypes(
        x.size,
        x.ctypes.data_as(ptr),
        grad.ctypes.data_as(ptr),
        logp.ctypes.data_as(ptr),
        ctypes.c_void_p(compiled.user_data.ctypes.data),
    )
    return int(code), float(logp[0]), grad


def test_pack_arrays_records_offsets_and_shapes() -> None:
    a, b = np.arange(6.0).reshape(2, 3), np.array(7.0)
    buf = pack_arrays([a, b])
    # header: length, (offset, 2, 3), (offset); then the data
    assert buf[0] == buf.size == 1 + 3 + 1 + 6 + 1
    start_a, start_b = int(buf[1]), int(buf[4])
    np.testing.assert_array_equal(buf[start_a : start_a + 6].reshape(2, 3), a)
    assert tuple(buf[2:4]) == (2.0, 3.0)
    assert buf[start_b] == 7.0


def _assert_c_callback_matches_pymc(model: pm.Model, seed: int) -> None:
    compiled = c_callback_model(model)
    x = np.asarray(compiled.initial_point_func(seed), dtype=np.float64)
    code, value, grad = _call_c_logp(compiled, x)
    expected, expected_grad = _pymc_logp_and_grad(model, x)
    assert code == 0
    assert value == pytest.approx(expected, rel=1e-10)
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-8, atol=1e-10)


def test_c_callback_matches_pymc_logp_and_gradient(model: pm.Model) -> None:
    _assert_c_callback_matches_pymc(model, seed=7)


def test_c_callback_rejects_a_point_of_the_wrong_size(model: pm.Model) -> None:
    compiled = c_callback_model(model)
    x = np.zeros(compiled.n_dim + 1)
    code, _, _ = _call_c_logp(compiled, x)
    assert code == -1


def test_c_callback_reads_new_data_of_another_length() -> None:
    # the cached callback reads shapes from the buffer: a shorter series needs no new code
    config = load_model_config(MODEL_CONFIG)
    short = build_model(_data(3).iloc[:150].reset_index(drop=True), config)
    _assert_c_callback_matches_pymc(short, seed=1)


def test_python_callback_matches_pymc_logp_and_gradient(model: pm.Model) -> None:
    compiled = python_callback_model(model)
    x = np.asarray(compiled._make_initial_points(7), dtype=np.float64)
    value, grad = compiled._make_logp_func()(x)
    expected, expected_grad = _pymc_logp_and_grad(model, x)
    assert value == pytest.approx(expected, rel=1e-10)
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-8, atol=1e-10)


def test_python_callback_expands_to_named_variables(model: pm.Model) -> None:
    compiled = python_callback_model(model)
    x = np.asarray(compiled._make_initial_points(3), dtype=np.float64)
    expanded = compiled._make_expand_func(1, 2, 0)(x)
    assert expanded["channel_contribution"].shape == (len(model.coords["date"]), 3)
    assert expanded["adstock_alpha"].shape == (3,)
    assert np.all((expanded["adstock_alpha"] > 0) & (expanded["adstock_alpha"] < 1))


@pytest.mark.parametrize(
    ("has_index", "expected"), [(False, c_callback_model), (True, python_callback_model)]
)
def test_models_with_integer_data_fall_back_to_the_python_callback(
    has_index: bool, expected: Callable[..., Any]
) -> None:
    frame = _data()
    config = load_model_config(MODEL_CONFIG)
    if has_index:
        frame["region"] = np.where(np.arange(len(frame)) % 2 == 0, "north", "south")
        config = config.model_copy(update={"index_variables": ["region"]})
    compiled = compiled_nutpie_model(build_model(frame, config))
    is_c = hasattr(compiled, "compiled_logp_func")
    assert is_c == (expected is c_callback_model)


def test_log_density_is_compiled_to_release_the_gil() -> None:
    # nutpie's chain threads call the Python-callback model with the GIL held
    import pytensor
    import pytensor.tensor as pt

    x = pt.dvector("x")
    fn = pytensor.function([x], [pt.sum(x**2), 2 * x], mode=nogil_numba_mode())
    value, grad = fn(np.array([1.0, 2.0]))
    assert value == pytest.approx(5.0)
    np.testing.assert_allclose(grad, [2.0, 4.0])
    assert fn.vm.jit_fn.targetoptions.get("nogil") is True
