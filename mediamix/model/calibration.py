"""Calibration with experiments: lift tests in the likelihood and priors on ROAS.

**Lift tests.** A test of channel ``c`` changed its spend by ``delta`` in total over the rows
``start..end`` (the data include the change). Its predicted lift, in original outcome units, is

    lift_hat = y_scale * sum_{t in window} [ media_c(spend)_t - media_c(spend - delta / n)_t ]

through the model's one forward pass (:func:`mediamix.model.forward.media`), carry-over inside
the window included. Each test adds ``lift ~ Normal(lift_hat, lift_se)`` to the likelihood. All
tests are evaluated at once: every test's rows ``end - W + 1 .. end`` (``W`` = the longest
window plus the adstock lag, zero spend before the first date as in the model) are stacked into
one tall spend matrix, observed and counterfactual, so the graph has one forward pass of
``tests * W`` rows whatever the number of tests. A window row only looks back ``l_max - 1``
rows, all inside its own block, so stacking blocks changes nothing.

**ROAS priors.** With ``prior: {roas: ...}`` a channel's ROAS over the data window is the random
variable and ``beta`` a deterministic of it: ROAS_c = beta_c * y_scale * sum_t g_c(x_t) /
sum_t spend_c, where ``g_c = saturation(adstock(x / spend_max))``, so

    beta_c = roas_c * sum_t spend_c / (y_scale * sum_t g_c(x_t)).

The ROAS that :func:`mediamix.analysis.metrics.roas` reports over the whole data equals the
``roas`` variable draw by draw, so its prior is exactly the configured one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pymc as pm
import pytensor.tensor as pt

from mediamix.config.base import ConfigError
from mediamix.config.calibration import CalibrationConfig, LiftTestRecord
from mediamix.config.model import ModelConfig
from mediamix.data.lift_tests import (
    LiftTests,
    lift_tests_for_data,
    read_lift_tests,
    validate_lift_table,
)
from mediamix.model import forward

__all__ = [
    "LIFT_DIM",
    "LIFT_OBSERVED",
    "add_lift_likelihood",
    "calibrated_beta",
    "channel_beta",
    "lift_table",
    "lift_test_blocks",
    "refuse_organic_roas",
    "resolve_calibration",
    "roas_beta",
    "table_records",
]

#: The dim of the lift-test variables.
LIFT_DIM = "lift_test"
#: The observed lift of each test, ``Normal(lift_test_predicted, lift_se)``.
LIFT_OBSERVED = "lift_test_observed"

FloatArray = npt.NDArray[np.float64]
PriorRV = Callable[[str, Sequence[str], str], Any]


def table_records(table: pd.DataFrame) -> list[LiftTestRecord]:
    """A checked lift-test table as the records a config keeps (ISO date strings)."""
    table = validate_lift_table(table)
    out = []
    for rec in table.to_dict(orient="records"):
        geo = rec.get("geo")
        out.append(
            LiftTestRecord(
                channel=rec["channel"],
                start_date=str(rec["start_date"].date()),
                end_date=str(rec["end_date"].date()),
                spend_delta=float(rec["spend_delta"]),
                lift=float(rec["lift"]),
                lift_se=float(rec["lift_se"]),
                geo=None if geo is None or pd.isna(geo) else str(geo),
            )
        )
    return out


def resolve_calibration(config: ModelConfig, table: pd.DataFrame | None = None) -> ModelConfig:
    """The config with its lift tests read into ``calibration.tests``.

    Parameters
    ----------
    config : ModelConfig
        A config whose ``calibration.lift_tests`` may name a CSV file.
    table : pandas.DataFrame, optional
        A lift-test table to use instead (e.g. read from the lakehouse); replaces any tests.

    Returns
    -------
    ModelConfig
        Unchanged without lift tests; otherwise with ``calibration.tests`` filled and
        ``lift_tests`` cleared, so the config (and a fit saved with it) carries the tests.

    Raises
    ------
    LiftTestError
        If the file or table is missing or malformed.
    """
    cal = config.calibration
    if table is None and cal.lift_tests is None:
        return config
    if table is None:
        table = read_lift_tests(str(cal.lift_tests))
    records = table_records(table)
    return config.model_copy(update={"calibration": CalibrationConfig(tests=records)})


def lift_table(config: ModelConfig) -> pd.DataFrame | None:
    """The config's lift tests as a checked table; None when it has none."""
    if config.calibration.lift_tests is not None:
        raise ConfigError(
            "calibration.lift_tests names a file that was not read; fit through "
            "mediamix.inference.fit.fit (or resolve_calibration) to read it"
        )
    if not config.calibration.tests:
        return None
    rows = [r.model_dump(exclude_none=True) for r in config.calibration.tests]
    return validate_lift_table(pd.DataFrame(rows), "calibration.tests")


