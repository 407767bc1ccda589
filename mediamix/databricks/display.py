"""What the data-generation notebook shows: the true parameters table and a plot of the data.

A generator config with ``geos:`` gives geo data (one row per date and geo,
:func:`~mediamix.data.geo_generator.generate_geos`): :func:`generate_data` picks the generator,
the truth table is national, :func:`geo_truth_table` adds each geo's ROAS, and the plot shows
the national sums. Pandas and matplotlib load when these are called, not when the module is
imported, so a notebook can read its parameters first.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from mediamix.data.generator import GroundTruth, SyntheticData
    from mediamix.data.geo_generator import GeoSyntheticData

__all__ = [
    "data_columns",
    "format_number",
    "generate_data",
    "geo_truth_table",
    "geo_views",
    "national_frame",
    "plot_data",
    "truth_table",
]


def generate_data(config: str | Path, seed: int | None = None) -> SyntheticData | GeoSyntheticData:
    """Generate the synthetic data of a generator config: geo data when it has ``geos:``."""
    from mediamix.data.generator import Generator
    from mediamix.data.geo_generator import generate_geos

    generator = Generator.from_config_file(config)
    if getattr(generator.config, "geos", None) is not None:
        return generate_geos(generator, seed=seed)
    return generator.generate(seed=seed)


def data_columns(data: SyntheticData | GeoSyntheticData) -> tuple[list[str], str]:
    """The channels and the outcome of generated data."""
    truth = data.truth
    if isinstance(truth, Mapping):
        return list(truth["channels"]), str(truth["outcome"])
    return [str(c) for c in truth.contributions.columns], str(truth.meta["outcome"])


def national_frame(data: SyntheticData | GeoSyntheticData) -> pd.DataFrame:
    """The data per date: geo data summed over geos (population left out), else as generated."""
    truth = data.truth
    if not isinstance(truth, Mapping):
        return data.data
    drop = [c for c in (truth["geo_column"], truth.get("population_column")) if c]
    return data.data.drop(columns=drop).groupby("date", as_index=False).sum()


def geo_truth_table(truth: Mapping[str, Any]) -> pd.DataFrame:
    """Each geo's population and true ROAS per channel (columns ``roas_<channel>``)."""
    import pandas as pd

    rows = {
        geo: {"population": g["population"]}
        | {f"roas_{ch}": c["roas"] for ch, c in g["channels"].items()}
        for geo, g in truth["geos"].items()
    }
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "geo"
    return out


def format_number(value: float) -> str:
    """A number for a notebook table: 4 significant digits, thousands separated."""
    return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"


def truth_table(truth: GroundTruth | Mapping[str, Any]) -> pd.DataFrame:
    """The true parameters, spend and ROAS of each channel of a synthetic data set.

    Parameters
    ----------
    truth : GroundTruth or mapping
        From :meth:`mediamix.data.generator.Generator.generate`, or geo data's truth (JSON
        form; its channels are national: ROAS = the sum over geos of contributions / of spend).

    Returns
    -------
    pandas.DataFrame
        Index ``channel``; the channel's parameters (``adstock_alpha``, ``saturation_lam``,
        ``beta``, ...), ``spend_total``, ``contribution_total`` and the true ``roas``.
    """
    import pandas as pd

    channels = (truth if isinstance(truth, Mapping) else truth.to_dict())["channels"]
    rows = {
        name: {**ch["params"], **{k: ch[k] for k in ("spend_total", "contribution_total", "roas")}}
        for name, ch in channels.items()
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


def _mean(value: Any) -> float:
    """A summary value: ``{mean, hdi_low, hdi_high}``'s mean, or the number itself."""
    return float(value["mean"] if isinstance(value, Mapping) else value)


def geo_views(result: Any) -> list[tuple[str, Any]]:
    """What the model notebook shows of a geo fit: ROAS per geo and channel, and its figures.

    Parameters
    ----------
    result : FitResult
        Any fit; a fit without geos has no geo views (an empty list).

    Returns
    -------
    list of (title, table or figure)
        The per-geo ROAS and marginal ROAS means from ``summary.json``'s ``geos`` section
        (one row per geo: ``population``, ``roas_<channel>`` and ``mroas_<channel>``), then the
        ROAS-by-geo and response-curves-by-geo figures (:mod:`mediamix.analysis.geo_plots`).
    """
    import pandas as pd

    from mediamix.analysis.geo_plots import plot_geo_response_curves, plot_roas_by_geo
    from mediamix.analysis.geo_response import is_geo_fit
    from mediamix.analysis.summary import fit_summary

    if not is_geo_fit(result):
        return []
    geos = fit_summary(result).get("geos", {})
    rows = {
        geo: {"population": g.get("population")}
        | {f"roas_{ch}": _mean(c["roas"]) for ch, c in g.get("channels", {}).items()}
        | {f"mroas_{ch}": _mean(c["mroas"]) for ch, c in g.get("channels", {}).items()}
        for geo, g in geos.items()
    }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "geo"
    title = "ROAS and marginal ROAS per geo and channel (posterior mean)"
    views: list[tuple[str, Any]] = [(title, table)]
    views.append(("roas_by_geo", plot_roas_by_geo(result)))
    views.append(("response_curves_by_geo", plot_geo_response_curves(result)))
    return views
