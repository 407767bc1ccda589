"""The ``mediamix`` command line: thin wrappers over the package's functions.

Each sub-command lives in one ``_cmd_*`` function registered in :func:`build_parser`. Bad input
(a :class:`~mediamix.errors.MediamixError`) prints ``error: ...`` and exits with status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from mediamix.errors import MediamixError
from mediamix.inference.compile_key import OPTION_HELP as COMPILE_CACHE_HELP

__all__ = ["build_parser", "main"]

Handler = Callable[[argparse.Namespace], int]


def _generate_groups(args: argparse.Namespace, generator: Any, groups: int) -> int:
    from mediamix.data.generator import generate_groups

    if args.ingest:
        raise MediamixError("--ingest writes one gold table; it does not take --groups")
    grouped = generate_groups(generator, groups, seed=args.seed)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    grouped.data.to_csv(tmp, index=False, date_format="%Y-%m-%d")
    tmp.replace(out)
    print(f"wrote {len(grouped.data)} rows of {groups} groups (column 'group') to {out}")
    if args.truth:
        grouped.write_json(args.truth)
        print(f"wrote each group's ground truth to {args.truth}")
    return 0


def _cmd_generate(args: argparse.Namespace) -> int:
    from mediamix.commands.paths import check_output_file
    from mediamix.data.generator import Generator

    check_output_file(Path(args.out), "--out")
    if args.truth:  # checked first, so that a bad --truth leaves nothing written at all
        check_output_file(Path(args.truth), "--truth")
    generator = Generator.from_config_file(args.config)
    groups = args.groups or generator.config.groups
    if groups:
        return _generate_groups(args, generator, groups)
    if getattr(generator.config, "geos", None) is not None:
        return _generate_geos(args, generator)
    result = generator.generate(seed=args.seed)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    result.data.to_csv(tmp, index=False, date_format="%Y-%m-%d")
    tmp.replace(out)  # a failed write never leaves a half-written file under the real name
    print(f"wrote {len(result.data)} rows x {result.data.shape[1]} columns to {out}")
    if args.truth:
        result.truth.write_json(args.truth)
        print(f"wrote ground truth to {args.truth}")
    for name, roas in result.truth.roas.items():
        print(f"  true ROAS {name:<12} {roas:8.3f}")
    if args.ingest:
        from mediamix.lakehouse.medallion import ingest_synthetic

        report = ingest_synthetic(
            result, catalog=args.catalog, schema=args.schema, lakehouse=args.lakehouse
        )
        print(report.format())
    return 0


def _generate_geos(args: argparse.Namespace, generator: Any) -> int:
    """``mediamix generate`` for a config with ``geos:``: the long CSV, its truth, ingestion."""
    from mediamix.data.geo_generator import generate_geos

    data = generate_geos(generator, seed=args.seed)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    data.data.to_csv(tmp, index=False, date_format="%Y-%m-%d")
    tmp.replace(out)
    geos = len(data.truth["geos"])
    print(f"wrote {len(data.data)} rows ({geos} geos) x {data.data.shape[1]} columns to {out}")
    if args.truth:
        data.write_json(args.truth)
        print(f"wrote ground truth to {args.truth}")
    for name, channel in data.truth["channels"].items():
        print(f"  true ROAS {name:<12} {channel['roas']:8.3f}  (national)")
    if args.ingest:
        from mediamix.lakehouse.medallion import ingest_synthetic

        report = ingest_synthetic(
            data, catalog=args.catalog, schema=args.schema, lakehouse=args.lakehouse
        )
        print(report.format())
    return 0


def _cmd_fit(args: argparse.Namespace) -> int:
    from mediamix.commands.fit import run_fit

    return run_fit(args)


def _cmd_ingest(args: argparse.Namespace) -> int:
    from mediamix.lakehouse.medallion import ingest
    from mediamix.lakehouse.quality import DataQualityError

    channels = [c.strip() for c in args.channels.split(",") if c.strip()] if args.channels else None
    if args.incremental:
        return _cmd_ingest_increment(args, channels)
    try:
        report = ingest(
            args.spend,
            args.outcome,
            args.controls,
            channels=channels,
            frequency=args.frequency,
            allow_rejects=args.allow_rejects,
            catalog=args.catalog,
            schema=args.schema,
            lakehouse=args.lakehouse,
        )
    except DataQualityError as exc:
        if exc.report is not None and exc.report.writes:
            print(exc.report.format(issues=False))  # what was written before the failure
        raise
    print(report.format())
    return 0


def _cmd_ingest_increment(args: argparse.Namespace, channels: list[str] | None) -> int:
    """``ingest --incremental``: MERGE a delivery of new or restated periods."""
    from mediamix.lakehouse.incremental import ingest_increment

    if args.allow_rejects:
        raise MediamixError("--incremental refuses a delivery with rejects; drop --allow-rejects")
    report = ingest_increment(
        args.spend,
        args.outcome,
        args.controls,
        reason=args.reason,
        channels=channels,
        frequency=args.frequency,
        catalog=args.catalog,
        schema=args.schema,
        lakehouse=args.lakehouse,
    )
    print(report.format())
    return 0


def _cmd_tables(args: argparse.Namespace) -> int:
    from mediamix.lakehouse.names import TableName
    from mediamix.lakehouse.tables import describe_table, list_tables, table_history

    if args.name:
        name = TableName.parse(args.name, catalog=args.catalog, schema=args.schema)
        info = describe_table(name, lakehouse=args.lakehouse)
        print(f"{info.name}  version {info.version}  {info.rows} rows  ({info.backend})")
        print(f"location: {info.location}")
        for col, kind in info.columns:
            print(f"  {col:<24} {kind}")
        for entry in table_history(name, lakehouse=args.lakehouse):
            when = entry.timestamp.isoformat(timespec="seconds") if entry.timestamp else "-"
            print(f"  version {entry.version:<4} {when}  {entry.operation}")
        return 0
    infos = list_tables(catalog=args.catalog, schema=args.schema, lakehouse=args.lakehouse)
    if not infos:
        print("no tables found")
        return 0
    width = max(len(str(i.name)) for i in infos)
    print(f"{'table':<{width}}  {'version':>7}  {'rows':>8}  columns")
    for i in infos:
        version = "-" if i.version is None else str(i.version)
        print(f"{i.name!s:<{width}}  {version:>7}  {i.rows:>8}  {len(i.columns)}")
    return 0


def _cmd_optimize(args: argparse.Namespace) -> int:
    import json

    from mediamix.analysis.constraints import check_budget, parse_bounds
    from mediamix.analysis.optimize import optimize_budget
    from mediamix.inference.fit import load_fit

    # bad input is reported before the fit is read or anything is compiled
    if args.out:
        from mediamix.commands.paths import check_output_file

        check_output_file(Path(args.out), "--out")
    budget = check_budget(args.budget)
    bounds = parse_bounds(args.bounds or [])
    window = None
    if args.window:
        start, colon, end = args.window.partition(":")
        if not colon:
            raise MediamixError(f"--window {args.window!r}: expected START:END, e.g. 2022-01-01:")
        window = (start.strip() or None, end.strip() or None)
    fit_path = Path(args.fit)
    result = load_fit(fit_path / "fit.nc" if fit_path.is_dir() else fit_path)
    allocation = optimize_budget(
        result,
        budget,
        bounds=bounds,
        objective=args.objective,
        risk_aversion=args.risk_aversion,
        window=window,
        by_geo=args.by_geo,
    )
    table = allocation.table()
    print(f"{'channel':<16} {'current':>14} {'allocation':>14} {'min':>14} {'max':>14}")
    for ch, row in table.iterrows():
        print(
            f"{ch!s:<16} {row['current_spend']:>14,.2f} {row['plan_spend']:>14,.2f} "
            f"{row['min']:>14,.2f} {row['max']:>14,.2f}"
        )
    prob = allocation.comparison.hdi_prob
    for label, iv in (
        ("expected outcome", allocation.expected_outcome),
        ("current outcome", allocation.current_outcome),
        ("lift", allocation.lift),
    ):
        print(
            f"  {label:<17} {iv.mean:>14,.2f}  "
            f"{prob:.0%} HDI [{iv.hdi_low:,.2f}, {iv.hdi_high:,.2f}]"
        )
    print(f"  P(lift > 0)       {allocation.p_lift_positive:.3f}")
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".tmp")
        tmp.write_text(json.dumps(allocation.to_dict(), indent=2) + "\n")
        tmp.replace(out)
        print(f"wrote {out}")
    return 0


def _add_optimize_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    opt = sub.add_parser(
        "optimize", help="allocate a budget per period across channels over the posterior"
    )
    opt.add_argument("--fit", required=True, help="directory written by `mediamix fit` (or fit.nc)")
    opt.add_argument("--budget", required=True, help="total spend per period (per week if weekly)")
    opt.add_argument(
        "--bounds",
        nargs="+",
        action="extend",
        metavar="CHANNEL=MIN:MAX",
        help="per-channel bounds per period: amounts (tv=1000:5000), changes relative to "
        "current spend (tv=-30%%:+30%%), an empty side for none (tv=:5000); * = every other "
        "channel",
    )
    opt.add_argument("--objective", choices=["mean", "risk-aware"], default="mean")
    opt.add_argument(
        "--risk-aversion",
        type=float,
        default=1.0,
        help="k in mean - k * sd for --objective risk-aware (default 1)",
    )
    opt.add_argument(
        "--window", default=None, help="START:END dates that define current spend (default: all)"
    )
    opt.add_argument(
        "--by-geo",
        action="store_true",
        help="geo fits: allocate per GEO/CHANNEL (bounds may name north/tv, or tv for every "
        "geo) instead of per channel at each channel's historical geo split",
    )
    opt.add_argument("--out", default=None, help="allocation.json to write")
    opt.set_defaults(handler=_cmd_optimize)


def _add_lake_args(p: argparse.ArgumentParser, listing: bool = False) -> None:
    p.add_argument(
        "--lakehouse",
        default=None,
        help="local lakehouse root (default: $MEDIAMIX_LAKEHOUSE, else ./lakehouse; "
        "on Databricks the metastore)",
    )
    if listing:
        p.add_argument("--catalog", default=None, help="catalog to list (default: all)")
        p.add_argument("--schema", default=None, help="schema to list (default: all)")
    else:
        p.add_argument("--catalog", default=None, help="catalog (default: main)")
        p.add_argument("--schema", default=None, help="schema (default: mediamix)")


def _add_generate_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    gen = sub.add_parser("generate", help="generate synthetic MMM data with known truth")
    gen.add_argument("--config", required=True, help="generator YAML config")
    gen.add_argument("--seed", type=int, default=None, help="overrides the config's seed")
    gen.add_argument("--out", required=True, help="CSV file to write")
    gen.add_argument("--truth", default=None, help="JSON file for the ground truth")
    gen.add_argument(
        "--groups",
        type=int,
        default=None,
        help="N independent data sets in one table (column "
        "'group', g01..gN), each with its own truth (default: the config's groups)",
    )
    gen.add_argument(
        "--ingest", action="store_true", help="also write it through bronze -> silver -> gold"
    )
    _add_lake_args(gen)
    gen.set_defaults(handler=_cmd_generate)


def _add_lake_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    ing = sub.add_parser("ingest", help="load raw feeds through bronze -> silver -> gold")
    where = "CSV/Parquet file, folder or glob (local or /Volumes/...), or a table"
    ing.add_argument("--spend", required=True, help=f"long spend (date,channel,spend): {where}")
    ing.add_argument("--outcome", required=True, help=f"outcome (date,<outcome>): {where}")
    ing.add_argument("--controls", default=None, help=f"wide controls (date,<control...>): {where}")
    ing.add_argument(
        "--incremental",
        action="store_true",
        help="MERGE a delivery of new or corrected periods instead of replacing the tables",
    )
    ing.add_argument("--reason", default=None, help="with --incremental: why, kept in history")
    ing.add_argument("--channels", default=None, help="expected channels, comma-separated")
    ing.add_argument("--frequency", choices=["weekly", "daily"], default="weekly")
    ing.add_argument(
        "--allow-rejects",
        action="store_true",
        help="build silver and gold from the rows that passed (rejects stay in quarantine)",
    )
    _add_lake_args(ing)
    ing.set_defaults(handler=_cmd_ingest)

    tab = sub.add_parser("tables", help="list tables with versions, or describe one")
    tab.add_argument("name", nargs="?", default=None, help="a table to describe with history")
    _add_lake_args(tab, listing=True)
    tab.set_defaults(handler=_cmd_tables)


def _add_fit_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    fit = sub.add_parser("fit", help="fit the Bayesian MMM and write summary.json + fit.nc")
    fit.add_argument("--data", required=True, help="CSV file or gold table name")
    fit.add_argument("--config", required=True, help="model YAML config")
    fit.add_argument("--out", required=True, help="output directory")
    fit.add_argument(
        "--sampler", choices=["nutpie", "nutpie-native", "pymc", "numpyro", "advi"], default=None
    )
    fit.add_argument("--draws", type=int, default=None)
    fit.add_argument("--tune", type=int, default=None)
    fit.add_argument("--chains", type=int, default=None)
    fit.add_argument("--seed", type=int, default=None)
    fit.add_argument(
        "--target-accept",
        type=float,
        default=None,
        help="NUTS target acceptance in (0, 1); higher removes divergences at more cost",
    )
    for bound in ("start", "end"):
        fit.add_argument(
            f"--{bound}",
            default=None,
            metavar="DATE",
            help=f"fit window {bound} (inclusive, a data date); overrides the config's window",
        )
    fit.add_argument("--lakehouse", default=None, help="local lakehouse root for table names")
    fit.add_argument(
        "--lift-tests",
        default=None,
        metavar="PATH",
        help="lift tests to calibrate with: a CSV file or a table name (mmm_lift_tests)",
    )
    fit.add_argument("--progress", action="store_true", help="show the sampler's progress bar")
    fit.add_argument(
        "--tracking-uri",
        default=None,
        help="MLflow tracking store (default: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db in "
        "the working directory; the workspace on Databricks)",
    )
    fit.add_argument(
        "--experiment",
        default=None,
        help="MLflow experiment (default: the config's tracking.experiment, else mediamix)",
    )
    fit.add_argument(
        "--register-as",
        default=None,
        metavar="NAME",
        help="register the model as NAME (catalog.schema.NAME in Unity Catalog on Databricks)",
    )
    fit.add_argument(
        "--register-anyway",
        action="store_true",
        help="register the model even if the fit did not converge (by default it is not)",
    )
    fit.add_argument("--no-tracking", action="store_true", help="do not record the fit in MLflow")
    fit.add_argument("--compile-cache", default=None, metavar="DIR", help=COMPILE_CACHE_HELP)
    fit.set_defaults(handler=_cmd_fit)


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every sub-command."""
    parser = argparse.ArgumentParser(prog="mediamix", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_generate_parser(sub)
    _add_lake_parsers(sub)
    _add_fit_parser(sub)
    _add_optimize_parser(sub)
    from mediamix.commands.validate import add_validate_parser

    add_validate_parser(sub)
    from mediamix.commands.experiments import add_experiment_parsers

    add_experiment_parsers(sub)
    from mediamix.app.cli import add_app_parsers

    add_app_parsers(sub)
    from mediamix.scaleout.cli import add_fit_many_parser

    add_fit_many_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit status."""
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except MediamixError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        # 128 + signal number, as a shell reports a process ended by the signal
        status = int(getattr(exc, "exit_status", 130))
        print(f"error: {str(exc) or 'interrupted by SIGINT'}", file=sys.stderr)
        return status
