"""Generator config: the shipped file loads, and every kind of mistake gets a clear error."""

from __future__ import annotations

import copy
import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from mediamix.config.base import ConfigError, load_yaml, parse_config
from mediamix.config.generator import GeneratorConfig, load_generator_config
from mediamix.errors import MediamixError

Mutation = Callable[[dict[str, Any]], None]


def minimal() -> dict[str, Any]:
    """The smallest valid config, written out here so the tests do not depend on the file."""
    return {
        "start_date": "2021-01-04",
        "end_date": "2021-12-27",
        "outcome": {"name": "sales", "intercept": 1.0, "sigma": 0.1},
        "media": {
            "tv": {"min": 10.0, "max": 100.0, "beta": 1.0, "mu": 2.0},
        },
    }


def error_for(data: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(GeneratorConfig, data, "test.yaml")
    return str(info.value)


def mutated(mutation: Mutation) -> dict[str, Any]:
    data = copy.deepcopy(minimal())
    mutation(data)
    return data


def test_shipped_config_loads(basic_config_path: Path) -> None:
    cfg = load_generator_config(basic_config_path)
    assert cfg.frequency == "weekly"
    assert cfg.seed == 42
    assert set(cfg.media) == {"adwords", "facebook", "linkedin"}
    assert all(ch.decay_type == "geometric" for ch in cfg.media.values())
    assert all(ch.saturation_type == "logistic" for ch in cfg.media.values())


def test_defaults_of_minimal_config() -> None:
    cfg = parse_config(GeneratorConfig, minimal())
    assert cfg.frequency == "weekly"
    assert cfg.l_max == 12
    assert cfg.seed is None
    assert cfg.outcome.scale == 1.0
    assert cfg.trend.slope == 0.0
    assert cfg.seasonality.amplitude == 0.0
    assert cfg.controls == {}
    tv = cfg.media["tv"]
    assert (tv.signal.base, tv.signal.sigma) == ("walk", 1.0)
    assert tv.decay_type is None
    assert tv.saturation_type == "logistic"
    assert tv.l_max is None
    assert cfg.start_date == dt.date(2021, 1, 4)


def test_config_is_immutable() -> None:
    cfg = parse_config(GeneratorConfig, minimal())
    with pytest.raises(ValueError, match="frozen"):
        cfg.l_max = 3  # type: ignore[misc]


def test_accelerator_style_booleans_are_accepted() -> None:
    # the original accelerator's schema writes decay/saturation as booleans
    data = mutated(lambda d: d["media"]["tv"].update(decay=True, alpha=0.3, saturation=True))
    tv = parse_config(GeneratorConfig, data).media["tv"]
    assert (tv.decay_type, tv.saturation_type) == ("geometric", "logistic")
    data = mutated(lambda d: d["media"]["tv"].update(saturation=False, mu=None))
    assert parse_config(GeneratorConfig, data).media["tv"].saturation_type is None


def test_hill_and_delayed_channel() -> None:
    data = mutated(
        lambda d: d["media"].update(
            radio={
                "min": 0,
                "max": 5,
                "beta": 0.5,
                "decay": "delayed",
                "alpha": 0.5,
                "theta": 2,
                "l_max": 6,
                "saturation": "hill",
                "k": 0.5,
                "s": 2,
            }
        )
    )
    radio = parse_config(GeneratorConfig, data).media["radio"]
    assert (radio.decay_type, radio.saturation_type, radio.l_max) == ("delayed", "hill", 6)


# Each case: a mutation of the minimal config, the key path the message must name, and a
# phrase saying what is allowed.
ERROR_CASES: list[Any] = [
    pytest.param(
        lambda d: d["media"]["tv"].update(alpah=0.3),
        "media.tv.alpah",
        r"unknown key \(did you mean 'alpha'\?\); allowed keys here: signal, min, max",
        id="unknown-channel-key",
    ),
    pytest.param(
        lambda d: d.update(sead=3),
        "sead",
        r"unknown key \(did you mean 'seed'\?\); allowed keys here: start_date, end_date",
        id="unknown-top-level-key",
    ),
    pytest.param(
        lambda d: d["outcome"].update(noise=1),
        "outcome.noise",
        r"unknown key; allowed keys here: name, intercept, sigma, scale",
        id="unknown-outcome-key",
    ),
    pytest.param(
        lambda d: d["media"]["tv"].update(signal={"base": "walk", "sd": 1}),
        "media.tv.signal.sd",
        r"unknown key; allowed keys here: base, sigma",
        id="unknown-signal-key",
    ),
    pytest.param(
        lambda d: d.update(controls={"price": {"min": 1, "max": 2, "coef": 1, "beta": 1}}),
        "controls.price.beta",
        r"unknown key; allowed keys here: signal, min, max, coef",
        id="unknown-control-key",
    ),
    pytest.param(
        lambda d: d["media"]["tv"].update(decay="geometric", alpha=1.0),
        "media.tv.alpha",
        r"alpha must be in \[0, 1\) \(got 1.0\)",
        id="alpha-one",
    ),
    pytest.param(
        lambda d: d["media"]["tv"].update(decay="geometric", alpha=-0.2),
        "media.tv.alpha",
        r"alpha must be in \[0, 1\) \(got -0.2\)",
        id="alpha-negative",
    ),
    pytest.param(
        lambda d: d["media"]["tv"].update(min=100.0),
        "media.tv.max",
        r"max must be greater than min \(100\) \(got 100.0\)",
        id="min-equals-max",
    ),
    pytest.param(
        lambda d: d["media"]["tv"].update(min=500.0),
        "media.tv.max",
        r"max must be greater than min \(500\)",
        id="min-above-max",
    ),
    pytest.param(
        lambda d: d.update(controls={"price": {"min": 3, "max": 2, "coef": 1}}),
        "controls.price.max",
        r"max must be greater than min \(3\)",
        id="control-min-above-max",
    ),
    pytest.param(
        lambda d: d["media"]["tv"].update(min=-1.0),
        "media.tv.min",
        r"greater than or equal to 0 \(got -1.0\)",
        id="negative-min-spend",
    ),
    pytest.param(
        lambda d: d["outcome"].update(sigma=-0.5),
        "outcome.sigma",
        r"greater than or equal to 0 \(got -0.5\)",
        id="negative-outcome-sigma",
    ),
    pytest.param(
        lambda d: d["media"]["tv"].update(signal={"sigma": -1}),
        "media.tv.signal.sigma",
        r"greater than 0 \(got -1\)",
        id="negative-signal-sigma",
    ),
    pytest.param(
        lambda d: d.update(end_date="2020-06-01"),
        "end_date",
        r"must be after start_date \(2021-01-04\)",
        id="end-before-start",
    ),
    pytest.param(
        lambda d: d.update(end_date="2021-01-04"),
        "end_date",
        r"must be after start_date",
        id="end-equals-start",
    ),
    pytest.param(
        lambda d: d.update(end_date="2021-01-08"),
        "",
        r"fewer than 2 weekly periods; end_date must be at least 7 day\(s\) after start_date",
        id="too-short-for-weekly",
    ),
    pytest.param(
        lambda d: d.update(start_date="2021-13-01"),
        "start_date",
        r"valid date",
        id="not-a-date",
    ),
    pytest.param(
        lambda d: d.update(frequency="monthly"),
        "frequency",
        r"'daily' or 'weekly' \(got 'monthly'\)",
        id="bad-frequency",
    ),
    pytest.param(
        lambda d: d.update(l_max=0),
        "l_max",
        r"greater than or equal to 1",
        id="bad-l-max",
    ),
    pytest.param(
        lambda d: d.update(seed=-1),
        "seed",
        r"greater than or equal to 0",
        id="negative-seed",
    ),
    pytest.param(
        lambda d: d["media"]["tv"].update(saturation="tanh"),
        "media.tv.saturation",
        r"must be one of true, false, 'logistic', 'hill' \(got 'tanh'\)",
        id="bad-saturation-type",
    ),
    pytest.param(
        lambda d: d["media"]["tv"].update(decay="exponential"),
        "media.tv.decay",
        r"must be one of true, false, 'geometric', 'delayed' \(got 'exponential'\)",
        id="bad-decay-type",
    ),
    pytest.param(
        lambda d: d["media"]["tv"].update(decay=1),
        "media.tv.decay",
        r"must be one of true, false, 'geometric', 'delayed' \(got 1\)",
        id="decay-number-is-not-a-bool",
    ),
    pytest.param(
        lambda d: d["media"]["tv"].update(decay="geometric"),
        "media.tv",
        r"decay: geometric needs alpha in \[0, 1\)",
        id="decay-without-alpha",
    ),
    pytest.param(
        lambda d: d["media"]["tv"].update(decay="delayed", alpha=0.5),
        "media.tv",
        r"decay: delayed needs theta >= 0",
        id="delayed-without-theta",
    ),
    pytest.param(
        lambda d: d["media"]["tv"].update(decay="delayed", alpha=0.5, theta=12),
        "media.tv.theta",
        r"must be in \[0, l_max - 1\] = \[0, 11\]",
        id="theta-beyond-window",
    ),
    pytest.param(
        lambda d: d["media"]["tv"].update(decay="delayed", alpha=0.0, theta=1.5),
        "media.tv",
        r"alpha 0 needs a whole-number theta",
        id="delayed-alpha-zero-fractional-theta",
    ),
    pytest.param(
        lambda d: d["media"]["tv"].update(mu=None, saturation="hill", k=1.0),
        "media.tv",
        r"saturation: hill needs k > 0 and s > 0",
        id="hill-without-s",
    ),
    pytest.param(
        lambda d: d["media"]["tv"].update(mu=None),
        "media.tv",
        r"saturation: logistic needs mu > 0",
        id="logistic-without-mu",
    ),
    pytest.param(
        lambda d: d["media"]["tv"].update(k=1.0, s=1.0),
        "media.tv",
        r"k and s are only used with saturation: hill",
        id="hill-params-on-logistic",
    ),
    pytest.param(
        lambda d: d["media"]["tv"].update(mu=0.0),
        "media.tv.mu",
        r"greater than 0",
        id="zero-mu",
    ),
    pytest.param(
        lambda d: d.update(media={}),
        "media",
        r"at least 1 item",
        id="no-media",
    ),
    pytest.param(
        lambda d: d.update(controls={"sales": {"min": 0, "max": 1, "coef": 1}}),
        "",
        r"column names must be unique .*\['sales'\] repeat",
        id="control-named-like-outcome",
    ),
    pytest.param(
        lambda d: d["outcome"].pop("name"),
        "outcome.name",
        r"Field required",
        id="missing-outcome-name",
    ),
    pytest.param(
        lambda d: d.update(seasonality={"peak": 1.0}),
        "seasonality.peak",
        r"less than 1",
        id="seasonality-peak-out-of-year",
    ),
]


@pytest.mark.parametrize(("mutation", "key", "allowed"), ERROR_CASES)
def test_config_error_names_key_and_what_is_allowed(
    mutation: Mutation, key: str, allowed: str
) -> None:
    message = error_for(mutated(mutation))
    assert message.startswith("invalid configuration in test.yaml:")
    lines = [ln.strip() for ln in message.splitlines()[1:]]
    # the line starts with the full key path ("media.tv.alpha: ..." or "media.tv.theta (12) ...")
    matching = [ln for ln in lines if not key or ln.startswith((f"{key}:", f"{key} "))]
    assert matching, f"no line names {key!r}:\n{message}"
    assert any(re.search(allowed, ln) for ln in matching), message


def test_cross_field_errors_do_not_dump_the_whole_section() -> None:
    message = error_for(mutated(lambda d: d["media"]["tv"].update(decay="geometric")))
    assert "{" not in message  # the section's contents are not repeated back


def test_every_error_is_reported_at_once() -> None:
    def two_mistakes(d: dict[str, Any]) -> None:
        d["outcome"]["sigma"] = -1
        d["media"]["tv"]["bogus"] = 1

    message = error_for(mutated(two_mistakes))
    assert "outcome.sigma" in message
    assert "media.tv.bogus" in message


def test_config_error_is_a_mediamix_error() -> None:
    assert issubclass(ConfigError, MediamixError)


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match=r"config file not found: .*nope\.yaml"):
        load_generator_config(missing)


def test_directory_is_not_a_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_yaml(tmp_path)


@pytest.mark.parametrize(
    ("text", "kind"), [("- a\n- b\n", "list"), ("just a string\n", "str"), ("", "NoneType")]
)
def test_non_mapping_yaml(tmp_path: Path, text: str, kind: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=rf"top level must be a mapping of keys, got {kind}"):
        load_generator_config(path)


def test_invalid_yaml_syntax(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("media: {tv: [1, 2}\n")
    with pytest.raises(ConfigError, match=r"c\.yaml is not valid YAML"):
        load_generator_config(path)


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    data = mutated(lambda d: d["media"]["tv"].update(alpha=3.0))
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=r"invalid configuration in .*bad\.yaml"):
        load_generator_config(path)


def test_round_trip_through_yaml_file(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text(yaml.safe_dump(minimal()))
    assert load_generator_config(path) == parse_config(GeneratorConfig, minimal())
