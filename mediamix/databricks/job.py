"""The accelerator's Databricks job: creating it, running it, a local run, and ``RUNME.py``.

``RUNME.py`` is a thin wrapper over :func:`main`. The job itself (tasks, parameters, compute) is
specified by :mod:`mediamix.databricks.job_spec`. :func:`create_or_update` is idempotent by job
name: the first call creates the job, later calls reset it to the current specification;
:func:`run_local` runs the same notebooks here, in order, as plain Python.

Authentication is the SDK's own (``WorkspaceClient()``): the notebook context inside a
workspace, ``DATABRICKS_HOST`` / ``DATABRICKS_TOKEN`` (or other ``DATABRICKS_*`` variables), or
a ``~/.databrickscfg`` profile. Nothing here prints or logs a credential: only the host, job
and run ids and URLs are printed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, TextIO, cast

from mediamix.databricks.app_spec import app_spec, deploy_app
from mediamix.databricks.job_spec import (
    DEFAULT_ENVIRONMENT_VERSION,
    DEFAULT_SPARK_VERSION,
    JOB_NAME,
    Compute,
    JobError,
    JobOptions,
    build_job_settings,
    fit_many_task,
    task_parameters,
    workspace_folder,
)
from mediamix.databricks.notebook import env_var
from mediamix.databricks.volumes import DEFAULT_VOLUME, VolumeRefusedError, ensure_job_volumes
from mediamix.errors import MediamixError

if TYPE_CHECKING:
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.service.jobs import JobSettings

__all__ = [
    "REPO_ROOT",
    "build_parser",
    "create_or_update",
    "create_or_update_compatible",
    "find_job",
    "local_tasks",
    "main",
    "run_job",
    "run_local",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
REPO_NAME = "mediamix"  # a Git folder's default name in the workspace


# --------------------------------------------------------------------------- the Jobs API


#: The experiment tracked fits go to on Databricks (see :mod:`mediamix.mlops.target`).
APP_EXPERIMENT = "/Shared/mediamix"


def find_job(w: WorkspaceClient, name: str) -> int | None:
    """The id of the job named ``name`` (the oldest if several share it), or ``None``."""
    ids = sorted(
        int(j.job_id)
        for j in w.jobs.list(name=name)
        if j.job_id is not None and j.settings is not None and j.settings.name == name
    )
    return ids[0] if ids else None


def create_or_update(w: WorkspaceClient, settings: JobSettings) -> tuple[int, bool]:
    """Create the job, or reset the job of the same name to ``settings``.

    Parameters
    ----------
    w : databricks.sdk.WorkspaceClient
        An authenticated client.
    settings : JobSettings
        From :func:`build_job_settings`.

    Returns
    -------
    tuple of (int, bool)
        The job id, and whether it was created (``False``: an existing job was updated).
    """
    if not settings.name:
        raise JobError("the job needs a name to be found again")
    job_id = find_job(w, settings.name)
    if job_id is not None:
        w.jobs.reset(job_id, new_settings=settings)
        return job_id, False
    kwargs = {k: v for k, v in vars(settings).items() if v is not None}
    created = w.jobs.create(**kwargs)
    if created.job_id is None:
        raise JobError("the Jobs API created the job but returned no job id")
    return int(created.job_id), True


#: How a workspace that predates task environments on notebook tasks refuses them.
_NOTEBOOK_ENV_REFUSAL = "task environment can not be provided for notebook task"


def create_or_update_compatible(
    w: WorkspaceClient, options: JobOptions, out: TextIO
) -> tuple[int, bool]:
    """:func:`create_or_update`, again without notebook task environments if those are refused.

    Serverless notebook tasks take a job environment since the Jobs API of late 2025; a
    workspace that still refuses one gets the job without it: the notebooks then run in the
    workspace's default environment and ``%pip install`` the requirements themselves (they
    need Python 3.12: environment version 3 or later, set in the notebook's Environment panel).
    """
    from databricks.sdk.errors import InvalidParameterValue

    try:
        return create_or_update(w, build_job_settings(options))
    except InvalidParameterValue as exc:
        if options.compute != "serverless" or _NOTEBOOK_ENV_REFUSAL not in str(exc).lower():
            raise
    print(
        "note: this workspace refuses a job environment on notebook tasks; the job is created "
        "without one, so its notebooks run in the workspace's default serverless environment "
        "(they need version 3 or later, Python 3.12) and install requirements.txt themselves",
        file=out,
    )
    return create_or_update(w, build_job_settings(options, notebook_environments=False))


def run_job(w: WorkspaceClient, job_id: int) -> tuple[int, str]:
    """Start a run of the job (without waiting for it).

    Returns
    -------
    tuple of (int, str)
        The run id and the URL of the run's page.
    """
    response: Any = w.jobs.run_now(job_id).response  # a RunNowResponse; no waiting for the run
    run_id = response.run_id
    if run_id is None:
        raise JobError(f"the Jobs API started no run of job {job_id}")
    url = w.jobs.get_run(run_id).run_page_url
    return int(run_id), url or f"{_host(w)}/jobs/{job_id}/runs/{run_id}"


def _host(w: WorkspaceClient) -> str:
    return str(w.config.host or "").rstrip("/")


def _pick_node_type(w: WorkspaceClient) -> str:
    """A general-purpose node type with at least 4 cores and 16 GB from the workspace."""
    return str(w.clusters.select_node_type(local_disk=True, min_cores=4, min_memory_gb=16))


# --------------------------------------------------------------------------- local run


def local_tasks(settings: JobSettings, repo_root: Path = REPO_ROOT) -> list[tuple[str, Path]]:
    """The job's tasks in dependency order, each with its notebook as a local ``.py`` file.

    Raises
    ------
    JobError
        If the dependencies form a cycle or name an unknown task, or a notebook is missing.
    """
    tasks = {t.task_key: t for t in settings.tasks or []}
    order: list[str] = []
    pending = dict(tasks)
    while pending:
        ready = [
            k for k, t in pending.items() if all(d.task_key in order for d in t.depends_on or [])
        ]
        if not ready:
            raise JobError(f"tasks {sorted(pending)} depend on unknown tasks or on each other")
        order.extend(ready)
        for k in ready:
            del pending[k]
    out = []
    for key in order:
        nb = tasks[key].notebook_task
        if nb is None:
            raise JobError(f"task {key} is not a notebook task")
        path = repo_root / f"{PurePosixPath(nb.notebook_path).name}.py"
        if not path.is_file():
            raise JobError(f"task {key}: notebook {path} not found")
        out.append((key, path))
    return out


def run_local(
    settings: JobSettings,
    parameters: Mapping[str, str],
    *,
    repo_root: Path = REPO_ROOT,
    python: str = sys.executable,
    out: TextIO | None = None,
) -> int:
    """Run the job's notebooks here, in order, as plain Python with the job's parameters.

    Each parameter is passed as ``MEDIAMIX_<NAME>``; the first task that fails stops the run.

    Parameters
    ----------
    settings : JobSettings
        The job (its tasks and their order).
    parameters : mapping
        Parameter values (as the job would pass them to the notebooks' widgets).
    repo_root : Path
        Where the notebooks are.
    python : str
        Interpreter to run them with.
    out : file, optional
        Where progress goes (stdout by default).

    Returns
    -------
    int
        0, or the exit status of the task that failed.
    """
    out = out or sys.stdout
    env = dict(os.environ) | {env_var(k): v for k, v in parameters.items()}
    env.setdefault("MPLBACKEND", "Agg")
    timings: list[tuple[str, float]] = []
    start = time.perf_counter()
    for key, path in local_tasks(settings, repo_root):
        print(f"\n=== task {key}: {python} {path.name!r}", file=out, flush=True)
        t0 = time.perf_counter()
        status = subprocess.run([python, str(path)], env=env, check=False).returncode
        timings.append((key, time.perf_counter() - t0))
        if status != 0:
            print(f"=== task {key} FAILED (exit {status}); later tasks skipped", file=out)
            return status
        print(f"=== task {key} finished in {timings[-1][1]:.1f} s", file=out, flush=True)
    total = time.perf_counter() - start
    steps = ", ".join(f"{k} {s:.1f} s" for k, s in timings)
    print(f"\nlocal run finished in {total:.1f} s ({steps})", file=out, flush=True)
    return 0


# --------------------------------------------------------------------------- entry point


def _parse_params(items: Sequence[str]) -> dict[str, str]:
    out = {}
    for item in items:
        name, eq, value = item.partition("=")
        if not eq or not name.strip():
            raise JobError(f"--param {item!r}: expected NAME=VALUE")
        out[name.strip()] = value
    return out


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``RUNME.py``."""
    p = argparse.ArgumentParser(
        prog="RUNME.py",
        description="Create or update the mediamix Databricks job (01 -> 02), optionally run "
        "it; or print its specification (--dry-run); or run the same notebooks here (--local).",
    )
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", action="store_true", help="print the job spec as JSON")
    mode.add_argument("--local", action="store_true", help="run the notebooks here, in order")
    p.add_argument("--run", action="store_true", help="start a run after creating/updating")
    p.add_argument("--profile", default=None, help="~/.databrickscfg profile to authenticate")
    p.add_argument(
        "--workspace-path",
        default=None,
        help="the repository's folder in the workspace (default: "
        f"/Workspace/Users/<you>/{REPO_NAME})",
    )
    p.add_argument("--job-name", default=JOB_NAME, help=f"job name (default: {JOB_NAME!r})")
    p.add_argument("--compute", choices=["serverless", "cluster"], default="serverless")
    p.add_argument(
        "--environment-version",
        default=DEFAULT_ENVIRONMENT_VERSION,
        help="serverless environment version",
    )
    p.add_argument(
        "--spark-version", default=DEFAULT_SPARK_VERSION, help="ML runtime for --compute cluster"
    )
    p.add_argument("--node-type", default=None, help="node type for --compute cluster")
    p.add_argument("--catalog", default=None, help="catalog of the tables and the model")
    p.add_argument("--schema", default=None, help="schema of the tables and the model")
    p.add_argument(
        "--volume",
        default=DEFAULT_VOLUME,
        help="Volume for raw feeds in the catalog and schema, created when missing "
        f"(default: {DEFAULT_VOLUME!r}; empty: none)",
    )
    p.add_argument(
        "--fit-many-workers",
        type=int,
        default=0,
        metavar="N",
        help="add the fit-many task (03_MMM Fit Many: one model per group on Spark) with a "
        "cluster of N workers on --compute cluster (0: no such task)",
    )
    p.add_argument(
        "--app",
        action="store_true",
        help="also create or update the budget planner as a Databricks App and deploy it",
    )
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a job parameter (a notebook widget), e.g. --param draws=500",
    )
    return p


