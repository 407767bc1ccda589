"""The ``summary.json`` of a fit: per-channel ROAS, contribution shares, parameters, diagnostics."""

from __future__ import annotations

from typing import Any

import arviz_stats as azs
import xarray as xr

from mediamix.inference.fit import FitResult
from mediamix.model.builder import channel_parameters

__all__ = ["contribution_share_draws", "fit_summary", "roas_draws"]


def _interval(draws: xr.DataArray, prob: float) -> dict[str, float]:
    hdi = azs.hdi(draws, prob=prob)
    return {
        "mean": float(draws.mean()),
        "hdi_low": float(hdi.sel(ci_bound="lower")),
        "hdi_high": float(hdi.sel(ci_bound="upper")),
    }


def roas_draws(result: FitResult) -> xr.DataArray:
    """Posterior draws of ROAS per channel: total contribution / total spend, original units."""
    contrib = result.posterior["channel_contribution"].sum("date")
    spend = xr.DataArray(
        result.frame[result.channels].sum().to_numpy(),
        dims="channel",
        coords={"channel": result.channels},
    )
    return contrib / spend


def contribution_share_draws(result: FitResult) -> xr.DataArray:
    """Posterior draws of each channel's share of the predicted outcome over the window."""
    post = result.posterior
    contrib = post["channel_contribution"].sum("date")
    total = post["baseline"].sum("date") + contrib.sum("channel")
    return contrib / total


def fit_summary(result: FitResult) -> dict[str, Any]:
    """Build the ``summary.json`` mapping for a fit.

    Returns
    -------
    dict
        ``{"hdi_prob", "channels": {NAME: {"roas", "contribution_share", "params"}},
        "diagnostics": {...}}``, each interval as ``{"mean", "hdi_low", "hdi_high"}``.
    """
    prob = result.config.hdi_prob
    roas, share = roas_draws(result), contribution_share_draws(result)
    post = result.posterior
    channels: dict[str, Any] = {}
    for ch, params in channel_parameters(result.config).items():
        channels[ch] = {
            "roas": _interval(roas.sel(channel=ch), prob),
            "contribution_share": _interval(share.sel(channel=ch), prob),
            "params": {
                name: _interval(post[var].sel({dim: ch}) if dim else post[var], prob)
                for name, (var, dim) in params.items()
            },
        }
    diag = result.diagnostics().to_dict()
    diag["fit_seconds"] = result.timings.get("fit_seconds", float("nan"))
    diag["sampler"] = result.config.sampler.sampler
    return {"hdi_prob": prob, "channels": channels, "diagnostics": diag}
