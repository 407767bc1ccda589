"""Where a ``fit_many`` run is recorded: the Delta table ``mmm_fit_many`` and MLflow.

Both are written by the driver after the results have come back from the executors. One writer
means one Delta commit per run (the rows are appended, tagged with the run's id, so the table's
history holds every run) and no concurrent writes to MLflow's store (several workers writing a
local SQLite ``mlflow.db`` at once fail with ``database is locked``).
"""

from __future__ import annotations

import json
import math
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from mediamix.config.model import ModelConfig
from mediamix.scaleout.group import group_dir_name

if TYPE_CHECKING:
    from mediamix.lakehouse.backend import WriteResult
    from mediamix.scaleout.runner import FitManyResult

__all__ = ["RESULTS_TABLE", "log_fit_many", "new_run_id", "write_results_table"]

RESULTS_TABLE = "mmm_fit_many"


def new_run_id() -> str:
    """An id for one ``fit_many`` run, stored in every row it writes."""
    return uuid.uuid4().hex[:16]


def write_results_table(
    result: FitManyResult,
    run_id: str,
    *,
    table: str = RESULTS_TABLE,
    lakehouse: str | Path | None = None,
) -> WriteResult:
    """Append the run's result rows to the Delta table ``table`` as one new version.

    The group column is stored as ``group_value`` next to ``group_by`` (its name), so runs
    grouped by different columns share one table.
    """
    from mediamix.lakehouse.tables import write_table

    rows = result.results.rename(columns={result.group_by: "group_value"})
    rows.insert(0, "group_by", result.group_by)
    rows.insert(0, "run_at", datetime.now(UTC).isoformat(timespec="seconds"))
    rows.insert(0, "run_id", run_id)
    rows = rows.drop(columns=["started_at"])
    return write_table(rows, table, mode="append", lakehouse=lakehouse)


def _finite(values: dict[str, Any]) -> dict[str, float]:
    """Metrics MLflow accepts: finite numbers only."""
    out = {}
    for k, v in values.items():
        if v is not None and isinstance(v, int | float) and math.isfinite(v):
            out[k] = float(v)
    return out


def _log_group(
    group: str, rows: pd.DataFrame, out_dir: Path, experiment_id: str, fit_artifact: bool
) -> str:
    """One child run for a group fitted in this run; returns its run id."""
    import mlflow

    # the parent's experiment, named: a nested run otherwise goes to the default experiment
    with mlflow.start_run(run_name=group, nested=True, experiment_id=experiment_id) as child:
        try:
            return _log_child(child, group, rows, out_dir, fit_artifact)
        except KeyboardInterrupt:  # MLflow would end it FAILED; an interrupt is KILLED
            mlflow.end_run(status="KILLED")
            raise


def _log_child(
    child: Any, group: str, rows: pd.DataFrame, out_dir: Path, fit_artifact: bool
) -> str:
    """The child run's tags, metrics and files; ends it FAILED or KILLED for such a group."""
    import mlflow

    first = rows.iloc[0]
    mlflow.set_tags({"mediamix.group": group, "mediamix.status": str(first["status"])})
    if first["status"] == "interrupted":
        mlflow.set_tag("mediamix.error", str(first["error"])[:5000])
        mlflow.end_run(status="KILLED")
        return str(child.info.run_id)
    if first["status"] == "failed":
        mlflow.set_tag("mediamix.error", str(first["error"])[:5000])
        mlflow.log_metric("fit_seconds", float(first["fit_seconds"]))
        mlflow.end_run(status="FAILED")
        return str(child.info.run_id)
    metrics = {
        "fit_seconds": first["fit_seconds"],
        "r_hat_max": first["r_hat_max"],
        "ess_bulk_min": first["ess_bulk_min"],
        "divergences": first["divergences"],
        "converged": float(bool(first["converged"])),
    }
    for _, r in rows.iterrows():
        for stat in ("mean", "hdi_low", "hdi_high"):
            metrics[f"roas/{r['channel']}/{stat}"] = r[f"roas_{stat}"]
        metrics[f"contribution_share/{r['channel']}/mean"] = r["share_mean"]
    mlflow.log_metrics(_finite(metrics))
    path = out_dir / group_dir_name(group)
    summary = json.loads((path / "summary.json").read_text())
    summary["mlflow_run_id"] = child.info.run_id
    mlflow.log_dict(summary, "summary.json")
    mlflow.set_tag("mediamix.fit_path", str(path / "fit.nc"))
    if fit_artifact:  # tens of MB per group: the driver's upload time dominates at scale
        mlflow.log_artifact(str(path / "fit.nc"), artifact_path="fit")
    tmp = path / f".summary.json.{child.info.run_id}.tmp"
    tmp.write_text(json.dumps(summary, indent=2) + "\n")
    tmp.replace(path / "summary.json")  # the group's files name the run that holds them
    return str(child.info.run_id)


def log_fit_many(
    result: FitManyResult,
    config: ModelConfig,
    run_id: str,
    *,
    data_source: dict[str, str] | None = None,
    experiment: str | None = None,
    tracking_uri: str | None = None,
    fit_artifacts: bool = True,
    interrupted: BaseException | None = None,
) -> str:
    """Log the run to MLflow: a parent run, a child per group fitted (or failed) this time.

    Groups skipped by ``resume`` get no new child: their earlier run holds them. With
    ``fit_artifacts=False`` a child records where its ``fit.nc`` is (tag
    ``mediamix.fit_path``) instead of uploading it. With ``interrupted`` (a signal stopped the
    run) the group in flight gets a ``KILLED`` child and the parent ends ``KILLED`` (re-raised).

    Returns
    -------
    str
        The parent run's id.
    """
    import mlflow

    from mediamix.mlops.tracking import tracked_run

    counts = result.status["status"].value_counts()
    with tracked_run(
        config,
        data_source=data_source,
        experiment=experiment,
        tracking_uri=tracking_uri,
        run_name=f"fit-many by {result.group_by}",
    ) as parent:
        mlflow.set_tags({"mediamix.fit_many.run_id": run_id, "mediamix.group_by": result.group_by})
        mlflow.log_metrics(
            {
                "groups": float(len(result.status)),
                "groups_ok": float(counts.get("ok", 0)),
                "groups_skipped": float(counts.get("skipped", 0)),
                "groups_failed": float(counts.get("failed", 0)),
                "groups_not_done": float(
                    counts.get("interrupted", 0) + counts.get("not_started", 0)
                ),
                "wall_seconds": result.wall_seconds,
            }
        )
        mlflow.log_artifact(str(result.out_dir / "status.csv"))
        mlflow.log_text(result.results.to_csv(index=False), "results.csv")
        for group, rows in result.results.groupby(result.group_by, sort=True):
            if rows.iloc[0]["status"] in ("ok", "failed"):
                _log_group(str(group), rows, result.out_dir, parent.experiment_id, fit_artifacts)
        stopped = result.status[result.status["status"] == "interrupted"]
        for _, row in stopped.iterrows():
            rows = pd.DataFrame([row])
            _log_group(str(row[result.group_by]), rows, result.out_dir, parent.experiment_id, False)
        if interrupted is not None:
            raise interrupted
        return parent.run_id
