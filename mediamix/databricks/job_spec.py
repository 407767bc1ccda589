"""The accelerator's Databricks job, as a specification: tasks, parameters and compute.

The job runs the two notebooks in order:

``data_gen`` (``01_MMM Data Gen``) -> ``mmm_pymc`` (``02_MMM PyMC Example``)

with job parameters named like the notebooks' widgets
(:data:`mediamix.databricks.notebook.NOTEBOOKS`),
on serverless compute with a job environment (version 4: Python 3.12) that installs
``requirements.txt`` (default), or on a single-node job cluster with an ML runtime
(``compute="cluster"``). The specification is built with databricks-sdk's own dataclasses
(:class:`~databricks.sdk.service.jobs.JobSettings`), so it is checked against the SDK's types.

Rules of the Jobs API that shape it (the API specification of databricks-sdk >= 0.74):

- a serverless notebook task may name a job environment (``environment_key``); it then
  overrides the notebook's own environment. That is how the notebooks get Python 3.12 whatever
  the workspace's default environment version. Workspaces that still refuse a task environment
  on a notebook task get the same job without one (:func:`build_job_settings` with
  ``notebook_environments=False``); the notebooks ``%pip install`` the requirements anyway;
- ``format`` is ignored by create/reset, so it is not sent;
- a single-node cluster is ``kind: CLASSIC_PREVIEW`` with ``is_single_node: true`` (Databricks
  sets the single-node Spark configuration and tags itself) and ``use_ml_runtime: true`` with
  a runtime release key such as ``17.3.x-scala2.13``.

Tasks are :class:`TaskDef` entries; an optional task with a cluster of its own (``workers``) is
added by passing it in :attr:`JobOptions.extra_tasks`, so a later task (fitting many models)
needs no second copy of the specification. The asset bundle ``databricks.yml`` is generated
from this specification (:mod:`mediamix.databricks.bundle`). Creating, running and running it
locally: :mod:`mediamix.databricks.job`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Literal

from mediamix.databricks.notebook import job_parameters
from mediamix.errors import MediamixError

if TYPE_CHECKING:
    from databricks.sdk.service import jobs
    from databricks.sdk.service.jobs import JobSettings

__all__ = [
    "CLUSTER_KEY",
    "DEFAULT_ENVIRONMENT_VERSION",
    "DEFAULT_SPARK_VERSION",
    "ENVIRONMENT_KEY",
    "JOB_NAME",
    "ML_RUNTIME_SUFFIX",
    "TASKS",
    "Compute",
    "JobError",
    "JobOptions",
    "TaskDef",
    "build_job_settings",
    "fit_many_task",
    "task_parameters",
    "workspace_folder",
]

JOB_NAME = "mediamix MMM accelerator"


@dataclass(frozen=True)
class TaskDef:
    """One notebook task of the job.

    Attributes
    ----------
    key : str
        The task key.
    notebook : str
        The notebook's name in the repository's folder (without ``.py``).
    after : str, optional
        The task it runs after.
    workers : int, optional
        On cluster compute, run on a job cluster of its own with this many workers (a task
        that needs more than one node); ``None`` shares the single-node cluster. Serverless
        compute sizes itself and ignores it.
    """

    key: str
    notebook: str
    after: str | None = None
    workers: int | None = None


#: The accelerator's tasks, in run order.
TASKS: tuple[TaskDef, ...] = (
    TaskDef("data_gen", "01_MMM Data Gen"),
    TaskDef("mmm_pymc", "02_MMM PyMC Example", after="data_gen"),
)
#: The notebook that fits one model per group on Spark (an optional task with its own cluster).
FIT_MANY_NOTEBOOK = "03_MMM Fit Many"
ENVIRONMENT_KEY = "mediamix"
DEFAULT_ENVIRONMENT_VERSION = "4"  # serverless environment 4: Python 3.12
CLUSTER_KEY = "mediamix_cluster"
# 17.3 LTS: Spark 4.0, Python 3.12, and with use_ml_runtime MLflow 3 preinstalled (16.4 LTS ML
# ships MLflow 2, which requirements.txt would have to replace); supported until October 2028.
DEFAULT_SPARK_VERSION = "17.3.x-scala2.13"
ML_RUNTIME_SUFFIX = "-ml-"  # in runtime keys such as 16.4.x-cpu-ml-scala2.12
Compute = Literal["serverless", "cluster"]


class JobError(MediamixError):
    """The job cannot be specified, created or run as asked."""


def fit_many_task(workers: int) -> TaskDef:
    """The optional fit-many task: its own job cluster of ``workers`` workers on cluster compute.

    Parameters
    ----------
    workers : int
        Workers of the task's cluster (each fits groups in parallel, one per core).

    Returns
    -------
    TaskDef
        For :attr:`JobOptions.extra_tasks`; it needs no upstream task.
    """
    return TaskDef("fit_many", FIT_MANY_NOTEBOOK, workers=workers)


def task_parameters(
    extra_tasks: tuple[TaskDef, ...] = (), env: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The parameters (widgets) of the notebooks the job runs: :data:`TASKS` and ``extra_tasks``.

    Parameters
    ----------
    extra_tasks : tuple of TaskDef
        Tasks added to the accelerator's own.
    env : mapping, optional
        Where ``MEDIAMIX_<NAME>`` overrides are read; ``os.environ`` by default.

    Returns
    -------
    dict
        ``{name: value}`` as text, in task order.
    """
    return job_parameters(env, notebooks=[t.notebook for t in (*TASKS, *extra_tasks)])


