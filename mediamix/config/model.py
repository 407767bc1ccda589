"""Typed model configuration: outcome, channels and their priors, baseline terms, sampler.

A user may list only channel names; every channel then gets the defaults in ``channel_defaults``
(geometric adstock with ``alpha ~ Beta(1, 3)``, logistic saturation with ``lam ~ Gamma(3, 1)``,
``beta ~ HalfNormal(1)``), laid under any ``channel_defaults`` the config sets; per-channel entries
override any part of either.

Priors are written ``{dist: Beta, alpha: 1, beta: 3}`` with ``dist`` one of a fixed list of
distribution names (not Python classes) and each distribution's own parameter names.

The adstock and saturation ``type`` values, the support each transform parameter's prior needs
and its default prior come from :mod:`mediamix.model.registry`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Self

from pydantic import Field, field_validator, model_validator

from mediamix.config.base import StrictModel, load_yaml, parse_config
from mediamix.config.calibration import CalibrationConfig
from mediamix.config.sections import (
    HolidaysConfig,
    SamplerConfig,
    TrackingConfig,
    WindowConfig,
)
from mediamix.model import registry

__all__ = [
    "AdstockConfig",
    "ChannelModelConfig",
    "ChannelPriorConfig",
    "GeoModelConfig",
    "HolidaysConfig",
    "ModelConfig",
    "PriorConfig",
    "SamplerConfig",
    "TrackingConfig",
    "WindowConfig",
    "load_model_config",
]

# distribution -> (parameter names, support)
DISTRIBUTIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "Normal": (("mu", "sigma"), "real"),
    "StudentT": (("nu", "mu", "sigma"), "real"),
    "HalfNormal": (("sigma",), "positive"),
    "HalfStudentT": (("nu", "sigma"), "positive"),
    "Exponential": (("lam",), "positive"),
    "Gamma": (("alpha", "beta"), "positive"),
    "LogNormal": (("mu", "sigma"), "positive"),
    "Beta": (("alpha", "beta"), "unit"),
    "Uniform": (("lower", "upper"), "bounded"),
}
_POSITIVE_PARAMS = {"sigma", "nu", "lam", "alpha", "beta"}


class PriorConfig(StrictModel):
    """A prior: a distribution name and its parameters: ``{dist: Gamma, alpha: 3, beta: 1}``."""

    model_config = StrictModel.model_config | {"extra": "allow"}
    dist: str

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.dist not in DISTRIBUTIONS:
            raise ValueError(f"dist must be one of {sorted(DISTRIBUTIONS)}, got {self.dist!r}")
        names, _ = DISTRIBUTIONS[self.dist]
        given = dict(self.model_extra or {})
        missing = [n for n in names if n not in given]
        unknown = [n for n in given if n not in names]
        if missing or unknown:
            raise ValueError(
                f"{self.dist} takes parameters {list(names)}; missing {missing}, unknown {unknown}"
            )
        for name, value in given.items():
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise ValueError(f"{self.dist} parameter {name} must be a number, got {value!r}")
            if name in _POSITIVE_PARAMS and value <= 0:
                raise ValueError(f"{self.dist} parameter {name} must be > 0, got {value}")
        if self.dist == "Uniform" and given["lower"] >= given["upper"]:
            raise ValueError("Uniform needs lower < upper")
        return self

    @property
    def params(self) -> dict[str, float]:
        """The distribution's parameters."""
        return {k: float(v) for k, v in (self.model_extra or {}).items()}

    @property
    def support(self) -> str:
        """``real``, ``positive``, ``unit`` (0 to 1) or ``bounded``."""
        if self.dist == "Uniform":
            lo, hi = self.params["lower"], self.params["upper"]
            if lo >= 0 and hi <= 1:
                return "unit"
            return "positive" if lo >= 0 else "bounded"
        return DISTRIBUTIONS[self.dist][1]

    def require(self, support: str, what: str) -> None:
        """Raise if this prior can put mass outside ``support`` (``positive`` or ``unit``)."""
        ok = {"positive": {"positive", "unit"}, "unit": {"unit"}, "real": set(DISTRIBUTIONS)}
        if support != "real" and self.support not in ok[support]:
            allowed = sorted(
                d for d, (_, s) in DISTRIBUTIONS.items() if s in ok[support] or d == "Uniform"
            )
            raise ValueError(
                f"{what} needs a {support} prior; {self.dist} is {self.support}. "
                f"Use one of {allowed}"
            )


