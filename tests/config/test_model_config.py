from __future__ import annotations

from pathlib import Path

import pytest

from mediamix.config.base import ConfigError, parse_config
from mediamix.config.model import ModelConfig, load_model_config

REPO = Path(__file__).resolve().parents[2]


def _cfg(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {"outcome": {"name": "sales"}, "channels": ["tv", "search"]}
    base.update(overrides)
    return base


def test_channel_names_alone_get_default_priors() -> None:
    cfg = parse_config(ModelConfig, _cfg())
    assert cfg.channel_names == ["tv", "search"]
    tv = cfg.channels["tv"]
    assert tv.adstock.type == "geometric"
    assert tv.adstock.alpha.dist == "Beta"
    assert tv.saturation.type == "logistic"
    assert tv.beta.dist == "HalfNormal"


def test_shipped_config_matches_shipped_generator() -> None:
    from mediamix.config.generator import load_generator_config

    model = load_model_config(REPO / "config/model/basic_config.yaml")
    gen = load_generator_config(REPO / "config/generator/basic_config.yaml")
    assert model.channel_names == list(gen.media)
    assert model.outcome.name == gen.outcome.name


def test_channel_defaults_merge_under_per_channel_overrides() -> None:
    cfg = parse_config(
        ModelConfig,
        _cfg(
            channel_defaults={"adstock": {"l_max": 8}},
            channels={"tv": {"adstock": {"l_max": 20}}, "search": None},
        ),
    )
    assert cfg.channels["tv"].adstock.l_max == 20
    assert cfg.channels["search"].adstock.l_max == 8
    assert cfg.channels["tv"].adstock.alpha.dist == "Beta"


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({"colour": 1}, "colour: unknown key"),
        ({"channels": {"tv": {"adstock": {"typ": "geometric"}}}}, "channels.tv.adstock.typ"),
        ({"channels": {"tv": {"beta": {"dist": "Normal", "mu": 0, "sigma": 1}}}}, "positive"),
        (
            {"channels": {"tv": {"adstock": {"alpha": {"dist": "Gamma", "alpha": 2, "beta": 1}}}}},
            "adstock.alpha needs a unit prior",
        ),
        ({"channels": {"tv": {"beta": {"dist": "Cauchy", "sigma": 1}}}}, "dist must be one of"),
        ({"channels": {"tv": {"beta": {"dist": "HalfNormal", "mu": 1}}}}, "missing ['sigma']"),
        ({"channels": {"tv": {"beta": {"dist": "HalfNormal", "sigma": -1}}}}, "must be > 0"),
        ({"sampler": {"sampler": "gibbs"}}, "sampler.sampler"),
        ({"sampler": {"target_accept": 1.5}}, "sampler.target_accept"),
        ({"controls": ["tv"]}, "repeated: ['tv']"),
        ({"channels": ["tv", "tv"]}, "repeat"),
        ({"channels": []}, "channels"),
    ],
)
def test_config_errors_name_the_key(overrides: dict[str, object], needle: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(ModelConfig, _cfg(**overrides), "model.yaml")
    assert needle in str(err.value)
    assert "model.yaml" in str(err.value)


def test_with_sampler_overrides_only_given_values() -> None:
    cfg = parse_config(ModelConfig, _cfg()).with_sampler(draws=50, tune=None, sampler="pymc")
    assert cfg.sampler.draws == 50
    assert cfg.sampler.tune == 1000
    assert cfg.sampler.sampler == "pymc"


def test_organic_channels_list_or_mapping_get_channel_defaults() -> None:
    cfg = parse_config(
        ModelConfig,
        _cfg(
            channel_defaults={"adstock": {"l_max": 6}},
            organic_channels=["newsletter", "organic_social"],
        ),
    )
    assert cfg.organic_names == ["newsletter", "organic_social"]
    assert cfg.channel_names == ["tv", "search"]
    assert cfg.organic_channels["newsletter"].adstock.l_max == 6
    mapped = parse_config(
        ModelConfig, _cfg(organic_channels={"pr": {"saturation": {"type": "hill"}}})
    )
    assert mapped.organic_channels["pr"].saturation.type == "hill"
    assert parse_config(ModelConfig, _cfg()).organic_channels == {}


@pytest.mark.parametrize(
    ("organic", "match"),
    [
        (["tv"], r"organic_channels \['tv'\] are also paid channels"),
        (["pr", "pr"], r"organic_channels: channel names repeat"),
        ([1], r"organic_channels: a channel list must hold channel names"),
        (["sales"], r"repeated: \['sales'\]"),
        ({"pr": {"beta": {"dist": "Normal", "mu": 0, "sigma": 1}}}, r"beta needs a positive"),
    ],
)
def test_bad_organic_channels_are_named(organic: object, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        parse_config(ModelConfig, _cfg(organic_channels=organic))


def test_exposure_channels_in_list_or_mapping_form() -> None:
    listed = parse_config(
        ModelConfig,
        _cfg(
            channels=["tv", {"name": "facebook", "exposure": "facebook_I", "spend": "facebook_S"}]
        ),
    )
    mapped = parse_config(
        ModelConfig,
        _cfg(channels={"tv": {}, "facebook": {"exposure": "facebook_I", "spend": "facebook_S"}}),
    )
    for cfg in (listed, mapped):
        assert cfg.channel_names == ["tv", "facebook"]
        assert cfg.exposure_channels == {"facebook": ("facebook_I", "facebook_S")}
        assert cfg.media_column("facebook") == "facebook_I"
        assert cfg.spend_column("facebook") == "facebook_S"
        assert cfg.media_column("tv") == cfg.spend_column("tv") == "tv"
    assert listed == mapped


@pytest.mark.parametrize(
    ("channels", "extra", "match"),
    [
        ({"fb": {"exposure": "fb_I"}}, {}, r"channels.fb: exposure and spend go together"),
        ({"fb": {"spend": "fb_S"}}, {}, r"channels.fb: exposure and spend go together"),
        ({"fb": {"exposure": "tv", "spend": "fb_S"}, "tv": {}}, {}, r"repeated: \['tv'\]"),
        ({"fb": {"exposure": "fb_I", "spend": "sales"}}, {}, r"repeated: \['sales'\]"),
        (
            ["tv"],
            {"organic_channels": {"pr": {"exposure": "pr_I", "spend": "pr_S"}}},
            r"organic_channels.pr: exposure and spend are for paid channels",
        ),
        ([{"exposure": "fb_I"}], {}, r"or \{name: ..., exposure: ..., spend: ...\} entries"),
        (["fb", {"name": "fb", "exposure": "a", "spend": "b"}], {}, r"names repeat: 'fb'"),
    ],
)
def test_bad_exposure_channels_are_named(channels: object, extra: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        parse_config(ModelConfig, _cfg(channels=channels, **extra))