@dataclass(frozen=True)
class JobOptions:
    """What the job looks like.

    Attributes
    ----------
    workspace_path : str
        The repository's folder in the workspace (``/Workspace/Users/me@example.com/mediamix``);
        the notebooks and ``requirements.txt`` are found under it.
    name : str
        Job name; :func:`create_or_update` finds the job by it.
    compute : {"serverless", "cluster"}
        Serverless with an environment built from ``requirements.txt``, or a single-node job
        cluster on an ML runtime.
    parameters : dict
        Job parameters (widget name -> value); defaults from :func:`job_parameters`.
    environment_version : str
        Serverless environment version (``compute="serverless"``).
    spark_version : str
        Databricks runtime release of the job cluster (``compute="cluster"``), such as
        ``17.3.x-scala2.13``; the ML variant is chosen with ``use_ml_runtime``.
    node_type_id : str, optional
        Node type of the job cluster; chosen from the workspace when creating if omitted.
    extra_tasks : tuple of TaskDef
        Tasks added after the accelerator's own (:data:`TASKS`).
    """

    workspace_path: str
    name: str = JOB_NAME
    compute: Compute = "serverless"
    parameters: dict[str, str] = field(default_factory=task_parameters)
    environment_version: str = DEFAULT_ENVIRONMENT_VERSION
    spark_version: str = DEFAULT_SPARK_VERSION
    node_type_id: str | None = None
    extra_tasks: tuple[TaskDef, ...] = ()


def workspace_folder(path: str) -> str:
    """A workspace folder as a file-system path: ``/Users/me/x`` -> ``/Workspace/Users/me/x``.

    The notebook context names notebooks without the ``/Workspace`` prefix; pip (reading
    ``requirements.txt`` in a job environment) needs it. Jobs accept both for notebooks.
    """
    clean = "/" + path.strip().strip("/")
    if clean.startswith(("/Workspace/", "/Volumes/")) or clean == "/Workspace":
        return clean
    return "/Workspace" + clean


def _notebook_path(workspace_path: str, notebook: str) -> str:
    return str(PurePosixPath(workspace_folder(workspace_path)) / notebook)


def _cluster_key(task: TaskDef) -> str:
    return CLUSTER_KEY if task.workers is None else f"{task.key}_cluster"


def _tasks(options: JobOptions, notebook_environments: bool) -> list[jobs.Task]:
    """One notebook task per :class:`TaskDef`, on the chosen compute."""
    from databricks.sdk.service import jobs

    serverless = options.compute == "serverless"
    with_env = serverless and notebook_environments
    return [
        jobs.Task(
            task_key=task.key,
            description=f"Run the notebook {task.notebook}",
            notebook_task=jobs.NotebookTask(
                notebook_path=_notebook_path(options.workspace_path, task.notebook),
                source=jobs.Source.WORKSPACE,
            ),
            depends_on=[jobs.TaskDependency(task_key=task.after)] if task.after else None,
            environment_key=ENVIRONMENT_KEY if with_env else None,
            job_cluster_key=None if serverless else _cluster_key(task),
        )
        for task in (*TASKS, *options.extra_tasks)
    ]