def _prior(dist: str, **params: float) -> PriorConfig:
    return PriorConfig(dist=dist, **params)


def _default(kind: str, name: str) -> PriorConfig:
    """The registry's default prior for parameter ``name`` of ``kind`` transforms."""
    return PriorConfig.model_validate(dict(registry.parameters(kind)[name].prior))


def _check_type(kind: str, value: str) -> str:
    allowed = registry.types(kind)
    if value not in allowed:
        listed = ", ".join(repr(t) for t in allowed[:-1])
        listed = f"{listed} or {allowed[-1]!r}" if listed else repr(allowed[-1])
        raise ValueError(f"{kind} type must be one of {listed}")
    return value


def _check_priors(section: StrictModel, kind: str) -> None:
    """Every parameter's prior must fit the parameter's support."""
    for name, parameter in registry.parameters(kind).items():
        prior: PriorConfig = getattr(section, name)
        prior.require(parameter.support, f"{kind}.{name}")


class AdstockConfig(StrictModel):
    """Carry-over: ``geometric`` (``alpha``), ``delayed`` (``alpha``, ``theta``) or ``none``."""

    type: str = "geometric"
    l_max: int = Field(default=12, ge=1, le=104)
    normalize: bool = True
    alpha: PriorConfig = _default("adstock", "alpha")
    theta: PriorConfig = _default("adstock", "theta")

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        return _check_type("adstock", value)

    @model_validator(mode="after")
    def _check(self) -> Self:
        _check_priors(self, "adstock")
        return self


class SaturationConfig(StrictModel):
    """Diminishing returns: ``logistic`` (``lam``), ``hill`` (``k``, ``s``) or ``none``."""

    type: str = "logistic"
    lam: PriorConfig = _default("saturation", "lam")
    k: PriorConfig = _default("saturation", "k")
    s: PriorConfig = _default("saturation", "s")

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        return _check_type("saturation", value)

    @model_validator(mode="after")
    def _check(self) -> Self:
        _check_priors(self, "saturation")
        return self


def _require_prior_fields() -> None:
    """Each registered transform parameter needs a prior field in its config section."""
    for kind, section in (("adstock", AdstockConfig), ("saturation", SaturationConfig)):
        missing = [p for p in registry.parameters(kind) if p not in section.model_fields]
        if missing:
            raise TypeError(
                f"{section.__name__} has no prior field for the registered {kind} parameters "
                f"{missing}; add one `<name>: PriorConfig = _default({kind!r}, '<name>')` each"
            )


_require_prior_fields()


class ChannelPriorConfig(StrictModel):
    """A channel's prior on a derived quantity: ``roas`` (over the data window), not ``beta``."""

    roas: PriorConfig

    @model_validator(mode="after")
    def _check(self) -> Self:
        self.roas.require("positive", "prior.roas")
        return self


class ChannelModelConfig(StrictModel):
    """How one channel's spend acts on the outcome: adstock, saturation and ``beta``.

    ``exposure`` and ``spend`` (together) model a paid channel on an exposure metric
    (impressions, clicks): the ``exposure`` column is the model's media input, the ``spend``
    column (currency) gives its ROAS and, through the average cost per exposure, its response
    to spend in curves and the optimizer. ``prior: {roas: ...}`` replaces the ``beta`` prior by
    one on the channel's ROAS (see :mod:`mediamix.model.calibration`).
    """

    exposure: str | None = Field(default=None, min_length=1)
    spend: str | None = Field(default=None, min_length=1)
    adstock: AdstockConfig = AdstockConfig()
    saturation: SaturationConfig = SaturationConfig()
    beta: PriorConfig = _prior("HalfNormal", sigma=1.0)
    prior: ChannelPriorConfig | None = None

    @model_validator(mode="after")
    def _check(self) -> Self:
        self.beta.require("positive", "beta")
        if self.prior is not None and "beta" in self.model_fields_set:
            raise ValueError("give a prior on beta or on prior.roas, not both")
        return self


