"""Lift tests simulated from a known truth (the planner is :mod:`.experiment_plan`).

- :func:`simulate_lift`: the true lift of a test on synthetic data, from the generator's ground
  truth through the same forward pass (:func:`~mediamix.analysis.response.media_contributions`
  with :meth:`~mediamix.analysis.response.MediaParameters.from_truth`), plus Normal measurement
  noise. The modeling data must include the test's change, so it also returns the data with the
  change applied: the channel's spend changed by ``spend_delta / weeks`` in each week of the
  test, and the outcome changed by the true change of that channel's effect in every week
  (carry-over after the test included; the measured lift sums only the test's weeks).
- :func:`weighted_hdi_width`: the HDI width of weighted draws, which the planner needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from mediamix.analysis.response import MediaParameters, media_contributions
from mediamix.data.generator import GroundTruth
from mediamix.errors import MediamixError

__all__ = [
    "ExperimentError",
    "SimulatedTest",
    "simulate_lift",
    "truth_parameters",
    "weighted_hdi_width",
]

FloatArray = npt.NDArray[np.float64]


class ExperimentError(MediamixError):
    """A lift test that cannot be simulated or planned as asked."""


def truth_parameters(truth: dict[str, Any], *, geo: bool = False) -> MediaParameters:
    """The true media parameters of a ground truth in its JSON form (``truth.json``).

    With ``geo``, a geo truth's channel transforms (shared by every geo; ``spend_max`` per
    capita, ``beta`` the national one: each geo's is in ``truth["geos"]``).

    Raises
    ------
    ExperimentError
        For a multi-group truth, a geo truth (unless ``geo``), or one without channel
        parameters.
    """
    if "groups" in truth or ("geos" in truth and not geo):
        raise ExperimentError(
            "the truth is of grouped or geo data; lift tests are simulated on national data "
            "only (one truth with 'channels')"
        )
    try:
        params = {ch: dict(v["params"]) for ch, v in truth["channels"].items()}
        meta = {"scale": float(truth["scale"])}
    except (KeyError, TypeError) as exc:
        raise ExperimentError(f"not a generator truth (truth.json): missing {exc}") from None
    empty = pd.DataFrame()
    gt = GroundTruth(empty, pd.Series(dtype=float), empty, params, {}, {}, 0, meta)
    return MediaParameters.from_truth(gt)


@dataclass(frozen=True)
class SimulatedTest:
    """A simulated lift test.

    Attributes
    ----------
    row : dict
        The lift-test row: ``channel, start_date, end_date, spend_delta, lift, lift_se``.
    true_lift : float
        The noiseless lift.
    data : pandas.DataFrame
        The data with the test's change applied (spend and outcome).
    truth : dict
        The truth with the channel's ``spend_total``, ``contribution_total`` and ``roas``
        recomputed for the changed data.
    """

    row: dict[str, Any]
    true_lift: float
    data: pd.DataFrame
    truth: dict[str, Any]


def _window(dates: pd.DatetimeIndex, start: Any, weeks: int) -> slice:
    if isinstance(weeks, bool) or not isinstance(weeks, int) or weeks < 1:
        raise ExperimentError(f"weeks must be a positive integer, got {weeks!r}")
    first = dates.get_indexer(pd.DatetimeIndex([pd.Timestamp(start)]))[0]
    if first < 0:
        raise ExperimentError(
            f"start {start} is not a date of the data ({dates[0].date()} to "
            f"{dates[-1].date()}, every {(dates[1] - dates[0]).days} days)"
        )
    if first + weeks > len(dates):
        raise ExperimentError(
            f"a {weeks}-period test from {start} ends after the data's last date {dates[-1].date()}"
        )
    return slice(int(first), int(first) + weeks)


def _check_simulation(
    mp: MediaParameters, data: pd.DataFrame, channel: str, spend_change: float, se: float
) -> None:
    if "geo" in data.columns:
        raise ExperimentError(
            "the data have a geo column but the truth is national; pass the geo generator's "
            "truth of these data (simulate_geo_lift)"
        )
    _check_test(mp, channel, spend_change, se)


def _check_test(mp: MediaParameters, channel: str, spend_change: float, se: float) -> None:
    """The channel, the relative spend change and the se fraction of a simulated test."""
    if channel not in mp.channels:
        raise ExperimentError(f"channel {channel!r} is not in the truth; use one of {mp.channels}")
    if not np.isfinite(spend_change) or spend_change == 0 or spend_change < -1:
        raise ExperimentError(f"spend change must be >= -100 % and not 0, got {spend_change:+.0%}")
    if not (np.isfinite(se) and se > 0):
        raise ExperimentError(f"se fraction must be > 0, got {se!r}")


def _changed_truth(
    truth: dict[str, Any], channel: str, spend: FloatArray, effect: FloatArray
) -> dict[str, Any]:
    """The truth with ``channel``'s totals and ROAS for its changed spend."""
    out = {**truth, "channels": dict(truth["channels"])}
    out["channels"][channel] = {
        **truth["channels"][channel],
        "spend_total": float(spend.sum()),
        "contribution_total": float(effect.sum()),
        "roas": float(effect.sum() / spend.sum()),
    }
    return out