def _options_from_args(args: argparse.Namespace, workspace_path: str) -> JobOptions:
    if args.fit_many_workers < 0:
        raise JobError(f"--fit-many-workers must be 0 (none) or more, got {args.fit_many_workers}")
    extra = (fit_many_task(args.fit_many_workers),) if args.fit_many_workers else ()
    params = task_parameters(extra) | _parse_params(args.param)
    for name in ("catalog", "schema"):
        if getattr(args, name):
            params[name] = getattr(args, name)
    return JobOptions(
        workspace_path=workspace_path,
        name=args.job_name,
        compute=args.compute,
        parameters=params,
        environment_version=args.environment_version,
        spark_version=args.spark_version,
        node_type_id=args.node_type,
        extra_tasks=extra,
    )


def _deploy(
    w: WorkspaceClient, options: JobOptions, start: bool, out: TextIO, volume: str = ""
) -> int:
    if options.compute == "cluster" and options.node_type_id is None:
        options = dataclasses.replace(options, node_type_id=_pick_node_type(w))
        print(f"job cluster node type: {options.node_type_id}", file=out)
    build_job_settings(options)  # a bad option fails before anything changes in the workspace
    for line in ensure_job_volumes(w, options.parameters, volume):
        print(line, file=out)
    job_id, created = create_or_update_compatible(w, options, out)
    host = _host(w)
    print(f"{'created' if created else 'updated'} job {options.name!r} (id {job_id})", file=out)
    print(f"  job:       {host}/jobs/{job_id}", file=out)
    print(f"  notebooks: {workspace_folder(options.workspace_path)}", file=out)
    if start:
        run_id, url = run_job(w, job_id)
        print(f"started run {run_id}: {url}", file=out)
    else:
        print("start it with Run now on the job's page (or start_run / --run here)", file=out)
    return 0