class OutcomeModelConfig(StrictModel):
    """The outcome column, its likelihood and the priors of intercept and noise (scaled units)."""

    name: str = Field(min_length=1)
    likelihood: Literal["normal", "studentt"] = "normal"
    intercept: PriorConfig = _prior("Normal", mu=0.5, sigma=0.5)
    sigma: PriorConfig = _prior("HalfNormal", sigma=0.5)
    nu: PriorConfig = _prior("Gamma", alpha=10.0, beta=1.0)

    @model_validator(mode="after")
    def _check(self) -> Self:
        self.sigma.require("positive", "outcome.sigma")
        self.nu.require("positive", "outcome.nu")
        return self


class SeasonalityModelConfig(StrictModel):
    """Yearly Fourier terms: ``yearly_order`` sine/cosine pairs (0 disables)."""

    yearly_order: int = Field(default=2, ge=0, le=20)
    prior: PriorConfig = _prior("Normal", mu=0.0, sigma=0.2)


class TrendModelConfig(StrictModel):
    """A linear trend over the data window (time scaled to [0, 1])."""

    enabled: bool = True
    prior: PriorConfig = _prior("Normal", mu=0.0, sigma=0.2)


EffectForm = Literal["non_centred", "centred"]


class GeoModelConfig(StrictModel):
    """A geo-level (hierarchical) model: the column naming each row's geo, and its population.

    ``population`` names a column constant within each geo (> 0); without it every geo counts
    as population 1, so per-capita values are the raw ones. ``beta_spread`` is the prior of
    each channel's spread of log ``beta`` across geos; ``intercept_spread`` the prior of the
    spread of the geos' intercepts (model units) around the national one. ``effects`` chooses
    how ``beta_geo`` is sampled: ``non_centred`` (the default, ``beta * exp(sd * raw)``,
    ``raw ~ N(0, 1)``) or ``centred`` (``log beta_geo ~ Normal(log beta, sd)``; not with ROAS
    priors, which need every channel non-centred), for every channel, or per channel as a
    mapping (``{tv: centred, radio: non_centred}``; channels not named are
    non-centred).
    """

    column: str = Field(default="geo", min_length=1)
    population: str | None = Field(default=None, min_length=1)
    beta_spread: PriorConfig = _prior("HalfNormal", sigma=0.3)
    intercept_spread: PriorConfig = _prior("HalfNormal", sigma=0.5)
    effects: EffectForm | dict[str, EffectForm] = "non_centred"

    @model_validator(mode="after")
    def _check(self) -> Self:
        self.beta_spread.require("positive", "geo.beta_spread")
        self.intercept_spread.require("positive", "geo.intercept_spread")
        return self

    def effect_forms(self, channels: list[str]) -> list[EffectForm]:
        """Each channel's form of ``beta_geo``, in the order of ``channels``."""
        if isinstance(self.effects, str):
            return [self.effects] * len(channels)
        return [self.effects.get(c, "non_centred") for c in channels]


