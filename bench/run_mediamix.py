"""Fit one benchmark dataset with mediamix, in a fresh process of the project's ``.venv``.

``python -m bench.run_mediamix SPEC.json OUT.json``. The spec names the CSV, the model config
YAML the harness wrote, the true ROAS and the HDI probability (see :mod:`bench.harness`); a geo
spec (see :mod:`bench.geo_bench`) adds the geo column and the true ROAS per geo, and the fit is
scored nationally (contributions summed over geos) and per geo. Time starts before the first
import, so the harness's end-to-end time includes imports and compilation; the metrics
computed after the fit are not part of it.
"""

from __future__ import annotations

import time

T_START = time.time()

import warnings  # noqa: E402
from typing import Any  # noqa: E402

import pandas as pd  # noqa: E402

from bench.metrics import (  # noqa: E402
    array_sizes,
    convergence,
    geo_roas_vs_truth,
    read_args,
    roas_vs_truth,
    sampler_settings,
    write_result,
)
from mediamix.analysis.geo_draws import geo_total_draws, national_draws  # noqa: E402
from mediamix.config.model import load_model_config  # noqa: E402
from mediamix.inference.fit import fit  # noqa: E402
from mediamix.model.builder import channel_parameters  # noqa: E402


def main() -> None:
    """Run the fit the spec describes and write its result."""
    spec, out = read_args()
    t_imported = time.time()
    geo_column = spec.get("geo_column")
    kinds = {geo_column: str} if geo_column else None
    frame = pd.read_csv(spec["csv"], parse_dates=["date"], dtype=kinds)
    config = load_model_config(spec["model_config"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t0 = time.time()
        result = fit(frame, config)
        t_fit = time.time()
    post = result.posterior
    stats = result.idata["sample_stats"].to_dataset()
    sampling = float(post.attrs.get("sampling_time", result.timings["sample_seconds"]))
    free_vars = [rv.name for rv in result.build_model().free_RVs]
    channel_vars = sorted({v for p in channel_parameters(config).values() for v, _ in p.values()})
    spend = {ch: float(frame[ch].sum()) for ch in config.channel_names}
    # dims (chain, draw, channel); a geo fit's summed over its geos
    contributions = national_draws(result, "channel_contribution").sum("date")
    record: dict[str, Any] = {
        "library": "mediamix",
        "sampler": config.sampler.sampler,
        "converged": result.diagnostics().converged,
        "sampler_settings": sampler_settings(stats),
        "import_s": t_imported - T_START,
        "fit_s": t_fit - t0,
        "sampling_s": sampling,
        "timings": result.timings,
        "free_vars": free_vars,
        "channel_vars": channel_vars,
        **convergence(post, stats, free_vars, channel_vars, sampling),
        "roas": roas_vs_truth(contributions, spend, spec["true_roas"], config.hdi_prob),
        "warnings": sorted({f"{w.category.__name__}: {w.message}" for w in caught}),
        "draws_total": int(post.sizes["chain"] * post.sizes["draw"]),
    }
    if geo_column:
        totals = geo_total_draws(result, "channel_contribution")
        record["geo_roas"] = geo_scores(totals, frame, spec, config.hdi_prob)
        record["arrays"] = array_sizes(
            {g: result.idata[g].to_dataset() for g in result.idata.children}
        )
    write_result(out, record, t_fit)


def geo_scores(
    totals: Any, frame: pd.DataFrame, spec: dict[str, Any], hdi_prob: float
) -> dict[str, Any]:
    """Per-geo ROAS draws (contribution / spend of each geo) scored against the truth.

    ``totals``: each geo's contribution per channel over the data, ``(chain, draw, geo,
    channel)`` in any order.
    """
    channels = list(spec["channels"])
    totals = totals.transpose("chain", "draw", "geo", "channel")
    geos = [str(g) for g in totals["geo"].values]
    spend = frame.groupby(spec["geo_column"])[channels].sum().loc[geos].to_numpy()
    draws = totals.sel(channel=channels).to_numpy().reshape(-1, len(geos), len(channels))
    return geo_roas_vs_truth(draws / spend[None], geos, channels, spec["true_geo_roas"], hdi_prob)


if __name__ == "__main__":
    main()
