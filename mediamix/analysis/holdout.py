"""Out-of-sample validation: hold out the last weeks, or roll the forecast origin forward.

:func:`cross_validate` fits the model on the periods before each forecast origin and predicts
the held-out periods after it with :func:`~mediamix.analysis.predict.plan_draws` (the training
spend carries over into the held-out weeks through adstock, as it would in a real forecast).
Each held-out period is scored against the posterior *predictive* (the expected outcome plus the
likelihood's noise), so the interval coverage is that of a forecast, not of a mean:

- MAPE (%) and R² of the predictive mean;
- CRPS, the continuous ranked probability score (outcome units; lower is better), from draws as
  ``E|X - y| - E|X - X'| / 2``;
- coverage: the share of held-out periods whose actual lies inside the ``hdi_prob`` HDI.

With ``folds=1`` the one origin leaves ``holdout`` periods at the end (a holdout test); with
``folds=K`` the origins are ``K`` consecutive blocks of ``holdout`` periods ending at the last
date (rolling-origin time-series cross-validation; every fit sees only the past).

A geo model's folds hold out the same dates in every geo (:mod:`mediamix.analysis.geo_holdout`):
the scores are those of the national outcome (the sum over geos), and
:meth:`ValidationReport.geo_table` scores each geo's own forecast.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import arviz_stats as azs
import numpy as np
import numpy.typing as npt
import pandas as pd
import xarray as xr

from mediamix.analysis.geo_holdout import (
    GeoForecast,
    date_blocks,
    geo_forecast,
    likelihood_noise,
)
from mediamix.analysis.predict import plan_draws
from mediamix.config.model import ModelConfig
from mediamix.data.columns import UnusedColumnsWarning, prepare_frame
from mediamix.errors import MediamixError
from mediamix.inference.diagnostics import ConvergenceWarning
from mediamix.inference.fit import FitResult, fit

__all__ = ["Fold", "ValidationReport", "cross_validate", "plot_report", "score_forecast"]

FloatArray = npt.NDArray[np.float64]


def score_forecast(actual: FloatArray, draws: FloatArray, prob: float) -> dict[str, float]:
    """MAPE, R², CRPS and HDI coverage of predictive ``draws`` ``(sample, date)`` vs ``actual``.

    Returns
    -------
    dict
        ``mape`` (%, over nonzero actuals), ``r2``, ``crps`` (mean over dates) and ``coverage``.
    """
    mean = draws.mean(axis=0)
    nonzero = actual != 0
    spread = np.sum((actual - actual.mean()) ** 2)
    # E|X - X'| from sorted draws in O(n log n): sum_i (2i - n + 1) x_(i) * 2 / n^2
    n = draws.shape[0]
    ordered = np.sort(draws, axis=0)
    weights = (2 * np.arange(n) - n + 1)[:, None]
    pair = 2 * np.sum(weights * ordered, axis=0) / n**2
    crps = np.abs(draws - actual[None]).mean(axis=0) - 0.5 * pair
    band = azs.hdi(xr.DataArray(draws[None], dims=("chain", "draw", "date")), prob=prob)
    low = np.asarray(band.sel(ci_bound="lower").values)
    high = np.asarray(band.sel(ci_bound="upper").values)
    return {
        "mape": float(np.mean(np.abs((actual - mean)[nonzero] / actual[nonzero])) * 100),
        "r2": float(1 - np.sum((actual - mean) ** 2) / spread) if spread > 0 else float("nan"),
        "crps": float(crps.mean()),
        "coverage": float(np.mean((actual >= low) & (actual <= high))),
    }


@dataclass(frozen=True)
class Fold:
    """One forecast origin: what was fitted and how the held-out periods were predicted."""

    origin: pd.Timestamp
    dates: pd.DatetimeIndex
    actual: FloatArray
    draws: FloatArray
    scores: dict[str, float]
    converged: bool
    geo: GeoForecast | None = None


@dataclass
class ValidationReport:
    """Every fold and the scores pooled over all held-out periods."""

    folds: list[Fold]
    hdi_prob: float
    scores: dict[str, float] = field(init=False)

    def __post_init__(self) -> None:
        actual = np.concatenate([f.actual for f in self.folds])
        n = min(f.draws.shape[0] for f in self.folds)
        draws = np.concatenate([f.draws[:n] for f in self.folds], axis=1)
        self.scores = score_forecast(actual, draws, self.hdi_prob)

    def table(self) -> pd.DataFrame:
        """One row per fold: origin, periods held out, scores, and whether the fit converged."""
        rows = [
            {
                "origin": f.origin.date(),
                "periods": len(f.dates),
                **f.scores,
                "converged": f.converged,
            }
            for f in self.folds
        ]
        return pd.DataFrame(rows)

    def geo_table(self) -> pd.DataFrame | None:
        """A geo model's scores per geo, pooled over the folds (None for a national model).

        One row per geo, in the fit's order: ``geo``, ``mape``, ``r2``, ``crps`` and
        ``coverage`` of that geo's held-out periods against its own predictive.
        """
        forecasts = [f.geo for f in self.folds]
        if any(g is None for g in forecasts):
            return None
        geo = [g for g in forecasts if g is not None]
        n = min(g.draws.shape[0] for g in geo)
        actual = np.concatenate([g.actual for g in geo], axis=0)
        draws = np.concatenate([g.draws[:n] for g in geo], axis=1)
        rows = [
            {"geo": name, **score_forecast(actual[:, j], draws[:, :, j], self.hdi_prob)}
            for j, name in enumerate(geo[0].geos)
        ]
        return pd.DataFrame(rows)


def _origins(n_rows: int, holdout: int, folds: int, min_train: int) -> list[int]:
    """Row counts of each fold's training data, earliest first."""
    if holdout < 1 or folds < 1:
        raise MediamixError(f"holdout ({holdout}) and folds ({folds}) must be >= 1")
    first = n_rows - holdout * folds
    if first < min_train:
        raise MediamixError(
            f"{folds} fold(s) of {holdout} held-out periods leave {max(first, 0)} of {n_rows} "
            f"periods to fit the first fold; this model needs at least {min_train}. Use fewer "
            "folds or a shorter holdout"
        )
    return [first + k * holdout for k in range(folds)]


