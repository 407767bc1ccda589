"""The calibration study: how much do lift tests on the planner's top channels help?

For each data seed of a benchmark dataset:

1. fit mediamix on the data as drawn (uncalibrated);
2. rank channels with the experiment planner (:func:`mediamix.analysis.experiment_plan.
   plan_experiments`) and take the ``top`` channels, each with the test the planner chose
   (start date, sign, size, and the ``lift_se`` it assumed);
3. simulate those tests from the truth (:func:`mediamix.analysis.experiments.simulate_lift`,
   one after another on the changing data, measurement noise with the planner's ``lift_se``);
4. fit again on the data with the tests' changes, calibrated with the simulated tests.

Per channel it records the relative ROAS error and whether the HDI covers the true ROAS, both
ways (the uncalibrated fit against the truth of the data it saw, the calibrated fit against the
truth of the changed data), and for the tested channels the planner's expected HDI width next
to the width the calibrated fit obtained. Fits run in this process, one after another.
"""

from __future__ import annotations

import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import numpy as np
import pandas as pd

from bench.datasets import DATASETS, FitSettings, model_config_dict
from bench.sections import CALIBRATION
from bench.sections import write_section as write_marked
from mediamix.analysis.experiment_plan import plan_experiments
from mediamix.analysis.experiments import ExperimentError, simulate_lift
from mediamix.analysis.metrics import roas
from mediamix.config.base import parse_config
from mediamix.config.model import ModelConfig
from mediamix.inference.diagnostics import ConvergenceWarning
from mediamix.inference.fit import FitResult, fit
from mediamix.model.calibration import resolve_calibration

__all__ = ["calibration_study", "render_calibration", "summarize_calibration", "write_section"]


def _scores(result: FitResult, truth: dict[str, Any]) -> dict[str, Any]:
    table = roas(result)
    out = {}
    for ch, row in table.iterrows():
        true = truth["channels"][ch]["roas"]
        out[str(ch)] = {
            "true": true,
            "mean": float(row["mean"]),
            "width": float(row["hdi_high"] - row["hdi_low"]),
            "rel_error": abs(float(row["mean"]) / true - 1),
            "covered": bool(row["hdi_low"] <= true <= row["hdi_high"]),
        }
    return out


def _simulate(plan: list[dict[str, Any]], data: pd.DataFrame, truth: dict[str, Any], seed: int):  # type: ignore[no-untyped-def]
    """Simulate each planned test in turn; a go-dark that would leave negative spend flips sign."""
    rows = []
    for k, p in enumerate(plan):
        se_fraction = p["lift_se"] / max(abs(p["expected_lift"]), 1e-12)
        for change in (p["spend_change"], -p["spend_change"]):
            try:
                test = simulate_lift(
                    truth,
                    data,
                    p["channel"],
                    p["start_date"],
                    p["weeks"],
                    change,
                    se_fraction=se_fraction,
                    seed=1000 * seed + k,
                )
            except ExperimentError:
                continue
            data, truth = test.data, test.truth
            rows.append({**test.row, "true_lift": test.true_lift})
            break
    return data, truth, rows


def calibrate_one(
    key: str, seed: int, settings: FitSettings, top: int = 3, weeks: int = 8
) -> dict[str, Any]:
    """One seed: the uncalibrated fit, the plan, the simulated tests and the calibrated fit."""
    ds = DATASETS[key]
    synthetic = ds.generate(seed)
    config = parse_config(ModelConfig, model_config_dict(ds.config(), settings))
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        plain = fit(synthetic.data, config)
        plan = plan_experiments(plain, weeks=weeks, draws=1000, seed=seed)[:top]
        data, truth, rows = _simulate(plan, synthetic.data, synthetic.truth.to_dict(), seed)
        tests = pd.DataFrame(rows).drop(columns="true_lift")
        calibrated = fit(data, resolve_calibration(config, tests))
    return {
        "dataset": key,
        "seed": seed,
        "fit_s": time.perf_counter() - t0,
        "plan": plan,
        "tests": rows,
        "uncalibrated": _scores(plain, synthetic.truth.to_dict()),
        "calibrated": _scores(calibrated, truth),
        "converged": [plain.diagnostics().converged, calibrated.diagnostics().converged],
        "problems": [plain.diagnostics().problems, calibrated.diagnostics().problems],
    }