def lift_test_blocks(tests: LiftTests, window: int) -> tuple[npt.NDArray[np.intp], FloatArray]:
    """Each test's rows as one block of equal length, and where its window lies in the block.

    Parameters
    ----------
    tests : LiftTests
        Tests matched to the data's rows.
    window : int
        The longest adstock window, periods.

    Returns
    -------
    rows : numpy.ndarray
        ``(test, W)`` data rows, ``-1`` before the first date (zero spend).
    in_window : numpy.ndarray
        ``(test, W)``: 1 on the rows of the test's window, else 0.
    """
    length = int((tests.end - tests.start).max()) + window
    offsets = np.arange(length - 1, -1, -1)
    rows = tests.end[:, None] - offsets[None, :]
    in_window = (rows >= tests.start[:, None]).astype(np.float64)
    return np.where(rows >= 0, rows, -1).astype(np.intp), in_window


def _predicted_lift(
    tests: LiftTests,
    spend: FloatArray,
    delta_media: FloatArray,
    spend_max: Any,
    stages: Sequence[Sequence[forward.Group]],
    beta: Any,
) -> Any:
    """Each test's predicted lift on the model's scale, ``(test,)``, one forward pass."""
    window = max((g.transform.window for stage in stages for g in stage), default=1)
    rows, in_window = lift_test_blocks(tests, window)
    padded = np.vstack([spend, np.zeros((1, spend.shape[1]))])  # row -1: zero spend
    observed = padded[rows]  # (test, W, channel)
    change = np.zeros_like(observed)
    change[np.arange(len(tests)), :, tests.channel] = in_window * delta_media[:, None]
    tall = np.concatenate([observed, observed - change]).reshape(-1, spend.shape[1])
    terms = forward.media(tall, spend_max, stages, beta)
    both = terms.reshape((2, len(tests), rows.shape[1], spend.shape[1]))
    # the tested channel's terms on the window rows (other channels' differences are 0)
    mask = in_window[:, :, None] * np.eye(spend.shape[1])[tests.channel][:, None, :]
    return ((both[0] - both[1]) * mask).sum(axis=(1, 2))


def add_lift_likelihood(
    tests: LiftTests,
    spend: FloatArray,
    media_per_currency: FloatArray,
    spend_max: Any,
    stages: Sequence[Sequence[forward.Group]],
    beta: Any,
    y_scale: Any,
) -> Any:
    """Add ``lift ~ Normal(predicted lift, lift_se)`` for every test to the current model.

    Parameters
    ----------
    tests : LiftTests
        Tests matched to the data's rows.
    spend : numpy.ndarray
        The model's media input, ``(time, channel)`` (exposure for an exposure channel).
    media_per_currency : numpy.ndarray
        Media units per unit of currency, ``(channel,)``: 1 for a channel modeled on spend,
        1 / cost per exposure for an exposure channel (the test's change is currency).
    spend_max, stages, beta, y_scale
        The model's spend scale, transform stages, ``beta`` and outcome scale.

    Returns
    -------
    TensorVariable
        The deterministic ``lift_test_predicted`` (original outcome units, dim ``lift_test``).
    """
    model = pm.modelcontext(None)
    model.add_coord(LIFT_DIM, list(tests.labels))
    delta = tests.delta_per_period() * media_per_currency[tests.channel]
    lift = _predicted_lift(tests, np.asarray(spend, np.float64), delta, spend_max, stages, beta)
    predicted = pm.Deterministic("lift_test_predicted", lift * y_scale, dims=LIFT_DIM)
    # a static shape: the graph must not read the dim's length (an integer the nutpie callback
    # cannot carry), which PyMC otherwise does for a one-test dim
    pm.Normal(
        LIFT_OBSERVED,
        mu=predicted,
        sigma=tests.lift_se,
        observed=tests.lift,
        dims=LIFT_DIM,
        shape=(len(tests),),
    )
    return predicted


def channel_beta(
    config: ModelConfig,
    spend: Any,
    spend_max: Any,
    stages: Sequence[Sequence[forward.Group]],
    spend_total: FloatArray,
    y_scale: Any,
    beta_rv: PriorRV,
) -> Any:
    """``beta`` of every paid channel: a random variable, or a deterministic of a ROAS prior.

    Parameters
    ----------
    config : ModelConfig
        Channels with ``prior.roas`` get a ``roas`` random variable; the rest a ``beta`` prior.
    spend, spend_max, stages
        The model's media input, spend scale and transform stages.
    spend_total : numpy.ndarray
        Each channel's total spend (currency) over the data, ``(channel,)``.
    y_scale : TensorVariable
        The model's outcome scale.
    beta_rv : callable
        ``beta_rv(name, channels, dim)`` creates the ``beta`` prior of those channels.

    Returns
    -------
    TensorVariable
        ``beta`` over ``channel`` (a deterministic named ``beta`` when any channel has a
        ROAS prior, its free part then ``beta_free`` over ``channel_beta``).
    """

    def outcome_per_beta() -> Any:
        unit = forward.media(spend, spend_max, stages, np.ones(len(config.channel_names)))
        return y_scale * unit.sum(axis=0)

    return roas_beta(config, spend_total, outcome_per_beta, beta_rv)


