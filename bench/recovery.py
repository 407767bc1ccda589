"""The recovery study: does mediamix's ROAS interval cover the truth, and how far off is it?

The same dataset is drawn with many seeds (new spend, controls and noise each time, the same true
response parameters) and fitted with mediamix. A geo dataset (:mod:`bench.geo_bench`) is fitted
with the geo model, and each fit is scored nationally and per geo (each geo's ROAS against its
true ROAS: coverage of the geo HDIs against their nominal probability). For every fit and
channel it records whether the true ROAS lies inside the HDI at the fit's ``hdi_prob`` and the
relative error of the posterior mean, ``|mean - true| / true``. Each fit runs in its own
process (the speed study's mediamix runner, with the usual compile cache), so one crashed fit
costs only itself; ``jobs`` of them run at once on a machine with the cores for it.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from bench.datasets import DATASETS, FitSettings, write_inputs
from bench.geo_bench import GEO_DATASETS, GEO_EFFECTS, GEO_SPREAD_PRIOR, write_geo_inputs
from bench.harness import run_fit

QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)


def fit_one(
    key: str, seed: int, settings: FitSettings, work_dir: Path, timeout: float | None = None
) -> dict[str, Any]:
    """Draw dataset ``key`` with ``seed``, fit it with mediamix, score the ROAS against the truth.

    A fit still running after ``timeout`` seconds is stopped and recorded as failed.

    Returns
    -------
    dict
        The runner's record (see :func:`bench.harness.run_fit`) with ``dataset`` and ``seed``;
        ``ok: False`` and ``error`` when the fit failed.
    """
    fit_dir = work_dir / f"{key}-seed{seed}"
    if key in GEO_DATASETS:
        geo = GEO_DATASETS[key]
        spec = write_geo_inputs(geo, geo.generate(seed), settings, fit_dir)
    else:
        ds = DATASETS[key]
        spec = write_inputs(ds, ds.generate(seed), settings, fit_dir)
    spec_path = fit_dir / "spec.json"
    spec_path.write_text(json.dumps(spec, indent=2) + "\n")
    rec = run_fit(sys.executable, "mediamix", spec_path, fit_dir, dict(os.environ), timeout)
    return {**rec, "dataset": key, "seed": seed}


def summarize(fits: list[dict[str, Any]]) -> dict[str, Any]:
    """Coverage and the distribution of relative ROAS error over successful fits of one dataset.

    Returns
    -------
    dict
        ``n_fits``, ``n_converged``, ``hdi_prob``, ``coverage`` (over all fit x channel pairs),
        ``rel_error`` (``mean``, ``max`` and the :data:`QUANTILES`), ``fit_s_mean`` and per
        channel ``coverage``, ``rel_error_median``, ``rel_error_p90`` and the range of the true
        ROAS.
    """
    channels = list(fits[0]["roas"]["channels"])
    per_channel: dict[str, Any] = {}
    all_errors, all_covered = [], []
    for ch in channels:
        rows = [f["roas"]["channels"][ch] for f in fits]
        errors = np.array([r["rel_error"] for r in rows])
        covered = np.array([r["covered"] for r in rows])
        all_errors.extend(errors.tolist())
        all_covered.extend(covered.tolist())
        per_channel[ch] = {
            "coverage": float(covered.mean()),
            "rel_error_median": float(np.median(errors)),
            "rel_error_p90": float(np.quantile(errors, 0.9)),
            "true_roas_min": float(min(r["true"] for r in rows)),
            "true_roas_max": float(max(r["true"] for r in rows)),
        }
    errors = np.array(all_errors)
    return {
        "n_fits": len(fits),
        "n_converged": int(sum(f["converged"] for f in fits)),
        "hdi_prob": fits[0]["roas"]["hdi_prob"],
        "coverage": float(np.mean(all_covered)),
        "rel_error": {
            "mean": float(errors.mean()),
            "max": float(errors.max()),
            **{f"p{round(100 * q)}": float(np.quantile(errors, q)) for q in QUANTILES},
        },
        "fit_s_mean": float(np.mean([f["fit_s"] for f in fits])),
        "channels": per_channel,
        **({"geo": summarize_geo(fits)} if all("geo_roas" in f for f in fits) else {}),
    }


def summarize_geo(fits: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-geo HDI coverage and ROAS error over the fits of a geo dataset.

    Returns
    -------
    dict
        ``hdi_prob``, ``n_geos``, ``coverage`` (share of (fit, geo, channel) triples whose true
        geo ROAS lies inside its HDI), ``coverage_min_fit`` / ``coverage_max_fit`` (the range of
        the per-fit coverage), ``rel_error_median`` and per channel ``coverage`` and
        ``rel_error_median`` over all fits and geos.
    """
    rows = [
        (ch, score)
        for f in fits
        for per_geo in f["geo_roas"]["geos"].values()
        for ch, score in per_geo.items()
    ]
    per_fit = [f["geo_roas"]["coverage"] for f in fits]
    channels = list(dict.fromkeys(ch for ch, _ in rows))
    return {
        "hdi_prob": fits[0]["geo_roas"]["hdi_prob"],
        "n_geos": len(fits[0]["geo_roas"]["geos"]),
        "coverage": float(np.mean([s["covered"] for _, s in rows])),
        "coverage_min_fit": float(min(per_fit)),
        "coverage_max_fit": float(max(per_fit)),
        "rel_error_median": float(np.median([s["rel_error"] for _, s in rows])),
        "channels": {
            ch: {
                "coverage": float(np.mean([s["covered"] for c, s in rows if c == ch])),
                "rel_error_median": float(np.median([s["rel_error"] for c, s in rows if c == ch])),
            }
            for ch in channels
        },
    }