class ModelConfig(StrictModel):
    """The whole model: see ``config/model/basic_config.yaml`` and README.

    ``date_column`` (default ``date``) and ``date_format`` (a ``strftime`` pattern such as
    ``%d/%m/%Y``; default: ISO dates) say how to read the data's dates. ``events`` names columns of
    labels (``na`` or empty: no event) that become one indicator control per label, and
    ``holidays`` a country calendar that becomes one; see :mod:`mediamix.data.columns`.

    ``organic_channels`` names non-paid media (newsletters, organic social): a list of column
    names, or a mapping of name to the same settings as a paid channel. They get adstock,
    saturation and ``beta`` like paid channels, scaled by their own maximum, but have no spend:
    no ROAS, and the optimizer holds them at their planned values.

    ``window`` (``{start: DATE, end: DATE}``, either optional) fits on part of the data only.
    """

    outcome: OutcomeModelConfig
    channels: dict[str, ChannelModelConfig] = Field(min_length=1)
    organic_channels: dict[str, ChannelModelConfig] = Field(default_factory=dict)
    date_column: str = Field(default="date", min_length=1)
    date_format: str | None = Field(default=None, min_length=2)
    events: list[str] = Field(default_factory=list)
    holidays: HolidaysConfig | None = None
    window: WindowConfig = WindowConfig()
    controls: list[str] = Field(default_factory=list)
    control_prior: PriorConfig = _prior("Normal", mu=0.0, sigma=0.5)
    index_variables: list[str] = Field(default_factory=list)
    index_prior: PriorConfig = _prior("Normal", mu=0.0, sigma=0.2)
    seasonality: SeasonalityModelConfig = SeasonalityModelConfig()
    trend: TrendModelConfig = TrendModelConfig()
    sampler: SamplerConfig = SamplerConfig()
    tracking: TrackingConfig = TrackingConfig()
    hdi_prob: float = Field(default=0.94, gt=0, lt=1)
    calibration: CalibrationConfig = CalibrationConfig()
    geo: GeoModelConfig | None = None

    @model_validator(mode="before")
    @classmethod
    def _expand_channels(cls, data: Any) -> Any:
        # `channels: [a, b]` is shorthand for `channels: {a: {}, b: {}}`; every entry is laid
        # over `channel_defaults`, which is consumed here
        if not isinstance(data, dict):
            return data
        data = dict(data)
        defaults = data.pop("channel_defaults", None) or {}
        for key in ("channels", "organic_channels"):
            value = data.get(key)
            if isinstance(value, list):
                value = _channel_list(key, value)
            if isinstance(value, dict) and isinstance(defaults, dict):
                data[key] = {
                    k: _deep_merge(defaults, v if v is not None else {}) for k, v in value.items()
                }
        return data

    @model_validator(mode="after")
    def _check(self) -> Self:
        clash = sorted(set(self.organic_channels) & set(self.channels))
        if clash:
            raise ValueError(
                f"organic_channels {clash} are also paid channels (channels); a column is either "
                "paid media (with spend) or organic media, not both"
            )
        for name, entry in self.organic_channels.items():
            if entry.exposure is not None or entry.spend is not None:
                raise ValueError(
                    f"organic_channels.{name}: exposure and spend are for paid channels; an "
                    "organic channel's own column is its media input and it has no spend"
                )
        if self.geo is not None:
            self._check_geo_effects(self.geo)
        for name, entry in self.channels.items():
            if (entry.exposure is None) != (entry.spend is None):
                raise ValueError(
                    f"channels.{name}: exposure and spend go together (the exposure column is the "
                    "media input, the spend column its cost); give both or neither"
                )
        names = [*self.channels, *self.organic_channels, *self.controls, *self.index_variables]
        for entry in self.channels.values():
            names += [c for c in (entry.exposure, entry.spend) if c is not None]
        names += [self.outcome.name, *self.events]
        if self.geo is not None:
            names += [self.geo.column] + ([self.geo.population] if self.geo.population else [])
        names += [self.date_column] if self.date_column != "date" else []
        repeated = sorted({n for n in names if names.count(n) > 1} | ({"date"} & set(names)))
        if repeated:
            raise ValueError(
                "channels (with their exposure and spend columns), organic_channels, controls, "
                "index_variables, events, date_column and the outcome need distinct column names "
                f"other than 'date'; repeated: {repeated}"
            )
        return self

    def _check_geo_effects(self, geo: GeoModelConfig) -> None:
        """Per-channel effect forms name channels; ROAS priors need the non-centred form."""
        names = list(self.channels)
        unknown = sorted(set(geo.effects) - set(names)) if isinstance(geo.effects, dict) else []
        if unknown:
            raise ValueError(
                f"geo.effects names {unknown}, which are not channels; the channels are {names}"
            )
        roas = sorted(n for n, c in self.channels.items() if c.prior is not None)
        centred = [n for n, f in zip(names, geo.effect_forms(names), strict=True) if f == "centred"]
        if roas and centred:
            raise ValueError(
                f"geo.effects: centred (channels {centred}) cannot be combined with ROAS priors "
                f"(channels {roas}): a prior on the national ROAS needs the non-centred geo "
                "effects (non_centred) for every channel"
            )

    @property
    def channel_names(self) -> list[str]:
        """Channel names in config order (the order of the ``channel`` coordinate)."""
        return list(self.channels)

    @property
    def exposure_channels(self) -> dict[str, tuple[str, str]]:
        """Channels modeled on an exposure metric: ``{channel: (exposure, spend)}`` columns."""
        return {
            name: (entry.exposure, entry.spend)
            for name, entry in self.channels.items()
            if entry.exposure is not None and entry.spend is not None
        }

    def spend_column(self, channel: str) -> str:
        """The column of ``channel``'s spend (currency): its ``spend``, else its own name."""
        return self.channels[channel].spend or channel

    def media_column(self, channel: str) -> str:
        """The data column of ``channel``'s media input: its ``exposure``, else its own name."""
        return self.channels[channel].exposure or channel

    @property
    def organic_names(self) -> list[str]:
        """Organic (non-paid) media in config order (the order of the ``organic`` coordinate)."""
        return list(self.organic_channels)

    def with_sampler(self, **overrides: Any) -> ModelConfig:
        """Return a copy with sampler settings replaced (``None`` values are ignored)."""
        changes = {k: v for k, v in overrides.items() if v is not None}
        # command-line overrides get the same key-naming errors as the YAML file
        sampler = parse_config(SamplerConfig, self.sampler.model_dump() | changes, "sampler")
        return self.model_copy(update={"sampler": sampler})

    def with_window(self, start: str | None = None, end: str | None = None) -> ModelConfig:
        """Return a copy with the fit window's given bounds replaced (``None`` keeps a bound)."""
        changes = {k: v for k, v in (("start", start), ("end", end)) if v is not None}
        window = parse_config(
            WindowConfig, self.window.model_dump() | changes, "window (--start/--end)"
        )
        return self.model_copy(update={"window": window})