def _deploy_app(w: WorkspaceClient, workspace_path: str, out: TextIO) -> None:
    """Create or update the planner app from the repository folder, reading the fits' runs."""
    from databricks.sdk.errors import NotFound

    try:
        experiment = w.experiments.get_by_name(APP_EXPERIMENT).experiment
        experiment_id = experiment.experiment_id if experiment else None
    except NotFound:
        experiment_id = None
    if experiment_id is None:
        print(
            f"note: no experiment {APP_EXPERIMENT} yet (run the job once); the app is created "
            "without read access to it: add it on the app's page after the first run",
            file=out,
        )
    plan = deploy_app(w, app_spec(workspace_folder(workspace_path), experiment_id=experiment_id))
    print(f"{'updated' if plan.existed else 'created'} app {plan.app.name!r}", file=out)
    url = w.apps.get(str(plan.app.name)).url
    print(f"  app:       {url or '(URL shown on the app page once it is running)'}", file=out)
    print(
        "  grant its service principal EXECUTE on the registered model (README: "
        "'The planner as a Databricks App')",
        file=out,
    )


def _workspace_main(namespace: Mapping[str, Any], out: TextIO) -> int:
    """RUNME as a notebook: widgets for the options, the notebook context for auth and paths."""
    from databricks.sdk import WorkspaceClient

    dbutils = namespace["dbutils"]
    dbutils.widgets.text("job_name", JOB_NAME, "Job name")
    dbutils.widgets.dropdown("compute", "serverless", ["serverless", "cluster"], "Compute")
    dbutils.widgets.text("catalog", task_parameters()["catalog"], "Catalog")
    dbutils.widgets.text("schema", task_parameters()["schema"], "Schema")
    dbutils.widgets.text("volume", DEFAULT_VOLUME, "Raw feeds Volume (empty: none)")
    dbutils.widgets.dropdown("start_run", "yes", ["yes", "no"], "Start a run")
    context = dbutils.notebook.entry_point.getDbutils().notebook().getContext()
    here = str(context.notebookPath().get())
    options = JobOptions(
        workspace_path=workspace_folder(str(PurePosixPath(here).parent)),
        name=dbutils.widgets.get("job_name") or JOB_NAME,
        compute=cast(Compute, dbutils.widgets.get("compute")),
        parameters=task_parameters()
        | {"catalog": dbutils.widgets.get("catalog"), "schema": dbutils.widgets.get("schema")},
    )
    start = dbutils.widgets.get("start_run") == "yes"
    return _deploy(WorkspaceClient(), options, start, out, dbutils.widgets.get("volume").strip())


