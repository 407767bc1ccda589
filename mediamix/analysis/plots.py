"""Matplotlib figures of a fit, its analysis and a budget allocation.

Every function takes ``ax=None`` (a new figure is made) or the axes to draw into, and returns the
figure. Figures are made with :class:`matplotlib.figure.Figure` rather than ``pyplot``, so none is
left open in a global registry; show one in a notebook with ``display(fig)`` and save it with
``fig.savefig(...)``. :func:`figures_for_fit` returns all of a fit's figures by name (what MLflow
tracking logs as PNG files).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from mediamix.analysis import metrics
from mediamix.analysis.axes import figure_of, one_axes
from mediamix.analysis.geo_draws import national_draws
from mediamix.analysis.scenarios import ResponseCurves, response_curves
from mediamix.errors import MediamixError
from mediamix.inference.fit import FitResult
from mediamix.inference.geo_draws import NATIONAL_OUTCOME
from mediamix.model.builder import channel_parameters, parameter_groups

if TYPE_CHECKING:
    from mediamix.analysis.optimize import Allocation

__all__ = [
    "figures_for_fit",
    "plot_budget",
    "plot_contributions",
    "plot_fit",
    "plot_prior_posterior",
    "plot_response_curves",
    "plot_roas",
    "plot_trace",
]

AxesArg = Axes | Sequence[Axes] | None


def _many_axes(ax: AxesArg, names: Sequence[str], width: float = 10) -> tuple[Figure, list[Axes]]:
    """One axes per name: a new column of panels, or the axes given (as many as names)."""
    if ax is None:
        fig = Figure(figsize=(width, 2.6 * len(names) + 0.6), layout="constrained")
        axes = fig.subplots(len(names), 1, squeeze=False)
        return fig, list(axes[:, 0])
    given = [ax] if isinstance(ax, Axes) else list(ax)
    if len(given) != len(names):
        raise MediamixError(
            f"need one axes per parameter {list(names)} ({len(names)}), got {len(given)}; "
            f"pass parameters=[...] to draw fewer"
        )
    return figure_of(given[0]), given


def _outcome_label(result: FitResult) -> str:
    return result.config.outcome.name


def _dates(result: FitResult) -> pd.DatetimeIndex:
    """The fit's dates, once each (a geo frame has one row per geo and date)."""
    return pd.DatetimeIndex(result.frame["date"].unique())


def _observed(result: FitResult) -> np.ndarray:
    """The observed outcome per date: summed over geos for a geo model."""
    outcome = result.frame[_outcome_label(result)]
    return outcome.groupby(result.frame["date"], sort=False).sum().to_numpy()


