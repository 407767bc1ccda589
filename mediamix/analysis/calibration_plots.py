"""Figures of a calibration: ROAS before and after lift tests, predicted against measured lift.

Like :mod:`mediamix.analysis.plots`, each function takes ``ax=None`` (a new figure is made) or
the axes to draw into, and returns the :class:`~matplotlib.figure.Figure`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from mediamix.analysis.axes import one_axes

__all__ = ["plot_lift_tests", "plot_roas_before_after"]


def plot_roas_before_after(
    before: pd.DataFrame,
    after: pd.DataFrame,
    truth: Mapping[str, float] | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Each channel's ROAS mean and HDI from two fits, side by side.

    Parameters
    ----------
    before, after : pandas.DataFrame
        :func:`mediamix.analysis.metrics.roas` of the fit without and with lift tests.
    truth : mapping, optional
        The true ROAS per channel (synthetic data), drawn as a marker.
    ax : matplotlib.axes.Axes, optional
        Where to draw.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = one_axes(ax)
    channels = list(before.index)
    y = np.arange(len(channels))
    for offset, (label, table, color) in enumerate(
        [("without lift tests", before, "#9e9e9e"), ("with lift tests", after, "#1f77b4")]
    ):
        rows = table.loc[channels]
        pos = y + (0.18 if offset else -0.18)
        err = [rows["mean"] - rows["hdi_low"], rows["hdi_high"] - rows["mean"]]
        ax.errorbar(rows["mean"], pos, xerr=err, fmt="o", color=color, capsize=3, label=label)
    if truth is not None:
        ax.scatter([truth[c] for c in channels], y, marker="x", color="k", zorder=3, label="truth")
    ax.set_yticks(y, channels)
    ax.set_xlabel("ROAS (mean and HDI)")
    ax.set_title("ROAS before and after calibration")
    ax.legend(loc="best")
    return fig


def plot_lift_tests(calibration: Mapping[str, Any], ax: Axes | None = None) -> Figure:
    """Each lift test's measured lift (± 2 standard errors) against the fit's prediction.

    Parameters
    ----------
    calibration : mapping
        The ``calibration`` section of a summary
        (:func:`mediamix.analysis.calibration.calibration_summary`).
    ax : matplotlib.axes.Axes, optional
        Where to draw.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = one_axes(ax, figsize=(6, 6))
    tests = calibration["tests"]
    measured = np.array([t["lift"] for t in tests])
    se = np.array([t["lift_se"] for t in tests])
    mean = np.array([t["predicted"]["mean"] for t in tests])
    low = np.array([t["predicted"]["hdi_low"] for t in tests])
    high = np.array([t["predicted"]["hdi_high"] for t in tests])
    ax.errorbar(measured, mean, xerr=2 * se, yerr=[mean - low, high - mean], fmt="o", capsize=3)
    for t, x, y in zip(tests, measured, mean, strict=True):
        ax.annotate(f"{t['channel']} {t['start_date']}", (x, y), fontsize=8)
    span = [min(measured.min(), low.min()), max(measured.max(), high.max())]
    ax.plot(span, span, color="k", lw=0.8, ls="--", label="predicted = measured")
    ax.set_xlabel("measured lift (± 2 SE)")
    ax.set_ylabel("predicted lift (mean and HDI)")
    ax.set_title("Lift tests: predicted against measured")
    ax.legend(loc="best")
    return fig
