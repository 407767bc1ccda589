"""The accelerator's Databricks job, as a specification: tasks, parameters and compute.

The job runs the two notebooks in order:

``data_gen`` (``01_MMM Data Gen``) -> ``mmm_pymc`` (``02_MMM PyMC Example``)

with job parameters named like the notebooks' widgets
(:data:`mediamix.databricks.notebook.NOTEBOOKS`),
on serverless compute with an environment that installs ``requirements.txt`` (default), or on a
single-node job cluster with an ML runtime (``compute="cluster"``). The specification is built
with databricks-sdk's own dataclasses (:class:`~databricks.sdk.service.jobs.JobSettings`), so
it is checked against the SDK's types. Creating, running and running it locally:
:mod:`mediamix.databricks.job`.
"""

from __future__ import annotations

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
    "TASKS",
    "Compute",
    "JobError",
    "JobOptions",
    "build_job_settings",
    "workspace_folder",
]

JOB_NAME = "mediamix MMM accelerator"
#: ``(task_key, notebook, depends_on)`` in run order.
TASKS: tuple[tuple[str, str, str | None], ...] = (
    ("data_gen", "01_MMM Data Gen", None),
    ("mmm_pymc", "02_MMM PyMC Example", "data_gen"),
)
ENVIRONMENT_KEY = "mediamix"
DEFAULT_ENVIRONMENT_VERSION = "4"  # serverless environment 4: Python 3.12
CLUSTER_KEY = "mediamix_cluster"
DEFAULT_SPARK_VERSION = "16.4.x-cpu-ml-scala2.12"  # 16.4 LTS ML: Python 3.12
Compute = Literal["serverless", "cluster"]


class JobError(MediamixError):
    """The job cannot be specified, created or run as asked."""


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
        Databricks runtime of the job cluster (``compute="cluster"``); an ML runtime.
    node_type_id : str, optional
        Node type of the job cluster; chosen from the workspace when creating if omitted.
    """

    workspace_path: str
    name: str = JOB_NAME
    compute: Compute = "serverless"
    parameters: dict[str, str] = field(default_factory=job_parameters)
    environment_version: str = DEFAULT_ENVIRONMENT_VERSION
    spark_version: str = DEFAULT_SPARK_VERSION
    node_type_id: str | None = None


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


def _tasks(options: JobOptions) -> list[jobs.Task]:
    """One notebook task per entry of :data:`TASKS`, on the chosen compute."""
    from databricks.sdk.service import jobs

    serverless = options.compute == "serverless"
    return [
        jobs.Task(
            task_key=key,
            description=f"Run the notebook {notebook}",
            notebook_task=jobs.NotebookTask(
                notebook_path=_notebook_path(options.workspace_path, notebook),
                source=jobs.Source.WORKSPACE,
            ),
            depends_on=[jobs.TaskDependency(task_key=after)] if after else None,
            environment_key=ENVIRONMENT_KEY if serverless else None,
            job_cluster_key=None if serverless else CLUSTER_KEY,
        )
        for key, notebook, after in TASKS
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


def _job_cluster(options: JobOptions) -> jobs.JobCluster:
    """A single-node job cluster on the ML runtime of ``options``."""
    from databricks.sdk.service import compute, jobs

    return jobs.JobCluster(
        job_cluster_key=CLUSTER_KEY,
        new_cluster=compute.ClusterSpec(
            spark_version=options.spark_version,
            node_type_id=options.node_type_id,
            num_workers=0,
            data_security_mode=compute.DataSecurityMode.SINGLE_USER,
            spark_conf={
                "spark.databricks.cluster.profile": "singleNode",
                "spark.master": "local[*]",
            },
            custom_tags={"ResourceClass": "SingleNode"},
        ),
    )


def build_job_settings(options: JobOptions) -> JobSettings:
    """The job's specification as databricks-sdk's :class:`JobSettings`.

    Parameters
    ----------
    options : JobOptions
        Where the repository is, the compute, the parameters.

    Returns
    -------
    databricks.sdk.service.jobs.JobSettings
        ``.as_dict()`` is the JSON that the Jobs API receives.

    Raises
    ------
    JobError
        If a parameter is not a widget of any notebook, or the compute is unknown.
    """
    from databricks.sdk.service import jobs

    known = job_parameters()
    unknown = sorted(set(options.parameters) - set(known))
    if unknown:
        raise JobError(
            f"unknown job parameters {unknown}; the notebooks' widgets are {list(known)}"
        )
    if options.compute not in ("serverless", "cluster"):
        raise JobError(f"compute must be 'serverless' or 'cluster', got {options.compute!r}")
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
        format=jobs.Format.MULTI_TASK,
        queue=jobs.QueueSettings(enabled=True),
        parameters=[jobs.JobParameterDefinition(name=k, default=v) for k, v in values.items()],
        tasks=_tasks(options),
    )
    if options.compute == "serverless":
        settings.environments = [_environment(options)]
    else:
        settings.job_clusters = [_job_cluster(options)]
    return settings
