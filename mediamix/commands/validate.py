"""``mediamix validate``: out-of-sample MAPE, R², CRPS and HDI coverage, tracked in MLflow.

``--holdout-weeks N`` holds out the last N periods; ``--folds K`` rolls the forecast origin over
K blocks of N periods (see :mod:`mediamix.analysis.holdout`). The scores go to the terminal, to
``validation.json`` and ``validation.png`` (forecast against actual) under ``--out``, and to an
MLflow run (metrics ``oos/mape``, ``oos/r2``, ``oos/crps``, ``oos/coverage`` and per fold).
A geo model is scored on the national outcome (the sum over geos) and per geo: ``geos`` in
``validation.json``, ``oos/geo/median_mape`` and ``oos/geo/coverage`` (over every held-out
(date, geo) cell) in MLflow.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path
from typing import Any

from mediamix.commands.paths import check_output_dir
from mediamix.inference.compile_key import OPTION_HELP as COMPILE_CACHE_HELP

__all__ = ["add_validate_parser", "run_validate"]


def run_validate(args: argparse.Namespace) -> int:
    """Run ``mediamix validate``."""
    from mediamix.config.model import load_model_config
    from mediamix.inference.interrupts import interrupt_guard
    from mediamix.lakehouse.tables import load_modeling_frame

    out = Path(args.out)
    check_output_dir(out, "--out")
    config = load_model_config(args.config).with_sampler(
        sampler=args.sampler,
        draws=args.draws,
        tune=args.tune,
        chains=args.chains,
        target_accept=args.target_accept,
    )
    frame = load_modeling_frame(
        args.data,
        lakehouse=args.lakehouse,
        date_column=config.date_column,
        date_format=config.date_format,
    )
    from mediamix.inference.compile_cache import open_for_command

    cache = open_for_command(args.compile_cache)  # before PyTensor loads: it reads its dirs once
    from mediamix.analysis.holdout import cross_validate, plot_report

    with interrupt_guard(), contextlib.ExitStack() as stack:
        run = None
        if not args.no_tracking:
            from mediamix.mlops.tracking import tracked_run

            target = {"experiment": args.experiment, "tracking_uri": args.tracking_uri}
            run = stack.enter_context(tracked_run(config, run_name="validate", **target))
        report = cross_validate(frame, config, holdout=args.holdout_weeks, folds=args.folds)
        if cache is not None:  # compiled code of fits that worked, for the next machine
            print(cache.finish(), file=sys.stderr)
        out.mkdir(parents=True, exist_ok=True)
        folds = report.table().astype({"origin": str}).to_dict(orient="records")
        geos = report.geo_table()
        doc: dict[str, Any] = {"scores": report.scores, "folds": folds}
        if geos is not None:
            doc["geos"] = geos.to_dict(orient="records")
        (out / "validation.json").write_text(json.dumps(doc, indent=2) + "\n")
        figure = plot_report(report, frame, config.outcome.name)
        figure.savefig(out / "validation.png", dpi=110)
        if run is not None:
            _log(args, report, figure, geos)
            print(f"MLflow run {run.run_id}; {run.ui_command}")
    _print(report, args.holdout_weeks, geos)
    print(f"wrote {out / 'validation.json'} and {out / 'validation.png'}")
    return 0


def _print(report: Any, holdout: int, geos: Any) -> None:
    """The folds' table and the pooled scores (and a geo model's per-geo ones)."""
    print(report.table().to_string(index=False, float_format=lambda v: f"{v:,.3f}"))
    s = report.scores
    print(
        f"out of sample ({len(report.folds)} fold(s) x {holdout} periods): "
        f"MAPE {s['mape']:.2f}%  R2 {s['r2']:.3f}  CRPS {s['crps']:,.2f}  "
        f"{report.hdi_prob:.0%} HDI coverage {s['coverage']:.0%}"
    )
    if geos is not None:
        print(
            f"per geo ({len(geos)} geos): median MAPE {geos['mape'].median():.2f}%, "
            f"MAPE from {geos['mape'].min():.2f}% to {geos['mape'].max():.2f}%, "
            f"{report.hdi_prob:.0%} HDI coverage {geos['coverage'].mean():.0%}"
        )


def _log(args: argparse.Namespace, report: Any, figure: Any, geos: Any) -> None:
    """Scores (pooled and per fold), the settings and the figure, to the active MLflow run."""
    import mlflow

    metrics = {f"oos/{k}": v for k, v in report.scores.items()}
    for i, fold in enumerate(report.folds):
        metrics |= {f"oos/fold{i + 1}/{k}": v for k, v in fold.scores.items()}
    if geos is not None:  # every geo has the same held-out periods: mean coverage is pooled
        metrics |= {
            "oos/geo/median_mape": float(geos["mape"].median()),
            "oos/geo/coverage": float(geos["coverage"].mean()),
        }
        mlflow.log_dict({"geos": geos.to_dict(orient="records")}, "validation_geos.json")
    mlflow.log_metrics(metrics)
    mlflow.log_params({"validate.holdout": args.holdout_weeks, "validate.folds": args.folds})
    mlflow.log_figure(figure, "figures/validation.png")


def add_validate_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``mediamix validate``."""
    val = sub.add_parser(
        "validate", help="out-of-sample validation: holdout or rolling-origin cross-validation"
    )
    val.add_argument("--data", required=True, help="CSV file or gold table name")
    val.add_argument("--config", required=True, help="model YAML config")
    val.add_argument("--out", required=True, help="directory for validation.json and .png")
    val.add_argument("--holdout-weeks", type=int, required=True, help="periods held out per fold")
    val.add_argument("--folds", type=int, default=1, help="forecast origins (default 1)")
    val.add_argument(
        "--sampler", choices=["nutpie", "nutpie-native", "pymc", "numpyro", "advi"], default=None
    )
    val.add_argument("--draws", type=int, default=None)
    val.add_argument("--tune", type=int, default=None)
    val.add_argument("--chains", type=int, default=None)
    val.add_argument("--target-accept", type=float, default=None)
    val.add_argument("--lakehouse", default=None, help="local lakehouse root for table names")
    val.add_argument("--tracking-uri", default=None, help="MLflow tracking store")
    val.add_argument("--experiment", default=None, help="MLflow experiment")
    val.add_argument("--no-tracking", action="store_true", help="do not record it in MLflow")
    val.add_argument("--compile-cache", default=None, metavar="DIR", help=COMPILE_CACHE_HELP)
    val.set_defaults(handler=run_validate)
