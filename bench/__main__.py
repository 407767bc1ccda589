"""``python -m bench``: the speed study (``make bench``) or the recovery study (``make recovery``).

Examples
--------
Full speed study (rewrites ``docs/benchmarks.md`` and ``docs/benchmarks.json``)::

    .venv/bin/python -m bench --study speed

A quick smoke run of one dataset, written elsewhere::

    .venv/bin/python -m bench --datasets a --draws 100 --tune 100 --repeats 1 --no-make-run \
        --doc /tmp/b.md --json /tmp/b.json

Only the geo benchmark (mediamix's geo model and Google Meridian), a quick smoke run::

    .venv/bin/python -m bench --datasets geo-small --chains 2 --draws 100 --tune 100 \
        --doc /tmp/g.md --json /tmp/g.json

Recovery study (``make recovery``), 20 seeds of datasets (a) and (b), then 10 of the 40-geo
dataset (``--jobs N`` runs N fits at once where the cores allow)::

    .venv/bin/python -m bench --study recovery
    .venv/bin/python -m bench --study recovery --datasets geo \
        --doc docs/recovery_geo.md --json docs/recovery_geo.json

Calibration study (``make recovery-calibration``): dataset (b) with and without lift tests on
the planner's top three channels, written into ``docs/recovery.md``::

    .venv/bin/python -m bench --study calibration --datasets b --seeds 10

Scale-out study (``make scale``): 40 groups on local Spark, written to ``docs/scale.json``::

    .venv/bin/python -m bench --study scale --groups 40 --weeks 104 --channels 3

Geo memory study (``make bench-geo-memory``): a 200 geos x 156 weeks x 10 channels fit, its
peak memory per phase at 2 x (30 + 50) draws and replayed at 1x and 4x those draws, projected
to 4 x 1000 draws (``docs/geo_memory.json`` and a section of ``docs/benchmarks.md``)::

    .venv/bin/python -m bench --study geo-memory
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.datasets import DATASETS, REPO_ROOT, FitSettings
from bench.geo_bench import GEO_DATASETS, GEO_LIBRARIES
from bench.machine import describe
from bench.public import PUBLIC_DATASETS
from bench.report import render_recovery, render_speed

DEFAULT_DATASETS = {"speed": "a,b,c,d,geo-small,geo", "recovery": "a,b", "calibration": "b"}
DEFAULT_OUTPUT = {
    "speed": "docs/benchmarks",
    "recovery": "docs/recovery",
    "calibration": "docs/recovery_calibration",
}
ALL_DATASETS = [*DATASETS, *GEO_DATASETS]


def _names(text: str, allowed: list[str], what: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in allowed]
    if unknown or not names:
        raise SystemExit(f"--{what}: unknown {unknown}; choose from {', '.join(allowed)}")
    return names


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    p.add_argument(
        "--study",
        choices=["speed", "recovery", "calibration", "scale", "geo-memory"],
        default="speed",
    )
    p.add_argument("--groups", type=int, default=40, help="scale: number of groups")
    p.add_argument("--weeks", type=int, default=104, help="scale: weeks per group")
    p.add_argument("--channels", type=int, default=3, help="scale: channels per group")
    p.add_argument("--alone", type=int, default=40, help="scale: groups also fitted alone")
    p.add_argument("--master", default="local[2]", help="scale: Spark master")
    p.add_argument("--sampler", default=None, help="scale: sampler (default the config's)")
    p.add_argument(
        "--datasets",
        help="comma-separated keys (speed: a,b,c,d,geo-small,geo; recovery: a,b, or geo)",
    )
    p.add_argument("--libraries", default="mediamix,pymc-marketing", help="national datasets")
    p.add_argument("--geo-libraries", default="mediamix,meridian", help="geo datasets")
    p.add_argument("--chains", type=int, help="default 4 (geo-memory: 2)")
    p.add_argument("--draws", type=int, help="default 1000 (geo-memory: 50)")
    p.add_argument("--tune", type=int, help="default 1000 (geo-memory: 30)")
    p.add_argument(
        "--memory-repeats", default="1,4", help="geo-memory: how many times the draws are replayed"
    )
    p.add_argument("--seed", type=int, default=1, help="the samplers' seed")
    p.add_argument("--no-warm", action="store_true", help="skip the warm-cache repeat")
    p.add_argument(
        "--repeats", type=int, default=3, help="speed: cold+warm pairs per fit (medians reported)"
    )
    p.add_argument("--no-cli", action="store_true", help="speed: skip timing `mediamix fit`")
    p.add_argument(
        "--no-make-run", action="store_true", help="speed: skip timing `make run` (RUNME.py)"
    )
    p.add_argument(
        "--priors",
        choices=["matched", "default"],
        default="matched",
        help="PyMC-Marketing with mediamix's priors (matched) or its own (default)",
    )
    p.add_argument("--timeout", type=float, help="seconds before one fit is abandoned")
    p.add_argument("--seeds", type=int, default=20, help="recovery: number of data seeds")
    p.add_argument("--geo-seeds", type=int, default=10, help="recovery: data seeds, geo datasets")
    p.add_argument("--first-seed", type=int, default=1, help="recovery: the first data seed")
    p.add_argument("--jobs", type=int, default=1, help="recovery: fits run at once")
    p.add_argument(
        "--resume",
        help="recovery: keep the successful fits of an earlier run's results (its .json or "
        ".partial.json, same settings) and run only the rest",
    )
    p.add_argument(
        "--from-partial",
        help="recovery: write the report from a stopped run's partial results (*.partial.json)",
    )
    p.add_argument("--bench-python", default=".venv-bench/bin/python", help="PyMC-Marketing's")
    p.add_argument("--meridian-python", default=".venv-meridian/bin/python", help="Meridian's")
    p.add_argument("--meridian-knots", type=int, help="Meridian's knots (default: its own)")
    p.add_argument("--work-dir", default="out/bench", help="scratch space (data, caches, logs)")
    p.add_argument("--doc", help="markdown output (default docs/benchmarks.md or recovery.md)")
    p.add_argument("--json", help="raw results (default docs/benchmarks.json or recovery.json)")
    args = p.parse_args(argv)
    # the geo memory study samples a large model briefly; the others sample as a default fit
    short = args.study == "geo-memory"
    for name, default, brief in (("chains", 4, 2), ("draws", 1000, 50), ("tune", 1000, 30)):
        if getattr(args, name) is None:
            setattr(args, name, brief if short else default)
    return args


def _shown(path: Path) -> str:
    """``path`` relative to the repository when it is inside it."""
    return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)


def _write(
    results: dict[str, Any],
    render: Callable[[dict[str, Any], str, str], str],
    command: str,
    doc: Path,
    raw: Path,
) -> None:
    for path in (doc, raw):
        path.parent.mkdir(parents=True, exist_ok=True)
    # written to a temporary file first, so an interrupted run leaves the old report whole
    texts = {raw: json.dumps(results, indent=2, default=float) + "\n"}
    texts[doc] = render(results, command, _shown(raw))
    if doc.exists():
        from bench.sections import carry_sections

        texts[doc] = carry_sections(doc.read_text(), texts[doc])
    for path, text in texts.items():
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text)
        tmp.replace(path)
    print(f"wrote {_shown(doc)} and {_shown(raw)}", file=sys.stderr)


def _calibration(
    args: argparse.Namespace, key: str, settings: FitSettings, command: str, raw: Path
) -> int:
    """The calibration study, its section written into ``docs/recovery.md`` (or ``--doc``)."""
    from bench.calibration import calibration_study, render_calibration, write_section

    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    doc = REPO_ROOT / (args.doc or "docs/recovery.md")
    machine = describe({"mediamix": sys.executable})

    def write(results: dict[str, Any]) -> None:
        results["machine"] = machine
        raw.parent.mkdir(parents=True, exist_ok=True)
        raw.write_text(json.dumps(results, indent=2, default=float) + "\n")
        text = doc.read_text() if doc.exists() else ""
        doc.write_text(write_section(text, render_calibration(results, command, _shown(raw))))
        print(f"wrote {_shown(doc)} and {_shown(raw)}", file=sys.stderr)

    results = calibration_study(key, seeds, settings, progress=write)
    write(results)
    return 0 if results["fits"] else 1


def _geo_memory(args: argparse.Namespace) -> int:
    """The geo memory study, its section written into ``docs/benchmarks.md`` (or ``--doc``)."""
    from bench.geo_memory import geo_memory_study
    from bench.report_geo import render_geo_memory, write_memory_section

    repeats = tuple(int(k) for k in args.memory_repeats.split(",") if k.strip())
    if not repeats or min(repeats) < 1:
        raise SystemExit("--memory-repeats: positive integers, e.g. 1,4")
    results = geo_memory_study(
        REPO_ROOT / args.work_dir / "geo-memory",
        chains=args.chains,
        tune=args.tune,
        draws=args.draws,
        repeats=repeats,
        seed=args.seed,
        timeout=args.timeout,
    )
    results["machine"] = {
        **describe({"mediamix": sys.executable}),
        "load_average_end": [round(x, 2) for x in os.getloadavg()],
    }
    raw = REPO_ROOT / (args.json or "docs/geo_memory.json")
    doc = REPO_ROOT / (args.doc or "docs/benchmarks.md")
    command = "python -m bench " + shlex.join(sys.argv[1:])
    raw.write_text(json.dumps(results, indent=2, default=float) + "\n")
    text = doc.read_text() if doc.exists() else ""
    section = render_geo_memory(results, command, _shown(raw))
    tmp = doc.with_name(doc.name + ".tmp")
    tmp.write_text(write_memory_section(text, section))
    tmp.replace(doc)
    print(f"wrote {_shown(doc)} and {_shown(raw)}", file=sys.stderr)
    return 0


def environments(
    args: argparse.Namespace, national: list[str], geo: list[str]
) -> tuple[list[str], list[str], dict[str, str | Path]]:
    """The libraries to run and their interpreters; exits when an environment is missing."""
    libraries = _names(args.libraries, ["mediamix", "pymc-marketing"], "libraries")
    geo_libraries = _names(args.geo_libraries, list(GEO_LIBRARIES), "geo-libraries")
    pythons: dict[str, str | Path] = {"mediamix": sys.executable}
    wanted = [
        ("pymc-marketing", "PyMC-Marketing", "bench", national, libraries),
        ("meridian", "Meridian", "meridian", geo, geo_libraries),
    ]
    for library, name, flag, keys, chosen in wanted:
        if not keys or library not in chosen:
            continue
        python = getattr(args, f"{flag}_python")
        path = Path(python) if Path(python).is_absolute() else REPO_ROOT / python
        if not path.exists():
            raise SystemExit(
                f"no {name} environment at {python}: run `make {flag}-env` (or `make bench`, "
                f"which builds it), or pass --{flag}-python"
            )
        pythons[library] = path
    return libraries, geo_libraries, pythons


def speed(args: argparse.Namespace, datasets: list[str], settings: FitSettings) -> dict[str, Any]:
    """The speed study over national and geo datasets, with the machine's description."""
    from bench.geo_bench import geo_study
    from bench.harness import speed_study

    national = [d for d in datasets if d in DATASETS or d in PUBLIC_DATASETS]
    geo = [d for d in datasets if d in GEO_DATASETS]
    libraries, geo_libraries, pythons = environments(args, national, geo)
    labels = {"pymc-marketing": "pymc-marketing", "meridian": "google-meridian"}
    envs = {labels.get(k, k): v for k, v in pythons.items()}
    machine = describe(envs)
    work = REPO_ROOT / args.work_dir / "speed"
    results = speed_study(
        national,
        [lib for lib in libraries if lib in pythons],
        settings,
        work,
        pythons,
        warm=not args.no_warm,
        prior_mode=args.priors,
        timeout=args.timeout,
        repeats=args.repeats,
        cli=not args.no_cli,
    )
    if not args.no_make_run and "mediamix" in libraries:
        from bench.harness import make_run_study

        results["make_run"] = make_run_study(work / "make-run", args.repeats, args.timeout)
    if geo:
        results["geo"] = geo_study(
            geo,
            [lib for lib in geo_libraries if lib in pythons],
            settings,
            work,
            pythons,
            warm=not args.no_warm,
            timeout=args.timeout,
            meridian_knots=args.meridian_knots,
        )
    results["machine"] = {**machine, "load_average_end": [round(x, 2) for x in os.getloadavg()]}
    return results


