"""Figures of a geo fit's per-geo answers: ROAS by geo and channel, and each geo's response curves.

:func:`geo_response_curves` is :func:`~mediamix.analysis.scenarios.response_curves` per (geo,
channel), split into ``geo`` and ``channel`` columns; :func:`plot_geo_response_curves` draws them
per capita (spend and response per 1,000 people), so geos of very different size share one scale:
one panel per channel, one line per geo, each geo's current spend marked.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from mediamix.analysis import metrics
from mediamix.analysis.axes import one_axes
from mediamix.analysis.geo_response import GEO_SEPARATOR
from mediamix.analysis.scenarios import ResponseCurves, response_curves
from mediamix.errors import MediamixError
from mediamix.inference.fit import FitResult

__all__ = ["geo_response_curves", "plot_geo_response_curves", "plot_roas_by_geo"]

#: Per-capita figures are per this many people.
PER_PEOPLE = 1000.0


def _split(frame: pd.DataFrame) -> pd.DataFrame:
    """``channel`` holding ``<geo>/<channel>`` as two columns, ``geo`` first."""
    parts = frame["channel"].str.split(GEO_SEPARATOR, n=1, expand=True)
    return frame.drop(columns="channel").assign(geo=parts[0], channel=parts[1])


def geo_response_curves(
    result: FitResult,
    n_points: int = 41,
    max_multiple: float = 2.0,
    window: metrics.Window = None,
    draws: int | None = None,
) -> ResponseCurves:
    """Each geo's steady-state response curve per channel, through its own effect.

    Parameters are those of :func:`~mediamix.analysis.scenarios.response_curves`.

    Returns
    -------
    ResponseCurves
        ``curves`` with columns ``geo``, ``channel``, ``spend`` (the geo's, per period),
        ``mean``, ``hdi_low``, ``hdi_high``; ``current`` indexed by ``(geo, channel)``.

    Raises
    ------
    MediamixError
        If the fit has no geos.
    """
    if not result.scalers.geos:
        raise MediamixError("per-geo response curves need a geo fit; this fit has no geos")
    rc = response_curves(result, n_points, max_multiple, window, draws, by_geo=True)
    curves = _split(rc.curves)[["geo", "channel", "spend", "mean", "hdi_low", "hdi_high"]]
    current = _split(rc.current.reset_index()).set_index(["geo", "channel"])
    return ResponseCurves(curves=curves, current=current, hdi_prob=rc.hdi_prob)


def plot_geo_response_curves(result: FitResult, curves: ResponseCurves | None = None) -> Figure:
    """Each geo's response curve per capita, one panel per channel, current spend marked.

    Parameters
    ----------
    result : FitResult
        A geo fit.
    curves : ResponseCurves, optional
        :func:`geo_response_curves` of this fit; computed here otherwise.

    Returns
    -------
    matplotlib.figure.Figure
    """
    curves = curves or geo_response_curves(result)
    population = pd.Series(result.scalers.population, dtype=np.float64) / PER_PEOPLE
    channels = list(result.channels)
    fig = Figure(figsize=(4.2 * len(channels), 3.8), layout="constrained")
    axes = fig.subplots(1, len(channels), squeeze=False)[0]
    table = curves.curves.assign(per=lambda t: t["geo"].map(population))
    now = curves.current.reset_index().assign(per=lambda t: t["geo"].map(population))
    for ax, ch in zip(axes, channels, strict=True):
        mine = table[table["channel"] == ch]
        for _, line in mine.groupby("geo", sort=False):
            ax.plot(line["spend"] / line["per"], line["mean"] / line["per"], lw=0.8, alpha=0.6)
        dots = now[now["channel"] == ch]
        ax.plot(dots["spend"] / dots["per"], dots["mean"] / dots["per"], "o", ms=3, c="k")
        ax.set(title=ch, xlabel=f"spend per period per {PER_PEOPLE:,.0f} people")
    axes[0].set_ylabel(f"incremental {result.config.outcome.name} per {PER_PEOPLE:,.0f} people")
    geos = len(result.scalers.geos)
    fig.suptitle(f"Response curves by geo (steady state, posterior mean; {geos} geos; dots: now)")
    return fig


def plot_roas_by_geo(result: FitResult, ax: Axes | None = None) -> Figure:
    """Heat map of each geo's ROAS per channel (posterior mean), values written in the cells.

    Cells whose HDI includes 0 are hatched: there the data cannot tell the geo's ROAS from none.

    Parameters
    ----------
    result : FitResult
        A geo model's fit.
    ax : matplotlib.axes.Axes, optional
        Axes to draw into; a new figure by default.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    MediamixError
        If the fit is not a geo model.
    """
    draws = metrics.geo_roas_draws(result)
    geos, channels = list(draws["geo"].values), result.channels
    fig, ax = one_axes(ax, (1.6 + 1.3 * len(channels), 1.2 + 0.28 * len(geos)))
    mean = draws.mean("draw").transpose("geo", "channel").to_numpy()
    image = ax.imshow(mean, aspect="auto", cmap="viridis")
    fig.colorbar(image, ax=ax, label=f"{result.config.outcome.name} per unit of spend")
    low = metrics.summarize_draws(draws, result.config.hdi_prob)["hdi_low"]
    for i, geo in enumerate(geos):
        for j, ch in enumerate(channels):
            if not np.isfinite(mean[i, j]):
                continue
            dark = float(np.asarray(image.norm(mean[i, j]))) < 0.6  # light text on dark cells
            color = "w" if dark else "k"
            ax.text(j, i, f"{mean[i, j]:.2f}", ha="center", va="center", fontsize=7, color=color)
            if low.loc[(geo, ch)] <= 0:
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch="//", lw=0))
    ax.set_xticks(np.arange(len(channels)), channels)
    ax.set_yticks(np.arange(len(geos)), geos, fontsize=7)
    ax.set(title=f"ROAS by geo and channel (posterior mean; {len(geos)} geos)")
    return fig