def main(
    argv: Sequence[str] | None = None,
    namespace: Mapping[str, Any] | None = None,
    out: TextIO | None = None,
) -> int:
    """Run ``RUNME.py``: in a workspace notebook (``dbutils`` in ``namespace``) or a shell.

    Parameters
    ----------
    argv : sequence of str, optional
        Command-line arguments (``sys.argv[1:]`` by default); ignored in a notebook.
    namespace : mapping, optional
        The caller's ``globals()``.
    out : file, optional
        Where to print (stdout by default).

    Returns
    -------
    int
        The exit status: 0 on success, 2 for bad input, 1 when the workspace refused.
    """
    out = out or sys.stdout
    try:
        if namespace is not None and namespace.get("dbutils") is not None:
            return _workspace_main(namespace, out)
        args = build_parser().parse_args(argv)
        if args.local:
            options = _options_from_args(args, str(REPO_ROOT))
            return run_local(build_job_settings(options), options.parameters, out=out)
        if args.dry_run:
            path = args.workspace_path or f"/Workspace/Users/<you>/{REPO_NAME}"
            options = _options_from_args(args, path)
            if options.compute == "cluster" and options.node_type_id is None:
                print(
                    "note: without --node-type the node type is chosen from the workspace "
                    "when the job is created",
                    file=sys.stderr,
                )
            spec = build_job_settings(options).as_dict()
            if args.app:
                app = json.loads(app_spec(workspace_folder(path)).to_json())
                print(json.dumps({"job": spec, "app": app}, indent=2), file=out)
            else:
                print(json.dumps(spec, indent=2), file=out)
            return 0
        return _remote_main(args, out)
    except MediamixError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _remote_main(args: argparse.Namespace, out: TextIO) -> int:
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.errors import DatabricksError

    try:
        w = WorkspaceClient(profile=args.profile) if args.profile else WorkspaceClient()
    except ValueError as exc:  # no usable credentials: the SDK says what it tried
        print(
            f"error: cannot authenticate to Databricks: {exc}\n"
            "Use --profile NAME (a ~/.databrickscfg profile), or set DATABRICKS_HOST and "
            "DATABRICKS_TOKEN.",
            file=sys.stderr,
        )
        return 1
    try:
        path = args.workspace_path
        if path is None:
            user = w.current_user.me().user_name
            path = f"/Workspace/Users/{user}/{REPO_NAME}"
            print(f"notebooks expected in {path} (set --workspace-path otherwise)", file=out)
        print(f"workspace: {_host(w)}", file=out)
        status = _deploy(w, _options_from_args(args, path), args.run, out, args.volume.strip())
        if status == 0 and args.app:
            _deploy_app(w, path, out)
        return status
    except (DatabricksError, ValueError, VolumeRefusedError) as exc:
        print(f"error: the workspace refused: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
