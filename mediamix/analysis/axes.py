"""Where a figure is drawn: new axes of their own, or axes the caller gives (in any figure)."""

from __future__ import annotations

from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure

__all__ = ["figure_of", "one_axes"]


def figure_of(ax: Axes) -> Figure:
    """The figure that holds ``ax``, climbing out of any sub-figures."""
    fig: Any = ax.figure
    while not isinstance(fig, Figure):  # a SubFigure: climb to the figure that holds it
        fig = fig.figure
    return fig


def one_axes(ax: Axes | None, figsize: tuple[float, float] = (10, 4.5)) -> tuple[Figure, Axes]:
    """``ax`` and its figure, or a new figure of ``figsize`` with one axes."""
    if ax is None:
        fig = Figure(figsize=figsize, layout="constrained")
        return fig, fig.add_subplot()
    return figure_of(ax), ax
