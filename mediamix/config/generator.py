"""The synthetic data generator's schema: channels, controls, outcome, signals.

A channel's ``decay`` and ``saturation`` keys name a transform of
:mod:`mediamix.model.registry` (``true`` its default type, ``false`` type ``none``), and the
channel's parameter keys are checked against the parameters that transform declares, so a newly
registered transform needs no change here beyond a channel key per new parameter name (checked
at import).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any, Literal, Self, cast

import numpy as np
from pydantic import (
    BeforeValidator,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from mediamix.config.base import StrictModel, load_yaml, parse_config
from mediamix.model import registry

__all__ = [
    "ChannelConfig",
    "ControlConfig",
    "GeneratorConfig",
    "GeoEntryConfig",
    "GeosConfig",
    "OutcomeConfig",
    "SeasonalityConfig",
    "SignalConfig",
    "TrendConfig",
    "config_key",
    "load_generator_config",
]


PositiveFloat = Annotated[float, Field(gt=0)]
NonNegativeFloat = Annotated[float, Field(ge=0)]


# The one place where the generator's channel keys differ from the model's names: the key
# that picks each kind's transform, the type ``true`` picks, and parameters named otherwise.
_TYPE_KEYS = {"adstock": "decay", "saturation": "saturation"}
_TRUE_TYPES = {"adstock": "geometric", "saturation": "logistic"}
_CONFIG_KEYS = {("saturation", "lam"): "mu"}
# what each parameter key accepts (its field enforces it), for "decay: delayed needs ..."
_ACCEPTS = {
    "alpha": "in [0, 1)",
    "theta": ">= 0 (the lag of the peak effect)",
    "mu": "> 0",
    "k": "> 0",
    "s": "> 0",
}


def config_key(kind: str, parameter: str) -> str:
    """The channel key of a transform parameter (``mu`` for saturation ``lam``, else its name)."""
    return _CONFIG_KEYS.get((kind, parameter), parameter)


def _choices(kind: str) -> tuple[str, ...]:
    """The registered types of ``kind`` a channel may name (``false`` stands for ``none``)."""
    return tuple(t for t in registry.types(kind) if t != registry.NONE)


def _bool_or_choice(kind: str) -> BeforeValidator:
    """Accept ``true``, ``false`` or a registered type of ``kind``, with one error listing all.

    Without it, a ``bool | str`` field would accept any string, and a ``bool | Literal[...]``
    one reports one error per union member.
    """

    def check(value: Any) -> Any:
        choices = _choices(kind)
        if isinstance(value, bool) or value in choices:
            return value
        listed = ", ".join(["true", "false", *(repr(c) for c in choices)])
        raise ValueError(f"must be one of {listed}")

    return BeforeValidator(check)


DecayChoice = Annotated[bool | str, _bool_or_choice("adstock")]
SaturationChoice = Annotated[bool | str, _bool_or_choice("saturation")]


class SignalConfig(StrictModel):
    """How a spend (or control) series is drawn before it is rescaled to ``[min, max]``.

    ``walk``: ``|cumsum(N(0, sigma))|``, a slowly drifting level; ``noise``: i.i.d. ``N(0, sigma)``
    around a level, for erratic series. Rescaling fixes the range, so ``sigma`` only shapes the
    path relative to its start.
    """

    base: Literal["walk", "noise"] = "walk"
    sigma: PositiveFloat = 1.0


class ChannelConfig(StrictModel):
    """One media channel: its spend process and its true response.

    ``decay``: ``true``/``geometric`` (weights ``alpha**l``), ``delayed``
    (``alpha**((l-theta)**2)``) or ``false`` (no carry-over). ``saturation``:
    ``true``/``logistic`` (with ``mu``), ``hill`` (with ``k``, ``s``) or ``false``.
    Effect on the (unscaled) outcome: ``beta * saturation(adstock(spend / max(spend)))``.
    The types and the parameters each needs come from :mod:`mediamix.model.registry`.
    """

    signal: SignalConfig = SignalConfig()
    min: NonNegativeFloat
    max: PositiveFloat
    beta: NonNegativeFloat
    decay: DecayChoice = False
    alpha: float | None = None
    theta: NonNegativeFloat | None = None
    l_max: int | None = Field(default=None, ge=1)
    saturation: SaturationChoice = True
    mu: PositiveFloat | None = None
    k: PositiveFloat | None = None
    s: PositiveFloat | None = None

    @field_validator("max")
    @classmethod
    def _max_above_min(cls, v: float, info: ValidationInfo) -> float:
        return _check_above_min(v, info)

    @field_validator("alpha")
    @classmethod
    def _alpha_range(cls, v: float | None) -> float | None:
        if v is not None and not 0.0 <= v < 1.0:
            raise ValueError("alpha must be in [0, 1)")
        return v

    def transform_type(self, kind: str) -> str:
        """The registered type of the channel's ``kind`` transform; ``none`` when switched off."""
        choice = getattr(self, _TYPE_KEYS[kind])
        if choice is False:
            return registry.NONE
        return _TRUE_TYPES[kind] if choice is True else cast(str, choice)

    def parameter_values(self, kind: str) -> dict[str, float]:
        """The ``kind`` transform's parameter values, by model name (``lam``, not ``mu``).

        Validation guarantees that each parameter the transform declares is set.
        """
        names = registry.transform_class(kind, self.transform_type(kind)).parameter_names()
        return {p: cast(float, getattr(self, config_key(kind, p))) for p in names}

    @property
    def decay_type(self) -> str | None:
        """The adstock type (``geometric``, ``delayed``...) or ``None`` (no carry-over)."""
        type_ = self.transform_type("adstock")
        return None if type_ == registry.NONE else type_

    @property
    def saturation_type(self) -> str | None:
        """The saturation type (``logistic``, ``hill``...) or ``None`` (linear response)."""
        type_ = self.transform_type("saturation")
        return None if type_ == registry.NONE else type_

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        for kind in registry.KINDS:
            self._check_transform(kind)
        return self

    def _check_transform(self, kind: str) -> None:
        """The ``kind`` transform's parameters are all set, usable together, and no others are."""
        key, type_ = _TYPE_KEYS[kind], self.transform_type(kind)
        cls = registry.transform_class(kind, type_)
        own = [config_key(kind, p) for p in cls.parameter_names()]
        users: dict[str, list[str]] = {}  # parameter key -> the types that use it
        for other in registry.types(kind):
            for p in registry.transform_class(kind, other).parameter_names():
                users.setdefault(config_key(kind, p), []).append(other)
        # parameters shared with other types first ("decay: delayed needs alpha ..."), then
        # the type's own, each group named whole ("saturation: hill needs k > 0 and s > 0")
        shared = [n for n in own if len(users[n]) > 1]
        for group in (shared, [n for n in own if n not in shared]):
            if any(getattr(self, n) is None for n in group):
                needs = " and ".join(f"{n} {_ACCEPTS[n]}" for n in group)
                raise ValueError(f"{key}: {type_} needs {needs}")
        try:
            cls.check(self.parameter_values(kind))
        except ValueError as err:
            raise ValueError(f"{key}: {type_}: {err}") from None
        stray = [n for n in users if n not in own and getattr(self, n) is not None]
        if stray:
            types_ = users[stray[0]]
            names = [n for n in stray if users[n] == types_]
            verb = "is" if len(names) == 1 else "are"
            also = " (or true)" if _TRUE_TYPES[kind] in types_ else ""
            raise ValueError(
                f"{' and '.join(names)} {verb} only used with {key}: {' or '.join(types_)}{also}"
            )


