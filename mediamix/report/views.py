"""What the report and the planner show of a fit, computed once from the package's own analysis.

:func:`compute_views` gathers the headline ROAS and marginal ROAS, the decomposition, the
response curves, the optimizer's recommendation (current total budget, each channel within
±30 % of its current spend, as in the notebook) and the diagnostics with a plain-language
verdict. Nothing here recomputes a formula: every number comes from :mod:`mediamix.analysis`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd
import yaml

from mediamix.analysis import metrics
from mediamix.analysis.constraints import BoundsSpec
from mediamix.analysis.geo_response import current_spend_of, steady_state_response
from mediamix.analysis.optimize import Allocation, optimize_budget
from mediamix.analysis.response import SteadyStateResponse
from mediamix.analysis.scenarios import ResponseCurves, response_curves
from mediamix.inference.diagnostics import Diagnostics
from mediamix.inference.fit import FitResult
from mediamix.report.format import Units, fmt_number, period_of

__all__ = ["DEFAULT_BOUNDS", "FitViews", "compute_views", "verdict"]

#: The recommendation's bounds: the notebook's default, each channel within ±30 % of today.
DEFAULT_BOUNDS: BoundsSpec = {"*": ("-30%", "+30%")}


def verdict(diag: Diagnostics) -> tuple[str, str]:
    """A plain-language verdict on a fit's diagnostics.

    Returns
    -------
    (level, text)
        ``level`` is ``good`` (converged and a close fit), ``caution`` (converged, loose fit)
        or ``bad`` (not converged: the numbers should not be acted on).
    """
    fit_text = (
        f"The model explains {diag.r2:.1%} of the outcome's variation over time "
        f"(R² {diag.r2:.3f}); its predictions are off by {diag.mape:.1f} % on average."
    )
    if not diag.converged:
        return "bad", (
            "Do not act on these numbers yet: the sampler did not converge ("
            + "; ".join(diag.problems)
            + "). Refit with more tuning and draws, or revisit the priors. "
            + fit_text
        )
    checks = (
        f"every convergence check passed (max R-hat {diag.r_hat_max:.3f}, "
        f"min effective sample size {fmt_number(diag.ess_bulk_min)}, "
        f"{diag.divergences} divergent transitions)"
    )
    if math.isfinite(diag.r2) and diag.r2 >= 0.8:
        return "good", f"The fit can be trusted: {checks}. {fit_text}"
    return "caution", (
        f"The sampler converged ({checks}), but the model leaves much of the outcome "
        f"unexplained. {fit_text} Read the channel numbers with their intervals."
    )


@dataclass(frozen=True)
class FitViews:
    """Everything the report and the planner show of one fit.

    Attributes
    ----------
    units : Units
        Currency, outcome name and period.
    headline : pandas.DataFrame
        Index ``channel``: ``spend`` (current, per period), ``roas_*``, ``mroas_*`` and
        ``share_*`` (each ``mean``, ``hdi_low``, ``hdi_high``).
    decomposition : pandas.DataFrame
        :func:`mediamix.analysis.metrics.decomposition` over the whole data range.
    curves : ResponseCurves
        Steady-state response curves with current spend marked.
    recommendation : Allocation
        The optimizer's split of the current total budget within :data:`DEFAULT_BOUNDS`.
    diagnostics : Diagnostics
        Sampling and fit-quality diagnostics.
    data : dict
        ``rows``, ``start``, ``end``, ``channels`` and the data source (table and version, or
        file and hash) when known.
    config_yaml : str
        The model config as YAML.
    hdi_prob : float
        Probability mass of every interval.
    """

    units: Units
    headline: pd.DataFrame
    decomposition: pd.DataFrame
    curves: ResponseCurves
    recommendation: Allocation
    diagnostics: Diagnostics
    data: dict[str, str]
    config_yaml: str
    hdi_prob: float

    @property
    def verdict(self) -> tuple[str, str]:
        """See :func:`verdict`."""
        return verdict(self.diagnostics)


def _headline(result: FitResult, current: pd.Series) -> pd.DataFrame:
    """Per channel: current spend per period, ROAS, marginal ROAS and contribution share."""
    roas = metrics.roas(result).drop(columns="spend").add_prefix("roas_")
    mroas = metrics.marginal_roas(result).drop(columns="spend").add_prefix("mroas_")
    share = metrics.decomposition(result).loc[result.channels]
    share = share[["share", "share_hdi_low", "share_hdi_high"]].rename(
        columns={"share": "share_mean"}
    )
    out = pd.concat([current.rename("spend"), roas, mroas, share], axis=1)
    out.index.name = "channel"
    return out


def _data_facts(result: FitResult, source: Mapping[str, str] | None) -> dict[str, str]:
    dates = pd.to_datetime(result.frame["date"])
    facts = {
        "rows": str(len(result.frame)),
        "start": f"{dates.min():%Y-%m-%d}",
        "end": f"{dates.max():%Y-%m-%d}",
        "channels": ", ".join(result.channels),
    }
    facts.update({f"source.{k}": str(v) for k, v in (source or {}).items()})
    return facts


def compute_views(
    result: FitResult,
    *,
    data_source: Mapping[str, str] | None = None,
    currency: str = "",
    response: SteadyStateResponse | None = None,
) -> FitViews:
    """Compute what the report and the planner show of a fit.

    Parameters
    ----------
    result : FitResult
        The fit.
    data_source : mapping, optional
        Where the data came from (``kind``, ``table`` and ``version``, or ``path`` and
        ``sha256``), as recorded by :func:`mediamix.mlops.provenance.describe_data_source`.
    currency : str, default ""
        Currency symbol put in front of amounts.
    response : SteadyStateResponse, optional
        A compiled response of this fit to reuse (the planner keeps one per fit).

    Returns
    -------
    FitViews
    """
    response = response or steady_state_response(result)  # national for a geo fit too
    current = current_spend_of(result)
    recommendation = optimize_budget(
        result, float(current.sum()), bounds=DEFAULT_BOUNDS, response=response
    )
    units = Units(result.config.outcome.name, period_of(result.frame["date"]), currency)
    return FitViews(
        units=units,
        headline=_headline(result, current),
        decomposition=metrics.decomposition(result),
        curves=response_curves(result, response=response),
        recommendation=recommendation,
        diagnostics=result.diagnostics(),
        data=_data_facts(result, data_source),
        config_yaml=yaml.safe_dump(result.config.model_dump(mode="json"), sort_keys=False),
        hdi_prob=result.config.hdi_prob,
    )
