"""``fit_many``: one independent model per group value, on Spark or one after another.

With pyspark and a Spark session (given, or the active one on Databricks) the groups run as
``groupBy(group).applyInPandas`` tasks (:mod:`mediamix.scaleout.spark`); without one they run
in this process, one after another, with the same per-group function, so results and files are
identical. Each group writes ``<out>/<group>/summary.json``, ``fit.nc`` and ``status.json`` as it
finishes; the driver then writes ``<out>/status.csv`` from every group's ``status.json``, so a
run that is interrupted keeps what finished and ``resume=True`` picks up from there.

``SIGINT``/``SIGTERM`` during an in-process run stop it after no more than the group in flight:
that group's ``status.json`` says ``interrupted`` (so ``resume`` fits it again), groups not yet
started are ``not_started`` in ``status.csv``, and :class:`FitManyInterrupted` carries what
finished.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from mediamix.config.model import ModelConfig, load_model_config
from mediamix.errors import MediamixError
from mediamix.inference.interrupts import FitInterrupted
from mediamix.scaleout.group import (
    RESULT_COLUMNS,
    STATUS_FILE,
    check_dir_names,
    fit_group,
    group_dir_name,
)
from mediamix.scaleout.spark import (
    SparkRunError,
    active_session,
    pyspark_available,
    run_on_spark,
)

__all__ = ["FitManyInterrupted", "FitManyResult", "fit_many", "load_groups_data", "read_status"]

STATUS_COLUMNS = ("status", "error", "fit_seconds", "fingerprint")


@dataclass(frozen=True)
class FitManyResult:
    """What :func:`fit_many` returns.

    Attributes
    ----------
    results : pandas.DataFrame
        One row per (group, channel); a failed group has one row, with ``error``.
    status : pandas.DataFrame
        One row per group: the group column, ``status`` (``ok``, ``skipped``, ``failed``),
        ``error``, ``fit_seconds``, ``fingerprint``; also written to ``<out>/status.csv``.
    group_by : str
        The group column.
    out_dir : Path
        Where the per-group files and ``status.csv`` are.
    engine : str
        ``spark`` or ``local`` (in-process, one group after another).
    wall_seconds : float
        Wall time of the fits.
    """

    results: pd.DataFrame
    status: pd.DataFrame
    group_by: str
    out_dir: Path
    engine: str
    wall_seconds: float

    @property
    def failed(self) -> pd.DataFrame:
        """The status rows of the groups that failed."""
        return self.status[self.status["status"] == "failed"]


def load_groups_data(source: str | Path, lakehouse: str | Path | None = None) -> pd.DataFrame:
    """Read all groups' rows from a CSV file or a table name (via the lakehouse layer)."""
    from mediamix.lakehouse.tables import looks_like_table_name, read_table

    path = Path(source)
    if path.is_file() or not looks_like_table_name(source):
        if not path.is_file():
            raise MediamixError(f"--data {source}: no such file, and not a table name")
        return pd.read_csv(path)
    return read_table(str(source), lakehouse=lakehouse)


def _check_pandas(data: pd.DataFrame, group_by: str) -> list[str]:
    """The distinct group values, after checking the group column and directory names."""
    if group_by not in data.columns:
        raise MediamixError(
            f"--group-by {group_by!r} is not a column of the data; columns are {list(data.columns)}"
        )
    missing = data[group_by].isna()
    if missing.any():
        rows = ", ".join(str(i) for i in missing.to_numpy().nonzero()[0][:5])
        raise MediamixError(f"column {group_by!r}: rows {rows} have no group value")
    if group_by in RESULT_COLUMNS:
        raise MediamixError(
            f"--group-by {group_by!r} clashes with a result column; rename it "
            f"(result columns: {list(RESULT_COLUMNS)})"
        )
    return sorted(str(g) for g in data[group_by].unique())


class FitManyInterrupted(FitInterrupted):
    """A fit-many run stopped by ``SIGINT``/``SIGTERM``; exits 130/143 like a single fit.

    Attributes
    ----------
    partial : FitManyResult
        The groups finished before the signal (``ok``, ``skipped``, ``failed``), the group in
        flight (``interrupted``) and those never started (``not_started``).
    """

    def __init__(self, signum: int, partial: FitManyResult) -> None:
        super().__init__(signum)
        self.partial = partial


def _interrupted(
    exc: KeyboardInterrupt, done: list[pd.DataFrame], in_flight: str | None, ctx: _Local
) -> FitManyInterrupted:
    """Mark the group in flight ``interrupted`` and the rest ``not_started``; what finished."""
    signum = int(getattr(exc, "signum", signal.SIGINT))
    name = signal.Signals(signum).name
    if in_flight is not None:
        path = ctx.out / group_dir_name(in_flight) / STATUS_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        entry = {"group": in_flight, "status": "interrupted", "fingerprint": None}
        entry["error"] = f"interrupted by {name} while fitting; --resume fits it again"
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(entry, indent=2) + "\n")
        tmp.replace(path)  # a stale "ok" from an earlier run must not survive the interrupt
    finished = {str(f[ctx.group_by].iloc[0]) for f in done}
    status = read_status(ctx.out, ctx.group_by, ctx.groups)
    unstarted = ~status[ctx.group_by].isin(finished) & (status[ctx.group_by] != in_flight)
    status.loc[unstarted, ["status", "error", "fit_seconds", "fingerprint"]] = [
        "not_started",
        f"not started: the run was interrupted by {name}",
        None,
        None,
    ]
    _write_status_csv(status, ctx.out)
    results = pd.concat(done, ignore_index=True) if done else pd.DataFrame(columns=[ctx.group_by])
    wall = time.perf_counter() - ctx.started
    partial = FitManyResult(results, status, ctx.group_by, ctx.out, "local", wall)
    return FitManyInterrupted(signum, partial)


