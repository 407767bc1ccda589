"""The asset bundle ``databricks.yml``, generated from the job's Python specification.

The job is defined once, in :mod:`mediamix.databricks.job_spec`; the bundle's job resource is
that specification with the bundle's variables in place of the values RUNME fills in
(``${var.catalog}``, ``${var.schema}``, ``${var.environment_version}``) and the bundle's own
folder (``${workspace.file_path}``) in place of the repository's workspace folder. Regenerate
the file with ``make bundle`` (``python -m mediamix.databricks.bundle``);
``tests/databricks/test_runme.py`` fails when the committed file differs from what this
module renders.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mediamix.databricks.job_spec import (
    DEFAULT_ENVIRONMENT_VERSION,
    JOB_NAME,
    JobOptions,
    TaskDef,
    build_job_settings,
    fit_many_task,
    task_parameters,
)

__all__ = ["BUNDLE_PATH", "bundle_document", "main", "render_bundle"]

BUNDLE_PATH = Path(__file__).resolve().parents[2] / "databricks.yml"
_PLACEHOLDER = "/Workspace/__bundle_files__"  # stands for ${workspace.file_path} while building
_FILE_PATH = "${workspace.file_path}"
_BUNDLE_WORKERS = 4  # ignored on serverless compute, which the bundle's jobs use

_HEADER = """\
# Databricks asset bundle: the job that RUNME.py creates, deployable with the Databricks CLI.
#   databricks bundle validate
#   databricks bundle deploy -t dev          # or -t prod
#   databricks bundle run -t dev mediamix_mmm
# GENERATED from mediamix/databricks/job_spec.py by `make bundle`; do not edit by hand
# (tests/databricks/test_runme.py fails when this file differs from the specification).
"""


def _substitute(value: Any) -> Any:
    """Replace the placeholder folder with the bundle's ``${workspace.file_path}``."""
    if isinstance(value, dict):
        return {k: _substitute(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v) for v in value]
    if isinstance(value, str):
        return value.replace(_PLACEHOLDER, _FILE_PATH)
    return value


def _job_resource(extra_tasks: tuple[TaskDef, ...] = ()) -> dict[str, Any]:
    """The job of :func:`build_job_settings` on serverless, with the bundle's variables."""
    params = task_parameters(extra_tasks, env={})
    options = JobOptions(
        workspace_path=_PLACEHOLDER,
        name=f"{JOB_NAME} (fit many)" if extra_tasks else JOB_NAME,
        parameters=params | {"catalog": "${var.catalog}", "schema": "${var.schema}"},
        environment_version="${var.environment_version}",
        extra_tasks=extra_tasks,
    )
    job: dict[str, Any] = _substitute(build_job_settings(options).as_dict())
    for task in job["tasks"]:  # the bundle names notebooks relative to itself, with .py
        path = task["notebook_task"]["notebook_path"]
        task["notebook_task"]["notebook_path"] = "./" + path.removeprefix(f"{_FILE_PATH}/") + ".py"
    return job


def bundle_document() -> dict[str, Any]:
    """The whole bundle: its name, variables, the job resource and the dev/prod targets."""
    defaults = task_parameters(env={})
    return {
        "bundle": {"name": "mediamix"},
        "variables": {
            "catalog": {
                "description": "Catalog of the tables and of the registered model",
                "default": defaults["catalog"],
            },
            "schema": {
                "description": "Schema of the tables and of the registered model",
                "default": defaults["schema"],
            },
            "environment_version": {
                "description": "Serverless environment version (4 runs Python 3.12)",
                "default": DEFAULT_ENVIRONMENT_VERSION,
            },
        },
        "resources": {
            "jobs": {
                "mediamix_mmm": _job_resource(),
                # serverless sizes the fit-many task itself; RUNME --compute cluster
                # --fit-many-workers N gives it a cluster of N workers instead
                "mediamix_mmm_fit_many": _job_resource((fit_many_task(_BUNDLE_WORKERS),)),
            }
        },
        "targets": {
            "dev": {"mode": "development", "default": True},
            "prod": {
                "mode": "production",
                "workspace": {
                    "root_path": "/Workspace/Users/${workspace.current_user.userName}"
                    "/.bundle/${bundle.name}/${bundle.target}"
                },
                "variables": {"schema": "mediamix_prod"},
            },
        },
    }


def render_bundle() -> str:
    """``databricks.yml`` as text: the header comment, then the document as YAML."""
    import yaml

    body = yaml.safe_dump(bundle_document(), sort_keys=False, width=100, allow_unicode=True)
    return _HEADER + body


def main(argv: Sequence[str] | None = None) -> int:
    """Write ``databricks.yml`` (or check it with ``--check``); return the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m mediamix.databricks.bundle",
        description="Generate databricks.yml from the job's Python specification.",
    )
    parser.add_argument("--out", type=Path, default=BUNDLE_PATH, help="file to write")
    parser.add_argument("--check", action="store_true", help="exit 1 if the file differs")
    args = parser.parse_args(argv)
    text = render_bundle()
    if args.check:
        current = args.out.read_text() if args.out.is_file() else ""
        if current != text:
            print(f"{args.out} is out of date: run `make bundle`", file=sys.stderr)
            return 1
        return 0
    args.out.write_text(text)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