def plot_fit(result: FitResult, ax: Axes | None = None) -> Figure:
    """Observed outcome against the posterior predictive mean with its HDI band.

    Parameters
    ----------
    result : FitResult
        The fit.
    ax : matplotlib.axes.Axes, optional
        Axes to draw into; a new figure by default.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = one_axes(ax)
    prob, sc = result.config.hdi_prob, result.scalers
    dates = _dates(result)
    if "posterior_predictive" in result.idata.children:
        predictive = result.idata["posterior_predictive"].to_dataset()
        if NATIONAL_OUTCOME in predictive:  # a geo fit's: summed over geos, outcome units
            pred = predictive[NATIONAL_OUTCOME]
        else:
            pred = predictive["y"] * sc.y_scale
        if "geo" in pred.dims:  # per capita (date, geo): back to outcome units, summed
            pop = np.array([sc.population[g] for g in sc.geos])
            pred = (pred * xr.DataArray(pop, dims="geo", coords={"geo": sc.geos})).sum("geo")
        label = "posterior predictive"
    else:
        media = national_draws(result, "channel_contribution").sum("channel")
        pred = national_draws(result, "baseline") + media
        label = "expected outcome"
    summary = metrics.summarize_draws(pred, prob, ["chain", "draw"])
    ax.fill_between(
        dates,
        summary["hdi_low"],
        summary["hdi_high"],
        alpha=0.3,
        color="C0",
        label=f"{prob:.0%} HDI",
    )
    ax.plot(dates, summary["mean"], color="C0", label=f"{label} mean")
    ax.plot(dates, _observed(result), color="k", lw=1, label="observed")
    r2 = result.diagnostics().r2
    ax.set(title=f"Fit: observed vs predicted (R² {r2:.3f})", ylabel=_outcome_label(result))
    ax.legend(loc="upper left")
    return fig


def plot_contributions(result: FitResult, ax: Axes | None = None) -> Figure:
    """Baseline and channel contributions stacked over time (posterior means), with the outcome.

    Parameters
    ----------
    result : FitResult
        The fit.
    ax : matplotlib.axes.Axes, optional
        Axes to draw into; a new figure by default.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = one_axes(ax)
    table = metrics.contributions_over_time(result)
    wide = table.pivot(index="date", columns="component", values="mean")
    organic = result.config.organic_names
    order = ["baseline", *result.channels, *organic]
    colors = ["0.75", *(f"C{j}" for j in range(len(order) - 1))]
    # organic media are hatched and labelled: they contribute but have no spend (no ROAS)
    labels = ["baseline", *result.channels, *(f"{c} (organic)" for c in organic)]
    areas = ax.stackplot(
        wide.index,
        *(wide[c].to_numpy() for c in order),
        labels=labels,
        colors=colors,
        alpha=0.85,
    )
    for area in areas[len(order) - len(organic) :]:
        area.set_hatch("//")
    ax.plot(_dates(result), _observed(result), color="k", lw=1, label="observed")
    ax.set(title="Contributions over time (posterior mean)", ylabel=_outcome_label(result))
    ax.legend(loc="upper left", ncols=min(len(order) + 1, 5))
    return fig


def plot_roas(result: FitResult, ax: Axes | None = None, marginal: bool = True) -> Figure:
    """Forest plot of ROAS per channel with HDIs, and marginal ROAS beside it.

    Parameters
    ----------
    result : FitResult
        The fit.
    ax : matplotlib.axes.Axes, optional
        Axes to draw into; a new figure by default.
    marginal : bool, default True
        Also draw marginal ROAS (spend x 1.01) per channel.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = one_axes(ax, (8, 1.0 + 0.8 * len(result.channels)))
    rows = {"ROAS": metrics.roas(result)}
    if marginal:
        rows["marginal ROAS"] = metrics.marginal_roas(result)
    y = np.arange(len(result.channels))
    for k, (label, table) in enumerate(rows.items()):
        offset = 0.15 * (k - (len(rows) - 1) / 2)
        ax.hlines(y + offset, table["hdi_low"], table["hdi_high"], color=f"C{k}", lw=2)
        ax.plot(table["mean"], y + offset, "o", color=f"C{k}", label=label)
    ax.axvline(1.0, color="0.5", ls="--", lw=1, label="1 (outcome = spend)")
    ax.set_yticks(y, result.channels)
    ax.invert_yaxis()
    ax.set(
        title=f"Return on ad spend, mean and {result.config.hdi_prob:.0%} HDI",
        xlabel=f"{_outcome_label(result)} per unit of spend",
    )
    ax.legend(loc="best")
    return fig


def plot_response_curves(
    result: FitResult,
    ax: Axes | None = None,
    curves: ResponseCurves | None = None,
) -> Figure:
    """Steady-state response curves per channel with HDI bands, current spend marked.

    Parameters
    ----------
    result : FitResult
        The fit.
    ax : matplotlib.axes.Axes, optional
        Axes to draw into; a new figure by default.
    curves : ResponseCurves, optional
        Precomputed :func:`mediamix.analysis.scenarios.response_curves`; computed here otherwise.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = one_axes(ax)
    curves = curves or response_curves(result)
    for j, ch in enumerate(result.channels):
        c = curves.curves[curves.curves["channel"] == ch]
        ax.fill_between(c["spend"], c["hdi_low"], c["hdi_high"], color=f"C{j}", alpha=0.25)
        ax.plot(c["spend"], c["mean"], color=f"C{j}", label=ch)
        now = curves.current.loc[ch]
        ax.plot(now["spend"], now["mean"], "o", color=f"C{j}", mec="k")
    ax.plot([], [], "o", color="0.6", mec="k", label="current spend")
    ax.set(
        title=f"Response curves (steady state, {curves.hdi_prob:.0%} HDI)",
        xlabel="spend per period",
        ylabel=f"incremental {_outcome_label(result)} per period",
    )
    ax.legend(loc="upper left")
    return fig