@dataclass(frozen=True)
class _Local:
    """An in-process run's settings, for the interrupt path."""

    group_by: str
    groups: list[str]
    out: Path
    started: float


def _run_local(
    data: pd.DataFrame, group_by: str, cfg: ModelConfig, out: Path, resume: bool
) -> tuple[pd.DataFrame, list[str]]:
    """The groups one after another in this process (no Spark); results and group values."""
    why = "pyspark is not installed" if not pyspark_available() else "no Spark session"
    print(f"{why}: fitting the groups one after another in-process", file=sys.stderr)
    groups = _check_pandas(data, group_by)
    check_dir_names(groups)
    ctx = _Local(group_by, groups, out, time.perf_counter())
    frames: list[pd.DataFrame] = []
    in_flight: str | None = None
    try:
        for value, rows in data.groupby(data[group_by].astype(str), sort=True):
            in_flight = str(value)
            rows = rows.assign(**{group_by: value})
            frames.append(fit_group(rows, group_by, cfg.model_dump_json(), str(out), resume))
            in_flight = None
            last = frames[-1].iloc[0]
            print(f"  {value}: {last['status']} ({last['fit_seconds']:.1f} s)", file=sys.stderr)
    except KeyboardInterrupt as exc:  # Ctrl-C or SIGTERM: stop, keep what finished
        raise _interrupted(exc, frames, in_flight, ctx) from exc
    except BaseException:  # status.csv still lists what finished
        _write_status_csv(read_status(out, group_by, groups), out)
        raise
    return pd.concat(frames, ignore_index=True), groups


def read_status(out_dir: str | Path, group_by: str, groups: list[str]) -> pd.DataFrame:
    """The status of ``groups`` from their ``status.json`` files (``missing`` when absent)."""
    rows = []
    for g in groups:
        path = Path(out_dir) / group_dir_name(g) / STATUS_FILE
        try:
            entry = json.loads(path.read_text())
        except (OSError, ValueError):
            entry = {"status": "missing", "error": f"no readable {path}"}
        rows.append({group_by: g, **{c: entry.get(c) for c in STATUS_COLUMNS}})
    return pd.DataFrame(rows, columns=[group_by, *STATUS_COLUMNS])


def _write_status_csv(status: pd.DataFrame, out_dir: Path) -> Path:
    """``<out>/status.csv``: the group column first, then status, error, fit_seconds."""
    path = out_dir / "status.csv"
    tmp = path.with_name(f".status.csv.{os.getpid()}.tmp")
    status.to_csv(tmp, index=False)
    tmp.replace(path)
    return path


def _run_spark(
    session: Any, data: Any, group_by: str, cfg: ModelConfig, out: Path, resume: bool
) -> pd.DataFrame:
    """The groups as Spark tasks; a failed job still leaves ``status.csv`` of what finished."""
    if isinstance(data, pd.DataFrame):
        _check_pandas(data, group_by)
    # every task slot runs one fit, so a fit's chains share one core instead of competing
    spark_cfg = cfg if cfg.sampler.cores else cfg.with_sampler(cores=1)
    try:
        return run_on_spark(session, data, group_by, spark_cfg.model_dump_json(), str(out), resume)
    except SparkRunError as exc:
        _write_status_csv(read_status(out, group_by, exc.groups), out)
        raise


def fit_many(
    data: Any,
    group_by: str,
    config: ModelConfig | str | Path,
    out_dir: str | Path = "fit_many",
    *,
    spark: Any = None,
    resume: bool = False,
) -> FitManyResult:
    """Fit one independent MMM per value of ``group_by``.

    Parameters
    ----------
    data : pyspark.sql.DataFrame or pandas.DataFrame
        All groups' rows: ``date``, the group column, channels, controls, outcome.
    group_by : str
        The column whose values name the groups (brand, market, product line).
    config : ModelConfig or path
        The model config, the same for every group. On Spark each fit samples its chains on
        one core (``sampler.cores = 1`` unless set).
    out_dir : str or Path
        Root of ``<group>/summary.json``, ``<group>/fit.nc`` and ``status.csv``; it must be
        reachable from every executor (a Volume path on Databricks).
    spark : pyspark.sql.SparkSession, optional
        Run on this session; default the active one, else (none) in this process.
    resume : bool, default False
        Skip groups whose data and config are unchanged since they last succeeded.

    Returns
    -------
    FitManyResult
        Result rows per (group, channel) and the status per group.

    Raises
    ------
    MediamixError
        If the group column is missing or two groups would share a directory. A bad group
        does not raise: its error is in its result row and ``status.csv``.
    FitManyInterrupted
        On ``SIGINT``/``SIGTERM`` in an in-process run (``status.csv`` written first).
    """
    cfg = config if isinstance(config, ModelConfig) else load_model_config(config)
    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    session = spark if spark is not None else active_session()
    if session is None and not isinstance(data, pd.DataFrame):
        raise MediamixError("a Spark DataFrame needs a Spark session; none is active")
    t0 = time.perf_counter()
    if session is None:
        results, groups = _run_local(data, group_by, cfg, out, resume)
        engine = "local"
    else:
        results = _run_spark(session, data, group_by, cfg, out, resume)
        groups = sorted(results[group_by].astype(str).unique())
        engine = "spark"
    wall = time.perf_counter() - t0
    results = results.sort_values([group_by, "channel"], na_position="first", kind="stable")
    status = read_status(out, group_by, groups)
    _write_status_csv(status, out)
    return FitManyResult(results.reset_index(drop=True), status, group_by, out, engine, wall)