def summarize_calibration(fits: list[dict[str, Any]]) -> dict[str, Any]:
    """Per channel, both ways: median and mean relative error, coverage; planner's accuracy."""
    channels = list(fits[0]["uncalibrated"])
    per_channel = {}
    for ch in channels:
        row: dict[str, Any] = {
            "tested": sum(ch in [t["channel"] for t in f["tests"]] for f in fits)
        }
        for way in ("uncalibrated", "calibrated"):
            errors = np.array([f[way][ch]["rel_error"] for f in fits])
            row[way] = {
                "rel_error_median": float(np.median(errors)),
                "rel_error_mean": float(errors.mean()),
                "coverage": float(np.mean([f[way][ch]["covered"] for f in fits])),
                "width_median": float(np.median([f[way][ch]["width"] for f in fits])),
            }
        per_channel[ch] = row
    ratios = [
        f["calibrated"][p["channel"]]["width"] / p["roas_hdi_width_expected"]
        for f in fits
        for p in f["plan"]
        if p["channel"] in [t["channel"] for t in f["tests"]]
    ]
    tested = [(f, t["channel"]) for f in fits for t in f["tests"]]
    return {
        "n_fits": len(fits),
        "channels": per_channel,
        "tested_rel_error_median": {
            way: float(np.median([f[way][ch]["rel_error"] for f, ch in tested]))
            for way in ("uncalibrated", "calibrated")
        },
        "width_ratio_actual_over_expected": {
            "median": float(np.median(ratios)),
            "p10": float(np.quantile(ratios, 0.1)),
            "p90": float(np.quantile(ratios, 0.9)),
            "n": len(ratios),
        },
        "planner_ess_median": float(np.median([p["ess"] for f in fits for p in f["plan"]])),
        "planner_draws": int(fits[0]["plan"][0]["draws"]),
    }


