"""Geo lift tests simulated from a geo generator's ground truth (national: :mod:`.experiments`).

:func:`simulate_geo_lift` changes one channel's spend in the test geos only, each by the same
fraction of its own spend over the test's periods, spread evenly over them (so the geos' shares
of ``spend_delta`` are their shares of the observed spend in the window, the split the geo model
assumes; see :mod:`mediamix.data.geo_lift_tests`). The control geos are unchanged. The true
lift is the change of the channel's contribution summed over the test geos and periods, from
the truth of :mod:`mediamix.data.geo_generator`: in geo ``g`` the contribution is

    scale * pop_g / sum(pop) * beta_gc * saturation_c(adstock_c(spend_gc / pop_g / spend_max_c))

through the model's forward pass (:func:`mediamix.model.forward.media_geo`), with the geo's
``beta`` from ``truth["geos"]`` and the transforms and per-capita ``spend_max`` from
``truth["channels"]``. Normal measurement noise is added as for a national test. The returned
data have the test applied (spend and outcome, carry-over after the test included, in the test
geos only), and the truth the channel's totals and ROAS recomputed, nationally and per geo.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from mediamix.analysis.experiments import (
    ExperimentError,
    SimulatedTest,
    _changed_spend,
    _check_test,
    _window,
    truth_parameters,
)
from mediamix.analysis.response import MediaParameters
from mediamix.data.lift_tests import GEO_SEPARATOR
from mediamix.model import forward

__all__ = ["geo_contributions", "pick_test_geos", "simulate_geo_lift"]

FloatArray = npt.NDArray[np.float64]


def _geo_truth(truth: dict[str, Any]) -> tuple[list[str], FloatArray, FloatArray, str]:
    """Geo names (truth order), populations, ``beta`` (geo, channel) and the geo column."""
    try:
        geos = list(truth["geos"])
        channels = list(truth["channels"])
        pop = np.array([float(truth["geos"][g]["population"]) for g in geos])
        beta = np.array(
            [[float(truth["geos"][g]["channels"][c]["beta"]) for c in channels] for g in geos]
        )
        column = str(truth.get("geo_column", "geo"))
    except (KeyError, TypeError) as exc:
        raise ExperimentError(f"not a geo generator truth (truth.json): missing {exc}") from None
    return geos, pop, beta, column


def geo_contributions(
    mp: MediaParameters, spend: FloatArray, population: FloatArray, beta: FloatArray
) -> FloatArray:
    """Each (date, geo, channel)'s true contribution, outcome units (module docstring).

    Parameters
    ----------
    mp : MediaParameters
        The truth's channel transforms (:func:`~mediamix.analysis.experiments.truth_parameters`
        with ``geo=True``): per-capita ``spend_max`` and the outcome ``scale`` as ``y_scale``.
    spend : numpy.ndarray
        ``(date, geo, channel)``, currency.
    population : numpy.ndarray
        ``(geo,)``.
    beta : numpy.ndarray
        ``(geo, channel)``, each geo's true effect.

    Returns
    -------
    numpy.ndarray
        ``(date, geo, channel)``.
    """
    per_capita = spend / population[None, :, None]
    terms = forward.media_geo(per_capita, mp.spend_max, mp.stages(), beta[None])[0]
    weight = mp.y_scale * population / population.sum()
    return np.asarray(terms * weight[None, :, None])


def pick_test_geos(
    geos: list[str], named: list[str] | None, count: int | None, rng: np.random.Generator
) -> list[str]:
    """The test geos: those ``named``, or ``count`` drawn with ``rng``; in data order.

    Raises
    ------
    ExperimentError
        Unless exactly one of ``named`` and ``count`` is given, for an unknown geo, or a count
        outside ``1 .. len(geos)``.
    """
    if (named is None) == (count is None):
        raise ExperimentError("name the test geos (--geos G1,G2) or how many (--test-geos N)")
    if named is not None:
        unknown = [g for g in named if g not in geos]
        if not named:
            raise ExperimentError(f"no test geos named; name one or more of {geos}")
        if unknown:
            raise ExperimentError(
                f"test geo {unknown[0]!r} is not a geo of the data; the geos are {geos}"
            )
        if len(set(named)) != len(named):
            raise ExperimentError(f"test geos {named}: each geo once")
        return [g for g in geos if g in named]
    assert count is not None
    if isinstance(count, bool) or not 1 <= count <= len(geos):
        raise ExperimentError(f"--test-geos must be 1 to {len(geos)} (the geos), got {count!r}")
    chosen = set(rng.choice(len(geos), size=count, replace=False).tolist())
    return [g for i, g in enumerate(geos) if i in chosen]


def _cube(
    data: pd.DataFrame, geos: list[str], column: str, channels: Sequence[str]
) -> tuple[pd.DatetimeIndex, FloatArray, tuple[Any, Any]]:
    """Spend as ``(date, geo, channel)``, the dates, and each data row's (date, geo) position."""
    if column not in data.columns:
        raise ExperimentError(
            f"the truth is of geo data but the data have no geo column {column!r}; pass the "
            "data the truth describes"
        )
    found = sorted(set(data[column].astype(str)))
    if found != sorted(geos):
        raise ExperimentError(f"the data's geos {found} are not the truth's {sorted(geos)}")
    when = pd.to_datetime(data["date"])
    dates = pd.DatetimeIndex(sorted(when.unique()))
    where = pd.Index(data[column].astype(str))
    at = (dates.get_indexer(pd.DatetimeIndex(when)), pd.Index(geos).get_indexer(where))
    if len(data) != len(dates) * len(geos) or len(set(zip(*at, strict=True))) != len(data):
        raise ExperimentError("the data need one row per date and geo (as the generator wrote)")
    missing = [c for c in channels if c not in data.columns]
    if missing:
        raise ExperimentError(f"the data have no spend columns {missing} of the truth's channels")
    spend = np.zeros((len(dates), len(geos), len(channels)))
    spend[at[0], at[1], :] = data[list(channels)].to_numpy(np.float64)
    return dates, spend, at