def _one_line(rec: dict[str, Any]) -> str:
    head = f"  {rec['dataset']} seed {rec['seed']:3d}:"
    if not rec["ok"]:
        return f"{head} FAILED: {rec['error']}"
    roas = rec["roas"]
    covered = sum(c["covered"] for c in roas["channels"].values())
    return (
        f"{head} {rec['fit_s']:6.1f} s  R-hat {rec['r_hat_max']:.3f}  "
        f"covered {covered}/{len(roas['channels'])}  mean error {100 * roas['rel_error_mean']:.1f}%"
    )


def recovery_study(
    datasets: list[str],
    seeds: list[int],
    settings: FitSettings,
    work_dir: Path,
    *,
    geo_seeds: list[int] | None = None,
    jobs: int = 1,
    progress: Callable[[dict[str, Any]], None] | None = None,
    earlier: dict[str, Any] | None = None,
    timeout: float | None = None,
) -> dict[str, Any]:
    """Fit each dataset once per seed and summarise coverage and error.

    Parameters
    ----------
    datasets : list of str
        Keys of :data:`~bench.datasets.DATASETS` or :data:`~bench.geo_bench.GEO_DATASETS`.
    seeds : list of int
        Data seeds; the sampler's seed stays ``settings.seed``.
    settings : FitSettings
        Chains, draws, tuning and model structure.
    work_dir : Path
        Scratch space: data, specs, logs and per-fit results.
    geo_seeds : list of int, optional
        Data seeds of the geo datasets (default ``seeds``): a geo fit takes much longer.
    jobs : int
        Fits run at once, each in its own process with ``settings.chains`` sampler threads;
        the longest (geo) fits start first.
    progress : callable, optional
        Called with the results so far after every fit, so an interrupted study keeps them.
    earlier : dict, optional
        The results (or partial results) of an earlier run of this study with the same
        settings: its successful fits are kept and not run again (see :func:`resumable_fits`).
    timeout : float, optional
        Seconds before one fit is stopped and recorded as failed.

    Returns
    -------
    dict
        ``settings``, ``seeds``, ``geo_seeds``, ``jobs``, ``fits`` (one record per fit, in
        dataset then seed order; ``ok: False`` and ``error`` for one that failed) and ``summary``
        per dataset (over its successful fits); with ``earlier``, ``resumed`` (how many fits
        were kept and the machine and command of the run they came from).
    """
    geo_seeds = seeds if geo_seeds is None else geo_seeds
    tasks = [
        (key, seed) for key in datasets for seed in (geo_seeds if key in GEO_DATASETS else seeds)
    ]
    done = resumable_fits(earlier, settings, tasks) if earlier else {}
    order = sorted((t for t in tasks if t not in done), key=lambda t: t[0] not in GEO_DATASETS)
    lock = threading.Lock()
    meta = {
        "settings": asdict(settings),
        "seeds": seeds,
        "geo_seeds": geo_seeds,
        "jobs": jobs,
        "planned_fits": len(tasks),
        "model": model_choices(),
    }
    if earlier:
        meta["resumed"] = {
            "fits": len(done),
            "machine": earlier.get("machine"),
            "command": earlier.get("command"),
        }

    def results() -> dict[str, Any]:
        fits = [done[t] for t in tasks if t in done]
        return {**meta, "fits": fits, "summary": _summaries(datasets, fits)}

    def one(task: tuple[str, int]) -> None:
        rec = fit_one(*task, settings, work_dir, timeout)
        with lock:  # one writer of the partial results at a time
            print(_one_line(rec), file=sys.stderr, flush=True)
            done[task] = rec
            if progress is not None:
                progress(results())

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        list(pool.map(one, order))
    return results()


def model_choices() -> dict[str, Any]:
    """The model choices the bench makes in code (not in FitSettings): a resumed run must match."""
    return {"geo_effects": GEO_EFFECTS, "geo_spread_prior": dict(GEO_SPREAD_PRIOR)}


def resumable_fits(
    earlier: dict[str, Any], settings: FitSettings, tasks: list[tuple[str, int]]
) -> dict[tuple[str, int], dict[str, Any]]:
    """The successful fits of an earlier run that this run plans too, by (dataset, seed).

    Raises
    ------
    SystemExit
        If the earlier run used other fit settings: its fits would not be comparable.
    """
    theirs, ours = earlier.get("settings", {}), asdict(settings)
    differ = sorted(k for k in ours if k in theirs and theirs[k] != ours[k])
    if differ:
        shown = ", ".join(f"{k} {theirs[k]!r} there, {ours[k]!r} here" for k in differ)
        raise SystemExit(f"--resume: the earlier run's settings differ ({shown})")
    if earlier.get("model") != model_choices():
        raise SystemExit(
            f"--resume: the earlier run fitted another model ({earlier.get('model')!r}; this one "
            f"{model_choices()!r}); run the study afresh"
        )
    wanted = set(tasks)
    return {
        (f["dataset"], f["seed"]): f
        for f in earlier.get("fits", [])
        if f.get("ok") and (f["dataset"], f["seed"]) in wanted
    }


def _summaries(datasets: list[str], fits: list[dict[str, Any]]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for key in datasets:
        mine = [f for f in fits if f["dataset"] == key]
        ok = [f for f in mine if f["ok"]]
        if ok:
            title = GEO_DATASETS[key].title if key in GEO_DATASETS else DATASETS[key].title
            summary[key] = {"title": title, "n_failed": len(mine) - len(ok), **summarize(ok)}
    return summary