def _environment(options: JobOptions) -> jobs.JobEnvironment:
    """The serverless environment: ``requirements.txt`` from the repository's folder."""
    from databricks.sdk.service import compute, jobs

    requirements = _notebook_path(options.workspace_path, "requirements.txt")
    return jobs.JobEnvironment(
        environment_key=ENVIRONMENT_KEY,
        spec=compute.Environment(
            environment_version=options.environment_version,
            dependencies=[f"-r {requirements}"],
        ),
    )


def _job_cluster(options: JobOptions, key: str, workers: int | None) -> jobs.JobCluster:
    """A job cluster on the ML runtime: single-node, or ``workers`` workers."""
    from databricks.sdk.service import compute, jobs

    if ML_RUNTIME_SUFFIX in options.spark_version:
        release = options.spark_version.replace("-cpu-ml-", "-").replace("-gpu-ml-", "-")
        raise JobError(
            f"spark_version {options.spark_version!r} names an ML runtime; give the runtime "
            f"release (such as {release!r}): the job cluster asks for the ML variant itself"
        )
    return jobs.JobCluster(
        job_cluster_key=key,
        new_cluster=compute.ClusterSpec(
            kind=compute.Kind.CLASSIC_PREVIEW,
            spark_version=options.spark_version,
            use_ml_runtime=True,
            node_type_id=options.node_type_id,
            # Databricks sets a single node's Spark configuration, tags and worker count itself
            is_single_node=True if workers is None else None,
            num_workers=workers,
            data_security_mode=compute.DataSecurityMode.DATA_SECURITY_MODE_DEDICATED,
        ),
    )


def _job_clusters(options: JobOptions) -> list[jobs.JobCluster]:
    """The shared single-node cluster, and one cluster per task that asks for workers."""
    out = [_job_cluster(options, CLUSTER_KEY, None)]
    for task in options.extra_tasks:
        if task.workers is not None:
            if task.workers < 1:
                raise JobError(f"task {task.key}: workers must be at least 1, got {task.workers}")
            out.append(_job_cluster(options, _cluster_key(task), task.workers))
    return out


def build_job_settings(options: JobOptions, notebook_environments: bool = True) -> JobSettings:
    """The job's specification as databricks-sdk's :class:`JobSettings`.

    Parameters
    ----------
    options : JobOptions
        Where the repository is, the compute, the parameters.
    notebook_environments : bool
        On serverless, give the notebook tasks the job environment (version and
        requirements). ``False`` for workspaces that refuse a task environment on notebook
        tasks: the notebooks then run in the workspace's default environment.

    Returns
    -------
    databricks.sdk.service.jobs.JobSettings
        ``.as_dict()`` is the JSON that the Jobs API receives.

    Raises
    ------
    JobError
        If a parameter is not a widget of any notebook, the compute is unknown, a task key
        repeats or the runtime is not a release key.
    """
    from databricks.sdk.service import jobs

    known = task_parameters(options.extra_tasks)
    unknown = sorted(set(options.parameters) - set(known))
    if unknown:
        raise JobError(
            f"unknown job parameters {unknown}; the notebooks' widgets are {list(known)}"
        )
    if options.compute not in ("serverless", "cluster"):
        raise JobError(f"compute must be 'serverless' or 'cluster', got {options.compute!r}")
    keys = [t.key for t in (*TASKS, *options.extra_tasks)]
    if len(set(keys)) != len(keys):
        raise JobError(f"task keys must be unique, got {keys}")
    values = known | options.parameters
    settings = jobs.JobSettings(
        name=options.name,
        description=(
            "mediamix solution accelerator: synthetic media data -> bronze/silver/gold Delta "
            "tables -> Bayesian media mix model (PyMC) -> ROAS, response curves, budget "
            "optimization -> MLflow run and registered model."
        ),
        tags={"solution": "mediamix"},
        max_concurrent_runs=1,
        queue=jobs.QueueSettings(enabled=True),
        parameters=[jobs.JobParameterDefinition(name=k, default=v) for k, v in values.items()],
        tasks=_tasks(options, notebook_environments),
    )
    if options.compute == "cluster":
        settings.job_clusters = _job_clusters(options)
    elif notebook_environments:
        settings.environments = [_environment(options)]
    return settings
