"""The work done for one group, wherever it runs: validate, fit, summarise, write, report rows.

:func:`fit_group` is what a Spark executor (or the in-process fallback) runs on one group's rows.
It never raises for bad data or a failed fit: the error, prefixed with the group, goes into the
group's result row and ``status.json``, so one bad group cannot stop the others. Every file is
written under a temporary name and renamed, so an interrupted run leaves each group's directory
either complete or as it was.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mediamix.analysis.summary import fit_summary
from mediamix.config.model import ModelConfig
from mediamix.data.columns import prepare_frame
from mediamix.errors import MediamixError
from mediamix.inference.diagnostics import ConvergenceWarning
from mediamix.inference.fit import fit
from mediamix.model.builder import prepare_data

__all__ = [
    "RESULT_COLUMNS",
    "STATUS_FILE",
    "check_dir_names",
    "fit_group",
    "group_dir_name",
    "result_schema",
    "rows_from_summary",
]

#: Result columns after the group column, with their Spark SQL types.
RESULT_COLUMNS: dict[str, str] = {
    "channel": "string",
    "roas_mean": "double",
    "roas_hdi_low": "double",
    "roas_hdi_high": "double",
    "share_mean": "double",
    "share_hdi_low": "double",
    "share_hdi_high": "double",
    "converged": "boolean",
    "r_hat_max": "double",
    "ess_bulk_min": "double",
    "divergences": "bigint",
    "fit_seconds": "double",
    "status": "string",
    "error": "string",
    "fingerprint": "string",
    "worker": "string",
    "started_at": "double",
}
#: Per-group status file: the source of ``status.csv`` and of ``--resume``.
STATUS_FILE = "status.json"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
# an error stays readable in a table cell; compiler errors can run to pages
_MAX_ERROR = 2000


def result_schema(group_by: str) -> str:
    """The Spark DDL schema of the result rows (the group column as a string first)."""
    cols = [f"`{group_by}` string", *(f"`{c}` {t}" for c, t in RESULT_COLUMNS.items())]
    return ", ".join(cols)


def group_dir_name(value: Any) -> str:
    """The directory name of a group value: its text with unsafe characters replaced by ``_``."""
    name = _UNSAFE.sub("_", str(value)).strip("._") or "_"
    return name[:120]


def check_dir_names(groups: list[str]) -> None:
    """Two group values must not share an output directory."""
    seen: dict[str, str] = {}
    for g in groups:
        name = group_dir_name(g)
        if name in seen:
            raise MediamixError(
                f"groups {seen[name]!r} and {g!r} map to the same directory {name!r}; "
                "group values must differ in letters, digits, '.', '_' or '-'"
            )
        seen[name] = g


def _write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to a temporary name and rename: readers never see half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


def _fingerprint(frame: pd.DataFrame, config: ModelConfig) -> str:
    """Hash of the validated frame and the config: equal only when both are unchanged."""
    h = hashlib.sha256(config.model_dump_json().encode())
    h.update(",".join(frame.columns).encode())
    h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return h.hexdigest()[:32]


def rows_from_summary(
    group_by: str, group: str, summary: dict[str, Any], status: dict[str, Any]
) -> pd.DataFrame:
    """One result row per channel of a group's ``summary.json`` and ``status.json``."""
    diag = summary["diagnostics"]
    rows = []
    for ch, entry in summary["channels"].items():
        roas, share = entry["roas"], entry["contribution_share"]
        rows.append(
            {
                group_by: group,
                "channel": ch,
                "roas_mean": roas["mean"],
                "roas_hdi_low": roas["hdi_low"],
                "roas_hdi_high": roas["hdi_high"],
                "share_mean": share["mean"],
                "share_hdi_low": share["hdi_low"],
                "share_hdi_high": share["hdi_high"],
                "converged": bool(diag["converged"]),
                "r_hat_max": diag["r_hat_max"],
                "ess_bulk_min": diag["ess_bulk_min"],
                "divergences": int(diag["divergences"]),
            }
        )
    return _frame(group_by, rows, status)


def _frame(group_by: str, rows: list[dict[str, Any]], status: dict[str, Any]) -> pd.DataFrame:
    """Rows with the status fields added, every result column present and typed."""
    keys = ("fit_seconds", "status", "error", "fingerprint", "worker", "started_at")
    out = pd.DataFrame([{**r, **{k: status.get(k) for k in keys}} for r in rows])
    out = out.reindex(columns=[group_by, *RESULT_COLUMNS])
    for col, kind in RESULT_COLUMNS.items():
        if kind == "double":
            out[col] = out[col].astype("float64")
        elif kind == "bigint":
            out[col] = out[col].fillna(-1).astype("int64")
        elif kind == "boolean":
            out[col] = [v is True or (isinstance(v, np.bool_) and bool(v)) for v in out[col]]
        else:
            out[col] = out[col].astype(object).where(out[col].notna(), None)
    return out


