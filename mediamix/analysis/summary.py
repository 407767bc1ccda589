"""The ``summary.json`` of a fit: per-channel ROAS, contribution shares, parameters, diagnostics.

The ROAS and shares are those of :mod:`mediamix.analysis.metrics` over the whole data range, so
the summary, the MLflow metrics and :func:`~mediamix.analysis.metrics.roas` always agree.
"""

from __future__ import annotations

from typing import Any

from mediamix.analysis.calibration import calibration_summary
from mediamix.analysis.metrics import (
    contribution_share_draws,
    geo_contribution_share_draws,
    geo_roas_draws,
    interval,
    roas_draws,
)
from mediamix.inference.fit import FitResult
from mediamix.model.builder import channel_parameters

__all__ = ["fit_summary"]


def fit_summary(result: FitResult) -> dict[str, Any]:
    """Build the ``summary.json`` mapping for a fit.

    Returns
    -------
    dict
        ``{"hdi_prob", "channels": {NAME: {"roas", "contribution_share", "params"}},
        "diagnostics": {...}}``, each interval as ``{"mean", "hdi_low", "hdi_high"}``; a model
        with organic channels adds ``"organic": {NAME: {"contribution_share", "params"}}``, a
        fit calibrated with lift tests ``"calibration"`` (:mod:`mediamix.analysis.calibration`).
        The channels of a geo model are national (summed over geos); it adds ``"geos": {GEO:
        {"population", "channels": {NAME: {"roas", "mroas", "contribution_share", "beta"}}}}``
        (``mroas``: marginal ROAS, :mod:`mediamix.analysis.geo_marginal`), each an
        interval like the national ones (``{"mean", "hdi_low", "hdi_high"}``).
    """
    prob = result.config.hdi_prob
    roas, share = roas_draws(result), contribution_share_draws(result)
    post = result.posterior
    channels: dict[str, Any] = {}
    for ch, params in channel_parameters(result.config).items():
        channels[ch] = {
            "roas": interval(roas.sel(channel=ch), prob).to_dict(),
            "contribution_share": interval(share.sel(component=ch), prob).to_dict(),
            "params": {
                name: interval(post[var].sel({dim: ch}) if dim else post[var], prob).to_dict()
                for name, (var, dim) in params.items()
            },
        }
    # organic media have no spend: contribution share and parameters, no ROAS
    organic: dict[str, Any] = {}
    for ch, params in channel_parameters(result.config, organic=True).items():
        organic[ch] = {
            "contribution_share": interval(share.sel(component=ch), prob).to_dict(),
            "params": {
                name: interval(post[var].sel({dim: ch}) if dim else post[var], prob).to_dict()
                for name, (var, dim) in params.items()
            },
        }
    diag = result.diagnostics().to_dict()
    diag["fit_seconds"] = result.timings.get("fit_seconds", float("nan"))
    diag["sampler"] = result.config.sampler.sampler
    diag["target_accept"] = result.config.sampler.target_accept
    # why the sampler ran twice, if it did (divergences at the configured target_accept)
    diag["target_accept_escalation"] = result.idata.attrs.get("target_accept_escalation")
    out: dict[str, Any] = {"hdi_prob": prob, "channels": channels, "diagnostics": diag}
    if organic:
        out["organic"] = organic
    calibration = calibration_summary(result)  # lift tests vs the fit, when calibrated
    if calibration is not None:
        out["calibration"] = calibration
    if result.scalers.geos:
        out["geos"] = _geo_section(result)
    return out


def _geo_section(result: FitResult) -> dict[str, Any]:
    """Each geo's population and per-channel ROAS, marginal ROAS, share and effect ``beta``."""
    from mediamix.analysis.geo_marginal import geo_marginal_ratio_draws

    prob = result.config.hdi_prob
    roas, share = geo_roas_draws(result), geo_contribution_share_draws(result)
    mroas, _ = geo_marginal_ratio_draws(result)
    beta = result.posterior["beta_geo"]
    out: dict[str, Any] = {}
    for geo in result.scalers.geos:
        channels: dict[str, Any] = {}
        for ch in result.channels:
            channels[ch] = {
                "roas": interval(roas.sel(geo=geo, channel=ch), prob).to_dict(),
                "mroas": interval(mroas.sel(geo=geo, channel=ch), prob).to_dict(),
                "contribution_share": interval(share.sel(geo=geo, component=ch), prob).to_dict(),
                "beta": interval(beta.sel(geo=geo, channel=ch), prob).to_dict(),
            }
        out[geo] = {"population": result.scalers.population[geo], "channels": channels}
    return out
