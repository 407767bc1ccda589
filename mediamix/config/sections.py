"""Model config sections that need no priors: the fit window, the sampler, tracking, holidays."""

from __future__ import annotations

from datetime import date
from typing import Literal, Self

from pydantic import Field, model_validator

from mediamix.config.base import StrictModel

__all__ = ["HolidaysConfig", "SamplerConfig", "TrackingConfig", "WindowConfig"]


class WindowConfig(StrictModel):
    """The fit window: the model learns from rows dated ``start``..``end`` (inclusive) only.

    Either bound may be left out (the data's first or last date). Carry-over into the first
    window periods still uses the spend of up to ``l_max - 1`` periods before ``start``.
    """

    start: date | None = None
    end: date | None = None

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.start is not None and self.end is not None and self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self


class SamplerConfig(StrictModel):
    """Inference settings.

    ``sampler``: ``nutpie`` (default; nutpie's NUTS on PyTensor's cached numba log-density),
    ``nutpie-native`` (nutpie's own compilation), ``pymc``, ``numpyro`` (``jax`` extra) or
    ``advi`` (approximate).
    """

    sampler: Literal["nutpie", "nutpie-native", "pymc", "numpyro", "advi"] = "nutpie"
    draws: int = Field(default=1000, ge=1)
    tune: int = Field(default=1000, ge=0)
    chains: int = Field(default=4, ge=1)
    cores: int | None = Field(default=None, ge=1)
    # 0.95, not 0.9: the weakly identified channels of larger models diverge less (see README)
    target_accept: float = Field(default=0.95, gt=0, lt=1)
    # a NUTS fit with divergences is sampled again at this target acceptance (see inference.fit)
    max_target_accept: float = Field(default=0.99, gt=0, lt=1)
    seed: int | None = Field(default=1, ge=0)
    advi_iterations: int = Field(default=30_000, ge=100)


class TrackingConfig(StrictModel):
    """Where MLflow records fits: experiment name and the registered model's name (optional)."""

    experiment: str | None = Field(default=None, min_length=1)
    registered_model: str | None = Field(default=None, min_length=1)


class HolidaysConfig(StrictModel):
    """A country's public holidays (the ``holidays`` package) as one indicator control.

    ``country`` is an ISO 3166 code (``US``, ``DE``, ``GB``); ``subdivision`` a state or region
    code of it (``CA``, ``BY``). The control is 1 in every period that contains a holiday.
    """

    country: str = Field(min_length=2)
    subdivision: str | None = None

    @model_validator(mode="after")
    def _check(self) -> Self:
        import holidays

        supported = holidays.list_supported_countries()
        if self.country not in supported:
            raise ValueError(
                f"country {self.country!r} is not a holidays calendar; use an ISO 3166 code "
                "such as US, GB, DE, FR (see holidays.list_supported_countries())"
            )
        if self.subdivision is not None and self.subdivision not in supported[self.country]:
            raise ValueError(
                f"subdivision {self.subdivision!r} is not one of {self.country}'s: "
                f"{sorted(supported[self.country])}"
            )
        return self

    @property
    def column(self) -> str:
        """The indicator control's name: ``holiday_US`` (``holiday_US_CA`` for a region)."""
        return "_".join(
            ["holiday", self.country, *([self.subdivision] if self.subdivision else [])]
        )
