"""Which lift test would narrow a fit's ROAS the most: a pre-posterior analysis.

For each channel and candidate test (go-dark or increase by ``budget_fraction`` of the channel's
spend in the test's weeks, at a few start dates; a test's change is spread evenly over its weeks,
so a cut is capped where it would take the lowest week below zero), :func:`plan_experiments`:

1. predicts the test's lift under every posterior draw, through the model's forward pass
   (:func:`~mediamix.analysis.response.media_contributions`), with the data's spend as the spend
   without the test (carry-over inside the window counted, as the lift likelihood does);
2. simulates measurements: a draw's predicted lift plus Normal noise with the assumed standard
   error ``lift_se``;
3. reweights the posterior draws by each measurement's likelihood (importance sampling: the
   posterior after the test, without refitting) and takes the channel's ROAS HDI width under
   the weights;
4. averages that width over the simulated measurements: the expected width after the test.

The effective sample size of the weights, ``1 / sum(w**2)`` averaged over measurements, says
how far to trust it: with few effective draws the reweighted posterior is coarse and the
expected width too optimistic; refit with the test (or plan with more draws) instead.

``lift_se`` by default is the noise of the outcome summed over the test's weeks, for a test
against a control of the same size: ``sigma * y_scale * sqrt(2 * weeks)``, with ``sigma`` the
posterior mean of the model's noise; ``se_fraction`` makes it a fraction of the expected lift.

A geo fit's tests run in test geos, the other geos being the controls
(:mod:`mediamix.analysis.geo_experiment_plan`); the ROAS they narrow is the national one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from mediamix.analysis.experiments import ExperimentError, weighted_hdi_width
from mediamix.analysis.metrics import roas_draws
from mediamix.analysis.response import MediaParameters, draw_index, media_contributions
from mediamix.inference.fit import FitResult

__all__ = ["NationalDesign", "best_test", "plan_experiments", "predicted_lifts"]

FloatArray = npt.NDArray[np.float64]


def predicted_lifts(
    mp: MediaParameters, spend: FloatArray, channel: int, start: int, weeks: int, delta: float
) -> FloatArray:
    """Lift of raising ``channel``'s spend by ``delta / weeks`` per period, under every draw.

    Parameters
    ----------
    mp : MediaParameters
        The draws.
    spend : numpy.ndarray
        ``(time, channel)`` spend without the test, currency.
    channel, start, weeks : int
        The channel's position, the test's first row and length.
    delta : float
        Total spend change over the test (negative for a go-dark test).

    Returns
    -------
    numpy.ndarray
        ``(draw,)``: the sum over the test's rows of the channel's extra contribution.
    """
    lo = max(0, start - mp.window + 1)  # the rows a window row's adstock looks back on
    block = spend[lo : start + weeks]
    test = block.copy()
    test[start - lo :, channel] += delta / weeks
    test = np.maximum(test, 0.0)  # a cut capped at the lowest week leaves rounding dust below 0
    with_test = media_contributions(mp, test)[:, start - lo :, channel]
    without = media_contributions(mp, block)[:, start - lo :, channel]
    return (with_test - without).sum(axis=1)


def _preposterior(
    lifts: FloatArray, roas: FloatArray, se: float, outcomes: int, rng: Any, prob: float
) -> tuple[float, float]:
    """Expected ROAS HDI width after a test, and the mean effective sample size."""
    truth = rng.integers(0, len(lifts), size=outcomes)
    measured = lifts[truth] + rng.normal(0.0, se, size=outcomes)
    log_w = -0.5 * ((measured[:, None] - lifts[None, :]) / se) ** 2
    w = np.exp(log_w - log_w.max(axis=1, keepdims=True))
    w /= w.sum(axis=1, keepdims=True)
    ess = 1.0 / (w**2).sum(axis=1)
    return float(weighted_hdi_width(roas, w, prob).mean()), float(ess.mean())


def _check(budget_fraction: float, weeks: int, n_rows: int, se_fraction: float | None) -> None:
    if not (0 < budget_fraction <= 1):
        raise ExperimentError(f"budget fraction must be in (0, 1], got {budget_fraction!r}")
    if isinstance(weeks, bool) or not isinstance(weeks, int) or not 1 <= weeks < n_rows:
        raise ExperimentError(f"weeks must be an integer from 1 to {n_rows - 1}, got {weeks!r}")
    if se_fraction is not None and not se_fraction > 0:
        raise ExperimentError(f"se fraction must be > 0, got {se_fraction!r}")


def _starts(n_rows: int, weeks: int, window: int, count: int) -> list[int]:
    """``count`` start rows spread over the data, after the first adstock window if possible."""
    first = min(window, n_rows - weeks)
    return sorted({int(s) for s in np.linspace(first, n_rows - weeks, count).round()})


class NationalDesign:
    """Candidate tests of a national fit: the channel's spend changes in every period's row.

    A test design answers what :func:`best_test` asks of a candidate: the channel's spend in
    the test's periods, the largest cut the data allow, the lift under every draw and the
    default ``lift_se``. :class:`mediamix.analysis.geo_experiment_plan.GeoDesign` is a geo
    fit's (tests in chosen geos).
    """

    def __init__(self, result: FitResult, draws: int | None) -> None:
        frame, post = result.frame, result.posterior
        self.mp = MediaParameters.from_fit(result, draws)
        self.spend = frame[[result.config.spend_column(c) for c in result.channels]].to_numpy(
            np.float64
        )
        self.dates = pd.DatetimeIndex(frame["date"])
        self.window = self.mp.window
        self.sigma_y = float(post["sigma"].mean()) * result.scalers.y_scale
        self.fields: dict[str, Any] = {}

    def spend_in(self, c: int, start: int, weeks: int) -> tuple[float, float]:
        """Channel ``c``'s spend over the test's periods, and the largest cut (> 0) allowed."""
        window = self.spend[start : start + weeks, c]
        # spread evenly, a cut may not take a period below zero: cap it at the lowest week
        return float(window.sum()), weeks * float(window.min())

    def lifts(self, c: int, start: int, weeks: int, delta: float) -> FloatArray:
        """The test's lift under every draw (:func:`predicted_lifts`)."""
        return predicted_lifts(self.mp, self.spend, c, start, weeks, delta)

    def noise_se(self, weeks: int) -> float:
        """The outcome's noise summed over the test, against a control of the same size."""
        return self.sigma_y * float(np.sqrt(2 * weeks))


