"""``mediamix fit``: one model fitted, saved, tracked in MLflow and, if it converged, registered.

Every path it will write is checked before the data is read, and ``SIGINT``/``SIGTERM`` at any
point end it with status 130/143, no fit file and the MLflow run ``KILLED``
(:mod:`mediamix.inference.interrupts`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mediamix.commands.paths import check_output_dir
from mediamix.errors import MediamixError

if TYPE_CHECKING:
    from mediamix.config.model import ModelConfig
    from mediamix.mlops.tracking import TrackedRun

__all__ = ["run_fit"]


def run_fit(args: argparse.Namespace) -> int:
    """``mediamix fit``: check paths, fit, save, log to MLflow and register if converged."""
    from mediamix.inference.interrupts import interrupt_guard

    with interrupt_guard():  # SIGTERM too, anywhere in the command: exit 143, run KILLED
        return _fit_command(args)


def _fit_config(args: argparse.Namespace, out: Path) -> ModelConfig:
    """The config with the command line's sampler settings, after checking ``--out``."""
    from mediamix.config.model import load_model_config

    check_output_dir(out, "--out")  # before sampling: a bad path must never cost a fit
    for name in ("fit.nc", "summary.json"):
        if (out / name).is_dir():
            raise MediamixError(f"--out {out}: {out / name} is a directory; remove it")
    config = (
        load_model_config(args.config)
        .with_sampler(
            sampler=args.sampler,
            draws=args.draws,
            tune=args.tune,
            chains=args.chains,
            seed=args.seed,
            target_accept=args.target_accept,
        )
        .with_window(start=getattr(args, "start", None), end=getattr(args, "end", None))
    )
    return _with_lift_tests(args, config)


def _with_lift_tests(args: argparse.Namespace, config: ModelConfig) -> ModelConfig:
    """The config with ``--lift-tests`` (or its ``calibration.lift_tests``) read into it.

    A CSV file, or a lakehouse table name (``mmm_lift_tests``) read through the lakehouse.
    """
    source = getattr(args, "lift_tests", None) or config.calibration.lift_tests
    if source is None:
        return config
    from mediamix.data.lift_tests import read_lift_tests, validate_lift_table
    from mediamix.lakehouse.tables import looks_like_table_name, read_table
    from mediamix.model.calibration import resolve_calibration

    if looks_like_table_name(source):
        raw = read_table(source, lakehouse=args.lakehouse)
        table = validate_lift_table(raw.astype(str).replace({"None": "", "nan": ""}), source)
    else:
        table = read_lift_tests(source)
    return resolve_calibration(config, table)


def _load_data(args: argparse.Namespace, config: ModelConfig) -> tuple[dict[str, str], Any]:
    """The data source to track and the frame, read as the config's date keys say."""
    from mediamix.lakehouse.tables import load_modeling_frame
    from mediamix.mlops.provenance import describe_data_source

    source = {} if args.no_tracking else describe_data_source(args.data, lakehouse=args.lakehouse)
    version = int(source["version"]) if source.get("version") else None  # the version tracked
    frame = load_modeling_frame(
        args.data,
        version=version,
        lakehouse=args.lakehouse,
        date_column=config.date_column,
        date_format=config.date_format,
    )
    return source, frame


def _show_notes(show: Any) -> Any:
    """``warnings.showwarning`` that prints data notes as one plain ``note:`` line."""
    from mediamix.data.columns import UnusedColumnsWarning

    def showwarning(message: Any, category: type[Warning], *args: Any, **kwargs: Any) -> None:
        if issubclass(category, UnusedColumnsWarning):
            print(f"note: {message}", file=sys.stderr)
        else:
            show(message, category, *args, **kwargs)

    return showwarning


def _check_data(frame: Any, config: ModelConfig, source: str = "calibration.tests") -> None:
    """The checks that need no PyMC, run before it is imported: bad data fails in well under 1 s.

    Dates, columns, numbers, spend and outcome are checked here, and the lift tests against
    them (``source`` names the tests in errors); the row count the model's lags and parameters
    need is checked again, with the rest, when the model is built.
    """
    import warnings

    from mediamix.data.columns import column_roles, prepare_frame
    from mediamix.data.validation import validate_frame

    # the fit itself reports unused columns and geo warnings, once
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prepared, config = prepare_frame(frame, config)
        exposed = config.exposure_channels
        inputs = prepared.drop(columns=[e for e, _ in exposed.values() if e in prepared.columns])
        if config.geo is None:
            clean = validate_frame(inputs, **column_roles(config))
            _check_lift_tests(clean, config, None, source)
            return
        from mediamix.data.geo import validate_geo_frame

        geo = config.geo
        clean, geos, _ = validate_geo_frame(
            inputs, geo_column=geo.column, population=geo.population, **column_roles(config)
        )
    _check_lift_tests(clean, config, geos, source)


