from __future__ import annotations

import ctypes
import warnings
from collections.abc import Callable, Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pymc as pm
import pytest

from mediamix.config.model import SamplerConfig, load_model_config
from mediamix.data.generator import Generator
from mediamix.errors import MediamixError
from mediamix.inference.nutpie_callback import (
    c_callback_model,
    compiled_nutpie_model,
    nogil_numba_mode,
    pack_arrays,
    python_callback_model,
)
from mediamix.inference.nutpie_internals import (
    NutpieInternalsError,
    internals_problems,
    require_internals,
)
from mediamix.inference.samplers import (
    PUBLIC_API_PATH,
    SamplerFallbackWarning,
    sample_posterior,
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
    point = model.initial_point(random_seed=7)
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
    # the sampled variables only: deterministics are computed after sampling, over all draws
    assert {rv.name for rv in model.free_RVs} <= set(expanded)
    assert not {d.name for d in model.deterministics} & set(expanded)
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


# --------------------------------------------------------------------------------------
# The nutpie and PyTensor internals behind the C callback
# --------------------------------------------------------------------------------------

SHORT_RUN = SamplerConfig(draws=50, tune=50, chains=2, cores=2, seed=3)
VERSIONS = f"nutpie {version('nutpie')} and pytensor {version('pytensor')}"


@pytest.fixture
def fresh_internals_check() -> Iterator[None]:
    """Forget the once-per-process check before and after a test that breaks an internal."""
    internals_problems.cache_clear()
    yield
    internals_problems.cache_clear()


def test_installed_nutpie_and_pytensor_have_every_internal_the_callback_uses(
    fresh_internals_check: None,
) -> None:
    # Fails on purpose when an upgrade renames or reshapes an internal: CI goes red instead of
    # every `sampler: nutpie` fit silently compiling through the slower public path.
    problems = internals_problems()
    assert problems == (), f"the C callback cannot be built with {VERSIONS}: {problems}"
    require_internals()


def test_default_sampler_samples_through_the_cached_c_callback(model: pm.Model) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", SamplerFallbackWarning)
        idata = sample_posterior(model, SHORT_RUN)
    assert idata.attrs["sampler_path"] == "c_callback"
    assert "sampler_fallback_reason" not in idata.attrs
    beta = idata["posterior"]["beta"]
    assert beta.sizes["chain"] == 2 and beta.sizes["draw"] == 50
    assert np.all(np.isfinite(beta.to_numpy()))


def _fake_make_functions(model: Any, *, mode: Any, compute_grad: bool) -> tuple[Any, ...]:
    """Stands in for a nutpie whose _make_functions lost parameters."""
    raise AssertionError("the check must stop mediamix before it calls a changed internal")


def test_a_changed_internal_is_named_with_the_installed_versions(
    monkeypatch: pytest.MonkeyPatch, fresh_internals_check: None
) -> None:
    import nutpie.compile_pymc

    monkeypatch.setattr(nutpie.compile_pymc, "_make_functions", _fake_make_functions)
    problems = internals_problems()
    assert len(problems) == 1
    assert "nutpie.compile_pymc._make_functions no longer takes" in problems[0]
    assert "'join_expanded'" in problems[0]
    with pytest.raises(NutpieInternalsError) as info:
        compiled_nutpie_model(build_model(_data(), load_model_config(MODEL_CONFIG)))
    message = str(info.value)
    assert isinstance(info.value, MediamixError)
    assert VERSIONS in message
    assert "'nutpie-native'" in message  # and what to do about it


def test_a_reshaped_result_of_an_internal_is_caught_where_it_is_used(
    model: pm.Model, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nutpie.compile_pymc

    def six_values(
        model: Any,
        *,
        mode: Any,
        compute_grad: bool,
        join_expanded: bool,
        pymc_initial_point_fn: Any,
        var_names: Any = None,
    ) -> tuple[Any, ...]:
        return (None,) * 6

    monkeypatch.setattr(nutpie.compile_pymc, "_make_functions", six_values)
    with pytest.raises(NutpieInternalsError, match="returned 6 values, not 7"):
        c_callback_model(model)


def _tiny_model() -> pm.Model:
    with pm.Model() as tiny:
        mu = pm.Normal("mu")
        pm.Normal("y", mu, 1.0, observed=pm.Data("obs", np.array([0.5, 1.0, 1.5])))
    return tiny


def test_a_missing_internal_falls_back_to_nutpies_public_api(
    monkeypatch: pytest.MonkeyPatch, fresh_internals_check: None
) -> None:
    import nutpie.compiled_pyfunc

    # nutpie's own compile_pymc_model does not need from_pyfunc for numba models
    monkeypatch.delattr(nutpie.compiled_pyfunc, "from_pyfunc")
    with pytest.warns(SamplerFallbackWarning) as record:
        idata = sample_posterior(_tiny_model(), SHORT_RUN)
    fallbacks = [w for w in record if issubclass(w.category, SamplerFallbackWarning)]
    assert len(fallbacks) == 1
    message = str(fallbacks[0].message)
    assert "nutpie.compiled_pyfunc.from_pyfunc is missing" in message
    assert "public compile_pymc_model" in message
    assert "Sampling works" in message and "compiled again in every process" in message
    assert idata.attrs["sampler_path"] == PUBLIC_API_PATH
    assert "from_pyfunc is missing" in idata.attrs["sampler_fallback_reason"]
    mu = idata["posterior"]["mu"].to_numpy()
    assert mu.shape == (2, 50)
    assert abs(mu.mean() - 0.75) < 0.5  # posterior mean 0.75, sd 0.5
