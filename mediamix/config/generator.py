"""The synthetic data generator's schema: channels, controls, outcome, signals."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BeforeValidator,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from mediamix.config.base import StrictModel, load_yaml, parse_config

__all__ = [
    "ChannelConfig",
    "ControlConfig",
    "GeneratorConfig",
    "OutcomeConfig",
    "SeasonalityConfig",
    "SignalConfig",
    "TrendConfig",
    "load_generator_config",
]


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
