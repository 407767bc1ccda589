"""The speed-and-accuracy study: each dataset fitted by each library, cold and warm.

Every fit runs in a fresh subprocess of its library's environment, so its end-to-end time
includes the interpreter's start, imports, model building and compilation. PyTensor keeps
compiled code on disk; a **cold** fit points ``base_compiledir`` (and numba's cache) at an empty
directory, and the **warm** fit that follows reuses what the cold one left there. Fits run one
after another, never side by side.

``mediamix fit`` on the command line also runs a **later** phase: the cold and warm commands
keep a compile cache root (``--compile-cache``, as a Databricks job does on a Volume), and the
later command starts with empty local folders (a fresh machine) and restores the cold run's
archive from that root.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.datasets import DATASETS, REPO_ROOT, FitSettings, write_inputs
from bench.public import PUBLIC_DATASETS, write_public_inputs

#: Library -> the runner module that fits with it.
RUNNERS = {"mediamix": "bench.run_mediamix", "pymc-marketing": "bench.run_pymc_marketing"}
#: Runners of the geo benchmark only (see :mod:`bench.geo_bench`).
GEO_ONLY_RUNNERS = {"meridian": "bench.run_meridian"}
PHASES = ("cold", "warm")
#: The command line's extra phase: a fresh machine that restores the cold run's compile cache.
LATER = "later"
_RESTORED = re.compile(r"compile cache: restored (\d+) files \(([\d.]+) MiB\) .* in ([\d.]+) s")


def cache_env(cache_dir: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment variables that send PyTensor's and numba's caches to ``cache_dir``."""
    env = dict(os.environ if base is None else base)
    flags = [f for f in env.get("PYTENSOR_FLAGS", "").split(",") if f]
    flags = [f for f in flags if not f.startswith("base_compiledir=")]
    env["PYTENSOR_FLAGS"] = ",".join([*flags, f"base_compiledir={cache_dir / 'pytensor'}"])
    env["NUMBA_CACHE_DIR"] = str(cache_dir / "numba")
    return env


def run_fit(
    python: str | Path,
    library: str,
    spec_path: Path,
    out_dir: Path,
    env: dict[str, str],
    timeout: float | None = None,
) -> dict[str, Any]:
    """Run one fit in a subprocess and return its result.

    Parameters
    ----------
    python : str or Path
        The interpreter of the library's environment.
    library : str
        A key of :data:`RUNNERS` or :data:`GEO_ONLY_RUNNERS`.
    spec_path : Path
        The runner's JSON spec.
    out_dir : Path
        Where the result JSON and the log go (``<stem>.json``, ``<stem>.log``).
    env : dict
        The subprocess's environment (see :func:`cache_env`).
    timeout : float, optional
        Seconds before the fit is abandoned.

    Returns
    -------
    dict
        The runner's result plus ``ok``, ``end_to_end_s`` (process start to the end of the
        library's fit call), ``process_wall_s`` and ``log``; ``ok: False`` and ``error`` when
        the run failed.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    out, log = out_dir / "result.json", out_dir / "run.log"
    out.unlink(missing_ok=True)
    module = {**RUNNERS, **GEO_ONLY_RUNNERS}[library]
    cmd = [str(python), "-m", module, str(spec_path), str(out)]
    start = time.time()
    try:
        with log.open("w") as fh:
            proc = subprocess.run(
                cmd, cwd=REPO_ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT, timeout=timeout
            )
        error = None if proc.returncode == 0 else f"exit code {proc.returncode}"
    except subprocess.TimeoutExpired:
        error = f"timed out after {timeout:g} s"
    wall = time.time() - start
    base = {"library": library, "process_wall_s": wall, "log": str(log)}
    if error is None and not out.is_file():
        error = "the runner wrote no result"
    if error is not None:
        return {**base, "ok": False, "error": f"{error}; see {log}"}
    result: dict[str, Any] = json.loads(out.read_text())
    return {**result, **base, "ok": True, "end_to_end_s": result["fit_done_epoch"] - start}


def _one_line(rec: dict[str, Any]) -> str:
    head = f"  {rec['dataset']} {rec['library']:<15} {rec['cache']:<5}"
    if not rec["ok"]:
        return f"{head} FAILED: {rec['error']}"
    err = rec["roas"]["rel_error_mean"]
    return (
        f"{head} end-to-end {rec['end_to_end_s']:6.1f} s  sampling {rec['sampling_s']:6.1f} s  "
        f"min ESS {rec['ess_bulk_min_channel']:6.0f}  R-hat {rec['r_hat_max']:.3f}  "
        f"div {rec['divergences']}  ROAS err {'-' if err is None else f'{100 * err:.1f}%'}"
    )


def run_command(
    cmd: list[str], out_dir: Path, env: dict[str, str], timeout: float | None = None
) -> dict[str, Any]:
    """Run a command-line fit (``mediamix fit``, ``RUNME.py --local``) and time it whole.

    Returns
    -------
    dict
        ``ok``, ``wall_s`` (process start to exit) and ``log``; ``error`` when it failed.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    log = out_dir / "run.log"
    start = time.time()
    try:
        with log.open("w") as fh:
            proc = subprocess.run(
                cmd, cwd=REPO_ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT, timeout=timeout
            )
        error = None if proc.returncode == 0 else f"exit code {proc.returncode}"
    except subprocess.TimeoutExpired:
        error = f"timed out after {timeout:g} s"
    rec: dict[str, Any] = {"ok": error is None, "wall_s": time.time() - start, "log": str(log)}
    if error is not None:
        rec["error"] = f"{error}; see {log}"
    return rec