def _predictive(result: FitResult, plan: pd.DataFrame) -> FloatArray:
    """Posterior predictive draws ``(sample, date)``: expected outcome plus likelihood noise."""
    expected = plan_draws(result, plan, draws=None, history=True).outcome
    noise = likelihood_noise(result, expected.shape)
    return np.asarray(expected + noise * result.scalers.y_scale, dtype=np.float64)


def _forecast(
    result: FitResult, test: pd.DataFrame, outcome: str
) -> tuple[FloatArray, FloatArray, GeoForecast | None]:
    """Held-out actuals and predictive draws, national; and per geo for a geo fit."""
    if result.config.geo is None:
        actual = test[outcome].to_numpy(dtype=np.float64)
        return actual, _predictive(result, test.drop(columns=outcome)), None
    geo = geo_forecast(result, test)
    return geo.national_actual, geo.national_draws, geo


def cross_validate(
    frame: pd.DataFrame,
    config: ModelConfig,
    *,
    holdout: int,
    folds: int = 1,
    fit_fn: Callable[[pd.DataFrame, ModelConfig], FitResult] | None = None,
) -> ValidationReport:
    """Fit before each forecast origin, predict the next ``holdout`` periods, score them.

    Parameters
    ----------
    frame : pandas.DataFrame
        The data, as for :func:`~mediamix.inference.fit.fit`.
    config : ModelConfig
        The model config.
    holdout : int
        Periods held out after each origin.
    folds : int, default 1
        Number of origins (1: one holdout at the end; K: rolling origin).
    fit_fn : callable, optional
        ``fit_fn(train, config) -> FitResult``; default :func:`~mediamix.inference.fit.fit`.

    Returns
    -------
    ValidationReport

    Raises
    ------
    MediamixError
        If the folds leave too little data to fit, or the data does not fit the config.
    """
    frame, config = prepare_frame(frame, config)
    frame = frame.sort_values("date", kind="stable").reset_index(drop=True)
    dates, position = date_blocks(frame)  # a geo frame has one row per date and geo
    n_params = 2 + 3 * len(config.channels) + 2 * config.seasonality.yearly_order
    min_train = max(n_params + len(config.controls) + 2, 8)
    run = fit_fn or (lambda train, cfg: fit(train, cfg))
    out: list[Fold] = []
    for n_train in _origins(len(dates), holdout, folds, min_train):
        train = frame[position < n_train]
        test = frame[(position >= n_train) & (position < n_train + holdout)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # reported per fold instead
            warnings.simplefilter("ignore", UnusedColumnsWarning)
            result = run(train.reset_index(drop=True), config)
        actual, draws, geo = _forecast(result, test.reset_index(drop=True), config.outcome.name)
        out.append(
            Fold(
                origin=pd.Timestamp(dates[n_train]),
                dates=dates[n_train : n_train + holdout],
                actual=actual,
                draws=draws,
                scores=score_forecast(actual, draws, config.hdi_prob),
                converged=result.diagnostics().converged,
                geo=geo,
            )
        )
    return ValidationReport(out, config.hdi_prob)


def plot_report(report: ValidationReport, history: pd.DataFrame, outcome: str) -> Any:
    """Actuals and each fold's forecast (mean and HDI band): a matplotlib figure."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(11, 4))
    actual = history.groupby("date", sort=True)[outcome].sum()  # a geo frame: the national sum
    ax.plot(actual.index, actual.to_numpy(), color="black", lw=1, label="actual")
    for k, f in enumerate(report.folds):
        band = azs.hdi(
            xr.DataArray(f.draws[None], dims=("chain", "draw", "date")), prob=report.hdi_prob
        )
        ax.fill_between(
            f.dates,
            band.sel(ci_bound="lower").values,
            band.sel(ci_bound="upper").values,
            color="tab:blue",
            alpha=0.25,
            label=f"{report.hdi_prob:.0%} HDI" if k == 0 else None,
        )
        ax.plot(
            f.dates, f.draws.mean(axis=0), color="tab:blue", label="forecast" if k == 0 else None
        )
        ax.axvline(f.origin, color="grey", lw=0.5, ls="--")  # type: ignore[arg-type]
    s = report.scores
    ax.set_title(
        f"out of sample: MAPE {s['mape']:.1f}%  R² {s['r2']:.2f}  CRPS {s['crps']:,.0f}  "
        f"coverage {s['coverage']:.0%}"
    )
    ax.set_ylabel(outcome)
    ax.legend(loc="upper left")
    fig.tight_layout()
    return fig
