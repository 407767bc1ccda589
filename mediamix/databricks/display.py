"""What the data-generation notebook shows: the true parameters table and a plot of the data.

Pandas and matplotlib load when these are called, not when the module is imported, so a
notebook can read its parameters first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from mediamix.data.generator import GroundTruth

__all__ = ["format_number", "plot_data", "truth_table"]


def format_number(value: float) -> str:
    """A number for a notebook table: 4 significant digits, thousands separated."""
    return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"


def truth_table(truth: GroundTruth) -> pd.DataFrame:
    """The true parameters, spend and ROAS of each channel of a synthetic data set.

    Parameters
    ----------
    truth : GroundTruth
        From :meth:`mediamix.data.generator.Generator.generate`.

    Returns
    -------
    pandas.DataFrame
        Index ``channel``; the channel's parameters (``adstock_alpha``, ``saturation_lam``,
        ``beta``, ...), ``spend_total``, ``contribution_total`` and the true ``roas``.
    """
    import pandas as pd

    rows = {
        name: {**ch["params"], **{k: ch[k] for k in ("spend_total", "contribution_total", "roas")}}
        for name, ch in truth.to_dict()["channels"].items()
    }
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "channel"
    return out


def plot_data(frame: pd.DataFrame, channels: list[str], outcome: str) -> Figure:
    """Spend per channel (top) and the outcome (bottom) over time.

    Parameters
    ----------
    frame : pandas.DataFrame
        A modeling frame: ``date``, the channels' spend, the outcome.
    channels : list of str
        Spend columns.
    outcome : str
        The outcome column.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 6), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True)
    for ch in channels:
        top.plot(frame["date"], frame[ch], label=ch, lw=1.2)
    top.set(title="Spend per period", ylabel="spend")
    top.legend(loc="upper left")
    bottom.plot(frame["date"], frame[outcome], color="black", lw=1.2)
    bottom.set(title=f"Outcome: {outcome}", ylabel=outcome, xlabel="date")
    return fig
