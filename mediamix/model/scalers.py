"""The constants and the validated frame a model is built from.

:class:`Scalers` maps between original and model units (spend scale per channel, outcome scale,
control scales, the date range) and is recorded with every fit; :class:`ModelData` is a validated
frame with its scalers; :func:`fourier_features` are the yearly seasonality's inputs. A geo model
keeps one row per (date, geo) in its frame and its scales per capita.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from mediamix.config.model import ModelConfig
from mediamix.data.frames import DATE_DTYPE, PERIOD_DAYS

__all__ = ["FloatArray", "ModelData", "Scalers", "fourier_features"]

FloatArray = npt.NDArray[np.float64]
_DAYS_PER_YEAR = 365.25


@dataclass(frozen=True)
class Scalers:
    """Constants that map between original and model units, recorded with every fit."""

    spend_max: dict[str, float]  # the media input's max: exposure for an exposure channel
    y_scale: float
    control_scale: dict[str, float]
    start_date: str
    end_date: str
    frequency: str
    index_levels: dict[str, list[str]] = field(default_factory=dict)
    organic_max: dict[str, float] = field(default_factory=dict)
    cost_per_exposure: dict[str, float] = field(default_factory=dict)
    # a geo model's: the geo column, geos in data order, population per geo (1 without a
    # population column); spend_max and y_scale are then per capita
    geo_column: str | None = None
    geos: list[str] = field(default_factory=list)
    population: dict[str, float] = field(default_factory=dict)
    # media inputs (paid and organic) of the periods just before a fit window, oldest first:
    # the carry-over into the window's first periods (see ``window`` in the README); a geo
    # model's per date and geo, date-major
    warmup: dict[str, list[float]] = field(default_factory=dict)

    def warmup_frame(self) -> pd.DataFrame:
        """The warm-up periods before ``start_date``: ``date`` and one column per media input.

        A geo model's has a row per date and geo (date-major, geos in the fit's order) with the
        geo column second.

        Empty (no rows) for a fit without a window, or with one that starts at the data's start.
        """
        per_date = max(len(self.geos), 1)  # a geo model's: one row per date and geo
        n = len(next(iter(self.warmup.values()), [])) // per_date
        step = pd.Timedelta(days=PERIOD_DAYS[self.frequency])
        start = pd.Timestamp(self.start_date)
        dates = pd.DatetimeIndex([start - step * k for k in range(n, 0, -1)]).astype(DATE_DTYPE)
        if not self.geos:
            return pd.DataFrame({"date": dates, **self.warmup})
        rows = {"date": dates.repeat(per_date), str(self.geo_column): self.geos * n}
        return pd.DataFrame({**rows, **self.warmup})

    def to_json(self) -> str:
        """Serialise to JSON."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Scalers:
        """Inverse of :meth:`to_json`."""
        return cls(**json.loads(text))

    def trend(self, dates: pd.Series | pd.DatetimeIndex) -> FloatArray:
        """Time on the trend's scale: 0 at the first training date, 1 at the last."""
        start, end = pd.Timestamp(self.start_date), pd.Timestamp(self.end_date)
        days = (pd.DatetimeIndex(dates) - start).days.to_numpy(dtype=np.float64)
        return days / max((end - start).days, 1)


@dataclass(frozen=True)
class ModelData:
    """A validated modeling frame and the scalers derived from it."""

    frame: pd.DataFrame
    scalers: Scalers
    config: ModelConfig

    @property
    def dates(self) -> pd.DatetimeIndex:
        """The date coordinate."""
        return pd.DatetimeIndex(self.frame["date"])

    @property
    def spend(self) -> FloatArray:
        """Spend, (date, channel), original currency units."""
        return self.frame[self.config.channel_names].to_numpy(dtype=np.float64)

    @property
    def organic(self) -> FloatArray:
        """Organic media, (date, organic), original units; no columns without organic media."""
        return self.frame[self.config.organic_names].to_numpy(dtype=np.float64)

    def warmup(self, organic: bool = False) -> FloatArray:
        """Media inputs of the warm-up periods before the window ``(period, channel)``."""
        names = self.config.organic_names if organic else self.config.channel_names
        if not self.scalers.warmup:
            return np.zeros((0, len(names)))
        return np.column_stack([self.scalers.warmup[c] for c in names]).astype(np.float64)

    @property
    def y(self) -> FloatArray:
        """Outcome, original units."""
        return self.frame[self.config.outcome.name].to_numpy(dtype=np.float64)


def fourier_features(dates: pd.Series | pd.DatetimeIndex, order: int) -> FloatArray:
    """Yearly Fourier terms ``[sin(2 pi k t), cos(2 pi k t)]`` for ``k = 1..order``.

    ``t`` is calendar time in years, so the same date always gets the same features (training
    and prediction agree).

    Returns
    -------
    numpy.ndarray
        Shape ``(len(dates), 2 * order)``.
    """
    days = (pd.DatetimeIndex(dates) - pd.Timestamp("2000-01-01")).days.to_numpy(np.float64)
    t = days / _DAYS_PER_YEAR
    k = np.arange(1, order + 1)
    angle = 2 * np.pi * t[:, None] * k[None, :]
    return np.concatenate([np.sin(angle), np.cos(angle)], axis=1)