def _prepare(
    key: str, settings: FitSettings, work_dir: Path, prior_mode: str
) -> tuple[Path, dict[str, Any]]:
    """Write a dataset's inputs; its spec's path and its description for the report."""
    if key in PUBLIC_DATASETS:
        public = PUBLIC_DATASETS[key]
        spec = write_public_inputs(public, settings, work_dir)
        title, seed = public.title, None
    else:
        ds = DATASETS[key]
        data = ds.generate()
        spec = write_inputs(ds, data, settings, work_dir)
        title, seed = ds.title, data.truth.seed
    spec["prior_mode"] = prior_mode
    spec_path = work_dir / "spec.json"
    spec_path.write_text(json.dumps(spec, indent=2) + "\n")
    described = {
        "title": title,
        "n_periods": spec["n_periods"],
        "channels": spec["channels"],
        "controls": spec["controls"],
        "seed": seed,
        "true_roas": spec["true_roas"],
        "l_max": spec["l_max"],
        "trend": spec["trend"],
    }
    return spec_path, described


def _fresh(cache: Path) -> Path:
    shutil.rmtree(cache, ignore_errors=True)
    cache.mkdir(parents=True)
    return cache


def _cli_fits(
    spec_path: Path, work_dir: Path, phases: tuple[str, ...], repeats: int, timeout: float | None
) -> list[dict[str, Any]]:
    """``mediamix fit --no-tracking`` end to end (process start to exit): cold, warm, later.

    Every command keeps its compile cache under one root per repeat; each machine is a
    ``TMPDIR`` (where the cache's local copy goes): cold and warm share one, the later run
    gets an empty one and restores the archive the cold run wrote.
    """
    spec = json.loads(spec_path.read_text())
    records = []
    for rep in range(repeats):
        root = _fresh(work_dir / f"cache-cli-root-{rep}")
        machine = _fresh(work_dir / "cache-cli")
        for phase in (*phases, LATER):
            if phase == LATER:
                machine = _fresh(work_dir / f"cache-cli-later-{rep}")
            out = work_dir / f"cli-{phase}-{rep}"
            cmd = [sys.executable, "-m", "mediamix", "fit", "--data", spec["csv"], "--config"]
            cmd += [spec["model_config"], "--out", str(out / "fit"), "--no-tracking"]
            cmd += ["--compile-cache", str(root)]
            env = cache_env(machine) | {"TMPDIR": str(machine)}
            rec = run_command(cmd, out, env, timeout)
            rec.update(cache=phase, repeat=rep, fit_nc_mib=_mib(out / "fit" / "fit.nc"))
            rec.update(_cache_numbers(root, Path(rec["log"])))
            records.append(rec)
            print(f"  CLI {phase:<5} {_wall(rec)}", file=sys.stderr, flush=True)
    return records


