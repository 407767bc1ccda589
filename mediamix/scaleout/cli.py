"""The ``mediamix fit-many`` command: its arguments and handler.

The parser is built without importing PyMC or Spark; the handler imports them when it runs.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from mediamix.inference.compile_cache import open_for_command
from mediamix.inference.compile_key import OPTION_HELP as COMPILE_CACHE_HELP

__all__ = ["add_fit_many_parser", "run_fit_many"]


def _session(master: str | None) -> Any:
    """A Spark session: ``master`` when given, else the active one, else None (in-process)."""
    from mediamix.scaleout.spark import active_session, local_session, pyspark_available

    if master is None:
        return active_session()
    if not pyspark_available():
        print(
            f"--spark {master}: pyspark is not installed (pip install -e '.[spark]'); "
            "fitting the groups one after another in-process",
            file=sys.stderr,
        )
        return None
    return local_session(master)


def _print(result: Any) -> None:
    status = result.status
    for _, row in status.iterrows():
        secs = row["fit_seconds"]
        text = f"  {row[result.group_by]!s:<16} {row['status']:<8} {secs or 0:7.1f} s"
        print(text + (f"  {row['error']}" if row["status"] == "failed" else ""))
    counts = status["status"].value_counts().to_dict()
    print(
        f"{len(status)} groups on {result.engine} in {result.wall_seconds:.1f} s: "
        + ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
    )
    print(f"wrote {result.out_dir / 'status.csv'} and {result.out_dir}/<group>/")


def run_fit_many(args: argparse.Namespace) -> int:
    """Handle ``mediamix fit-many``; exits 1 when any group failed, 130/143 when interrupted.

    ``SIGINT``/``SIGTERM`` stop the remaining groups; the groups that finished are still
    recorded (a child run each, under a parent run that ends ``KILLED``, the group in flight a
    ``KILLED`` child) and ``--resume`` fits the rest.
    """
    from mediamix.inference.interrupts import interrupt_guard

    with interrupt_guard():  # SIGTERM too: the process ends 143 with its runs KILLED
        return _fit_many_command(args)


def _fit_many_command(args: argparse.Namespace) -> int:
    from mediamix.config.model import load_model_config

    config = load_model_config(args.config).with_sampler(
        sampler=args.sampler, draws=args.draws, tune=args.tune, chains=args.chains
    )
    # before PyTensor loads (it reads its dirs once) and before Spark starts its local workers,
    # which inherit this environment
    cache = open_for_command(args.compile_cache)
    from mediamix.scaleout.record import log_fit_many, new_run_id, write_results_table
    from mediamix.scaleout.runner import FitManyInterrupted, fit_many, load_groups_data

    data = load_groups_data(args.data, lakehouse=args.lakehouse)  # bad input before Spark starts
    spark = _session(args.spark)
    run_id = new_run_id()

    def track(result: Any, interrupted: BaseException | None = None) -> None:
        if args.no_tracking:
            return
        parent = log_fit_many(
            result,
            config,
            run_id,
            data_source={"path": str(args.data)},
            experiment=args.experiment,
            tracking_uri=args.tracking_uri,
            fit_artifacts=not args.no_fit_artifacts,
            interrupted=interrupted,
        )
        print(f"MLflow parent run {parent} (a child run per group fitted)")

    try:
        result = fit_many(data, args.group_by, config, args.out, spark=spark, resume=args.resume)
    except FitManyInterrupted as stop:
        _print(stop.partial)
        print("interrupted: --resume fits the groups that did not finish", file=sys.stderr)
        track(stop.partial, stop)  # raises it again, with the parent run ended KILLED
        raise
    _print(result)
    if cache is not None:  # compiled code of the groups this process fitted
        print(cache.finish(), file=sys.stderr)
    written = write_results_table(result, run_id, table=args.table, lakehouse=args.lakehouse)
    print(f"results: {written.table} version {written.version} ({written.rows} rows)")
    track(result)
    return 1 if len(result.failed) else 0


def add_fit_many_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``fit-many`` on the CLI's sub-parsers."""
    p = sub.add_parser(
        "fit-many", help="fit one independent MMM per group value, on Spark when available"
    )
    p.add_argument("--data", required=True, help="CSV file or table with every group's rows")
    p.add_argument("--group-by", required=True, help="column whose values name the groups")
    p.add_argument("--config", required=True, help="model YAML config (the same for each group)")
    p.add_argument("--out", required=True, help="directory for <group>/ files and status.csv")
    p.add_argument(
        "--spark",
        default=None,
        metavar="MASTER",
        help="start Spark on MASTER (e.g. local[2]); default the active session, else none",
    )
    p.add_argument("--resume", action="store_true", help="skip unchanged groups that succeeded")
    p.add_argument(
        "--sampler", choices=["nutpie", "nutpie-native", "pymc", "numpyro", "advi"], default=None
    )
    p.add_argument("--draws", type=int, default=None)
    p.add_argument("--tune", type=int, default=None)
    p.add_argument("--chains", type=int, default=None)
    p.add_argument("--lakehouse", default=None, help="local lakehouse root for table names")
    p.add_argument("--table", default="mmm_fit_many", help="results table (default mmm_fit_many)")
    p.add_argument("--tracking-uri", default=None, help="MLflow tracking store")
    p.add_argument("--experiment", default=None, help="MLflow experiment")
    p.add_argument("--no-tracking", action="store_true", help="do not record the run in MLflow")
    p.add_argument(
        "--no-fit-artifacts",
        action="store_true",
        help="MLflow child runs name their fit.nc (tag mediamix.fit_path) instead of uploading it",
    )
    p.add_argument("--compile-cache", default=None, metavar="DIR", help=COMPILE_CACHE_HELP)
    p.set_defaults(handler=run_fit_many)