def _require_parameter_keys() -> None:
    """Each registered transform parameter needs a channel key and an entry in ``_ACCEPTS``."""
    for kind in registry.KINDS:
        for p in registry.parameters(kind):
            key = config_key(kind, p)
            if key not in ChannelConfig.model_fields or key not in _ACCEPTS:
                raise TypeError(
                    f"ChannelConfig has no key for the registered {kind} parameter {p!r}: add a "
                    f"field {key!r} and what it accepts to _ACCEPTS (or map the name in "
                    "_CONFIG_KEYS)"
                )


_require_parameter_keys()


class OutcomeConfig(StrictModel):
    """The outcome: ``scale * (intercept + trend + seasonality + controls + effects + noise)``."""

    name: str = Field(min_length=1)
    intercept: float
    sigma: NonNegativeFloat
    scale: PositiveFloat = 1.0


class TrendConfig(StrictModel):
    """A linear trend: ``slope`` outcome units (before ``scale``) per year since the start."""

    slope: float = 0.0


class SeasonalityConfig(StrictModel):
    """Yearly seasonality ``amplitude * cos(2 pi (t - peak) / 1 year)``, ``t`` in fractional years.

    ``peak`` is the fraction of the year (0 = 1 January, 0.5 = early July) where it is highest.
    """

    amplitude: NonNegativeFloat = 0.0
    peak: float = Field(default=0.0, ge=0.0, lt=1.0)


class ControlConfig(StrictModel):
    """A control variable (price, promotion, macro index): effect ``coef * value``."""

    signal: SignalConfig = SignalConfig(base="noise")
    min: float
    max: float
    coef: float

    @field_validator("max")
    @classmethod
    def _max_above_min(cls, v: float, info: ValidationInfo) -> float:
        return _check_above_min(v, info)


class PopulationRangeConfig(StrictModel):
    """Populations of ``count`` geos, spaced evenly on a log scale from ``max`` down to ``min``."""

    min: PositiveFloat
    max: PositiveFloat

    @field_validator("max")
    @classmethod
    def _max_above_min(cls, v: float, info: ValidationInfo) -> float:
        return _check_above_min(v, info)


class GeoEntryConfig(StrictModel):
    """One named geo and its population."""

    name: str = Field(min_length=1)
    population: PositiveFloat


