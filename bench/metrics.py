"""Fit metrics shared by the runners: convergence, ROAS against the truth, peak memory.

Imported by the mediamix runner (``.venv``), the PyMC-Marketing runner (``.venv-bench``) and the
Meridian runner (``.venv-meridian``, ArviZ 0.x), so it depends only on numpy, xarray and the
parts of ArviZ that both ArviZ generations share, and every library's fit is scored by the same
code.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import arviz as az
import numpy as np
import xarray as xr


def _max(values: Iterable[float]) -> float:
    arr = np.asarray(list(values), dtype=float)
    return float(np.nanmax(arr)) if arr.size else float("nan")


def _min(values: Iterable[float]) -> float:
    arr = np.asarray(list(values), dtype=float)
    return float(np.nanmin(arr)) if arr.size else float("nan")


def convergence(
    posterior: xr.Dataset,
    sample_stats: xr.Dataset,
    free_vars: list[str],
    channel_vars: list[str],
    sampling_seconds: float,
) -> dict[str, Any]:
    """R-hat, bulk ESS and divergences of one fit.

    Parameters
    ----------
    posterior : xarray.Dataset
        Draws with ``chain`` and ``draw`` dims.
    sample_stats : xarray.Dataset
        The sampler's statistics (``diverging`` is read).
    free_vars : list of str
        The model's free parameters (deterministics excluded).
    channel_vars : list of str
        The per-channel parameters (adstock, saturation, coefficient).
    sampling_seconds : float
        Time spent drawing, for ESS per second.

    Returns
    -------
    dict
        ``r_hat_max`` (all free parameters), ``r_hat_max_channel``, ``ess_bulk_min`` (all free
        parameters), ``ess_bulk_min_channel``, ``ess_bulk_min_channel_per_s``,
        ``ess_bulk_min_by_var`` and ``divergences``.
    """
    free = posterior[free_vars]
    r_hat = az.rhat(free)
    ess = az.ess(free, method="bulk")
    by_var_ess = {v: float(np.nanmin(np.asarray(ess[v]))) for v in free_vars}
    by_var_rhat = {v: float(np.nanmax(np.asarray(r_hat[v]))) for v in free_vars}
    ess_channel = _min(by_var_ess[v] for v in channel_vars)
    diverging = sample_stats.get("diverging")
    return {
        "r_hat_max": _max(by_var_rhat.values()),
        "r_hat_max_channel": _max(by_var_rhat[v] for v in channel_vars),
        "ess_bulk_min": _min(by_var_ess.values()),
        "ess_bulk_min_channel": ess_channel,
        "ess_bulk_min_channel_per_s": ess_channel / sampling_seconds
        if sampling_seconds > 0
        else float("nan"),
        "ess_bulk_min_by_var": by_var_ess,
        "divergences": int(diverging.sum()) if diverging is not None else 0,
    }


def hdi(draws: np.ndarray, prob: float) -> tuple[float, float]:
    """The narrowest interval holding ``prob`` of the draws (ArviZ's HDI for one mode).

    Written out here so that environments with different ArviZ versions (1.x in ``.venv``,
    0.x where Meridian runs) score their fits with the same code.
    """
    x = np.sort(np.asarray(draws, dtype=float).reshape(-1))
    n = x.size
    inside = int(np.floor(prob * n))
    if inside >= n:
        return float(x[0]), float(x[-1])
    widths = x[inside:] - x[: n - inside]
    k = int(np.argmin(widths))
    return float(x[k]), float(x[k + inside])


def score_draws(draws: np.ndarray, true: float | None, hdi_prob: float) -> dict[str, Any]:
    """Mean, HDI, relative error and coverage of one quantity's draws against its true value.

    Returns
    -------
    dict
        ``{"true", "mean", "hdi_low", "hdi_high", "rel_error", "covered"}``, ``rel_error``
        being ``|mean - true| / true``; without a true value (public data) both are None.
    """
    low, high = hdi(draws, hdi_prob)
    mean = float(np.mean(draws))
    return {
        "true": true,
        "mean": mean,
        "hdi_low": low,
        "hdi_high": high,
        "rel_error": None if true is None else abs(mean - true) / true,
        "covered": None if true is None else bool(low <= true <= high),
    }


def roas_vs_truth(
    contribution_totals: xr.DataArray,
    spend_totals: Mapping[str, float],
    true_roas: Mapping[str, float],
    hdi_prob: float,
) -> dict[str, Any]:
    """Posterior ROAS per channel against the true ROAS.

    Parameters
    ----------
    contribution_totals : xarray.DataArray
        Each draw's total contribution per channel in outcome units, dims
        ``(chain, draw, channel)``.
    spend_totals : mapping
        Total spend per channel over the same window.
    true_roas : mapping
        The generator's true ROAS per channel; empty (or missing a channel) where the truth
        is unknown, which leaves ``rel_error`` and ``covered`` ``None``.
    hdi_prob : float
        Probability mass of the highest-density interval.

    Returns
    -------
    dict
        ``{"hdi_prob", "channels": {NAME: {"true", "mean", "hdi_low", "hdi_high",
        "rel_error", "covered"}}, "rel_error_mean", "rel_error_max", "coverage"}``;
        ``rel_error`` is ``|mean - true| / true``.
    """
    channels: dict[str, dict[str, Any]] = {}
    for ch in contribution_totals["channel"].values.tolist():
        draws = contribution_totals.sel(channel=ch) / spend_totals[ch]
        true = float(true_roas[ch]) if ch in true_roas else None
        channels[ch] = score_draws(np.asarray(draws), true, hdi_prob)
    errors = [c["rel_error"] for c in channels.values() if c["rel_error"] is not None]
    covered = [c["covered"] for c in channels.values() if c["covered"] is not None]
    return {
        "hdi_prob": hdi_prob,
        "channels": channels,
        # no truth (public data): no error to report
        "rel_error_mean": float(np.mean(errors)) if errors else None,
        "rel_error_max": float(np.max(errors)) if errors else None,
        "coverage": float(np.mean(covered)) if covered else None,
    }


def geo_roas_vs_truth(
    roas_draws: np.ndarray,
    geos: list[str],
    channels: list[str],
    true_geo_roas: Mapping[str, Mapping[str, float]],
    hdi_prob: float,
) -> dict[str, Any]:
    """Posterior ROAS per geo and channel against the true ROAS.

    Parameters
    ----------
    roas_draws : numpy.ndarray
        ROAS draws, shape ``(samples, geo, channel)`` (chains and draws flattened).
    geos, channels : list of str
        The labels of the geo and channel axes.
    true_geo_roas : mapping
        ``{geo: {channel: true ROAS}}``.
    hdi_prob : float
        Probability mass of the highest-density interval.

    Returns
    -------
    dict
        ``hdi_prob``, ``coverage`` (share of (geo, channel) pairs inside their HDI),
        ``rel_error_mean``, ``rel_error_median``, per channel ``coverage`` and
        ``rel_error_median``, and ``geos``: ``{geo: {channel: score}}`` (see
        :func:`score_draws`).
    """
    scores = {
        g: {
            ch: score_draws(roas_draws[:, i, j], float(true_geo_roas[g][ch]), hdi_prob)
            for j, ch in enumerate(channels)
        }
        for i, g in enumerate(geos)
    }
    rows = [c for per_geo in scores.values() for c in per_geo.values()]
    per_channel = {
        ch: {
            "coverage": float(np.mean([scores[g][ch]["covered"] for g in geos])),
            "rel_error_median": float(np.median([scores[g][ch]["rel_error"] for g in geos])),
        }
        for ch in channels
    }
    return {
        "hdi_prob": hdi_prob,
        "coverage": float(np.mean([r["covered"] for r in rows])),
        "rel_error_mean": float(np.mean([r["rel_error"] for r in rows])),
        "rel_error_median": float(np.median([r["rel_error"] for r in rows])),
        "channels": per_channel,
        "geos": scores,
    }


def array_sizes(groups: Mapping[str, xr.Dataset]) -> list[dict[str, Any]]:
    """Size and dims of every array of a fit's result groups (posterior, predictive, ...).

    Returns
    -------
    list of dict
        ``{"group", "name", "dims", "nbytes", "per_draw"}`` per array; ``dims`` leaves out
        ``chain`` and ``draw``, and ``per_draw`` says whether the array had them.
    """
    out = []
    for group, ds in groups.items():
        for name, arr in ds.data_vars.items():
            dims = [str(d) for d in arr.dims if d not in ("chain", "draw")]
            per_draw = "chain" in arr.dims and "draw" in arr.dims
            out.append(
                {
                    "group": group,
                    "name": str(name),
                    "dims": dims,
                    "nbytes": int(arr.nbytes),
                    "per_draw": per_draw,
                }
            )
    return out


def sampler_settings(sample_stats: xr.Dataset) -> dict[str, Any]:
    """The NUTS settings nutpie records (mass-matrix adaptation, target acceptance, max depth).

    Returns an empty mapping for a sampler that records none.
    """
    raw = sample_stats.attrs.get("inference_library_settings")
    if not raw:
        return {}
    try:
        parsed = json.loads(raw)
        settings = parsed.get("settings", {})
        step = settings.get("adapt_options", {}).get("step_size_settings", {})
    except (TypeError, ValueError, AttributeError):
        return {}
    return {
        "adaptation": parsed.get("adaptation"),
        "target_accept": step.get("target_accept"),
        "maxdepth": settings.get("maxdepth"),
    }


def peak_memory_mib() -> dict[str, float]:
    """Peak resident memory of this process and of its finished children, in MiB (Linux)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"peak_rss_mib": own, "peak_rss_children_mib": children}


def versions(packages: Iterable[str]) -> dict[str, str]:
    """Installed versions of ``packages`` (``"-"`` for one that is not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in packages:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "-"
    return out


def read_args() -> tuple[dict[str, Any], Path]:
    """A runner's command line: ``SPEC.json OUT.json``; returns the spec and the output path."""
    if len(sys.argv) != 3:
        raise SystemExit(f"usage: python -m {sys.argv[0]} SPEC.json OUT.json")
    return json.loads(Path(sys.argv[1]).read_text()), Path(sys.argv[2])


def write_result(path: Path, result: dict[str, Any], fit_done: float) -> None:
    """Write a runner's result with the wall-clock time the fit ended and peak memory."""
    result = {**result, "fit_done_epoch": fit_done, **peak_memory_mib()}
    result["metrics_seconds"] = time.time() - fit_done
    path.write_text(json.dumps(result, indent=2, default=float) + "\n")
