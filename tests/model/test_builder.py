from __future__ import annotations

from typing import Any

import numpy as np
import pymc as pm
import pytest

from mediamix.config.base import parse_config
from mediamix.config.generator import GeneratorConfig
from mediamix.config.model import ModelConfig
from mediamix.data.generator import Generator, SyntheticData
from mediamix.model.builder import build_model, channel_parameters, parameter_groups, prepare_data

MEDIA: dict[str, Any] = {
    "tv": {
        "min": 100,
        "max": 1000,
        "beta": 0.8,
        "decay": "geometric",
        "alpha": 0.5,
        "saturation": "logistic",
        "mu": 2.0,
    },
    "search": {
        "min": 50,
        "max": 500,
        "beta": 0.5,
        "decay": "geometric",
        "alpha": 0.2,
        "saturation": "hill",
        "k": 0.4,
        "s": 1.5,
    },
    "radio": {
        "min": 10,
        "max": 300,
        "beta": 0.3,
        "decay": "delayed",
        "alpha": 0.6,
        "theta": 2.0,
        "saturation": "logistic",
        "mu": 3.0,
    },
}


def _synthetic(media: dict[str, Any], **extra: Any) -> SyntheticData:
    cfg = parse_config(
        GeneratorConfig,
        {
            "start_date": "2020-01-06",
            "end_date": "2022-12-26",
            "seed": 3,
            "outcome": {"name": "sales", "intercept": 2.0, "sigma": 0.05, "scale": 1000.0},
            "media": media,
            **extra,
        },
    )
    return Generator(cfg).generate()


def _model_config(media: dict[str, Any], **extra: Any) -> ModelConfig:
    channels = {}
    for name, m in media.items():
        adstock = {"type": {"geometric": "geometric", "delayed": "delayed"}[m["decay"]]}
        channels[name] = {"adstock": adstock, "saturation": {"type": m["saturation"]}}
    return parse_config(ModelConfig, {"outcome": {"name": "sales"}, "channels": channels, **extra})


def _truth_values(syn: SyntheticData, cfg: ModelConfig, y_scale: float) -> dict[str, Any]:
    """Model RV values that reproduce the generator's truth exactly."""
    values: dict[str, Any] = {}
    params = channel_parameters(cfg)
    scale = syn.truth.meta["scale"]
    for group in parameter_groups(cfg):
        for p, var in group.var_names.items():
            values[var] = np.array(
                [syn.truth.params[ch][f"{group.kind}_{p}"] for ch in group.channels]
            )
    values["beta"] = np.array(
        [syn.truth.params[ch]["beta"] * scale / y_scale for ch in cfg.channel_names]
    )
    assert set(params) == set(cfg.channel_names)
    return values


def test_model_structure_single_group() -> None:
    media = {k: v for k, v in MEDIA.items() if k == "tv"} | {
        "web": {**MEDIA["tv"], "alpha": 0.3, "mu": 1.0}
    }
    syn = _synthetic(media)
    cfg = _model_config(media)
    model = build_model(syn.data, cfg)
    assert model.coords["channel"] == ("tv", "web")
    assert len(model.coords["date"]) == len(syn.data)
    names = {rv.name for rv in model.free_RVs}
    assert {"adstock_alpha", "saturation_lam", "beta", "intercept", "sigma"} <= names
    assert model.named_vars_to_dims["adstock_alpha"] == ("channel",)
    assert model.named_vars_to_dims["channel_contribution"] == ("date", "channel")
    assert model.named_vars_to_dims["baseline"] == ("date",)


def test_mixed_transform_groups_get_their_own_dims() -> None:
    cfg = _model_config(MEDIA)
    groups = {(g.kind, g.type): g for g in parameter_groups(cfg)}
    assert groups[("saturation", "hill")].channels == ("search",)
    assert groups[("saturation", "hill")].dim == "channel_hill"
    assert groups[("adstock", "delayed")].var_names == {
        "alpha": "adstock_alpha_delayed",
        "theta": "adstock_theta",
    }
    where = channel_parameters(cfg)
    assert where["search"]["saturation_k"] == ("saturation_k", "channel_hill")
    assert where["tv"]["saturation_lam"] == ("saturation_lam", "channel_logistic")


def test_groups_of_one_type_differing_only_in_normalization_get_distinct_names() -> None:
    media = {"tv": MEDIA["tv"], "search": MEDIA["search"]}
    cfg = parse_config(
        ModelConfig,
        {
            "outcome": {"name": "sales"},
            "channels": {"tv": {}, "search": {"adstock": {"normalize": False}}},
        },
    )
    adstock = [g for g in parameter_groups(cfg) if g.kind == "adstock"]
    assert [g.dim for g in adstock] == ["channel_geometric_l12", "channel_geometric_l12_raw"]
    assert [g.var_names["alpha"] for g in adstock] == [
        "adstock_alpha_geometric_l12",
        "adstock_alpha_geometric_l12_raw",
    ]
    model = build_model(_synthetic(media).data, cfg)
    assert model.named_vars_to_dims["adstock_alpha_geometric_l12_raw"] == (
        "channel_geometric_l12_raw",
    )