class GeosConfig(StrictModel):
    """Geo-level data: ``{count: N, population: {min, max}}``, or a list of ``{name, population}``.

    Each geo's spend is its share of the national plan (share proportional to population times
    log-normal noise of sd ``share_noise``) with per-period log-normal noise ``spend_noise``;
    its channel effects are the national ``beta`` times log-normal noise of sd ``beta_spread``;
    its intercept the national one plus normal noise of sd ``intercept_spread``. The outcome is
    per capita: a geo's outcome is its population share of ``scale`` times the usual sum.
    """

    count: int | None = Field(default=None, ge=2)
    population: PopulationRangeConfig | None = None
    named: list[GeoEntryConfig] | None = None  # `geos:` given as a list
    share_noise: NonNegativeFloat = 0.3
    spend_noise: NonNegativeFloat = 0.2
    beta_spread: NonNegativeFloat = 0.2
    intercept_spread: NonNegativeFloat = 0.3
    column: str = Field(default="geo", min_length=1)
    population_column: str = Field(default="population", min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _from_list(cls, data: Any) -> Any:
        return {"named": data} if isinstance(data, list) else data

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.named is not None:
            if self.count is not None or self.population is not None:
                raise ValueError(
                    "geos: give either a list of {name, population} or count + population"
                )
            names = [g.name for g in self.named]
            if len(names) < 2 or len(set(names)) != len(names):
                raise ValueError(f"geos: need at least 2 geos with distinct names, got {names}")
        elif self.count is None or self.population is None:
            raise ValueError("geos: needs count and population: {min, max} (or a list of geos)")
        return self

    def entries(self) -> list[GeoEntryConfig]:
        """The geos, named ``geo_01``.. when given by count (largest population first)."""
        if self.named is not None:
            return self.named
        assert self.count is not None and self.population is not None
        width = max(2, len(str(self.count)))
        sizes = np.geomspace(self.population.max, self.population.min, self.count)
        return [
            GeoEntryConfig(name=f"geo_{i + 1:0{width}d}", population=float(round(p)))
            for i, p in enumerate(sizes)
        ]


class GeneratorConfig(StrictModel):
    """Synthetic MMM data set: dates, outcome, media channels, controls and a seed."""

    start_date: dt.date
    end_date: dt.date
    frequency: Literal["daily", "weekly"] = "weekly"
    l_max: int = Field(default=12, ge=1)
    seed: int | None = Field(default=None, ge=0)
    # several independent data sets, one per value of the column "group" (generate_groups)
    groups: int | None = Field(default=None, ge=1)
    # one data set of several geos sharing one national plan (see GeosConfig)
    geos: GeosConfig | None = None
    outcome: OutcomeConfig
    media: dict[str, ChannelConfig] = Field(min_length=1)
    trend: TrendConfig = TrendConfig()
    seasonality: SeasonalityConfig = SeasonalityConfig()
    controls: dict[str, ControlConfig] = Field(default_factory=dict)

    @field_validator("end_date")
    @classmethod
    def _end_after_start(cls, v: dt.date, info: ValidationInfo) -> dt.date:
        start = info.data.get("start_date")
        if start is not None and v <= start:
            raise ValueError(f"end_date must be after start_date ({start})")
        return v

    @model_validator(mode="after")
    def _check(self) -> Self:
        step = 7 if self.frequency == "weekly" else 1
        if (self.end_date - self.start_date).days // step + 1 < 2:
            raise ValueError(
                f"start_date ({self.start_date}) to end_date ({self.end_date}) holds fewer "
                f"than 2 {self.frequency} periods; end_date must be at least {step} day(s) "
                "after start_date"
            )
        for name, ch in self.media.items():
            window = ch.l_max or self.l_max
            if ch.theta is not None and ch.theta > window - 1:
                raise ValueError(
                    f"media.{name}.theta ({ch.theta:g}) must be in [0, l_max - 1] = "
                    f"[0, {window - 1}] (l_max is the channel's l_max or the top-level l_max)"
                )
        if self.geos is not None and self.groups:
            raise ValueError("groups and geos do not go together: give one of them")
        names = [*self.media, *self.controls]
        if self.geos is not None:
            names += [self.geos.column, self.geos.population_column]
        clash = {n for n in names if names.count(n) > 1} | {
            n
            for n in names
            if n in (self.outcome.name, "date", *(["group"] if self.groups else []))
        }
        if clash:
            raise ValueError(
                f"column names must be unique across media, controls, outcome, 'date' and "
                f"(with groups) 'group': "
                f"{sorted(clash)} repeat"
            )
        return self


def _check_above_min(value: float, info: ValidationInfo) -> float:
    """Field validator body: ``max`` must exceed ``min`` (when ``min`` itself was valid)."""
    low = info.data.get("min")
    if low is not None and value <= low:
        raise ValueError(f"max must be greater than min ({low:g})")
    return value


def load_generator_config(path: str | Path) -> GeneratorConfig:
    """Load and validate a generator YAML file.

    Parameters
    ----------
    path : str or Path
        YAML file with the generator schema (see README).

    Returns
    -------
    GeneratorConfig
        The validated configuration.

    Raises
    ------
    ConfigError
        If the file is unreadable or does not follow the schema.
    """
    return parse_config(GeneratorConfig, load_yaml(path), str(path))
