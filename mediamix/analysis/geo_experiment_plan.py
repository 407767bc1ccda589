"""Candidate lift tests of a geo fit for the experiment planner: a test runs in chosen geos.

:func:`~mediamix.analysis.experiment_plan.plan_experiments` asks a test design for each
candidate's spend, allowed cut, lift per draw and noise; :class:`GeoDesign` answers for a geo
fit, with the rules the geo lift likelihood uses (:mod:`mediamix.data.geo_lift_tests`):

- the test changes the channel's spend in the test geos only; its total change ``delta`` is
  spread evenly over the test's periods and split across the test geos in proportion to each
  one's spend of the channel in those periods, so every test geo changes by the same fraction;
- the lift is the change of the channel's contribution summed over the test geos and periods
  (carry-over inside the window counted), under every draw of the per-geo effects
  (:func:`~mediamix.analysis.geo_response.geo_media_contributions`);
- a cut may not take any test geo's period below zero;
- the default ``lift_se`` is the outcome's noise summed over the test geos and periods, against
  control geos of the same size: ``sigma * y_scale * sqrt(2 * weeks * sum_g pop_g**2)`` (the
  model's noise per (date, geo) cell is ``sigma * y_scale * pop_g``).

The test geos are those the caller names, or by default every second geo by population,
largest first: half the geos, whose sizes match the other half's (the controls).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from mediamix.analysis.experiments import ExperimentError
from mediamix.analysis.geo_response import GeoParameters, geo_media_contributions, geo_spend
from mediamix.data.lift_tests import GEO_SEPARATOR
from mediamix.inference.fit import FitResult

__all__ = ["GeoDesign", "default_test_geos", "geo_predicted_lifts"]

FloatArray = npt.NDArray[np.float64]


def default_test_geos(geos: list[str], population: FloatArray) -> list[str]:
    """Every second geo by population, largest first (in the fit's order)."""
    ranked = np.argsort(-population, kind="stable")
    chosen = set(ranked[::2].tolist())
    return [g for i, g in enumerate(geos) if i in chosen]


def _test_geos(gp: GeoParameters, named: list[str] | None) -> list[str]:
    geos = list(gp.geos)
    if named is None:
        if len(geos) < 2:
            raise ExperimentError("a geo test needs control geos: this fit has one geo")
        return default_test_geos(geos, gp.population)
    unknown = [g for g in named if g not in geos]
    if unknown or not named:
        raise ExperimentError(
            f"test geos {unknown or named}: not geos of the fit; its geos are {geos}"
        )
    if len(set(named)) != len(named):
        raise ExperimentError(f"test geos {named}: name each geo once")
    if len(named) == len(geos):
        raise ExperimentError("every geo is a test geo: leave some as controls")
    return [g for g in geos if g in named]


def geo_predicted_lifts(
    gp: GeoParameters, spend: FloatArray, channel: int, start: int, weeks: int, delta: float
) -> FloatArray:
    """Lift of changing ``channel``'s spend in ``gp``'s geos by ``delta`` in total.

    Parameters
    ----------
    gp : GeoParameters
        The draws, for the test geos only.
    spend : numpy.ndarray
        ``(time, geo, channel)`` spend without the test in those geos, currency.
    channel, start, weeks : int
        The channel's position, the test's first row and length.
    delta : float
        Total spend change over the test and its geos (negative for a cut).

    Returns
    -------
    numpy.ndarray
        ``(draw,)``: the channel's extra contribution summed over the test's rows and geos.
    """
    window = spend[start : start + weeks, :, channel]
    totals = window.sum(axis=0)
    share = totals / totals.sum() if totals.sum() > 0 else np.full(len(totals), 1 / len(totals))
    lo = max(0, start - gp.media.window + 1)  # the rows a window row's adstock looks back on
    block = spend[lo : start + weeks]
    test = block.copy()
    test[start - lo :, :, channel] += delta * share[None, :] / weeks
    test = np.maximum(test, 0.0)  # a capped cut leaves rounding dust below 0
    with_test = geo_media_contributions(gp, test)[:, start - lo :, :, channel]
    without = geo_media_contributions(gp, block)[:, start - lo :, :, channel]
    return np.asarray((with_test - without).sum(axis=(1, 2)), dtype=np.float64)


class GeoDesign:
    """Candidate tests of a geo fit in its test geos (see the module notes)."""

    def __init__(self, result: FitResult, draws: int | None, geos: list[str] | None) -> None:
        full = GeoParameters.from_fit(result, draws)
        self.geos = _test_geos(full, geos)
        self.gp = full.subset(self.geos)
        j = [full.geos.index(g) for g in self.geos]
        self.spend = geo_spend(result)[:, j]
        self.dates = pd.DatetimeIndex(result.frame["date"].unique())
        self.window = full.media.window
        sigma = float(result.posterior["sigma"].mean())
        self.noise_per_period = (
            sigma * result.scalers.y_scale * float(np.sqrt(np.sum(self.gp.population**2)))
        )
        self.fields: dict[str, Any] = {"geo": GEO_SEPARATOR.join(self.geos)}

    def spend_in(self, c: int, start: int, weeks: int) -> tuple[float, float]:
        """Channel ``c``'s spend in the test geos and periods, and the largest cut allowed."""
        window = self.spend[start : start + weeks, :, c]
        totals = window.sum(axis=0)
        spent = totals > 0
        if not spent.any():
            return 0.0, 0.0
        # geo g's period changes by delta * totals_g / total / weeks: keep every one >= 0
        total = float(totals.sum())
        cut = total * weeks * float(np.min(window[:, spent].min(axis=0) / totals[spent]))
        return total, cut

    def lifts(self, c: int, start: int, weeks: int, delta: float) -> FloatArray:
        """The test's lift under every draw (:func:`geo_predicted_lifts`)."""
        return geo_predicted_lifts(self.gp, self.spend, c, start, weeks, delta)

    def noise_se(self, weeks: int) -> float:
        """The outcome's noise summed over the test geos and periods, against equal controls."""
        return self.noise_per_period * float(np.sqrt(2 * weeks))
