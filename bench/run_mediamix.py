"""Fit one benchmark dataset with mediamix, in a fresh process of the project's ``.venv``.

``python -m bench.run_mediamix SPEC.json OUT.json``. The spec names the CSV, the model config
YAML the harness wrote, the true ROAS and the HDI probability (see :mod:`bench.harness`). Time
starts before the first import, so the harness's end-to-end time includes imports and
compilation; the metrics computed after the fit are not part of it.
"""

from __future__ import annotations

import time

T_START = time.time()

import warnings  # noqa: E402
from typing import Any  # noqa: E402

import pandas as pd  # noqa: E402

from bench.metrics import (  # noqa: E402
    convergence,
    read_args,
    roas_vs_truth,
    sampler_settings,
    write_result,
)
from mediamix.config.model import load_model_config  # noqa: E402
from mediamix.inference.fit import fit  # noqa: E402
from mediamix.model.builder import channel_parameters  # noqa: E402


def main() -> None:
    """Run the fit the spec describes and write its result."""
    spec, out = read_args()
    t_imported = time.time()
    frame = pd.read_csv(spec["csv"], parse_dates=["date"])
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
        "roas": roas_vs_truth(
            post["channel_contribution"].sum("date"), spend, spec["true_roas"], config.hdi_prob
        ),
        "warnings": sorted({f"{w.category.__name__}: {w.message}" for w in caught}),
        "draws_total": int(post.sizes["chain"] * post.sizes["draw"]),
    }
    write_result(out, record, t_fit)


if __name__ == "__main__":
    main()
