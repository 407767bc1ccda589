"""Typed configuration: YAML in, validated pydantic models out.

Unknown keys are rejected and every error names the key path (``media.adwords.alpha``), what
was given and what is allowed, so a typo in a YAML file never silently falls back to a default.
"""

from __future__ import annotations

import datetime as dt
import difflib
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, Self, Union, get_args, get_origin

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from mediamix.errors import MediamixError

__all__ = [
    "ChannelConfig",
    "ConfigError",
    "ControlConfig",
    "GeneratorConfig",
    "OutcomeConfig",
    "SeasonalityConfig",
    "SignalConfig",
    "StrictModel",
    "TrendConfig",
    "load_generator_config",
    "load_yaml",
    "parse_config",
]


class ConfigError(MediamixError):
    """A configuration file or mapping that does not follow its schema."""


class StrictModel(BaseModel):
    """Base for config models: unknown keys are errors, instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


def _unwrap(tp: Any) -> Any:
    """The config model or ``dict[...]`` inside an ``Annotated[...]`` or ``X | None`` type."""
    if get_origin(tp) is Annotated:
        tp = get_args(tp)[0]
    if get_origin(tp) in (Union, types.UnionType):
        for arg in get_args(tp):
            inner = _unwrap(arg)
            if get_origin(inner) is dict or (
                isinstance(inner, type) and issubclass(inner, BaseModel)
            ):
                return inner
    return tp


def _allowed_keys(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """Field names of the config section that holds the key at ``loc``."""
    tp: Any = model
    for part in loc[:-1]:
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = tp.model_fields.get(str(part))
            tp = None if field is None else field.annotation
        elif get_origin(tp) is dict:
            tp = get_args(tp)[1]  # a user-chosen name (a channel, a control): its value type
        else:
            return []
    tp = _unwrap(tp)
    return list(tp.model_fields) if isinstance(tp, type) and issubclass(tp, BaseModel) else []


def _format_validation_error(err: ValidationError, source: str, model: type[BaseModel]) -> str:
    lines = [f"invalid configuration in {source}:"]
    for item in err.errors():
        loc = ".".join(str(part) for part in item["loc"])
        msg = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            allowed = _allowed_keys(model, item["loc"])
            msg = "unknown key"
            close = difflib.get_close_matches(str(item["loc"][-1]), allowed, n=1)
            if close:
                msg += f" (did you mean {close[0]!r}?)"
            if allowed:
                msg += f"; allowed keys here: {', '.join(allowed)}"
        shown = item.get("input")
        # a whole section as "input" (a cross-field check) would only repeat the file
        quiet = item["type"] in ("missing", "extra_forbidden") or isinstance(shown, Mapping)
        given = "" if quiet else f" (got {shown!r})"
        lines.append(f"  {loc}: {msg}{given}" if loc else f"  {msg}{given}")
    return "\n".join(lines)


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML file whose top level is a mapping.

    Parameters
    ----------
    path : str or Path
        The file to read.

    Returns
    -------
    dict
        The parsed mapping.

    Raises
    ------
    ConfigError
        If the file is missing, is not valid YAML, or its top level is not a mapping.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: the top level must be a mapping of keys, got {type(data).__name__}"
        )
    return data


def parse_config[M: BaseModel](model: type[M], data: dict[str, Any], source: str = "config") -> M:
    """Validate a mapping against a config model, with readable errors.

    Parameters
    ----------
    model : type
        The pydantic model class.
    data : dict
        The raw mapping, e.g. from :func:`load_yaml`.
    source : str
        Where the mapping came from, for error messages.

    Returns
    -------
    BaseModel
        The validated config.

    Raises
    ------
    ConfigError
        Naming each offending key, what was given and what is allowed.
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(exc, source, model)) from None


PositiveFloat = Annotated[float, Field(gt=0)]
NonNegativeFloat = Annotated[float, Field(ge=0)]


def _bool_or_choice(*choices: str) -> BeforeValidator:
    """Accept ``true``, ``false`` or one of ``choices``, with one error that lists them all.

    Without it, a ``bool | Literal[...]`` field reports one error per union member.
    """

    def check(value: Any) -> Any:
        if isinstance(value, bool) or value in choices:
            return value
        listed = ", ".join(["true", "false", *(repr(c) for c in choices)])
        raise ValueError(f"must be one of {listed}")

    return BeforeValidator(check)


DecayChoice = Annotated[
    bool | Literal["geometric", "delayed"], _bool_or_choice("geometric", "delayed")
]
SaturationChoice = Annotated[
    bool | Literal["logistic", "hill"], _bool_or_choice("logistic", "hill")
]


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
    """

    signal: SignalConfig = SignalConfig()
    min: NonNegativeFloat
    max: PositiveFloat
    beta: NonNegativeFloat
    decay: DecayChoice = False
    alpha: float | None = None
    theta: float | None = None
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

    @property
    def decay_type(self) -> Literal["geometric", "delayed"] | None:
        """``geometric``, ``delayed`` or ``None`` (no carry-over)."""
        if self.decay is False:
            return None
        return "geometric" if self.decay is True else self.decay

    @property
    def saturation_type(self) -> Literal["logistic", "hill"] | None:
        """``logistic``, ``hill`` or ``None`` (linear response)."""
        if self.saturation is False:
            return None
        return "logistic" if self.saturation is True else self.saturation

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.decay_type is not None and self.alpha is None:
            raise ValueError(f"decay: {self.decay} needs alpha in [0, 1)")
        if self.decay_type == "delayed" and (self.theta is None or self.theta < 0):
            raise ValueError("decay: delayed needs theta >= 0 (the lag of the peak effect)")
        if (
            self.decay_type == "delayed"
            and self.alpha == 0
            and self.theta is not None
            and not float(self.theta).is_integer()
        ):
            raise ValueError(
                "decay: delayed with alpha 0 needs a whole-number theta "
                f"(got theta {self.theta:g}); use alpha in (0, 1) for a fractional peak lag"
            )
        if self.decay_type != "delayed" and self.theta is not None:
            raise ValueError("theta is only used with decay: delayed")
        if self.saturation_type == "logistic" and self.mu is None:
            raise ValueError("saturation: logistic needs mu > 0")
        if self.saturation_type == "hill" and (self.k is None or self.s is None):
            raise ValueError("saturation: hill needs k > 0 and s > 0")
        if self.saturation_type != "hill" and (self.k is not None or self.s is not None):
            raise ValueError("k and s are only used with saturation: hill")
        if self.saturation_type != "logistic" and self.mu is not None:
            raise ValueError("mu is only used with saturation: logistic (or true)")
        return self


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


class GeneratorConfig(StrictModel):
    """Synthetic MMM data set: dates, outcome, media channels, controls and a seed."""

    start_date: dt.date
    end_date: dt.date
    frequency: Literal["daily", "weekly"] = "weekly"
    l_max: int = Field(default=12, ge=1)
    seed: int | None = Field(default=None, ge=0)
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
        names = [*self.media, *self.controls]
        clash = {n for n in names if names.count(n) > 1} | {
            n for n in names if n in (self.outcome.name, "date")
        }
        if clash:
            raise ValueError(
                f"column names must be unique across media, controls, outcome and 'date': "
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
