"""The transform registry: lookup, options, clear errors, and a new transform as one class."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pymc as pm
import pytest
from numpy.testing import assert_allclose

from mediamix.analysis.response import ChannelTransform, MediaParameters, media_contributions
from mediamix.config.base import ConfigError, parse_config
from mediamix.config.model import ModelConfig
from mediamix.model import registry, transforms
from mediamix.model.builder import build_model, parameter_groups
from mediamix.model.registry import Parameter, Saturation, TransformTypeError


def test_registered_types_and_parameters() -> None:
    assert registry.types("adstock") == ("geometric", "delayed", "none")
    assert registry.types("saturation") == ("logistic", "hill", "none")
    assert registry.transform_class("adstock", "delayed").parameter_names() == ("alpha", "theta")
    assert registry.transform_class("saturation", "hill").parameter_names() == ("k", "s")
    assert list(registry.parameters("adstock")) == ["alpha", "theta"]
    assert registry.parameters("adstock")["alpha"].support == "unit"
    assert registry.parameters("saturation")["lam"].prior["dist"] == "Gamma"


def test_build_takes_the_options_a_transform_has() -> None:
    section = {"type": "geometric", "l_max": 8, "normalize": False, "alpha": "ignored"}
    geometric = registry.build("adstock", "geometric", section)
    assert geometric == registry.GeometricAdstock(l_max=8, normalize=False)
    assert geometric.window == 8 and geometric.label == "geometric_l8_raw"
    assert registry.build("saturation", "hill", section) == registry.HillSaturation()
    # equal options, equal transforms: channels group by transform
    assert len({registry.build("adstock", "delayed", {"l_max": 5}) for _ in range(3)}) == 1


def test_apply_calls_the_formula() -> None:
    x = np.linspace(0, 1, 10)
    got = registry.DelayedAdstock(4, False).apply(x, {"alpha": 0.5, "theta": 1.0})
    assert_allclose(got, transforms.delayed_adstock(x, 0.5, 1.0, 4, False))
    assert_allclose(registry.NoSaturation().apply(x, {}), x)


def test_unknown_types_and_clashes_are_refused() -> None:
    with pytest.raises(TransformTypeError, match=r"unknown adstock type 'weibull'.*'geometric'"):
        registry.transform_class("adstock", "weibull")
    with pytest.raises(TransformTypeError, match="kind must be one of"):
        registry.types("carryover")

    @dataclass(frozen=True)
    class Again(Saturation):
        type: ClassVar[str] = "hill"

        def apply(self, x: Any, values: Mapping[str, Any]) -> Any:
            return x

    with pytest.raises(TransformTypeError, match="already HillSaturation"):
        registry.register(Again)

    @dataclass(frozen=True)
    class OtherLam(Saturation):
        type: ClassVar[str] = "other"
        parameters: ClassVar[tuple[Parameter, ...]] = (Parameter("lam", "unit", {"dist": "Beta"}),)

        def apply(self, x: Any, values: Mapping[str, Any]) -> Any:
            return x

    with pytest.raises(TransformTypeError, match="parameter 'lam' differs"):
        registry.register(OtherLam)
    assert "other" not in registry.types("saturation")


def test_config_takes_types_and_priors_from_the_registry() -> None:
    cfg = parse_config(ModelConfig, {"outcome": {"name": "y"}, "channels": ["tv"]})
    assert dict(cfg.channels["tv"].adstock.theta.params) == {"lower": 0.0, "upper": 3.0}
    with pytest.raises(ConfigError) as err:
        parse_config(
            ModelConfig,
            {"outcome": {"name": "y"}, "channels": {"tv": {"adstock": {"type": "weibull"}}}},
            "model.yaml",
        )
    message = str(err.value)
    assert "channels.tv.adstock.type" in message
    assert "'geometric', 'delayed' or 'none'" in message and "'weibull'" in message


@dataclass(frozen=True)
class PowerSaturation(Saturation):
    """``x**s``: a transform added by one class (its parameter ``s`` has a config field)."""

    type: ClassVar[str] = "power"
    parameters: ClassVar[tuple[Parameter, ...]] = (registry.S,)

    def apply(self, x: Any, values: Mapping[str, Any]) -> Any:
        return x ** values["s"]


@pytest.fixture
def with_power(monkeypatch: pytest.MonkeyPatch) -> None:
    scratch = {kind: dict(known) for kind, known in registry._REGISTRY.items()}
    monkeypatch.setattr(registry, "_REGISTRY", scratch)
    registry.register(PowerSaturation)


@pytest.mark.usefixtures("with_power")
def test_a_new_transform_is_one_class() -> None:
    channels = {"tv": {"saturation": {"type": "power"}}, "radio": {}}
    cfg = parse_config(ModelConfig, {"outcome": {"name": "y"}, "channels": channels})
    groups = {(g.kind, g.type): g for g in parameter_groups(cfg)}
    assert groups[("saturation", "power")].var_names == {"s": "saturation_s"}
    rng = np.random.default_rng(0)
    dates = np.arange("2022-01-03", "2023-12-25", 7, dtype="datetime64[D]")
    frame = {"date": dates, "tv": rng.uniform(0, 10, len(dates))}
    frame |= {"radio": rng.uniform(0, 5, len(dates)), "y": rng.uniform(5, 10, len(dates))}
    model = build_model(pd.DataFrame(frame), cfg)
    assert "saturation_s" in {rv.name for rv in model.free_RVs}
    assert np.isfinite(pm.draw(model["channel_contribution"], random_seed=1)).all()
    mp = MediaParameters(
        ("tv",),
        (ChannelTransform("none", 1, True, "power"),),
        {"saturation_s": np.array([[2.0]]), "beta": np.array([[1.0]])},
        np.array([10.0]),
        1.0,
    )
    assert_allclose(media_contributions(mp, [[5.0], [10.0]])[0, :, 0], [0.25, 1.0])
