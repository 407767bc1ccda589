from __future__ import annotations

from pathlib import Path

import numpy as np
import pymc as pm
import pytest

from mediamix.generator import Generator
from mediamix.model import build_model
from mediamix.model_config import load_model_config
from mediamix.samplers import _fast_nutpie_model

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def model() -> pm.Model:
    data = Generator.from_config_file(REPO / "config/generator/basic_config.yaml").generate().data
    return build_model(data, load_model_config(REPO / "config/model/basic_config.yaml"))


def test_fast_nutpie_bridge_matches_pymc_logp_and_gradient(model: pm.Model) -> None:
    compiled = _fast_nutpie_model(model)
    logp = compiled._make_logp_func()
    x = np.asarray(compiled._make_initial_points(7), dtype=np.float64)
    value, grad = logp(x)

    # the same point through PyMC's own functions, in the model's value-variable order
    point = model.initial_point()
    names = [v.name for v in model.value_vars]
    sizes = [point[n].size for n in names]
    offsets = np.cumsum([0, *sizes])
    pt_point = {
        n: x[offsets[i] : offsets[i + 1]].reshape(point[n].shape) for i, n in enumerate(names)
    }
    expected = model.compile_logp()(pt_point)
    expected_grad = model.compile_dlogp()(pt_point)
    assert value == pytest.approx(float(expected), rel=1e-10)
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-8, atol=1e-10)


def test_fast_nutpie_bridge_expands_to_named_variables(model: pm.Model) -> None:
    compiled = _fast_nutpie_model(model)
    x = np.asarray(compiled._make_initial_points(3), dtype=np.float64)
    expanded = compiled._make_expand_func(1, 2, 0)(x)
    assert expanded["channel_contribution"].shape == (len(model.coords["date"]), 3)
    assert expanded["adstock_alpha"].shape == (3,)
    assert np.all((expanded["adstock_alpha"] > 0) & (expanded["adstock_alpha"] < 1))


def test_log_density_is_compiled_to_release_the_gil() -> None:
    # nutpie's chain threads call it with the GIL held; without nogil they take turns
    import pytensor
    import pytensor.tensor as pt

    from mediamix.samplers import _nogil_numba_mode

    x = pt.dvector("x")
    fn = pytensor.function([x], [pt.sum(x**2), 2 * x], mode=_nogil_numba_mode())
    value, grad = fn(np.array([1.0, 2.0]))
    assert value == pytest.approx(5.0)
    np.testing.assert_allclose(grad, [2.0, 4.0])
    assert fn.vm.jit_fn.targetoptions.get("nogil") is True
