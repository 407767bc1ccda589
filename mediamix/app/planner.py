"""One loaded fit in the planner: its views, and scenarios optimised on request.

A :class:`Planner` holds what stays fixed for a fit (the fit, its compiled steady-state response
and the report's views) and keeps no scenario: each request carries its whole scenario, is
checked here with the command line's own rules (:mod:`mediamix.analysis.constraints`, so the
messages are the CLI's), and gets its answer back. Saved scenarios live in the browser, so two
people planning on the same fit never see each other's scenarios. The compiled response is not
safe to call from two threads at once, so optimisations of one fit take turns under a lock.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from mediamix.analysis.constraints import Bound, BudgetError, check_budget, parse_bounds
from mediamix.analysis.geo_response import steady_state_response
from mediamix.analysis.optimize import OBJECTIVES, Allocation, optimize_budget
from mediamix.inference.fit import FitResult
from mediamix.report.html import render_report
from mediamix.report.views import FitViews, compute_views

__all__ = ["Planner", "Scenario", "clean_json", "parse_scenario"]

_MAX_TEXT = 40  # longest bound or number text a request may send


def clean_json(value: Any) -> Any:
    """NaN and infinities as None, numpy scalars as Python numbers: strict JSON."""
    if isinstance(value, Mapping):
        return {str(k): clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_json(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _text(value: Any, where: str) -> str:
    """A bound side or number from JSON as the text the command line would have received."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise BudgetError(f"{where}: expected an amount or a percentage, got {value!r}"[:200])
    text = str(value).strip()
    if len(text) > _MAX_TEXT:
        raise BudgetError(f"{where}: at most {_MAX_TEXT} characters, got {len(text)}")
    return text


class Scenario:
    """A checked scenario: budget, bounds spec, objective and risk aversion."""

    def __init__(
        self,
        budget: float,
        bounds: dict[str, tuple[Bound, Bound]],
        objective: str,
        risk_aversion: float,
    ) -> None:
        self.budget = budget
        self.bounds = bounds
        self.objective = objective
        self.risk_aversion = risk_aversion


def _bounds_specs(raw: Any, current: pd.Series, organic: Sequence[str] = ()) -> list[str]:
    """``{channel: {min, max, lock}}`` as the CLI's ``CHANNEL=MIN:MAX`` texts."""
    if raw is None:
        return []
    if not isinstance(raw, Mapping):
        raise BudgetError("bounds must be an object {channel: {min, max, lock}}")
    fixed = sorted(set(map(str, raw)) & set(organic))
    if fixed:
        raise BudgetError(
            f"bounds name organic channel(s) {fixed}: organic media have no spend and stay at "
            f"their planned volume; the allocatable channels are {list(current.index)}"
        )
    specs = []
    for name, side in raw.items():
        where = f"bounds for {str(name)[:_MAX_TEXT]}"
        if not isinstance(side, Mapping):
            raise BudgetError(f"{where}: expected {{min, max, lock}}, got {side!r}"[:200])
        if side.get("lock"):
            if name not in current.index:
                raise BudgetError(
                    f"bounds name unknown channel(s) {[name]}; the channels are "
                    f"{list(current.index)}"
                )
            amount = repr(float(current[name]))  # locked: exactly today's spend
            specs.append(f"{name}={amount}:{amount}")
            continue
        low = _text(side.get("min"), f"{where} (min)")
        high = _text(side.get("max"), f"{where} (max)")
        if low or high:
            specs.append(f"{name}={low}:{high}")
    return specs


def parse_scenario(payload: Any, current: pd.Series, organic: Sequence[str] = ()) -> Scenario:
    """Check a scenario request: ``{budget, bounds, objective, risk_aversion}``.

    Parameters
    ----------
    payload : Any
        The request's JSON body.
    current : pandas.Series
        Current spend per period and channel (what a lock holds).
    organic : sequence of str, optional
        The fit's organic channels: fixed, so bounds may not name them.

    Returns
    -------
    Scenario

    Raises
    ------
    BudgetError
        With the command line's message for a bad budget, bound or objective.
    """
    if not isinstance(payload, Mapping):
        raise BudgetError("the scenario must be a JSON object {budget, bounds, objective}")
    unknown = sorted(set(payload) - {"budget", "bounds", "objective", "risk_aversion"})
    if unknown:
        raise BudgetError(
            f"unknown scenario field(s) {unknown}; allowed: budget, bounds, objective, "
            "risk_aversion"
        )
    budget = check_budget(_text(payload.get("budget"), "budget") or None)
    bounds = parse_bounds(_bounds_specs(payload.get("bounds"), current, organic))
    objective = payload.get("objective", "mean")
    if objective not in OBJECTIVES:
        raise BudgetError(f"objective must be one of {list(OBJECTIVES)}, got {objective!r}"[:200])
    text = _text(payload.get("risk_aversion", 1.0), "risk_aversion") or "1"
    try:
        risk = float(text)
    except ValueError:
        raise BudgetError(f"risk_aversion must be a finite number, got {text!r}") from None
    if not math.isfinite(risk) or risk < 0:
        raise BudgetError(f"risk_aversion must be a finite number >= 0, got {text!r}")
    return Scenario(budget, bounds, str(objective), risk)


