"""The ``mediamix report`` and ``mediamix app`` sub-commands, registered by :mod:`mediamix.cli`."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from mediamix.errors import MediamixError

__all__ = ["DEFAULT_PORT", "add_app_parsers"]

#: The planner's port when neither ``--port`` nor ``$DATABRICKS_APP_PORT`` says otherwise.
DEFAULT_PORT = 8050
_PORT_ENV = "DATABRICKS_APP_PORT"  # set by Databricks Apps for the port the app must serve


def _default_port() -> int:
    text = os.environ.get(_PORT_ENV, "")
    return int(text) if text.isdigit() else DEFAULT_PORT


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"expected a TCP port 1-65535, got {text!r}")
    return int(text)


def _cmd_report(args: argparse.Namespace) -> int:
    from mediamix.app.sources import recorded_data_source
    from mediamix.inference.fit import load_fit
    from mediamix.report.html import write_report

    fit_path = Path(args.fit)
    fit_file = fit_path / "fit.nc" if fit_path.is_dir() else fit_path
    result = load_fit(fit_file)
    source = None
    summary = fit_file.parent / "summary.json"
    if summary.is_file():
        import json

        try:
            run_id = json.loads(summary.read_text()).get("mlflow_run_id")
        except ValueError as exc:
            raise MediamixError(f"{summary} is not valid JSON: {exc}") from exc
        source = recorded_data_source(run_id, args.tracking_uri)
    out = write_report(
        result, args.out, data_source=source, title=args.title, currency=args.currency
    )
    print(f"wrote {out} ({out.stat().st_size / 1024:,.0f} KiB)")
    return 0


def _cmd_app(args: argparse.Namespace) -> int:
    from mediamix.app.server import serve

    if not args.fit:
        raise MediamixError("give --fit: a fit directory, models:/NAME[/VERSION] or runs:/RUN_ID")
    serve(
        args.fit,
        host=args.host,
        port=args.port,
        tracking_uri=args.tracking_uri,
        registry_uri=args.registry_uri,
        currency=args.currency,
    )
    return 0


def add_app_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``report`` and ``app`` on the command line's sub-parsers."""
    rep = sub.add_parser("report", help="write a fit's one-page HTML report")
    rep.add_argument("--fit", required=True, help="directory written by `mediamix fit` (or fit.nc)")
    rep.add_argument("--out", required=True, help="HTML file to write, e.g. report.html")
    rep.add_argument("--title", default=None, help="page title (default: Media mix report: ...)")
    rep.add_argument("--currency", default="", help="currency symbol for amounts, e.g. '$'")
    rep.add_argument(
        "--tracking-uri",
        default=None,
        help="MLflow store holding the fit's run, for its data source (default: MLflow's)",
    )
    rep.set_defaults(handler=_cmd_report)

    app = sub.add_parser("app", help="start the budget planner web app over one or more fits")
    app.add_argument(
        "--fit",
        action="append",
        metavar="DIR_OR_MODEL_URI",
        help="a fit directory, a directory of fit directories, models:/NAME (every version), "
        "models:/NAME/VERSION, models:/NAME/latest or runs:/RUN_ID; repeatable",
    )
    app.add_argument(
        "--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1: this machine)"
    )
    app.add_argument(
        "--port",
        type=_port,
        default=_default_port(),
        help=f"TCP port (default ${_PORT_ENV}, else {DEFAULT_PORT})",
    )
    app.add_argument("--currency", default="", help="currency symbol for amounts, e.g. '$'")
    app.add_argument(
        "--tracking-uri", default=None, help="MLflow store for models:/ and runs:/ sources"
    )
    app.add_argument(
        "--registry-uri", default=None, help="MLflow model registry (default: the tracking store)"
    )
    app.set_defaults(handler=_cmd_app)