@pytest.mark.parametrize("channels", [["tv"], ["tv", "search", "radio"]])
def test_contributions_at_true_parameters_equal_generator_truth(channels: list[str]) -> None:
    media = {k: MEDIA[k] for k in channels}
    syn = _synthetic(media)
    cfg = _model_config(media)
    md = prepare_data(syn.data, cfg)
    model = build_model(md, cfg)
    fixed = pm.do(model, _truth_values(syn, cfg, md.scalers.y_scale))
    contrib = pm.draw(fixed["channel_contribution"], random_seed=1)
    np.testing.assert_allclose(
        contrib, syn.truth.contributions[cfg.channel_names].to_numpy(), rtol=1e-10
    )


def test_controls_seasonality_trend_and_index_variables() -> None:
    syn = _synthetic(
        {"tv": MEDIA["tv"]},
        controls={"price": {"min": 1.0, "max": 2.0, "coef": -0.3}},
        seasonality={"amplitude": 0.2},
        trend={"slope": 0.1},
    )
    data = syn.data.assign(promo=np.where(np.arange(len(syn.data)) % 4 == 0, "on", "off"))
    cfg = _model_config(
        {"tv": MEDIA["tv"]},
        controls=["price"],
        index_variables=["promo"],
        outcome={"name": "sales", "likelihood": "studentt"},
    )
    model = build_model(data, cfg)
    names = {rv.name for rv in model.free_RVs}
    assert {"control_coef", "seasonality_coef", "trend_slope", "promo_effect", "nu"} <= names
    assert model.coords["promo_level"] == ("on",)
    assert model.named_vars_to_dims["control_contribution"] == ("date", "control")
    # the baseline deterministic is finite for a prior draw
    assert np.isfinite(pm.draw(model["baseline"], random_seed=2)).all()


def test_bad_data_fails_before_any_model_is_built() -> None:
    syn = _synthetic({"tv": MEDIA["tv"]})
    cfg = _model_config({"tv": MEDIA["tv"], "search": MEDIA["search"]})
    from mediamix.data.validation import DataValidationError

    with pytest.raises(DataValidationError, match="missing columns"):
        build_model(syn.data, cfg)


def test_organic_channels_get_their_own_variables_and_scale() -> None:
    syn = _synthetic({"tv": MEDIA["tv"]})
    data = syn.data.assign(newsletter=np.arange(len(syn.data)) % 5 * 10.0)
    cfg = parse_config(
        ModelConfig,
        {
            "outcome": {"name": "sales"},
            "channels": ["tv"],
            "organic_channels": {"newsletter": {"saturation": {"type": "hill"}}},
        },
    )
    md = prepare_data(data, cfg)
    assert md.scalers.organic_max == {"newsletter": 40.0}
    assert "newsletter" not in md.scalers.spend_max
    model = build_model(md, cfg)
    assert model.coords["channel"] == ("tv",)
    assert model.coords["organic"] == ("newsletter",)
    names = {rv.name for rv in model.free_RVs}
    assert {"organic_beta", "organic_adstock_alpha", "organic_saturation_k"} <= names
    assert "saturation_lam" in names and "organic_saturation_lam" not in names
    assert model.named_vars_to_dims["organic_contribution"] == ("date", "organic")
    assert channel_parameters(cfg, organic=True)["newsletter"]["beta"] == (
        "organic_beta",
        "organic",
    )
    from mediamix.data.validation import DataValidationError

    with pytest.raises(DataValidationError, match=r"missing columns \['newsletter'\]"):
        prepare_data(syn.data, cfg)
    negative = data.assign(newsletter=data["newsletter"] - 5.0)
    with pytest.raises(DataValidationError, match=r"organic media column 'newsletter': row"):
        prepare_data(negative, cfg)
    with pytest.raises(DataValidationError, match=r"organic media column 'newsletter' is zero"):
        prepare_data(data.assign(newsletter=0.0), cfg)


def test_exposure_channel_reads_its_exposure_column_and_keeps_spend() -> None:
    syn = _synthetic({"tv": MEDIA["tv"]})
    data = syn.data.rename(columns={"tv": "tv_S"}).assign(tv_I=syn.data["tv"] * 100.0)
    cfg = parse_config(
        ModelConfig,
        {
            "outcome": {"name": "sales"},
            "channels": {"tv": {"exposure": "tv_I", "spend": "tv_S"}},
        },
    )
    md = prepare_data(data, cfg)
    assert list(md.frame.columns) == ["date", "tv", "tv_S", "sales"]
    np.testing.assert_array_equal(md.spend[:, 0], data["tv_I"])
    assert md.scalers.spend_max == {"tv": float(data["tv_I"].max())}
    assert md.scalers.cost_per_exposure == {"tv": pytest.approx(0.01)}
    model = build_model(md, cfg)
    np.testing.assert_array_equal(model["spend"].get_value()[:, 0], data["tv_I"])
