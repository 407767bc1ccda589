"""Fit one geo benchmark dataset with Google Meridian, in a fresh process of ``.venv-meridian``.

``python -m bench.run_meridian SPEC.json OUT.json``. The spec (see :mod:`bench.geo_bench`) names
the long CSV (``date``, geo, one spend column per channel, controls, the outcome, population),
its columns, the sampler settings and the truth. Meridian is set up as close to mediamix's geo
model as the two allow and otherwise left at its defaults:

- ``kpi_type="revenue"`` with the outcome as KPI, so Meridian's ROI is revenue per unit of spend,
  the same quantity as mediamix's ROAS; media = the spend columns, media spend = the same columns;
  population per geo (Meridian scales media and KPI per capita, as mediamix does);
- geometric adstock over ``max_lag = l_max`` and Meridian's Hill saturation, its ROI priors, its
  knots (``spec["meridian"]["knots"]``: ``null`` keeps Meridian's default, one per period in a geo
  model) and one residual sigma for all geos;
- NUTS (TensorFlow Probability's windowed adaptive NUTS) with ``n_chains`` chains,
  ``n_adapt + n_burnin`` warm-up steps (the spec's ``tune``, 80/20) and ``n_keep = draws``.

National ROAS is Meridian's ROI over all geos (incremental revenue of a channel when its spend
is set to zero, over total spend); per-geo ROAS is its ROI per geo. Both are scored by
:mod:`bench.metrics`, the same code that scores mediamix.
"""

from __future__ import annotations

import time

T_START = time.time()

import os  # noqa: E402

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up chatter

import warnings  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from meridian.analysis.analyzer import Analyzer  # noqa: E402
from meridian.data.data_frame_input_data_builder import DataFrameInputDataBuilder  # noqa: E402
from meridian.model.model import Meridian  # noqa: E402
from meridian.model.spec import ModelSpec  # noqa: E402

from bench.metrics import (  # noqa: E402
    array_sizes,
    convergence,
    geo_roas_vs_truth,
    read_args,
    score_draws,
    versions,
    write_result,
)

#: Meridian's per-channel parameters (those present in a fit are scored).
CHANNEL_VARS = ("roi_m", "alpha_m", "ec_m", "slope_m", "eta_m", "beta_m")


def input_data(frame: pd.DataFrame, spec: dict[str, Any]) -> Any:
    """Meridian's ``InputData`` for the long frame the spec describes."""
    frame = frame.assign(date=frame["date"].dt.strftime("%Y-%m-%d"))
    builder = DataFrameInputDataBuilder(
        kpi_type="revenue",
        default_geo_column=spec["geo_column"],
        default_time_column="date",
        default_population_column=spec["population_column"],
        default_kpi_column=spec["outcome"],
    )
    builder = builder.with_kpi(frame).with_population(frame)
    if spec["controls"]:
        builder = builder.with_controls(frame, control_cols=list(spec["controls"]))
    channels = list(spec["channels"])
    builder = builder.with_media(
        frame, media_cols=channels, media_spend_cols=channels, media_channels=channels
    )
    return builder.build()


def model_spec(spec: dict[str, Any]) -> ModelSpec:
    """Meridian's ``ModelSpec``: the spec's adstock window and knots, Meridian's priors."""
    knots = spec.get("meridian", {}).get("knots")
    return ModelSpec(max_lag=int(spec["l_max"]), knots=knots)


def sample(mmm: Meridian, spec: dict[str, Any]) -> dict[str, int]:
    """Draw the posterior with the spec's Meridian sampler settings; returns them."""
    m = spec["meridian"]
    settings = {k: int(m[k]) for k in ("n_chains", "n_adapt", "n_burnin", "n_keep")}
    mmm.sample_posterior(**settings, seed=[int(spec["seed"]), 0])
    return settings


def roas_scores(mmm: Meridian, frame: pd.DataFrame, spec: dict[str, Any]) -> dict[str, Any]:
    """National and per-geo ROI draws of the fit, scored against the truth."""
    analyzer = Analyzer(model_context=mmm.model_context, inference_data=mmm.inference_data)
    channels, prob = list(spec["channels"]), float(spec["hdi_prob"])
    national = np.asarray(analyzer.roi(aggregate_geos=True))  # (chain, draw, channel)
    national = national.reshape(-1, national.shape[-1])
    chans = {
        ch: score_draws(national[:, j], float(spec["true_roas"][ch]), prob)
        for j, ch in enumerate(channels)
    }
    errors = [c["rel_error"] for c in chans.values()]
    out: dict[str, Any] = {
        "roas": {
            "hdi_prob": prob,
            "channels": chans,
            "rel_error_mean": float(np.mean(errors)),
            "rel_error_max": float(np.max(errors)),
            "coverage": float(np.mean([c["covered"] for c in chans.values()])),
        }
    }
    per_geo = np.asarray(analyzer.roi(aggregate_geos=False))  # (chain, draw, geo, channel)
    per_geo = per_geo.reshape(-1, *per_geo.shape[-2:])
    geos = [str(g) for g in mmm.input_data.geo.values]
    out["geo_roas"] = geo_roas_vs_truth(per_geo, geos, channels, spec["true_geo_roas"], prob)
    return out


def main() -> None:
    """Run the fit the spec describes and write its result."""
    spec, out = read_args()
    t_imported = time.time()
    frame = pd.read_csv(spec["csv"], parse_dates=["date"], dtype={spec["geo_column"]: str})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t0 = time.time()
        mmm = Meridian(input_data=input_data(frame, spec), model_spec=model_spec(spec))
        t_built = time.time()
        settings = sample(mmm, spec)
        t_fit = time.time()
    idata = mmm.inference_data
    post, stats = idata.posterior, idata.sample_stats
    free_vars = [str(v) for v in post.data_vars]
    channel_vars = [v for v in CHANNEL_VARS if v in post.data_vars]
    record: dict[str, Any] = {
        "library": "meridian",
        "sampler": "tfp windowed_adaptive_nuts",
        "sampler_settings": settings,
        "model_spec": {"max_lag": mmm.model_spec.max_lag, "knots": mmm.model_spec.knots},
        "n_knots": int(mmm.knot_info.n_knots),
        "import_s": t_imported - T_START,
        "build_s": t_built - t0,
        "fit_s": t_fit - t0,
        # sample_posterior traces and XLA-compiles the sampler on its first call: included
        "sampling_s": t_fit - t_built,
        "free_vars": free_vars,
        "channel_vars": channel_vars,
        **convergence(post, stats, free_vars, channel_vars, t_fit - t_built),
        "warnings": sorted({f"{w.category.__name__}: {w.message}"[:300] for w in caught}),
        "draws_total": int(post.sizes["chain"] * post.sizes["draw"]),
        "arrays": array_sizes({g: getattr(idata, g) for g in idata.groups()}),
        "versions": versions(["google-meridian", "tensorflow", "tfp-nightly", "jax", "arviz"]),
    }
    t_roas = time.time()
    record.update(roas_scores(mmm, frame, spec))
    record["roas_s"] = time.time() - t_roas
    write_result(out, record, t_fit)


if __name__ == "__main__":
    main()