def _check_lift_tests(clean: Any, config: ModelConfig, geos: list[str] | None, source: str) -> None:
    """The lift tests against the checked data (channels, dates, geos, spend), before PyMC."""
    if not config.calibration.tests:
        return
    import numpy as np
    import pandas as pd

    from mediamix.data.geo_lift_tests import geo_lift_tests_for_data
    from mediamix.data.lift_tests import lift_tests_for_data

    table = pd.DataFrame([t.model_dump(exclude_none=True) for t in config.calibration.tests])
    names = config.channel_names
    spend = clean[[config.spend_column(c) for c in names]].set_axis(names, axis=1)
    if geos is None:
        lift_tests_for_data(table, clean["date"], spend, source=source)
        return
    cube = spend.to_numpy(np.float64).reshape(-1, len(geos), len(names))
    geo_lift_tests_for_data(table, clean["date"].unique(), geos, cube, names, source=source)


def _fit_command(args: argparse.Namespace) -> int:
    import contextlib
    import json
    import warnings

    out = Path(args.out)
    config = _fit_config(args, out)
    source, frame = _load_data(args, config)
    _check_data(frame, config, getattr(args, "lift_tests", None) or "calibration.tests")
    from mediamix.inference.compile_cache import open_for_command

    cache = open_for_command(args.compile_cache)  # before PyTensor loads: it reads its dirs once
    # PyMC, ArviZ and MLflow are imported only once the input is known to be good
    from mediamix.analysis.summary import fit_summary
    from mediamix.inference.diagnostics import ConvergenceWarning
    from mediamix.inference.fit import fit

    _announce(config, len(frame))
    tracking: contextlib.AbstractContextManager[TrackedRun | None] = contextlib.nullcontext()
    if not args.no_tracking:  # MLflow (and the report's plotting stack) only when tracking
        from mediamix.mlops.tracking import tracked_run

        tracking = tracked_run(
            config, data_source=source, experiment=args.experiment, tracking_uri=args.tracking_uri
        )
    run: TrackedRun | None = None
    try:
        with tracking as run:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)  # reported below instead
                warnings.showwarning = _show_notes(warnings.showwarning)
                result = fit(frame, config, progress=args.progress or sys.stderr.isatty())
            if cache is not None:  # compiled code of a fit that worked, for the next machine
                print(cache.finish(), file=sys.stderr)
            out.mkdir(parents=True, exist_ok=True)
            fit_path = result.save(out / "fit.nc")
            summary = fit_summary(result)
            summary["mlflow_run_id"] = None if run is None else run.run_id
            (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
            if run is not None:
                summary = run.log_fit(
                    result,
                    register_as=args.register_as,
                    fit_path=fit_path,
                    summary=summary,
                    register_anyway=args.register_anyway,
                )
                (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
                if "calibration" in summary:  # the tests the fit was calibrated with
                    run.log_extras(
                        artifacts={"calibration/lift_tests.json": summary["calibration"]}
                    )
    except BaseException:
        if run is not None:
            print(f"MLflow run {run.run_id} ended {run.status}; {run.ui_command}", file=sys.stderr)
        raise
    print(f"wrote {out / 'summary.json'} and {fit_path}")
    _print_fit(summary, run)
    return 0


def _announce(config: ModelConfig, periods: int) -> None:
    s, w = config.sampler, config.window
    window = "" if w.start is None and w.end is None else f" (window {w.start} to {w.end})"
    print(
        f"fitting {len(config.channels)} channels on {periods} periods{window} with {s.sampler} "
        f"({s.chains} chains x {s.tune} tune + {s.draws} draws)",
        file=sys.stderr,
    )


def _print_fit(summary: dict[str, Any], run: TrackedRun | None) -> None:
    diag = summary["diagnostics"]
    for name, ch in summary["channels"].items():
        r = ch["roas"]
        print(f"  ROAS {name:<12} {r['mean']:8.3f}  [{r['hdi_low']:.3f}, {r['hdi_high']:.3f}]")
    print(
        f"  R2 {diag['r2']:.3f}  MAPE {diag['mape']:.2f}%  max R-hat {diag['r_hat_max']:.3f}  "
        f"min ESS {diag['ess_bulk_min']:.0f}  divergences {diag['divergences']}  "
        f"{diag['fit_seconds']:.1f} s"
    )
    if run is not None:
        print(f"MLflow run {run.run_id} (experiment {run.target.experiment})")
        print(f"  view it: {run.ui_command}")
        print(f"  model:   {run.model_uri}")
        if run.registered_model:
            print(f"  registered as {run.registered_model}")
        elif run.registration_skipped:
            print(f"  NOT registered: {run.registration_skipped}", file=sys.stderr)
    for i, test in enumerate(summary.get("calibration", {}).get("tests", []), start=1):
        p, where = test["predicted"], f" in {test['geo']}" if test.get("geo") else ""
        print(
            f"  lift test {i} {test['channel']}{where} {test['start_date']}..{test['end_date']}: "
            f"measured {test['lift']:.4g} +- {test['lift_se']:.3g}, predicted {p['mean']:.4g} "
            f"[{p['hdi_low']:.4g}, {p['hdi_high']:.4g}], z {test['z']:+.1f}"
        )
    for warning in summary.get("calibration", {}).get("warnings", []):
        print(f"WARNING: {warning}", file=sys.stderr)
    if not diag["converged"]:
        print("WARNING: the fit did NOT converge: " + "; ".join(diag["problems"]), file=sys.stderr)