def allocation_json(allocation: Allocation) -> dict[str, Any]:
    """An allocation for the front end: ``allocation.json`` plus the per-channel table."""
    out = allocation.to_dict()
    table = allocation.table().reset_index()
    out["channels"] = table.to_dict(orient="records")
    out["seconds"] = allocation.seconds
    return clean_json(out)


class Planner:
    """A fit opened in the planner.

    Parameters
    ----------
    result : FitResult
        The fit.
    label : str
        How the fit is named in the page.
    data_source : mapping, optional
        Where its data came from (for the report).
    currency : str, default ""
        Currency symbol for amounts.
    """

    def __init__(
        self,
        result: FitResult,
        label: str,
        *,
        data_source: Mapping[str, str] | None = None,
        currency: str = "",
    ) -> None:
        self.result = result
        self.label = label
        self.response = steady_state_response(result)  # national for a geo fit too
        self._lock = threading.Lock()
        with self._lock:
            self.views: FitViews = compute_views(
                result, data_source=data_source, currency=currency, response=self.response
            )
            # compiled now, so no user waits for it: the views compiled the mean objective
            self.response.objective("risk-aware")
        self._report: str | None = None
        self.overview = clean_json(_overview(self.views, label) | _media_kinds(result, self.views))

    def optimize(self, payload: Any) -> dict[str, Any]:
        """Optimise the scenario in ``payload`` (see :func:`parse_scenario`)."""
        organic = self.result.config.organic_names
        scenario = parse_scenario(payload, self.views.recommendation.current, organic)
        with self._lock:
            allocation = optimize_budget(
                self.result,
                scenario.budget,
                bounds=scenario.bounds,
                objective=scenario.objective,  # type: ignore[arg-type]
                risk_aversion=scenario.risk_aversion,
                response=self.response,
            )
        return allocation_json(allocation)

    def report(self) -> str:
        """The fit's HTML report, rendered on first request."""
        with self._lock:
            if self._report is None:
                self._report = render_report(self.result, views=self.views)
            return self._report


def _media_kinds(result: FitResult, views: FitViews) -> dict[str, Any]:
    """Which paid channels are modeled on an exposure metric, and the fixed organic channels.

    An exposure channel's budget is still currency (its spend column): the optimizer maps spend
    to exposure at the average cost per exposure. Organic channels have no spend: the page shows
    them, with their volume and share of the outcome, but they are not allocatable.
    """
    cfg, frame = result.config, result.frame
    exposure = {
        ch: {"exposure": e, "spend": s, "cost_per_exposure": result.scalers.cost_per_exposure[ch]}
        for ch, (e, s) in cfg.exposure_channels.items()
    }
    organic = []
    for ch in cfg.organic_names:
        row = views.decomposition.loc[ch, ["share", "share_hdi_low", "share_hdi_high"]]
        mean, low, high = (float(v) for v in row.to_numpy(dtype=float))
        organic.append(
            {
                "name": ch,
                "volume": float(frame[ch].mean()),  # per period, in the column's own units
                "share": {"mean": mean, "hdi_low": low, "hdi_high": high},
                "fixed": True,
            }
        )
    return {"exposure_channels": exposure, "organic_channels": organic}


def _interval(row: pd.Series, prefix: str) -> dict[str, float]:
    return {k: float(row[f"{prefix}_{k}"]) for k in ("mean", "hdi_low", "hdi_high")}


def _overview(views: FitViews, label: str) -> dict[str, Any]:
    """What the page shows before any scenario: headline, curves, recommendation, verdict."""
    channels = []
    at_current = views.curves.current["mean"].to_dict()
    for ch, row in views.headline.iterrows():
        c = views.curves.curves[views.curves.curves["channel"] == ch]
        channels.append(
            {
                "name": ch,
                "spend": float(row["spend"]),
                "roas": _interval(row, "roas"),
                "mroas": _interval(row, "mroas"),
                "share": _interval(row, "share"),
                "curve": {k: c[k].tolist() for k in ("spend", "mean", "hdi_low", "hdi_high")},
                "current_response": float(at_current[ch]),
            }
        )
    level, text = views.verdict
    return {
        "label": label,
        "units": views.units.to_dict(),
        "hdi_prob": views.hdi_prob,
        "channels": channels,
        "current_budget": float(views.recommendation.budget),
        "recommendation": allocation_json(views.recommendation),
        "verdict": {"level": level, "text": text},
        "diagnostics": views.diagnostics.to_dict(),
        "data": views.data,
    }