def roas_beta(
    config: ModelConfig,
    spend_total: FloatArray,
    outcome_per_beta: Callable[[], Any],
    beta_rv: PriorRV,
) -> Any:
    """``beta`` of every paid channel, ``roas * spend_total / outcome_per_beta`` on a ROAS prior.

    Parameters
    ----------
    config : ModelConfig
        Channels with ``prior.roas`` get a ``roas`` random variable; the rest a ``beta`` prior.
    spend_total : numpy.ndarray
        Each channel's total spend (currency) over the data, ``(channel,)``.
    outcome_per_beta : callable
        Returns each channel's total contribution over the data (outcome units) per unit of
        ``beta``, ``(channel,)``; called only when some channel has a ROAS prior.
    beta_rv : callable
        ``beta_rv(name, channels, dim)`` creates the ``beta`` prior of those channels.

    Returns
    -------
    TensorVariable
        As :func:`channel_beta` says.
    """
    names = config.channel_names
    on_roas = [c for c in names if config.channels[c].prior is not None]
    if not on_roas:
        return beta_rv("beta", names, "channel")
    model = pm.modelcontext(None)
    free = [c for c in names if c not in on_roas]
    roas_dim = "channel" if not free else "channel_roas"
    if free:
        model.add_coord(roas_dim, on_roas)
        model.add_coord("channel_beta", free)
    priors = [config.channels[c].prior.roas for c in on_roas]  # type: ignore[union-attr]
    families = {p.dist for p in priors}
    if len(families) > 1:
        raise ConfigError(f"prior.roas: channels must share one distribution; got {families}")
    params = {k: np.array([p.params[k] for p in priors]) for k in priors[0].params}
    roas = getattr(pm, priors[0].dist)("roas", **params, dims=roas_dim)
    idx = np.array([names.index(c) for c in on_roas])
    implied = roas * spend_total[idx] / outcome_per_beta()[idx]
    beta = pt.zeros(len(names))
    beta = pt.set_subtensor(beta[idx], implied)
    if free:
        free_idx = np.array([names.index(c) for c in free])
        beta = pt.set_subtensor(beta[free_idx], beta_rv("beta_free", free, "channel_beta"))
    return pm.Deterministic("beta", beta, dims="channel")


def refuse_organic_roas(config: ModelConfig) -> None:
    """A ROAS prior needs spend: refuse one on an organic channel.

    Raises
    ------
    ConfigError
        Naming the organic channels with ``prior.roas``.
    """
    organic = [c for c, entry in config.organic_channels.items() if entry.prior is not None]
    if organic:
        raise ConfigError(
            f"organic_channels {organic}: prior.roas needs spend; organic media have none "
            "(set a beta prior instead)"
        )


def calibrated_beta(
    config: ModelConfig,
    frame: pd.DataFrame,
    media: FloatArray,
    cost_per_exposure: dict[str, float],
    terms: tuple[Any, Any, Sequence[Sequence[forward.Group]]],
    beta_rv: PriorRV,
) -> Any:
    """The paid channels' ``beta`` (:func:`channel_beta`), and the lift tests' likelihood.

    Parameters
    ----------
    config : ModelConfig
        The model configuration (lift tests in ``calibration.tests``).
    frame : pandas.DataFrame
        The validated modeling frame (``date``, spend columns).
    media : numpy.ndarray
        The model's media input, ``(time, channel)``.
    cost_per_exposure : dict
        Currency per exposure of each exposure channel.
    terms : tuple
        ``(spend_max, y_scale, stages)``: the model's spend scale, outcome scale and the
        transform stages with their random variables.
    beta_rv : callable
        Creates a ``beta`` prior, as in :func:`channel_beta`.

    Returns
    -------
    TensorVariable
        ``beta`` over ``channel``.
    """
    spend_max, y_scale, stages = terms
    names = config.channel_names
    refuse_organic_roas(config)
    spend = frame[[config.spend_column(c) for c in names]].set_axis(names, axis=1)
    totals = spend.sum().to_numpy(np.float64)
    beta = channel_beta(config, media, spend_max, stages, totals, y_scale, beta_rv)
    table = lift_table(config)
    if table is not None:
        tests = lift_tests_for_data(table, frame["date"], spend, source="calibration.tests")
        per_currency = np.array([1.0 / cost_per_exposure.get(c, 1.0) for c in names])
        add_lift_likelihood(tests, media, per_currency, spend_max, stages, beta, y_scale)
    return beta