def best_test(
    ctx: dict[str, Any],
    design: Any,
    c: int,
    weeks: int,
    budget_fraction: float,
    se_fraction: float | None,
) -> dict[str, Any] | None:
    """The candidate test of channel ``c`` with the narrowest expected ROAS HDI.

    ``ctx`` holds the ROAS draws (``roas``, (draw, channel)), ``channels``, ``prob``,
    ``starts``, ``outcomes`` and ``rng``; ``design`` is a :class:`NationalDesign` or a geo one.
    """
    roas, dates = ctx["roas"][:, c], design.dates
    now = float(weighted_hdi_width(roas, np.full(len(roas), 1.0 / len(roas)), ctx["prob"]))
    best: dict[str, Any] | None = None
    for start in _starts(len(dates), weeks, design.window, ctx["starts"]):
        total, max_cut = design.spend_in(c, start, weeks)
        for sign in (-1.0, 1.0):
            delta = max(sign * budget_fraction * total, -max_cut)
            if delta == 0:
                continue
            lifts = design.lifts(c, start, weeks, delta)
            expected = float(lifts.mean())
            se = design.noise_se(weeks) if se_fraction is None else se_fraction * abs(expected)
            se = max(float(se), 1e-12)
            width, ess = _preposterior(lifts, roas, se, ctx["outcomes"], ctx["rng"], ctx["prob"])
            if best is None or width < best["roas_hdi_width_expected"]:
                best = {
                    "channel": ctx["channels"][c],
                    **design.fields,
                    "start_date": str(dates[start].date()),
                    "end_date": str(dates[start + weeks - 1].date()),
                    "weeks": weeks,
                    "spend_delta": delta,
                    "spend_change": delta / total,
                    "expected_lift": expected,
                    "lift_se": se,
                    "roas_hdi_width_now": now,
                    "roas_hdi_width_expected": width,
                    "expected_narrowing": 1.0 - width / now if now > 0 else 0.0,
                    "ess": ess,
                    "draws": len(roas),
                }
    return best


