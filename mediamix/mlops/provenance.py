"""What a tracked run records about a fit: config params, data source, metrics, tags, a note.

Pure functions from a fit (or its config) to the strings and numbers MLflow stores; the run
itself is opened and written by :mod:`mediamix.mlops.tracking`.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mediamix.config.model import ModelConfig
from mediamix.errors import MediamixError

if TYPE_CHECKING:  # importing it would load PyMC before the CLI has checked the input
    from mediamix.inference.fit import FitResult

__all__ = [
    "MAX_PARAM_LENGTH",
    "MAX_TAG_LENGTH",
    "data_params",
    "describe_data_source",
    "fit_metrics",
    "fit_note",
    "flatten_config",
    "git_commit",
    "metric_key",
    "package_version",
]

MAX_PARAM_LENGTH = 6000  # MLflow's limit for a param value
MAX_TAG_LENGTH = 5000
_UNSAFE_KEY = re.compile(r"[^\w.\- ]")


def metric_key(name: str) -> str:
    """``name`` with the characters MLflow does not allow in a key replaced by ``_``."""
    return _UNSAFE_KEY.sub("_", name)


def _format_value(value: Any) -> str:
    if isinstance(value, dict) and "dist" in value:
        args = ", ".join(f"{k}={v}" for k, v in value.items() if k != "dist")
        return f"{value['dist']}({args})"
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value) if value else "[]"
    return str(value)


def flatten_config(config: ModelConfig) -> dict[str, str]:
    """The model config as MLflow params: dotted keys, priors as ``Beta(alpha=1.0, beta=3.0)``.

    Parameters
    ----------
    config : ModelConfig
        The configuration (sampler settings included, under ``sampler.*``).

    Returns
    -------
    dict
        ``{"channels.tv.adstock.l_max": "12", ...}``; values longer than MLflow's limit are
        truncated and end in ``...``.
    """
    out: dict[str, str] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict) and "dist" not in value and value:
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
            return
        text = _format_value(value)
        if len(text) > MAX_PARAM_LENGTH:
            text = text[: MAX_PARAM_LENGTH - 3] + "..."
        out[metric_key(prefix)[:250]] = text

    walk("", config.model_dump(mode="json"))
    return out


def describe_data_source(
    source: str | Path, *, lakehouse: str | Path | None = None
) -> dict[str, str]:
    """Identify the data a fit reads, so its run can be traced to the exact data.

    Parameters
    ----------
    source : str or Path
        A CSV file or a table name (as :func:`mediamix.lakehouse.tables.load_modeling_frame` takes).
    lakehouse : str or Path, optional
        Local lakehouse root for a table name.

    Returns
    -------
    dict
        For a file ``{"kind": "file", "path", "sha256"}``; for a table ``{"kind": "table",
        "table", "version", "location"}`` (read that ``version`` to fit exactly these data).

    Raises
    ------
    MediamixError
        If the file or table does not exist.
    """
    from mediamix.lakehouse.tables import describe_table, looks_like_table_name

    if looks_like_table_name(source):
        info = describe_table(str(source), lakehouse=lakehouse)
        return {
            "kind": "table",
            "table": str(info.name),
            "version": "" if info.version is None else str(info.version),
            "location": str(info.location),
        }
    import hashlib

    path = Path(source).resolve()
    if not path.is_file():
        raise MediamixError(f"{source} is neither a file nor a table name (catalog.schema.table)")
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return {"kind": "file", "path": str(path), "sha256": digest.hexdigest()}


def data_params(result: FitResult) -> dict[str, str]:
    """Params describing the modeling frame: rows, date range, frequency and its SHA-256."""
    from mediamix.lakehouse.backend import frame_fingerprint

    return {
        "data.rows": str(len(result.frame)),
        "data.start_date": result.scalers.start_date,
        "data.end_date": result.scalers.end_date,
        "data.frequency": result.scalers.frequency,
        "data.frame_sha256": frame_fingerprint(result.frame),
    }


# --------------------------------------------------------------------------- tags


def package_version() -> str:
    """The installed mediamix version, or ``unknown``."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mediamix")
    except PackageNotFoundError:
        return "unknown"


def git_commit() -> str | None:
    """The commit of the git checkout holding the package, if it is one and git is there."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = out.stdout.strip()
    return commit if out.returncode == 0 and re.fullmatch(r"[0-9a-f]{40}", commit) else None


def fit_note(result: FitResult, summary: dict[str, Any]) -> str:
    """A markdown description of the fit for the run page: data window, verdict, ROAS table."""
    diag = summary["diagnostics"]
    lines = [
        f"**mediamix fit**: {len(result.channels)} channels, {len(result.frame)} "
        f"{result.scalers.frequency} periods ({result.scalers.start_date} to "
        f"{result.scalers.end_date}), sampler `{diag['sampler']}`.",
        "",
        f"Converged: **{diag['converged']}**. R² {diag['r2']:.3f}, MAPE {diag['mape']:.2f}%.",
        "",
        f"| channel | ROAS mean | ROAS HDI ({summary['hdi_prob']:.0%}) |",
        "| --- | --- | --- |",
    ]
    for name, ch in summary["channels"].items():
        r = ch["roas"]
        lines.append(f"| {name} | {r['mean']:.3f} | {r['hdi_low']:.3f} to {r['hdi_high']:.3f} |")
    if diag["problems"]:
        lines += ["", "Problems: " + "; ".join(diag["problems"])]
    return "\n".join(lines)


def fit_metrics(result: FitResult, summary: dict[str, Any]) -> dict[str, float]:
    """Metrics of a fit: diagnostics, timings, per-channel ROAS and contribution share.

    Per-channel keys are ``roas/<channel>/{mean,hdi_low,hdi_high}`` and
    ``contribution_share/<channel>/mean``; non-finite values (e.g. R-hat of an ADVI fit) are
    left out.
    """
    diag = summary["diagnostics"]
    keys = [
        "r2",
        "mape",
        "elpd_loo",
        "p_loo",
        "pareto_k_high",
        "r_hat_max",
        "ess_bulk_min",
        "ess_tail_min",
        "divergences",
        "bfmi_min",
    ]
    out = {k: float(diag[k]) for k in keys}
    out |= {k: float(v) for k, v in result.timings.items()}
    for name, ch in summary["channels"].items():
        key = metric_key(name)
        for stat in ("mean", "hdi_low", "hdi_high"):
            out[f"roas/{key}/{stat}"] = float(ch["roas"][stat])
        out[f"contribution_share/{key}/mean"] = float(ch["contribution_share"]["mean"])
    # MLflow stores NaN, but a NaN R-hat (ADVI) reads better as absent than as a number
    return {k: v for k, v in out.items() if v == v and abs(v) != float("inf")}