def calibration_study(
    key: str,
    seeds: list[int],
    settings: FitSettings,
    top: int = 3,
    weeks: int = 8,
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Run :func:`calibrate_one` for every seed and summarise (failed seeds are recorded).

    ``progress``, if given, receives the results so far after every seed (so an interrupted
    study still leaves its completed seeds written).
    """
    fits: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    for seed in seeds:
        if progress is not None and fits:
            progress(_results(key, seeds, settings, top, weeks, fits, failed))
        try:
            rec = calibrate_one(key, seed, settings, top, weeks)
        except Exception as exc:  # one failed seed must not lose the others
            failed.append({"seed": seed, "error": f"{type(exc).__name__}: {exc}"})
            print(f"  seed {seed}: FAILED {exc}", file=sys.stderr, flush=True)
            continue
        fits.append(rec)
        cal, unc = rec["calibrated"], rec["uncalibrated"]
        tested = ", ".join(t["channel"] for t in rec["tests"])
        print(
            f"  seed {seed}: {rec['fit_s']:.0f} s, tested {tested}; median error "
            f"{100 * np.median([v['rel_error'] for v in unc.values()]):.1f}% -> "
            f"{100 * np.median([v['rel_error'] for v in cal.values()]):.1f}%",
            file=sys.stderr,
            flush=True,
        )
    return _results(key, seeds, settings, top, weeks, fits, failed)


def _results(
    key: str,
    seeds: list[int],
    settings: FitSettings,
    top: int,
    weeks: int,
    fits: list[dict[str, Any]],
    failed: list[dict[str, Any]],
) -> dict[str, Any]:
    summary = summarize_calibration(fits) if fits else {}
    return {
        "dataset": key,
        "seeds": seeds,
        "top": top,
        "weeks": weeks,
        "settings": asdict(settings),
        "fits": fits,
        "failed": failed,
        "summary": summary,
    }


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def render_calibration(results: dict[str, Any], command: str, raw: str) -> str:
    """The markdown section of the calibration study for ``docs/recovery.md``."""
    s, key = results["summary"], results["dataset"]
    st = results["settings"]
    lines = [
        MARK_BEGIN,
        f"## Calibration with lift tests: dataset ({key}), {DATASETS[key].title}",
        "",
        f"Generated by `{command}` (raw numbers in `{raw}`); rerun it to update this section.",
        f"Data seeds {results['seeds']} ({s.get('n_fits', 0)} completed"
        + (f", failed: {results['failed']}" if results["failed"] else "")
        + f"); each fitted with {st['sampler']}, {st['chains']} chains x ({st['tune']} tune + "
        f"{st['draws']} draws), sampler seed {st['seed']}. Per seed: an uncalibrated fit, the "
        f"planner's top {results['top']} channels (one {results['weeks']}-week test each, "
        "the sign and start it chose, measurement noise with the `lift_se` it assumed), the "
        "tests simulated from the truth one after another, and a fit calibrated with them. The "
        "uncalibrated fit is scored against the truth of the data it saw, the calibrated one "
        "against the truth of the data with the tests' spend changes.",
        "",
        "| channel | tested (seeds) | median error uncal. | median error cal. | "
        "coverage uncal. | coverage cal. | median HDI width uncal. | median HDI width cal. |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for ch, row in s.get("channels", {}).items():
        u, c = row["uncalibrated"], row["calibrated"]
        lines.append(
            f"| {ch} | {row['tested']} | {_pct(u['rel_error_median'])} | "
            f"{_pct(c['rel_error_median'])} | {_pct(u['coverage'])} | {_pct(c['coverage'])} | "
            f"{u['width_median']:.3f} | {c['width_median']:.3f} |"
        )
    if s:
        r, t = s["width_ratio_actual_over_expected"], s["tested_rel_error_median"]
        m, fits = results.get("machine", {}), results["fits"]
        ok = [sum(f["converged"][i] for f in fits) for i in (0, 1)]
        lines += [
            "",
            f"Fits meeting the convergence thresholds: {ok[0]} of {len(fits)} uncalibrated, "
            f"{ok[1]} of {len(fits)} calibrated. Machine: {m.get('cpu_model')}, "
            f"{m.get('cpu_count')} logical cores, load average {m.get('load_average')} at the "
            "start (no timings are reported).",
            "",
            f"Tested channels (fit, channel pairs): median ROAS error "
            f"{_pct(t['uncalibrated'])} uncalibrated, {_pct(t['calibrated'])} calibrated.",
            "",
            *_tested_table(fits),
            f"Planner: HDI width the calibrated fit obtained / width the planner expected, over "
            f"{r['n']} tested (seed, channel) pairs: median {r['median']:.2f} (p10 "
            f"{r['p10']:.2f}, p90 {r['p90']:.2f}); median effective sample size of its "
            f"reweighting {s['planner_ess_median']:.0f} of {s['planner_draws']} draws. The planner "
            "evaluates each test alone; here three tests enter one fit together.",
        ]
    return "\n".join([*lines, MARK_END, ""])


def _tested_table(fits: list[dict[str, Any]]) -> list[str]:
    """Each channel over the seeds where it was tested: error, coverage, HDI width, both ways."""
    rows: dict[str, list[tuple[float, float, bool, float]]] = {}
    for f in fits:
        for test in f["tests"]:
            ch = test["channel"]
            u, c = f["uncalibrated"][ch], f["calibrated"][ch]
            ratio = c["width"] / u["width"] if u["width"] > 0 else float("nan")
            rows.setdefault(ch, []).append((u["rel_error"], c["rel_error"], c["covered"], ratio))
    if not rows:
        return []
    out = [
        "Each channel over the seeds where it was tested (calibrated fit against uncalibrated):",
        "",
        "| channel | tests | median error uncal. | median error cal. | max error cal. | "
        "covered cal. | median HDI width cal. / uncal. |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for ch, vals in sorted(rows.items(), key=lambda kv: -len(kv[1])):
        a = np.array(vals, dtype=float)
        out.append(
            f"| {ch} | {len(vals)} | {_pct(np.median(a[:, 0]))} | {_pct(np.median(a[:, 1]))} | "
            f"{_pct(a[:, 1].max())} | {int(a[:, 2].sum())} of {len(vals)} | "
            f"{np.median(a[:, 3]):.2f} |"
        )
    errors = np.array([v[1] for vals in rows.values() for v in vals])
    out += [
        "",
        f"{int((errors <= 0.10).sum())} of {len(errors)} tested (seed, channel) pairs are within "
        f"10 % of the true ROAS after calibration (p90 error {_pct(np.quantile(errors, 0.9))}).",
        "",
    ]
    return out


MARK_BEGIN, MARK_END = CALIBRATION


def write_section(doc_text: str, section: str) -> str:
    """``doc_text`` with the calibration section replaced (or appended)."""
    return write_marked(doc_text, section, CALIBRATION)
