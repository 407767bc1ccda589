"""The geo memory study: peak memory of a 200 geos x 156 weeks x 10 channels fit, measured with
short chains and extrapolated to 4 chains x 1,000 draws.

``python -m bench --study geo-memory`` (``make bench-geo-memory``) runs, each in a fresh process
(:mod:`bench.geo_memory_run`), on the data of ``bench/configs/geo_200x156x10.yaml``:

1. ``sample``: a real fit with nutpie, ``--chains`` x (``--tune`` + ``--draws``) (default
   2 x (30 + 50)), then its summary, ``fit.nc``, loading it back, the loaded fit's summary and
   figures: each phase's peak resident memory at that many draws, sampling included;
2. ``replay`` at each of ``--repeats`` (default 1 and 4): the same draws repeated that many
   times along the draw dim, so everything after sampling runs on 1x and 4x as many draws
   (what follows sampling depends on the number of draws, not their values): each phase's
   peak against the draw count, a line whose slope is the phase's memory per draw;
3. the projection to :data:`TARGET_DRAWS`: each phase's peak in the real fit plus its slope
   times the draws the real fit lacks. Sampling grows by nutpie's trace, the sampled
   variables and statistics per draw (arithmetic from their sizes). The largest phase is the
   projected peak. Arithmetic from measurements, not a measurement at 4,000 draws.

The results go to ``docs/geo_memory.json`` and a section of ``docs/benchmarks.md``
(:func:`bench.report_geo.render_geo_memory`).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.datasets import CONFIG_DIR, REPO_ROOT
from mediamix.config.base import load_yaml

#: The data of the memory case: 200 geos x 156 weeks x 10 channels.
GENERATOR_CONFIG = CONFIG_DIR / "geo_200x156x10.yaml"
#: Draws of a default fit (4 chains x 1,000), the count the projection is made for.
TARGET_DRAWS = 4000
#: The memory the requirement allows, MiB.
BUDGET_MIB = 8 * 1024
CHANNELS = [
    "tv",
    "search",
    "social",
    "display",
    "video",
    "radio",
    "print",
    "email",
    "affiliate",
    "podcast",
]


def model_config(chains: int, tune: int, draws: int, seed: int) -> dict[str, Any]:
    """The shipped geo model config for the ten channels, sampler settings overridden.

    Escalation is off (``max_target_accept = target_accept``): such short chains diverge, and
    a second sampling run would measure nothing new.
    """
    raw: dict[str, Any] = dict(load_yaml(REPO_ROOT / "config/model/geo_config.yaml"))
    raw["channels"] = list(CHANNELS)
    sampler = {**raw["sampler"], "chains": chains, "tune": tune, "draws": draws, "seed": seed}
    raw["sampler"] = {**sampler, "cores": chains, "max_target_accept": sampler["target_accept"]}
    return raw


def _run(spec: dict[str, Any], work: Path, timeout: float | None) -> dict[str, Any]:
    """One run of :mod:`bench.geo_memory_run` in a fresh process; its record."""
    work.mkdir(parents=True, exist_ok=True)
    spec = {**spec, "work_dir": str(work)}
    spec_path, out, log = work / "spec.json", work / "result.json", work / "run.log"
    spec_path.write_text(json.dumps(spec, indent=2) + "\n")
    out.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "bench.geo_memory_run", str(spec_path), str(out)]
    start = time.time()
    with log.open("w") as f:
        proc = subprocess.run(
            cmd, cwd=REPO_ROOT, stdout=f, stderr=subprocess.STDOUT, timeout=timeout
        )
    if proc.returncode or not out.exists():
        tail = log.read_text()[-2000:]
        raise RuntimeError(f"{spec['mode']} run failed ({proc.returncode}); log tail:\n{tail}")
    record = json.loads(out.read_text())
    record["wall_s"] = time.time() - start
    (work / "fit.nc").unlink(missing_ok=True)  # hundreds of MB, measured already
    return record


def geo_memory_study(
    work_dir: Path,
    *,
    chains: int = 2,
    tune: int = 30,
    draws: int = 50,
    repeats: tuple[int, ...] = (1, 4),
    seed: int = 1,
    timeout: float | None = None,
) -> dict[str, Any]:
    """Run the sampled fit and the replays; return the runs and the projection.

    Returns
    -------
    dict
        ``settings``, ``runs`` (the ``sample`` run first, then one per repeat) and
        ``projection`` (:func:`project`).
    """
    draws_file = work_dir / "draws.nc"
    base = {
        "generator_config": str(GENERATOR_CONFIG),
        "model_config": model_config(chains, tune, draws, seed),
        "draws_file": str(draws_file),
    }
    runs = [_run({**base, "mode": "sample"}, work_dir / "sample", timeout)]
    print(_line(runs[-1]), file=sys.stderr, flush=True)
    for k in repeats:
        runs.append(_run({**base, "mode": "replay", "repeat": k}, work_dir / f"x{k}", timeout))
        print(_line(runs[-1]), file=sys.stderr, flush=True)
    settings = {
        "generator_config": str(GENERATOR_CONFIG.relative_to(REPO_ROOT)),
        "geos": 200,
        "weeks": 156,
        "channels": len(CHANNELS),
        "chains": chains,
        "tune": tune,
        "draws": draws,
        "repeats": list(repeats),
        "target_draws": TARGET_DRAWS,
        "budget_mib": BUDGET_MIB,
    }
    return {"settings": settings, "runs": runs, "projection": project(runs, TARGET_DRAWS)}


def _line(rec: dict[str, Any]) -> str:
    mode = rec["spec"]["mode"] + (f" x{rec['spec']['repeat']}" if "repeat" in rec["spec"] else "")
    return (
        f"  geo-memory {mode:<10} {rec['draws_total']:5d} draws  peak {rec['peak_rss_mib']:7.0f} "
        f"MiB  fit.nc {rec['fit_nc_mib']:6.0f} MiB  {rec['wall_s']:6.0f} s"
    )


def trace_bytes_per_draw(record: dict[str, Any]) -> float:
    """Bytes per draw of what the sampler keeps: the sampled variables and sample statistics."""
    free = set(record.get("free_vars", []))
    kept = [
        a
        for a in record["arrays"]
        if a["per_draw"]
        and (a["group"] == "sample_stats" or (a["group"] == "posterior" and a["name"] in free))
    ]
    return sum(a["nbytes"] for a in kept) / record["draws_total"]


def stored_bytes_per_draw(record: dict[str, Any]) -> dict[str, float]:
    """Bytes per draw of each per-draw array the fit holds, ``group/name``."""
    return {
        f"{a['group']}/{a['name']}": a["nbytes"] / record["draws_total"]
        for a in record["arrays"]
        if a["per_draw"]
    }


def project(runs: list[dict[str, Any]], target: int) -> dict[str, Any]:
    """Each phase's peak at ``target`` draws from the sampled run and the replays' slopes.

    The slope of a phase is a least-squares line through its peaks in the replays (MiB per
    draw, never below 0); its projection is the sampled run's peak plus the slope times
    ``target`` minus the sampled run's draws. Sampling's slope is the trace's bytes per draw.
    """
    sample = runs[0]
    replays = runs[1:]
    n = sample["draws_total"]
    peaks = {p["phase"]: p["peak_rss_mib"] for p in sample["phases"]}
    rows = []
    for phase, peak in peaks.items():
        points = [
            (r["draws_total"], q["peak_rss_mib"])
            for r in replays
            for q in r["phases"]
            if q["phase"] == phase
        ]
        if phase.endswith(":sampling"):
            slope, how = trace_bytes_per_draw(sample) / 2**20, "nutpie trace (arithmetic)"
        elif len({d for d, _ in points}) >= 2:
            x, y = np.array(points, dtype=float).T
            slope, how = max(float(np.polyfit(x, y, 1)[0]), 0.0), "replays"
        else:
            slope, how = 0.0, "no replay: carried over"
        rows.append(
            {
                "phase": phase,
                "peak_mib": peak,
                "replay_peaks_mib": {str(int(d)): m for d, m in points},
                "slope_mib_per_draw": slope,
                "slope_from": how,
                "projected_mib": peak + slope * (target - n),
            }
        )
    top = max(rows, key=lambda r: r["projected_mib"])
    stored = stored_bytes_per_draw(sample)
    return {
        "sampled_draws": n,
        "target_draws": target,
        "phases": rows,
        "projected_peak_mib": top["projected_mib"],
        "projected_peak_phase": top["phase"],
        "stored_per_draw_bytes": stored,
        "stored_at_target_mib": sum(stored.values()) * target / 2**20,
        "fit_nc_per_draw_mb": _file_slope(replays),
        "fit_nc_at_target_mb": _file_at(replays, target),
    }


def _file_slope(replays: list[dict[str, Any]]) -> float:
    """MB of ``fit.nc`` per draw, from the replays (0 with fewer than two draw counts)."""
    points = {r["draws_total"]: r["fit_nc_mib"] for r in replays}
    if len(points) < 2:
        return 0.0
    x, y = np.array(sorted(points.items()), dtype=float).T
    return float(np.polyfit(x, y, 1)[0])


def _file_at(replays: list[dict[str, Any]], target: int) -> float:
    """``fit.nc`` at ``target`` draws, on the replays' line."""
    last = max(replays, key=lambda r: r["draws_total"])
    return float(last["fit_nc_mib"] + _file_slope(replays) * (target - last["draws_total"]))