def main(argv: list[str] | None = None) -> int:
    """Run the chosen study and write its report."""
    args = parse_args(argv)
    if args.study == "geo-memory":
        return _geo_memory(args)
    if args.study == "scale":
        from bench.scale import print_summary, scale_study

        results = scale_study(args)
        raw = REPO_ROOT / (args.json or "docs/scale.json")
        raw.write_text(json.dumps(results, indent=2, default=float) + "\n")
        print_summary(results)
        return 0
    known = ALL_DATASETS + (list(PUBLIC_DATASETS) if args.study == "speed" else [])
    datasets = _names(args.datasets or DEFAULT_DATASETS[args.study], known, "datasets")
    if args.repeats < 1:
        raise SystemExit("--repeats: at least 1")
    settings = FitSettings(chains=args.chains, draws=args.draws, tune=args.tune, seed=args.seed)
    stem = DEFAULT_OUTPUT[args.study]
    doc = REPO_ROOT / (args.doc or f"{stem}.md")
    raw = REPO_ROOT / (args.json or f"{stem}.json")
    command = "python -m bench " + shlex.join(sys.argv[1:] if argv is None else argv)
    if args.study == "speed":
        results = speed(args, datasets, settings)
        _write(results, render_speed, command, doc, raw)
        runs = results["runs"] + results.get("geo", {}).get("runs", [])
        return 0 if all(r["ok"] for r in runs) else 1
    if args.study == "calibration":
        return _calibration(args, datasets[0], settings, command, raw)
    from bench.recovery import recovery_study

    if args.from_partial:
        results = json.loads(Path(args.from_partial).read_text())
        _write(results, render_recovery, results.get("command", command), doc, raw)
        return 0
    machine = describe({"mediamix": sys.executable})
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    geo_seeds = list(range(args.first_seed, args.first_seed + args.geo_seeds))
    partial = raw.with_name(raw.stem + ".partial.json")

    def keep(results: dict[str, Any]) -> None:
        # the fits so far, beside the report: a study stopped midway keeps what it measured
        tmp = partial.with_name(partial.name + ".tmp")
        partial_results = {**results, "machine": machine, "command": command}
        tmp.write_text(json.dumps(partial_results, indent=2, default=float))
        tmp.replace(partial)

    earlier = json.loads(Path(args.resume).read_text()) if args.resume else None
    results = recovery_study(
        datasets,
        seeds,
        settings,
        REPO_ROOT / args.work_dir / "recovery",
        geo_seeds=geo_seeds,
        jobs=args.jobs,
        progress=keep,
        earlier=earlier,
        timeout=args.timeout,
    )
    results["machine"] = {**machine, "load_average_end": [round(x, 2) for x in os.getloadavg()]}
    _write(results, render_recovery, command, doc, raw)
    partial.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