def _previous(path: Path, fingerprint: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The earlier successful result of this group, if its data and config are unchanged."""
    try:
        status = json.loads((path / STATUS_FILE).read_text())
        summary = json.loads((path / "summary.json").read_text())
    except (OSError, ValueError):
        return None
    if status.get("status") in ("ok", "skipped") and status.get("fingerprint") == fingerprint:
        return status, summary
    return None


def _sorted_frame(frame: pd.DataFrame, group_by: str, date_column: str) -> pd.DataFrame:
    """The group's rows without the group column, in date order (a Spark shuffle mixes them)."""
    data = frame.drop(columns=[group_by])
    if date_column in data.columns:
        dates = pd.to_datetime(data[date_column], errors="coerce")  # bad dates last, then named
        data = data.iloc[np.asarray(dates.argsort(kind="stable"))]
    return data.reset_index(drop=True)


def _run_fit(
    data: pd.DataFrame, config: ModelConfig, path: Path, status: dict[str, Any], resume: bool
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Validate, fit (unless resumed), write ``fit.nc`` and ``summary.json``; return both."""
    # the modeling frame exactly as fit() derives it, checked before anything is sampled
    # (DataValidationError names the column and rows); its hash does not depend on whether
    # the rows came from Spark or a CSV
    prepared, derived_config = prepare_frame(data, config)
    md = prepare_data(prepared, derived_config)
    status["fingerprint"] = _fingerprint(md.frame, config)
    previous = _previous(path, status["fingerprint"]) if resume else None
    if previous is not None:
        old_status, summary = previous
        status.update(status="skipped", fit_seconds=old_status.get("fit_seconds"))
        return status, summary
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # reported in the row instead
        result = fit(data, config)
    path.mkdir(parents=True, exist_ok=True)
    result.save(path / "fit.nc")
    summary = fit_summary(result)
    summary["mlflow_run_id"] = None  # set by the driver when it logs the group
    _write_atomic(path / "summary.json", json.dumps(summary, indent=2) + "\n")
    status.update(status="ok", fit_seconds=result.timings["fit_seconds"])
    return status, summary


def _reraise_interrupt(exc: BaseException) -> None:
    """An interrupt that compiled code wrapped (``SystemError``...) still stops the run."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, KeyboardInterrupt):
            raise seen
        seen = seen.__cause__ or seen.__context__


def fit_group(
    frame: pd.DataFrame, group_by: str, config_json: str, out_dir: str, resume: bool = False
) -> pd.DataFrame:
    """Fit one group's model and return its result rows; never raises for a bad group.

    Parameters
    ----------
    frame : pandas.DataFrame
        The group's rows: the group column, ``date``, channels, controls, outcome.
    group_by : str
        The group column (one value throughout ``frame``).
    config_json : str
        The model config as JSON (text travels to Spark executors unchanged).
    out_dir : str
        Root directory; the group writes ``<out_dir>/<group>/``.
    resume : bool, default False
        Skip the fit when the group succeeded before with the same data and config.

    Returns
    -------
    pandas.DataFrame
        One row per channel (``status`` ``ok`` or ``skipped``), or one row with ``status``
        ``failed`` and the error naming the group.
    """
    group = str(frame[group_by].iloc[0])
    path = Path(out_dir) / group_dir_name(group)
    started = time.time()
    status: dict[str, Any] = {
        "group": group,
        "status": "failed",
        "error": None,
        "fit_seconds": None,
        "fingerprint": None,
        "worker": f"{socket.gethostname()}:{os.getpid()}",
        "started_at": started,
    }
    summary: dict[str, Any] | None = None
    try:
        config = ModelConfig.model_validate_json(config_json)
        data = _sorted_frame(frame, group_by, config.date_column)
        status, summary = _run_fit(data, config, path, status, resume)
    except MediamixError as exc:
        status["error"] = f"group {group!r}: {exc}"[:_MAX_ERROR]
    except Exception as exc:  # a failed fit must not stop the other groups
        _reraise_interrupt(exc)
        status["error"] = f"group {group!r}: {type(exc).__name__}: {exc}"[:_MAX_ERROR]
    if status["fit_seconds"] is None:
        status["fit_seconds"] = time.time() - started
    path.mkdir(parents=True, exist_ok=True)
    _write_atomic(path / STATUS_FILE, json.dumps(status, indent=2) + "\n")
    if summary is None:
        return _frame(group_by, [{group_by: group}], status)
    return rows_from_summary(group_by, group, summary, status)
