"""Out-of-sample validation of a geo fit: held-out dates in every geo, national and per geo.

A geo model's folds are blocks of *dates*: each fold fits every geo's periods before its origin
and predicts every geo's held-out periods with
:func:`~mediamix.analysis.geo_plan.geo_plan_draws` (each geo's own training spend carrying over).
The likelihood's noise is added per (date, geo) cell on the model's scale (per capita, divided by
``y_scale``), so each geo's predictive is a forecast's, and the national predictive is the sum of
the geos' (noise included). :mod:`mediamix.analysis.holdout` scores both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from mediamix.analysis.geo_plan import geo_plan_draws
from mediamix.inference.fit import FitResult

__all__ = ["GeoForecast", "date_blocks", "geo_forecast", "likelihood_noise"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class GeoForecast:
    """Held-out actuals and predictive draws of a geo fit, per geo and summed over geos.

    Attributes
    ----------
    geos : list of str
        The fit's geos, the order of the last axis of ``actual`` and ``draws``.
    actual : numpy.ndarray
        ``(date, geo)``, original outcome units.
    draws : numpy.ndarray
        ``(sample, date, geo)``: expected outcome plus the likelihood's noise.
    """

    geos: list[str]
    actual: FloatArray
    draws: FloatArray

    @property
    def national_actual(self) -> FloatArray:
        """The outcome summed over geos, per date."""
        return np.asarray(self.actual.sum(axis=1), dtype=np.float64)

    @property
    def national_draws(self) -> FloatArray:
        """Predictive draws of the national outcome ``(sample, date)``."""
        return np.asarray(self.draws.sum(axis=2), dtype=np.float64)


def date_blocks(frame: pd.DataFrame) -> tuple[pd.DatetimeIndex, npt.NDArray[np.intp]]:
    """The frame's distinct dates, ascending, and each row's position among them."""
    dates = pd.DatetimeIndex(frame["date"])
    unique = pd.DatetimeIndex(np.sort(dates.unique()))
    return unique, np.asarray(unique.get_indexer(dates), dtype=np.intp)


def likelihood_noise(result: FitResult, shape: tuple[int, ...]) -> FloatArray:
    """Draws of the likelihood's noise on the model's scale, ``shape = (sample, ...)``.

    ``sample`` runs over every posterior draw; each is scaled by that draw's ``sigma`` (and
    uses its ``nu`` for a Student-t likelihood). Seeded by the config's sampler seed.
    """
    post = result.posterior
    n = shape[0]
    extra = (1,) * (len(shape) - 1)
    sigma = post["sigma"].transpose("chain", "draw").values.reshape(n, *extra)
    rng = np.random.default_rng(result.config.sampler.seed)
    if result.config.outcome.likelihood == "studentt":
        nu = post["nu"].transpose("chain", "draw").values.reshape(n, *extra)
        return np.asarray(rng.standard_t(nu, size=shape) * sigma, dtype=np.float64)
    return np.asarray(rng.standard_normal(shape) * sigma, dtype=np.float64)


def geo_forecast(result: FitResult, test: pd.DataFrame) -> GeoForecast:
    """Predictive draws of a geo fit for held-out rows ``test`` (every geo, the same dates).

    Parameters
    ----------
    result : FitResult
        A geo fit of the periods before ``test``'s.
    test : pandas.DataFrame
        Long rows (date, geo) with the outcome, as in the modeling frame.

    Returns
    -------
    GeoForecast
    """
    cfg, sc = result.config, result.scalers
    column = str(sc.geo_column)
    plan = test.drop(columns=cfg.outcome.name)
    gd = geo_plan_draws(result, plan, draws=None, history=True)
    expected = gd.outcome
    population = np.array([sc.population[g] for g in gd.geos])
    scale = sc.y_scale * population[None, None, :]
    draws = expected + likelihood_noise(result, expected.shape) * scale
    wide = test.assign(_geo=test[column].astype(str)).pivot_table(
        index="date", columns="_geo", values=cfg.outcome.name, aggfunc="sum"
    )
    wide.index = pd.DatetimeIndex(wide.index).astype(gd.dates.dtype)
    actual = wide.reindex(index=gd.dates, columns=gd.geos).to_numpy(dtype=np.float64)
    return GeoForecast(list(gd.geos), actual, np.asarray(draws, dtype=np.float64))