def _design(result: FitResult, draws: int | None, geos: list[str] | None) -> Any:
    """The fit's test design: national, or in test geos for a geo fit."""
    from mediamix.analysis.geo_experiment_plan import GeoDesign

    if result.scalers.geos:
        return GeoDesign(result, draws, geos)
    if geos is not None:
        raise ExperimentError("test geos were given, but this fit has no geos")
    return NationalDesign(result, draws)


def _context(result: FitResult, draws: int | None) -> dict[str, Any]:
    """The ROAS draws every candidate is judged on, the channels and the HDI probability."""
    post = result.posterior
    index = draw_index(post.sizes["chain"] * post.sizes["draw"], draws)
    return {
        "roas": roas_draws(result).transpose("draw", "channel").to_numpy()[index],
        "channels": result.channels,
        "prob": result.config.hdi_prob,
    }


def plan_experiments(
    result: FitResult,
    *,
    budget_fraction: float = 0.8,
    weeks: int = 8,
    starts: int = 4,
    se_fraction: float | None = None,
    outcomes: int = 200,
    draws: int | None = 1000,
    seed: int = 0,
    geos: list[str] | None = None,
) -> list[dict[str, Any]]:
    """Rank channels by how much a lift test would narrow their ROAS HDI.

    Parameters
    ----------
    result : FitResult
        The current fit.
    budget_fraction : float, default 0.8
        The test's spend change as a fraction of the channel's spend in its weeks; both a
        go-dark (``-fraction``) and an increase (``+fraction``) are tried.
    weeks : int, default 8
        The test's length in periods.
    starts : int, default 4
        Candidate start dates, spread over the data.
    se_fraction : float, optional
        The assumed ``lift_se`` as a fraction of the expected lift (default: the outcome's
        noise over the test, see the module notes).
    outcomes : int, default 200
        Simulated measurements per candidate.
    draws : int, optional
        Posterior draws to use (evenly spaced); all when None.
    seed : int, default 0
        Seed of the simulated measurements.
    geos : list of str, optional
        A geo fit's test geos (default: half, :mod:`~mediamix.analysis.geo_experiment_plan`).

    Returns
    -------
    list of dict
        One per channel, best first (largest relative narrowing): the best candidate's
        ``channel, start_date, end_date, weeks, spend_delta, spend_change, expected_lift,
        lift_se, roas_hdi_width_now, roas_hdi_width_expected, expected_narrowing, ess, draws``;
        a geo fit's add ``geo``, the test geos joined by ``;`` (as a lift-test row names them).

    Raises
    ------
    ExperimentError
        For bad settings, test geos the fit does not have, or ``geos`` for a national fit.
    """
    design = _design(result, draws, geos)
    _check(budget_fraction, weeks, len(design.dates), se_fraction)
    ctx = _context(result, draws) | {"starts": starts, "outcomes": outcomes}
    ctx["rng"] = np.random.default_rng(seed)
    plan = [
        best
        for c in range(len(result.channels))
        if (best := best_test(ctx, design, c, weeks, budget_fraction, se_fraction)) is not None
    ]
    return sorted(plan, key=lambda r: -r["expected_narrowing"])
