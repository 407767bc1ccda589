"""The scale-out study: many groups on local Spark against the same fits one at a time.

``python -m bench --study scale`` generates ``--groups`` synthetic groups of ``--weeks`` weeks
and ``--channels`` channels, then

1. fits ``--alone`` of them one after another in this process, each on one core (the setting
   every Spark task uses), after one warm-up fit that fills the compile cache: the single-fit
   time, and the process's peak memory over its memory after the imports;
2. runs ``fit_many`` on ``--master`` (default ``local[2]``) over all groups: the wall time, each
   group's fit time, and each worker's first group against its later ones (the per-group
   overhead of a fresh Python worker that loads the compiled model from the disk cache);
3. reports efficiency = (groups x mean single-fit time) / (wall x task slots).

The results go to ``docs/scale.json`` (or ``--json``); ``docs/scale.md`` discusses them.
"""

from __future__ import annotations

import datetime as dt
import json
import resource
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import pandas as pd

from mediamix.config.generator import load_generator_config
from mediamix.config.model import ModelConfig, load_model_config
from mediamix.data.generator import Generator, generate_groups
from mediamix.inference.diagnostics import ConvergenceWarning
from mediamix.inference.fit import fit

REPO_ROOT = Path(__file__).resolve().parents[1]


def _data(groups: int, weeks: int, channels: int, seed: int) -> pd.DataFrame:
    cfg = load_generator_config(REPO_ROOT / "config/generator/basic_config.yaml")
    media = dict(list(cfg.media.items())[:channels])
    end = cfg.start_date + dt.timedelta(weeks=weeks - 1)
    cfg = cfg.model_copy(update={"media": media, "end_date": end})
    return generate_groups(Generator(cfg), groups, seed=seed).data


def _config(channels: list[str], args: Any) -> ModelConfig:
    base = load_model_config(REPO_ROOT / "config/model/basic_config.yaml")
    raw = base.model_dump()
    raw["channels"] = {c: raw["channels"][c] for c in channels}
    return ModelConfig.model_validate(raw).with_sampler(
        sampler=args.sampler, draws=args.draws, tune=args.tune, chains=args.chains, cores=1
    )


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _alone(data: pd.DataFrame, config: ModelConfig, n: int) -> dict[str, Any]:
    """Single fits, one at a time in this process, after a warm-up fit."""
    groups = sorted(data["group"].unique())
    frames = {g: data[data["group"] == g].drop(columns="group") for g in groups}
    base = _rss_mib()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        t0 = time.perf_counter()
        fit(frames[groups[0]].reset_index(drop=True), config)  # fills the compile cache
        first = time.perf_counter() - t0
        times = []
        for g in groups[1 : n + 1]:
            t0 = time.perf_counter()
            fit(frames[g].reset_index(drop=True), config)
            times.append(time.perf_counter() - t0)
    return {
        "first_fit_seconds": first,
        "fit_seconds": times,
        "mean_fit_seconds": statistics.mean(times),
        "rss_after_imports_mib": base,
        "rss_peak_mib": _rss_mib(),
    }


def _spark(data: pd.DataFrame, config: ModelConfig, master: str, out: Path) -> dict[str, Any]:
    from mediamix.scaleout.runner import fit_many
    from mediamix.scaleout.spark import local_session

    t0 = time.perf_counter()
    session = local_session(master)
    slots = session.sparkContext.defaultParallelism
    startup = time.perf_counter() - t0
    result = fit_many(data, "group", config, out, spark=session)
    per_group = result.results.drop_duplicates("group").sort_values("started_at")
    firsts = per_group.groupby("worker").head(1)
    later = per_group.drop(firsts.index)
    return {
        "master": master,
        "slots": slots,
        "session_start_seconds": startup,
        "wall_seconds": result.wall_seconds,
        "groups_ok": int((result.status["status"] == "ok").sum()),
        "workers": int(per_group["worker"].nunique()),
        "fit_seconds": per_group["fit_seconds"].tolist(),
        "first_on_worker_mean_seconds": float(firsts["fit_seconds"].mean()),
        "later_on_worker_mean_seconds": float(later["fit_seconds"].mean()),
    }


def scale_study(args: Any) -> dict[str, Any]:
    """Run the study; returns what ``docs/scale.json`` holds."""
    work = REPO_ROOT / args.work_dir / "scale"
    data = _data(args.groups, args.weeks, args.channels, args.seed)
    channels = [c for c in data.columns if c not in ("date", "group", "sales")]
    config = _config(channels, args)
    print(f"scale: {args.groups} groups x {args.weeks} weeks x {channels}", file=sys.stderr)
    alone = _alone(data, config, min(args.alone, args.groups - 1))
    spark = _spark(data, config, args.master, work / "out")
    ideal = args.groups * alone["mean_fit_seconds"]
    efficiency = ideal / (spark["wall_seconds"] * spark["slots"])
    s = config.sampler
    return {
        "settings": {
            "groups": args.groups,
            "weeks": args.weeks,
            "channels": channels,
            "sampler": s.sampler,
            "chains": s.chains,
            "draws": s.draws,
            "tune": s.tune,
            "cores_per_fit": s.cores,
        },
        "alone": alone,
        "spark": spark,
        "efficiency": efficiency,
    }


def print_summary(results: dict[str, Any]) -> None:
    """The headline numbers, for the terminal."""
    a, s = results["alone"], results["spark"]
    print(json.dumps(results["settings"]))
    print(
        f"single fit alone: {a['mean_fit_seconds']:.2f} s "
        f"(first in the process: {a['first_fit_seconds']:.1f} s)"
    )
    print(
        f"memory: {a['rss_after_imports_mib']:.0f} MiB after imports, {a['rss_peak_mib']:.0f} peak"
    )
    print(
        f"spark {s['master']}: wall {s['wall_seconds']:.1f} s for {results['settings']['groups']} "
        f"groups; first group per worker {s['first_on_worker_mean_seconds']:.2f} s, later "
        f"{s['later_on_worker_mean_seconds']:.2f} s; efficiency {results['efficiency']:.2f}"
    )