def _channel_list(key: str, value: list[Any]) -> dict[str, Any]:
    """``[a, {name: b, exposure: b_I, spend: b_S}]`` as ``{a: {}, b: {exposure: b_I, ...}}``."""
    out: dict[str, Any] = {}
    for item in value:
        if isinstance(item, dict) and key == "channels" and isinstance(item.get("name"), str):
            name, entry = item["name"], {k: v for k, v in item.items() if k != "name"}
        elif isinstance(item, str):
            name, entry = item, {}
        else:
            raise ValueError(
                f"{key}: a channel list must hold channel names (strings)"
                + (
                    " or {name: ..., exposure: ..., spend: ...} entries"
                    if key == "channels"
                    else ""
                )
                + f"; got {item!r}"
            )
        if name in out:
            raise ValueError(f"{key}: channel names repeat: {name!r}")
        out[name] = entry
    return out


def _deep_merge(base: dict[str, Any], over: Any) -> Any:
    if not isinstance(over, dict):
        return over
    out = dict(base)
    for k, v in over.items():
        out[k] = _deep_merge(base[k], v) if isinstance(base.get(k), dict) else v
    return out


def load_model_config(path: str | Path) -> ModelConfig:
    """Load and validate a model YAML file.

    Parameters
    ----------
    path : str or Path
        YAML file with the model schema (see README).

    Returns
    -------
    ModelConfig
        The validated configuration.

    Raises
    ------
    ConfigError
        If the file is unreadable or does not follow the schema; the message names the key.
    """
    return parse_config(ModelConfig, load_yaml(path), str(path))
