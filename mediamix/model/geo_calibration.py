"""Calibration of the geo model: lift tests in its likelihood and priors on national ROAS.

**Lift tests.** A test of channel ``c`` in the geos ``G`` over the rows ``start..end`` (see
:mod:`mediamix.data.geo_lift_tests` for how ``spend_delta`` splits into ``delta_g`` per geo)
has the predicted lift, in outcome units,

    lift_hat = y_scale * sum_{g in G} pop_g * sum_{t in window}
               [ m_gc(x_g)_t - m_gc(x_g - delta_g / n / pop_g)_t ]

where ``m_gc`` is the geo model's media term per capita (:func:`mediamix.model.forward.media_geo`:
``beta_geo_gc * saturation(adstock(x / spend_max_c))`` on media per capita ``x``), carry-over
inside the window included. All tests are evaluated by one ``media_geo`` call: every (test, geo)
pair's rows ``end - W + 1 .. end`` of its geo (``W`` = the longest window plus the adstock lag,
zero media before the first date as in the model), observed and counterfactual, are the
"geos" (columns) of a ``W``-row input, each with the ``beta_geo`` of its real geo; a (test,
pair) matrix of populations sums the pairs into tests. The graph's size grows with the pairs,
not with the number of geos or dates.

**ROAS priors.** With ``prior: {roas: ...}`` the channel's *national* ROAS over the data (the sum
over geos of contributions over the sum of spend, as :func:`mediamix.analysis.metrics.roas`
reports it) is the random variable. The geo model's contribution is
``y_scale * pop_g * beta_c * exp(beta_geo_sd_c * beta_geo_raw_gc) * g_gc(x)``, so

    beta_c = roas_c * sum_{g,t} spend_gtc
             / (y_scale * sum_g pop_g * exp(beta_geo_sd_c * beta_geo_raw_gc) * sum_t g_gtc)

a deterministic of ``roas`` and the geo spread; the reported national ROAS equals ``roas`` draw
by draw.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pymc as pm
import pytensor.tensor as pt

from mediamix.data.geo_lift_tests import GeoLiftTests
from mediamix.model import forward
from mediamix.model.calibration import LIFT_DIM, LIFT_OBSERVED, lift_test_blocks

__all__ = ["add_geo_lift_likelihood", "geo_outcome_per_beta", "predicted_geo_lift"]

FloatArray = npt.NDArray[np.float64]


def _pair_inputs(
    tests: GeoLiftTests, media: FloatArray, change: FloatArray, window: int
) -> tuple[FloatArray, FloatArray]:
    """Each pair's block of rows, observed and counterfactual side by side, and its window mask.

    Returns
    -------
    both : numpy.ndarray
        ``(W, 2 * pair, channel)``: the observed media of each pair's geo, then the same without
        the test (``change`` per period subtracted from the tested channel on the window rows).
    in_window : numpy.ndarray
        ``(pair, W)``: 1 on the rows of the pair's test window.
    """
    rows, test_window = lift_test_blocks(tests.tests, window)
    rows, in_window = rows[tests.pair_test], test_window[tests.pair_test]  # (pair, W)
    padded = np.concatenate([media, np.zeros((1, *media.shape[1:]))])  # row -1: zero media
    observed = padded[rows, tests.pair_geo[:, None], :]  # (pair, W, channel)
    without = observed.copy()
    n_pair = len(tests.pair_test)
    channel = tests.tests.channel[tests.pair_test]
    without[np.arange(n_pair), :, channel] -= in_window * change[:, None]
    both = np.concatenate([observed, without]).transpose(1, 0, 2)
    return np.ascontiguousarray(both), in_window


def predicted_geo_lift(
    tests: GeoLiftTests,
    media: FloatArray,
    change: FloatArray,
    population: FloatArray,
    spend_max: Any,
    stages: Sequence[Sequence[forward.Group]],
    beta_geo: Any,
) -> Any:
    """Each test's predicted lift on the model's scale (divide by nothing, times ``y_scale``).

    Parameters
    ----------
    tests : GeoLiftTests
        Tests matched to the data.
    media : numpy.ndarray
        The model's media input per capita, ``(date, geo, channel)``.
    change : numpy.ndarray
        Each (test, geo) pair's change of media per capita per window period, ``(pair,)``.
    population : numpy.ndarray
        ``(geo,)``.
    spend_max, stages, beta_geo
        The geo model's media scale, transform stages and ``beta_geo`` ``(geo, channel)``.

    Returns
    -------
    TensorVariable or numpy.ndarray
        ``(test,)``: the sum over the test's geos of population times the per-capita lift.
    """
    window = max((g.transform.window for stage in stages for g in stage), default=1)
    both, in_window = _pair_inputs(tests, media, change, window)
    n_pair, n_channel = len(tests.pair_test), media.shape[2]
    geo_of = np.concatenate([tests.pair_geo, tests.pair_geo])
    beta = beta_geo[geo_of]
    if not isinstance(beta, np.ndarray):
        beta = pt.specify_shape(beta, (2 * n_pair, n_channel))
    terms = forward.media_geo(both, spend_max, stages, beta)  # (W, 2 * pair, channel)
    channel = tests.tests.channel[tests.pair_test]
    mask = in_window.T[:, :, None] * np.eye(n_channel)[channel][None, :, :]
    per_pair = ((terms[:, :n_pair] - terms[:, n_pair:]) * mask).sum(axis=(0, 2))
    weights = np.zeros((len(tests), n_pair))
    weights[tests.pair_test, np.arange(n_pair)] = population[tests.pair_geo]
    return weights @ per_pair if isinstance(per_pair, np.ndarray) else pt.dot(weights, per_pair)


def add_geo_lift_likelihood(
    tests: GeoLiftTests,
    media: FloatArray,
    media_per_currency: FloatArray,
    population: FloatArray,
    spend_max: Any,
    stages: Sequence[Sequence[forward.Group]],
    beta_geo: Any,
    y_scale: Any,
) -> Any:
    """Add ``lift ~ Normal(predicted lift, lift_se)`` for every geo test to the current model.

    Parameters
    ----------
    tests : GeoLiftTests
        Tests matched to the data.
    media : numpy.ndarray
        The model's media input per capita, ``(date, geo, channel)`` (exposure for an exposure
        channel).
    media_per_currency : numpy.ndarray
        Media units per unit of currency, ``(channel,)`` (1 for a channel modeled on spend).
    population : numpy.ndarray
        ``(geo,)``.
    spend_max, stages, beta_geo, y_scale
        The geo model's media scale, transform stages, ``beta_geo`` and outcome scale.

    Returns
    -------
    TensorVariable
        The deterministic ``lift_test_predicted`` (outcome units, dim ``lift_test``).
    """
    model = pm.modelcontext(None)
    model.add_coord(LIFT_DIM, list(tests.tests.labels))
    channel = tests.tests.channel[tests.pair_test]
    change = (
        tests.pair_delta_per_period() * media_per_currency[channel] / population[tests.pair_geo]
    )
    lift = predicted_geo_lift(
        tests, np.asarray(media, np.float64), change, population, spend_max, stages, beta_geo
    )
    predicted = pm.Deterministic("lift_test_predicted", lift * y_scale, dims=LIFT_DIM)
    t = tests.tests
    # a static shape, as for a national model's tests (the nutpie callback carries floats only)
    size = {"dims": LIFT_DIM, "shape": (len(t),)}
    pm.Normal(LIFT_OBSERVED, mu=predicted, sigma=t.lift_se, observed=t.lift, **size)
    return predicted


def geo_outcome_per_beta(
    media: Any,
    spend_max: Any,
    stages: Sequence[Sequence[forward.Group]],
    spread: Any,
    population: Any,
    y_scale: Any,
    skip: int = 0,
) -> tuple[Any, Any]:
    """The media terms per unit of national ``beta``, and their outcome total per channel.

    Parameters
    ----------
    media : TensorVariable or numpy.ndarray
        Media per capita, ``(date, geo, channel)``.
    spend_max, stages
        The geo model's media scale and transform stages.
    spread : TensorVariable or numpy.ndarray
        ``exp(beta_geo_sd * beta_geo_raw)``, ``(geo, channel)`` with a static shape: each geo's
        effect relative to the national ``beta``.
    population, y_scale
        ``(geo,)`` and the outcome scale.
    skip : int, default 0
        Leading rows of ``media`` that are warm-up periods before the fit window: they carry
        over into the window, but neither their terms nor their outcome are returned.

    Returns
    -------
    tuple
        The terms ``(date, geo, channel)`` of the rows after ``skip`` (model units; times
        ``beta`` they are the media term) and ``(channel,)``: the national outcome over those
        rows per unit of ``beta``.
    """
    terms = forward.media_geo(media, spend_max, stages, spread)[skip:]
    per_beta = y_scale * (terms.sum(axis=0) * population[:, None]).sum(axis=0)
    return terms, per_beta