def _changed_truth(
    truth: dict[str, Any], channel: str, geos: list[str], spend: FloatArray, effect: FloatArray
) -> dict[str, Any]:
    """The truth with ``channel``'s totals and ROAS for the changed spend, national and per geo."""

    def totals(s: FloatArray, e: FloatArray) -> dict[str, float]:
        return {
            "spend_total": float(s.sum()),
            "contribution_total": float(e.sum()),
            "roas": float(e.sum() / s.sum()) if s.sum() > 0 else 0.0,
        }

    out = {**truth, "channels": dict(truth["channels"]), "geos": dict(truth["geos"])}
    out["channels"][channel] = {**truth["channels"][channel], **totals(spend, effect)}
    for i, g in enumerate(geos):
        section = truth["geos"][g]
        own = {**section["channels"][channel], **totals(spend[:, i], effect[:, i])}
        out["geos"][g] = {**section, "channels": {**section["channels"], channel: own}}
    return out


def _lift_row(
    channel: str, window: pd.DatetimeIndex, delta: float, lift: float, se: float, geos: list[str]
) -> dict[str, Any]:
    """The lift-test table's row of a test over the dates ``window`` in ``geos``."""
    return {
        "channel": channel,
        "start_date": str(window[0].date()),
        "end_date": str(window[-1].date()),
        "spend_delta": delta,
        "lift": lift,
        "lift_se": se,
        "geo": GEO_SEPARATOR.join(geos),
    }


def _changed_data(
    data: pd.DataFrame,
    truth: dict[str, Any],
    channel: str,
    at: tuple[Any, Any],
    spend: FloatArray,
    shift: FloatArray,
) -> pd.DataFrame:
    """The data with the channel's changed spend and the outcome moved by ``shift`` (date, geo)."""
    outcome, out = str(truth.get("outcome", data.columns[-1])), data.copy()
    out[channel] = spend[at]
    out[outcome] = data[outcome].to_numpy(np.float64) + shift[at]
    return out


def _changed_geo_spend(
    before: FloatArray,
    chosen: list[str],
    names: list[str],
    rows: slice,
    c: int,
    spend_change: float,
    dates: pd.DatetimeIndex,
) -> tuple[FloatArray, float]:
    """Spend ``(date, geo, channel)`` with the test geos' change, and the total change."""
    after, delta = before.copy(), 0.0
    for k in (names.index(g) for g in chosen):
        try:
            change, after[:, k, :] = _changed_spend(before[:, k, :], rows, c, spend_change, dates)
        except ExperimentError as exc:
            raise ExperimentError(f"geo {names[k]!r}: {exc}") from None
        delta += change
    return after, delta


def simulate_geo_lift(
    truth: dict[str, Any],
    data: pd.DataFrame,
    channel: str,
    start: Any,
    weeks: int,
    spend_change: float,
    *,
    geos: list[str] | None = None,
    test_geos: int | None = None,
    se_fraction: float = 0.1,
    seed: int | None = None,
) -> SimulatedTest:
    """Simulate a lift test in some geos of synthetic geo data, from its ground truth.

    Parameters
    ----------
    truth, data : dict, pandas.DataFrame
        The geo generator's truth (``truth.json``) and the long data it describes.
    channel, start, weeks
        The tested channel, the test's first period (a date of the data) and its length.
    spend_change : float
        Relative change of the channel's spend in each test geo over the test (``-0.8`` cuts
        it by 80 %), spread evenly over its periods; a geo left below zero is refused.
    geos, test_geos : list of str or int, optional
        The test geos, or how many to draw (reproducibly, with ``seed``); give one of the two.
    se_fraction, seed : float (default 0.1), int (optional)
        The measurement's standard error as a fraction of the true lift's magnitude; the seed
        of the geo draw and then of the measurement noise.

    Returns
    -------
    SimulatedTest
        Its ``row`` has a ``geo`` column: the test geos separated by ``;``; ``spend_delta``
        and ``lift`` are totals over them.

    Raises
    ------
    ExperimentError
        For an unknown channel or geo, dates off the data, a change below -100 % or of 0, a
        geo left with negative spend, or data that are not the truth's.
    """
    mp = truth_parameters(truth, geo=True)
    names, pop, beta, column = _geo_truth(truth)
    _check_test(mp, channel, spend_change, se_fraction)
    rng = np.random.default_rng(seed)
    chosen = pick_test_geos(names, geos, test_geos, rng)
    c, (dates, before, at) = mp.channels.index(channel), _cube(data, names, column, mp.channels)
    rows = _window(dates, start, weeks)
    after, delta = _changed_geo_spend(before, chosen, names, rows, c, spend_change, dates)
    effect_after = geo_contributions(mp, after, pop, beta)[:, :, c]
    # the change of the channel's contribution: zero outside the test geos, carry-over included
    shift = effect_after - geo_contributions(mp, before, pop, beta)[:, :, c]
    true_lift = float(shift[rows].sum())
    se = se_fraction * abs(true_lift)
    measured = true_lift + float(rng.normal(0.0, se))  # drawn after the geos
    row = _lift_row(channel, dates[rows], delta, measured, se, chosen)
    new_truth = _changed_truth(truth, channel, names, after[:, :, c], effect_after)
    out = _changed_data(data, truth, channel, at, after[:, :, c], shift)
    return SimulatedTest(row, true_lift, out, new_truth)