def plot_budget(allocation: Allocation, ax: Axes | None = None) -> Figure:
    """Current against optimised spend per channel, with the expected lift in the title.

    Parameters
    ----------
    allocation : Allocation
        From :func:`mediamix.analysis.optimize.optimize_budget`.
    ax : matplotlib.axes.Axes, optional
        Axes to draw into; a new figure by default.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = one_axes(ax, (9, 4.5))
    names = list(allocation.allocation.index)
    x = np.arange(len(names))
    ax.bar(x - 0.2, allocation.current.to_numpy(), 0.4, label="current", color="0.6")
    ax.bar(x + 0.2, allocation.allocation.to_numpy(), 0.4, label="optimised", color="C0")
    lo, hi = allocation.lower.to_numpy(), allocation.upper.to_numpy()
    bounded = hi < allocation.budget
    ax.errorbar(
        x[bounded] + 0.2,
        (lo[bounded] + hi[bounded]) / 2,
        yerr=(hi[bounded] - lo[bounded]) / 2,
        fmt="none",
        ecolor="k",
        capsize=4,
        label="bounds" if bounded.any() else None,
    )
    ax.set_xticks(x, names)
    lift, e = allocation.lift, allocation.expected_outcome
    ax.set(
        title=(
            f"Budget {allocation.budget:,.0f} per period: expected outcome {e.mean:,.0f} "
            f"(lift {lift.mean:+,.0f}, P(lift > 0) = {allocation.p_lift_positive:.2f})"
        ),
        ylabel="spend per period",
    )
    ax.legend(loc="best")
    return fig


def _parameter_names(result: FitResult, parameters: Sequence[str] | None) -> list[str]:
    where = channel_parameters(result.config)
    known = list(dict.fromkeys(p for params in where.values() for p in params))
    chosen = list(parameters) if parameters is not None else known
    unknown = [p for p in chosen if p not in known]
    if unknown or not chosen:
        raise MediamixError(f"parameters must be among {known}, got {chosen}")
    return chosen


def _channel_draws(
    result: FitResult, values: dict[str, np.ndarray], name: str
) -> dict[str, np.ndarray]:
    """Draws of one channel parameter per channel from ``{var: (draw, group member)}``."""
    model_dims = {g.dim: list(g.channels) for g in parameter_groups(result.config)}
    out = {}
    for ch, params in channel_parameters(result.config).items():
        if name in params:
            var, dim = params[name]
            out[ch] = values[var][:, model_dims[dim].index(ch)] if dim else values[var]
    return out


def plot_prior_posterior(
    result: FitResult,
    ax: AxesArg = None,
    parameters: Sequence[str] | None = None,
    n_prior: int = 2000,
    seed: int = 0,
) -> Figure:
    """Prior against posterior of each channel parameter (adstock, saturation, beta).

    Prior draws come from the model's priors (``pymc.sample_prior_predictive``); the posterior is
    the fit's. One panel per parameter, one colour per channel: dashed prior, solid posterior.

    Parameters
    ----------
    result : FitResult
        The fit.
    ax : Axes or sequence of Axes, optional
        One axes per parameter; a new figure by default.
    parameters : sequence of str, optional
        Which parameters (``adstock_alpha``, ``saturation_lam``, ``beta``, ...); all by default.
    n_prior : int, default 2000
        Prior draws.
    seed : int, default 0
        Seed of the prior draws.

    Returns
    -------
    matplotlib.figure.Figure
    """
    names = _parameter_names(result, parameters)
    fig, axes = _many_axes(ax, names)
    where = channel_parameters(result.config)
    var_names = sorted({where[ch][p][0] for ch in where for p in names if p in where[ch]})
    prior = pm.sample_prior_predictive(
        draws=n_prior,
        model=result.build_model(),
        var_names=var_names,
        random_seed=seed,
        return_inferencedata=False,
    )
    post = result.posterior
    posterior = {
        v: post[v].transpose("chain", "draw", ...).to_numpy().reshape(-1, *post[v].shape[2:])
        for v in var_names
    }
    for a, name in zip(axes, names, strict=True):
        before = _channel_draws(result, prior, name)
        after = _channel_draws(result, posterior, name)
        for j, ch in enumerate(result.channels):
            if ch not in before:
                continue
            color = f"C{j}"
            a.hist(
                before[ch], bins=50, density=True, histtype="stepfilled", alpha=0.15, color=color
            )
            a.hist(before[ch], bins=50, density=True, histtype="step", ls="--", color=color)
            a.hist(after[ch], bins=40, density=True, histtype="step", lw=1.8, color=color, label=ch)
        a.set(title=f"{name}: prior (dashed) vs posterior (solid)", ylabel="density")
        a.legend(loc="upper right")
    return fig


def plot_trace(
    result: FitResult, ax: AxesArg = None, parameters: Sequence[str] | None = None
) -> Figure:
    """Sampler traces of each channel parameter: draw value by iteration, chains overlaid.

    Parameters
    ----------
    result : FitResult
        The fit.
    ax : Axes or sequence of Axes, optional
        One axes per parameter; a new figure by default.
    parameters : sequence of str, optional
        Which parameters; all channel parameters by default.

    Returns
    -------
    matplotlib.figure.Figure
    """
    names = _parameter_names(result, parameters)
    fig, axes = _many_axes(ax, names)
    post = result.posterior
    where = channel_parameters(result.config)
    for a, name in zip(axes, names, strict=True):
        for j, ch in enumerate(result.channels):
            if name not in where[ch]:
                continue
            var, dim = where[ch][name]
            da = post[var].sel({dim: ch}) if dim else post[var]
            for chain in da["chain"].to_numpy():
                values = da.sel(chain=chain).to_numpy()
                a.plot(values, color=f"C{j}", lw=0.6, alpha=0.7, label=ch if chain == 0 else None)
        a.set(title=f"{name}: trace (chains overlaid)", xlabel="draw")
        a.legend(loc="upper right")
    return fig


def figures_for_fit(result: FitResult, allocation: Allocation | None = None) -> dict[str, Figure]:
    """Every figure of a fit, by name.

    Parameters
    ----------
    result : FitResult
        The fit.
    allocation : Allocation, optional
        A budget allocation of this fit; adds the ``budget`` figure.

    Returns
    -------
    dict of str to matplotlib.figure.Figure
        ``fit``, ``contributions``, ``roas``, ``response_curves``, ``prior_posterior``,
        ``trace`` and, with an allocation, ``budget``. A geo model's: the same national ones
        (summed over geos; no ``budget``), ``roas_by_geo`` and ``response_curves_by_geo``
        (:mod:`mediamix.analysis.geo_plots`).
    """
    if result.scalers.geos:
        from mediamix.analysis.geo_plots import plot_geo_response_curves, plot_roas_by_geo

        return {  # national views (summed over geos), and each geo's
            "fit": plot_fit(result),
            "contributions": plot_contributions(result),
            "roas": plot_roas(result),
            "roas_by_geo": plot_roas_by_geo(result),
            "response_curves": plot_response_curves(result),
            "response_curves_by_geo": plot_geo_response_curves(result),
            "prior_posterior": plot_prior_posterior(result),
            "trace": plot_trace(result),
        }
    figures = {
        "fit": plot_fit(result),
        "contributions": plot_contributions(result),
        "roas": plot_roas(result),
        "response_curves": plot_response_curves(result),
        "prior_posterior": plot_prior_posterior(result),
        "trace": plot_trace(result),
    }
    if allocation is not None:
        figures["budget"] = plot_budget(allocation)
    return figures