def _cache_numbers(root: Path, log: Path) -> dict[str, Any]:
    """The compile cache's archive size, and what the command's restore took (from its log)."""
    archives = sorted(root.glob("*.tar.gz"))
    numbers: dict[str, Any] = {"archive_mib": _mib(archives[0]) if archives else None}
    found = _RESTORED.search(log.read_text(errors="replace")) if log.is_file() else None
    if found:
        numbers |= {"restored_files": int(found[1]), "restore_s": float(found[3])}
    return numbers


def make_run_study(
    work_dir: Path, repeats: int, timeout: float | None = None
) -> list[dict[str, Any]]:
    """``make run`` (``RUNME.py --local``) cold then warm, its stores kept under ``work_dir``."""
    records = []
    for rep in range(repeats):
        cache = _fresh(work_dir / "cache")
        for phase in PHASES:
            env = cache_env(cache)
            env["MLFLOW_TRACKING_URI"] = f"sqlite:///{work_dir / f'mlflow-{phase}-{rep}.db'}"
            env["MEDIAMIX_LAKEHOUSE"] = str(work_dir / f"lakehouse-{phase}-{rep}")
            rec = run_command(
                [sys.executable, "RUNME.py", "--local"], work_dir / f"{phase}-{rep}", env, timeout
            )
            rec.update(cache=phase, repeat=rep)
            records.append(rec)
            print(f"  make run {phase:<5} {_wall(rec)}", file=sys.stderr, flush=True)
    return records


def _wall(rec: dict[str, Any]) -> str:
    return f"{rec['wall_s']:6.1f} s" if rec["ok"] else f"FAILED: {rec['error']}"


def _mib(path: Path) -> float | None:
    return path.stat().st_size / 2**20 if path.is_file() else None


def speed_study(
    datasets: list[str],
    libraries: list[str],
    settings: FitSettings,
    work_dir: Path,
    pythons: dict[str, str | Path],
    *,
    warm: bool = True,
    prior_mode: str = "matched",
    timeout: float | None = None,
    repeats: int = 1,
    cli: bool = True,
) -> dict[str, Any]:
    """Fit every dataset with every library, cold then warm, ``repeats`` times.

    Parameters
    ----------
    datasets : list of str
        Keys of :data:`~bench.datasets.DATASETS` or :data:`~bench.public.PUBLIC_DATASETS`.
    libraries : list of str
        Keys of :data:`RUNNERS`.
    settings : FitSettings
        Chains, draws, tuning, seed and model structure, the same for both libraries (a public
        dataset keeps its own documented structure).
    work_dir : Path
        Scratch space: data, specs, caches, logs and per-fit results.
    pythons : dict
        Library -> interpreter of its environment.
    warm : bool, default True
        Also run each fit a second time with the cache the first left.
    prior_mode : {"matched", "default"}
        PyMC-Marketing with mediamix's priors, or with its own.
    timeout : float, optional
        Seconds before one fit is abandoned.
    repeats : int, default 1
        Cold-then-warm pairs per library and dataset (each cold one on an empty cache); the
        report gives medians.
    cli : bool, default True
        Also time ``mediamix fit`` on the command line, end to end (mediamix only).

    Returns
    -------
    dict
        ``settings``, ``datasets`` (shape and true ROAS per dataset), ``runs`` (one record
        per fit, see :func:`run_fit`) and ``cli_runs`` (``dataset -> records``).
    """
    runs: list[dict[str, Any]] = []
    cli_runs: dict[str, list[dict[str, Any]]] = {}
    described: dict[str, Any] = {}
    phases = PHASES if warm else PHASES[:1]
    for key in datasets:
        spec_path, described[key] = _prepare(key, settings, work_dir / key, prior_mode)
        for library in libraries:
            for rep in range(repeats):
                cache = _fresh(work_dir / "cache" / f"{key}-{library}")
                for phase in phases:
                    rec = run_fit(
                        pythons[library],
                        library,
                        spec_path,
                        work_dir / key / f"{library}-{phase}-{rep}",
                        cache_env(cache),
                        timeout,
                    )
                    rec.update(dataset=key, cache=phase, repeat=rep)
                    runs.append(rec)
                    print(_one_line(rec), file=sys.stderr, flush=True)
        if cli and "mediamix" in libraries:
            cli_runs[key] = _cli_fits(spec_path, work_dir / key, phases, repeats, timeout)
    return {
        "settings": {**asdict(settings), "prior_mode": prior_mode, "repeats": repeats},
        "datasets": described,
        "runs": runs,
        "cli_runs": cli_runs,
    }
