"""The two parameterisations of the per-geo channel effects (``geo.effects``)."""

from __future__ import annotations

import numpy as np
import pytest
from shared_geo_fit import GEOS, geo_config, geo_frame

from mediamix.config.base import ConfigError, parse_config
from mediamix.config.model import ModelConfig
from mediamix.model.builder import build_model


def _config(**geo: object) -> ModelConfig:
    raw = geo_config().model_dump(mode="json", exclude_unset=True)
    raw["geo"] = {**raw["geo"], **geo}
    return parse_config(ModelConfig, raw)


def _values(model, names: list[str], shift: float = 0.1):  # type: ignore[no-untyped-def]
    point = model.initial_point(random_seed=7)
    point = {k: v + shift * np.arange(v.size).reshape(v.shape) for k, v in point.items()}
    # in terms of the value variables, so the outputs are functions of ``point``, not draws
    outs = model.replace_rvs_by_values([model[n] for n in names])
    fn = model.compile_fn(outs, inputs=model.value_vars, on_unused_input="ignore")
    return point, fn(point)


@pytest.mark.parametrize("effects", [None, "non_centred"])
def test_non_centred_is_the_default_and_scales_a_standard_normal(effects: str | None) -> None:
    model = build_model(geo_frame(), _config(effects=effects) if effects else geo_config())
    free = {v.name for v in model.free_RVs}
    assert {"beta_geo_raw", "beta_geo_sd"} <= free and "beta_geo_log" not in free
    point, (beta, sd, beta_geo) = _values(model, ["beta", "beta_geo_sd", "beta_geo"])
    raw = point["beta_geo_raw"]
    np.testing.assert_allclose(beta_geo, beta[None, :] * np.exp(sd[None, :] * raw), rtol=1e-12)


def test_centred_samples_log_beta_geo_around_log_beta() -> None:
    model = build_model(geo_frame(), _config(effects="centred"))
    free = {v.name for v in model.free_RVs}
    assert "beta_geo_log" in free and "beta_geo_raw" not in free
    assert model["beta_geo_log"].eval().shape == (len(GEOS), 2)
    point, (beta, sd, beta_geo) = _values(model, ["beta", "beta_geo_sd", "beta_geo"])
    np.testing.assert_allclose(beta_geo, np.exp(point["beta_geo_log"]), rtol=1e-12)
    # the prior of log beta_geo is Normal(log beta, sd) per (geo, channel)
    logp = model.compile_logp(vars=[model["beta_geo_log"]], sum=False)(point)[0]
    z = (point["beta_geo_log"] - np.log(beta)[None, :]) / sd[None, :]
    expected = -0.5 * z**2 - np.log(sd[None, :]) - 0.5 * np.log(2 * np.pi)
    np.testing.assert_allclose(logp, expected, rtol=1e-9)


def _roas_prior_config(effects: str) -> dict[str, object]:
    raw = geo_config().model_dump(mode="json", exclude_unset=True)
    raw["geo"]["effects"] = effects
    raw["channels"] = {"tv": {"prior": {"roas": {"dist": "LogNormal", "mu": 0.0, "sigma": 0.5}}}}
    raw["channels"]["search"] = {}
    return raw


def test_roas_priors_keep_the_non_centred_effects() -> None:
    model = build_model(geo_frame(), parse_config(ModelConfig, _roas_prior_config("non_centred")))
    free = {v.name for v in model.free_RVs}
    assert {"roas", "beta_geo_raw"} <= free and "beta_geo_log" not in free


def test_centred_effects_refuse_roas_priors() -> None:
    raw = _roas_prior_config("centred")
    with pytest.raises(ConfigError, match=r"geo.effects: centred .*ROAS priors .*\['tv'\]"):
        parse_config(ModelConfig, raw)


def test_unknown_effects_value_names_what_is_allowed() -> None:
    with pytest.raises(ConfigError, match="non_centred"):
        _config(effects="sideways")


def test_per_channel_forms_put_each_channel_in_its_own_form() -> None:
    model = build_model(geo_frame(), _config(effects={"search": "centred"}))
    free = {v.name for v in model.free_RVs}
    assert {"beta_geo_log", "beta_geo_raw"} <= free
    assert model.named_vars_to_dims["beta_geo_log"] == ("geo", "channel_centred")
    assert model.coords["channel_centred"] == ("search",)
    assert model.coords["channel_non_centred"] == ("tv",)
    point, (beta, sd, beta_geo) = _values(model, ["beta", "beta_geo_sd", "beta_geo"])
    # tv (channel 0) non-centred, search (channel 1) centred, back in channel order
    tv = beta[0] * np.exp(sd[0] * point["beta_geo_raw"][:, 0])
    np.testing.assert_allclose(beta_geo[:, 0], tv, rtol=1e-12)
    np.testing.assert_allclose(beta_geo[:, 1], np.exp(point["beta_geo_log"][:, 0]), rtol=1e-12)


def test_per_channel_forms_must_name_channels() -> None:
    with pytest.raises(ConfigError, match=r"geo.effects names \['podcast'\], which are not"):
        _config(effects={"podcast": "centred"})
    with pytest.raises(ConfigError, match="non_centred"):
        _config(effects={"tv": "sideways"})


def test_one_centred_channel_refuses_roas_priors() -> None:
    raw = _roas_prior_config("non_centred")
    raw["geo"]["effects"] = {"search": "centred"}  # tv has the ROAS prior, search is centred
    with pytest.raises(ConfigError, match=r"centred \(channels \['search'\]\) .*\['tv'\]"):
        parse_config(ModelConfig, raw)