def _changed_spend(
    before: FloatArray, rows: slice, c: int, spend_change: float, dates: pd.DatetimeIndex
) -> tuple[float, FloatArray]:
    """The total change and the spend with it spread evenly over the test's periods."""
    weeks = rows.stop - rows.start
    delta = spend_change * float(before[rows, c].sum())
    after = before.copy()
    after[rows, c] += delta / weeks
    low = int(np.argmin(after[rows, c]))
    if after[rows.start + low, c] < -1e-9 * abs(delta):
        raise ExperimentError(
            f"a {spend_change:+.0%} change spread evenly ({delta / weeks:,.2f} per period) "
            f"leaves negative spend on {dates[rows.start + low].date()} (spend there "
            f"{before[rows.start + low, c]:,.2f}); choose a smaller cut or another window"
        )
    # a cut to exactly zero in a period may leave rounding dust (1e-12) or a value just below 0
    tiny = 1e-9 * float(before[rows, c].max())
    after[rows, c] = np.where(after[rows, c] < tiny, 0.0, after[rows, c])
    return delta, after


def simulate_lift(
    truth: dict[str, Any],
    data: pd.DataFrame,
    channel: str,
    start: Any,
    weeks: int,
    spend_change: float,
    *,
    se_fraction: float = 0.1,
    seed: int | None = None,
) -> SimulatedTest:
    """Simulate a lift test on synthetic data from its ground truth.

    Parameters
    ----------
    truth : dict
        The generator's truth (``truth.json``, :meth:`GroundTruth.to_dict`).
    data : pandas.DataFrame
        The data the truth describes (``date``, one spend column per channel, the outcome).
    channel, start, weeks
        The tested channel, the test's first period (a date of the data) and its length.
    spend_change : float
        Relative change of the channel's total spend over the test (``-0.8`` cuts it by
        80 %), spread evenly over its periods as a lift test's ``spend_delta`` is; a cut that
        would leave a period below zero is refused.
    se_fraction : float, default 0.1
        The measurement's standard error as a fraction of the true lift's magnitude.
    seed : int, optional
        Seed of the measurement noise.

    Returns
    -------
    SimulatedTest

    Raises
    ------
    ExperimentError
        For an unknown channel, dates off the data, a change below -100 % or of 0, geo data.
    """
    mp = truth_parameters(truth)
    _check_simulation(mp, data, channel, spend_change, se_fraction)
    dates, c = pd.DatetimeIndex(data["date"]), mp.channels.index(channel)
    rows = _window(dates, start, weeks)
    before = data[list(mp.channels)].to_numpy(np.float64)
    delta, after = _changed_spend(before, rows, c, spend_change, dates)
    effect_before = media_contributions(mp, before)[0, :, c]
    effect_after = media_contributions(mp, after)[0, :, c]
    change = effect_after - effect_before  # every period: carry-over after the test too
    true_lift = float(change[rows].sum())
    se = se_fraction * abs(true_lift)
    measured = true_lift + float(np.random.default_rng(seed).normal(0.0, se))
    out = data.copy()
    out[channel] = after[:, c]
    outcome = str(truth.get("outcome", data.columns[-1]))
    out[outcome] = data[outcome].to_numpy(np.float64) + change
    new_truth = _changed_truth(truth, channel, after[:, c], effect_after)
    first, last = (str(dates[i].date()) for i in (rows.start, rows.stop - 1))
    row = dict(channel=channel, start_date=first, end_date=last, spend_delta=delta)
    row |= {"lift": measured, "lift_se": se}
    return SimulatedTest(row, true_lift, out, new_truth)


def weighted_hdi_width(values: FloatArray, weights: FloatArray, prob: float) -> FloatArray:
    """Width of the highest-density interval of weighted draws, per row of ``weights``.

    Parameters
    ----------
    values : numpy.ndarray
        ``(draw,)``, the draws.
    weights : numpy.ndarray
        ``(outcome, draw)`` or ``(draw,)``, non-negative, each row summing to 1.
    prob : float
        The interval's probability mass.

    Returns
    -------
    numpy.ndarray
        ``(outcome,)`` (or a scalar array): the narrowest ``[v_i, v_j]`` holding ``prob``.
    """
    order = np.argsort(values)
    v = values[order]
    w = np.atleast_2d(weights)[:, order]
    cum = np.cumsum(w, axis=1)
    out = np.empty(len(w))
    for k in range(len(w)):
        below = cum[k] - w[k]  # mass strictly before each draw
        j = np.searchsorted(cum[k], below + prob - 1e-12)
        ok = j < len(v)
        out[k] = np.min(v[j[ok]] - v[ok]) if ok.any() else v[-1] - v[0]
    return out if np.ndim(weights) == 2 else out[0]
