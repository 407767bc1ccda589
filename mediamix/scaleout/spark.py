"""Running the groups on Spark: ``groupBy(group).applyInPandas(fit_group, schema)``.

Each group's rows go to one Python worker, which fits and returns that group's result rows. Two
settings make this efficient:

- **one group per task**: every group gets a dense index and the rows are range-partitioned on
  it into one partition per group, so the ``groupBy`` needs no further shuffle and no two groups
  queue behind each other in one task while another core idles (hash partitioning would put
  several groups in some partitions and none in others; adaptive execution would coalesce them);
- **compile once per structure per worker**: ``spark.python.worker.reuse`` keeps each Python
  worker alive between tasks, so PyTensor's and numba's in-memory caches persist, and the
  workers get the driver's PyTensor ``base_compiledir`` and ``NUMBA_CACHE_DIR``, so the compiled
  log-density on disk is shared too (see :mod:`mediamix.inference.nutpie_callback`).
"""

from __future__ import annotations

import functools
import os
import sys
import warnings
from typing import Any

import pandas as pd

from mediamix.errors import MediamixError
from mediamix.scaleout.group import check_dir_names, fit_group, result_schema

__all__ = [
    "SparkRunError",
    "active_session",
    "cache_env",
    "local_session",
    "pyspark_available",
    "run_on_spark",
]

_INDEX = "__mediamix_group_index"


def pyspark_available() -> bool:
    """Whether pyspark can be imported."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return False
    return True


def cache_env() -> dict[str, str]:
    """Environment that points a Python worker at the driver's compile caches.

    ``base_compiledir``, not ``compiledir``: PyTensor keeps its numba cache beside the C
    modules' folder, under the base.
    """
    import pytensor

    flags = [f for f in os.environ.get("PYTENSOR_FLAGS", "").split(",") if f.strip()]
    flags = [
        f for f in flags if f.split("=", 1)[0].strip() not in ("base_compiledir", "compiledir")
    ]
    flags.append(f"base_compiledir={pytensor.config.base_compiledir}")
    env = {"PYTENSOR_FLAGS": ",".join(flags)}
    if os.environ.get("NUMBA_CACHE_DIR"):
        env["NUMBA_CACHE_DIR"] = os.environ["NUMBA_CACHE_DIR"]
    return env


def local_session(master: str) -> Any:
    """Start (or get) a Spark session on ``master`` (e.g. ``local[2]``) set up for fitting.

    The workers run this interpreter (so they import this mediamix), are reused between tasks,
    and see the driver's compile caches.
    """
    from pyspark.sql import SparkSession

    # the Python workers run PYSPARK_PYTHON (default "python3", maybe another version); the
    # spark.pyspark.python setting alone does not reach them in local mode
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = (
        SparkSession.builder.master(master)
        .appName("mediamix fit-many")
        .config("spark.pyspark.python", sys.executable)
        .config("spark.pyspark.driver.python", sys.executable)
        .config("spark.python.worker.reuse", "true")
        .config("spark.task.cpus", "1")
        .config("spark.sql.adaptive.coalescePartitions.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
    )
    for key, value in cache_env().items():
        builder = builder.config(f"spark.executorEnv.{key}", value)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "PySpark does not yet fully support pandas")
        return builder.getOrCreate()


def active_session() -> Any:
    """The active Spark session (the cluster's on Databricks), or None."""
    if not pyspark_available():
        return None
    from pyspark.sql import SparkSession

    return SparkSession.getActiveSession()


def _apply(
    frame: pd.DataFrame, group_by: str, config_json: str, out_dir: str, resume: bool
) -> pd.DataFrame:
    """The function each task runs: one group's rows in, its result rows out."""
    return fit_group(frame.drop(columns=[_INDEX]), group_by, config_json, out_dir, resume)


def _one_partition_per_group(spark: Any, df: Any, group_by: str) -> tuple[Any, list[str]]:
    """The rows range-partitioned on a dense group index: one partition (task) per group."""
    from pyspark.sql import functions

    if group_by not in df.columns:
        raise MediamixError(
            f"--group-by {group_by!r} is not a column of the data; columns are {df.columns}"
        )
    groups = sorted(str(r[0]) for r in df.select(group_by).distinct().collect())
    if not groups:
        raise MediamixError("the data hold no rows: nothing to fit")
    check_dir_names(groups)
    index = spark.createDataFrame(
        [(g, i) for i, g in enumerate(groups)], f"`{group_by}` string, `{_INDEX}` int"
    )
    df = df.withColumn(group_by, functions.col(group_by).cast("string"))
    df = df.join(functions.broadcast(index), on=group_by).repartitionByRange(len(groups), _INDEX)
    return df, groups


def run_on_spark(
    spark: Any, data: Any, group_by: str, config_json: str, out_dir: str, resume: bool = False
) -> pd.DataFrame:
    """Fit every group of ``data`` on Spark and collect the result rows on the driver.

    Parameters
    ----------
    spark : pyspark.sql.SparkSession
        The session.
    data : pyspark.sql.DataFrame or pandas.DataFrame
        All groups' rows.
    group_by, config_json, out_dir, resume
        As in :func:`mediamix.scaleout.group.fit_group`.

    Returns
    -------
    pandas.DataFrame
        The result rows of every group.
    """
    from pyspark.sql import DataFrame

    if isinstance(data, DataFrame):
        df = data
    else:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "PySpark does not yet fully support pandas")
            df = spark.createDataFrame(data)
    df, groups = _one_partition_per_group(spark, df, group_by)
    if spark.sparkContext.getConf().get("spark.python.worker.reuse", "true") != "true":
        print(
            "spark.python.worker.reuse is off: every group starts a new Python worker that "
            "imports PyMC and loads the compiled model again (about 20 s a group)",
            file=sys.stderr,
        )
    fn = functools.partial(
        _apply, group_by=group_by, config_json=config_json, out_dir=out_dir, resume=resume
    )
    try:
        with warnings.catch_warnings():
            # pyspark's notice about pandas 3, and its note that a partial has no type hints
            # (applyInPandas needs none), say nothing about this job
            warnings.filterwarnings("ignore", "PySpark does not yet fully support pandas")
            warnings.filterwarnings("ignore", "Cannot infer the eval type")
            # pyspark's own use of a pandas keyword that pandas 3 deprecates
            warnings.filterwarnings("ignore", "The copy keyword is deprecated")
            out = df.groupBy(_INDEX, group_by).applyInPandas(fn, schema=result_schema(group_by))
            return out.toPandas()
    except Exception as exc:  # a worker crash or a cancelled job: report it in one line
        # the last line of a worker's traceback is its error; the rest is noise for a user
        lines = [line for line in str(exc).splitlines() if line.strip()] or [type(exc).__name__]
        first = lines[-1]
        raise SparkRunError(
            f"the Spark job stopped before every group finished ({first.strip()[:300]}); groups "
            f"that finished keep their files under {out_dir}; run again with --resume to fit "
            "the rest",
            groups,
        ) from exc


class SparkRunError(MediamixError):
    """The Spark job failed as a whole (a worker crashed, the job was cancelled)."""

    def __init__(self, message: str, groups: list[str]) -> None:
        super().__init__(message)
        self.groups = groups
