"""Prior predictive check: what the model believes about the outcome before seeing it.

Draw parameters from the priors, push them through the model and the likelihood, and compare
the simulated outcomes with the data. Priors are sensible when the simulated band covers the
observed outcome at a plausible scale: neither orders of magnitude wider (priors too vague, the
data must do all the work) nor so narrow that the data sit outside it (priors that rule out the
truth). Nothing here looks at the observed outcome except the comparison itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
import pymc as pm
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from mediamix.analysis.metrics import summarize_draws
from mediamix.config.model import ModelConfig
from mediamix.errors import MediamixError
from mediamix.model.builder import build_model, prepare_data

__all__ = ["PriorPredictive", "plot_prior_predictive", "prior_predictive"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class PriorPredictive:
    """Outcomes simulated from the priors, next to the observed outcome.

    Attributes
    ----------
    dates : pandas.DatetimeIndex
        The modeling frame's dates.
    observed : numpy.ndarray
        The observed outcome, ``(date,)``, original units.
    draws : numpy.ndarray
        Simulated outcomes, ``(draw, date)``, original units (likelihood noise included).
    outcome : str
        The outcome's name.
    hdi_prob : float
        Width of the band.
    """

    dates: pd.DatetimeIndex
    observed: FloatArray
    draws: FloatArray
    outcome: str
    hdi_prob: float

    def band(self) -> pd.DataFrame:
        """Per date: the simulated mean and HDI (``mean``, ``hdi_low``, ``hdi_high``)."""
        da = xr.DataArray(self.draws, dims=("draw", "date"), coords={"date": self.dates})
        return summarize_draws(da, self.hdi_prob)

    def summary(self) -> pd.Series:
        """Headline numbers of the check.

        Returns
        -------
        pandas.Series
            ``coverage`` (share of dates whose observed outcome lies in the band),
            ``band_width_ratio`` (mean band width over the observed range), ``observed_mean``,
            ``simulated_mean``, ``simulated_sd`` and ``share_negative`` (share of simulated
            values below zero).
        """
        band = self.band()
        inside = (self.observed >= band["hdi_low"].to_numpy()) & (
            self.observed <= band["hdi_high"].to_numpy()
        )
        spread = float(np.ptp(self.observed)) or 1.0
        width = float((band["hdi_high"] - band["hdi_low"]).mean())
        return pd.Series(
            {
                "coverage": float(inside.mean()),
                "band_width_ratio": width / spread,
                "observed_mean": float(self.observed.mean()),
                "simulated_mean": float(self.draws.mean()),
                "simulated_sd": float(self.draws.std()),
                "share_negative": float((self.draws < 0).mean()),
            },
            name="prior predictive",
        )


def prior_predictive(
    frame: pd.DataFrame, config: ModelConfig, draws: int = 500, seed: int = 0
) -> PriorPredictive:
    """Simulate outcomes from the model's priors.

    Parameters
    ----------
    frame : pandas.DataFrame
        The modeling frame (validated as for a fit).
    config : ModelConfig
        The model, with its priors.
    draws : int, default 500
        Prior draws.
    seed : int, default 0
        Random seed.

    Returns
    -------
    PriorPredictive

    Raises
    ------
    DataValidationError
        If the frame does not fit the config.
    """
    if draws < 2:
        raise MediamixError(f"draws must be at least 2, got {draws}")
    md = prepare_data(frame, config)
    sampled = pm.sample_prior_predictive(
        draws=draws,
        model=build_model(md, config),
        var_names=["y"],
        random_seed=seed,
        return_inferencedata=False,
    )
    y = np.asarray(sampled["y"], dtype=np.float64).reshape(draws, -1) * md.scalers.y_scale
    dates, observed = md.dates, md.y
    if md.scalers.geos:
        # a geo model's rows are (date, geo), per capita: national totals per date instead
        sc, n_geo = md.scalers, len(md.scalers.geos)
        y = y * md.frame[sc.geo_column].map(sc.population).to_numpy(np.float64)
        y = y.reshape(draws, -1, n_geo).sum(axis=-1)
        dates, observed = dates[::n_geo], observed.reshape(-1, n_geo).sum(axis=-1)
    return PriorPredictive(
        dates=dates,
        observed=observed,
        draws=y,
        outcome=config.outcome.name,
        hdi_prob=config.hdi_prob,
    )


def plot_prior_predictive(pp: PriorPredictive, ax: Axes | None = None, lines: int = 20) -> Figure:
    """The prior predictive band and a few simulated series against the observed outcome.

    Parameters
    ----------
    pp : PriorPredictive
        From :func:`prior_predictive`.
    ax : matplotlib.axes.Axes, optional
        Axes to draw into; a new figure by default.
    lines : int, default 20
        Simulated series drawn as thin lines.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if ax is None:
        fig = Figure(figsize=(10, 4.5), layout="constrained")
        ax = fig.subplots()
    else:
        fig = ax.get_figure()  # type: ignore[assignment]
    band = pp.band()
    ax.fill_between(
        pp.dates,
        band["hdi_low"],
        band["hdi_high"],
        alpha=0.25,
        color="C1",
        label=f"prior predictive {pp.hdi_prob:.0%} HDI",
    )
    for row in pp.draws[: max(lines, 0)]:
        ax.plot(pp.dates, row, color="C1", lw=0.4, alpha=0.4)
    ax.plot(pp.dates, pp.observed, color="k", lw=1.2, label="observed")
    ax.set(title="Prior predictive check: simulated from the priors vs observed", ylabel=pp.outcome)
    ax.legend(loc="upper left")
    return fig
