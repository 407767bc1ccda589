"""The one-page HTML report of a fit: one self-contained file, nothing fetched when opened.

Charts are the package's matplotlib figures (:mod:`mediamix.analysis.plots`) embedded as SVG data
URIs in ``<img>`` tags, so the file needs no network and an SVG can never run script in the page.
The page is a Jinja2 template with autoescaping: channel names, config values and data-source
names are escaped wherever they appear.
"""

from __future__ import annotations

import base64
import io
import logging
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2

from mediamix.analysis import plots
from mediamix.inference.fit import FitResult
from mediamix.report.format import fmt_number, fmt_percent
from mediamix.report.views import DEFAULT_BOUNDS, FitViews, compute_views

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["SECTIONS", "figure_data_uri", "log_report", "render_report", "write_report"]

log = logging.getLogger(__name__)

#: The report's sections, by element id and heading, in page order.
SECTIONS: dict[str, str] = {
    "headline": "Return on ad spend",
    "contributions": "Where the outcome came from",
    "fit": "Fitted vs actual",
    "curves": "Response curves",
    "recommendation": "Recommended budget",
    "diagnostics": "Diagnostics",
    "data": "Data source",
    "config": "Model configuration",
}

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("mediamix.report", "templates"),
    autoescape=True,  # every value from data or config is escaped, the template's own .j2 too
    undefined=jinja2.StrictUndefined,  # a misspelt name fails the render instead of going blank
    trim_blocks=True,
    lstrip_blocks=True,
)


def figure_data_uri(fig: Figure) -> str:
    """A figure as an SVG ``data:`` URI (text kept as text, so the file stays small)."""
    import matplotlib

    buf = io.BytesIO()
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        fig.savefig(buf, format="svg", bbox_inches="tight")
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _charts(result: FitResult, views: FitViews) -> dict[str, str]:
    figures = {
        "roas": plots.plot_roas(result),
        "contributions": plots.plot_contributions(result),
        "fit": plots.plot_fit(result),
        "curves": plots.plot_response_curves(result, curves=views.curves),
        "budget": plots.plot_budget(views.recommendation),
    }
    return {name: figure_data_uri(fig) for name, fig in figures.items()}


def _context(views: FitViews, title: str, charts: Mapping[str, str]) -> dict[str, Any]:
    rec = views.recommendation
    level, text = views.verdict
    bounds = ", ".join(f"{k} {lo}..{hi}" for k, (lo, hi) in DEFAULT_BOUNDS.items())
    return {
        "title": title,
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "u": views.units,
        "prob": f"{views.hdi_prob:.0%}",
        "headline": views.headline,
        "decomposition": views.decomposition,
        "rec": rec,
        "rec_table": rec.table(),
        "rec_bounds": bounds.replace("* ", "every channel "),
        "level": level,
        "verdict": text,
        "diag": views.diagnostics,
        "data": views.data,
        "config_yaml": views.config_yaml,
        "charts": charts,
        "sections": SECTIONS,
        "num": fmt_number,
        "pct": fmt_percent,
    }


def render_report(
    result: FitResult,
    *,
    views: FitViews | None = None,
    data_source: Mapping[str, str] | None = None,
    title: str | None = None,
    currency: str = "",
) -> str:
    """Render a fit's one-page report as HTML text.

    Parameters
    ----------
    result : FitResult
        The fit.
    views : FitViews, optional
        :func:`~mediamix.report.views.compute_views` of this fit, if already computed.
    data_source : mapping, optional
        Where the data came from (shown in the report's data section).
    title : str, optional
        Page title; ``Media mix report: <outcome>`` by default.
    currency : str, default ""
        Currency symbol put in front of amounts.

    Returns
    -------
    str
        A complete HTML document.
    """
    views = views or compute_views(result, data_source=data_source, currency=currency)
    title = title or f"Media mix report: {result.config.outcome.name}"
    charts = _charts(result, views)
    return _ENV.get_template("report.html.j2").render(_context(views, title, charts))


def write_report(result: FitResult, path: str | os.PathLike[str], **kwargs: Any) -> Path:
    """Render the report (:func:`render_report` with ``kwargs``) and write it to ``path``.

    The file is written under a temporary name and renamed, so a failed render never leaves a
    half-written report.

    Returns
    -------
    Path
        The written file.
    """
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    html = render_report(result, **kwargs)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(out)
    return out


def log_report(result: FitResult, data_source: Mapping[str, str] | None = None) -> bool:
    """Log the report as ``report.html`` in the active MLflow run (what tracking calls).

    A report that cannot be rendered must not fail the run, which already holds the fit: the
    error goes to the log and to the run's tag ``mediamix.report_error`` instead.

    Returns
    -------
    bool
        Whether the report was logged.
    """
    import mlflow

    try:
        html = render_report(result, data_source=data_source or None)
    except Exception as exc:
        log.warning("could not render the fit's report: %s", exc, exc_info=True)
        mlflow.set_tag("mediamix.report_error", f"{type(exc).__name__}: {exc}"[:500])
        return False
    mlflow.log_text(html, "report.html")
    return True
