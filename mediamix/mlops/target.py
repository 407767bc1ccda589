"""Where a run goes and what its model is called: store, experiment, registry, model name.

Where runs go: ``tracking_uri`` if given, else ``MLFLOW_TRACKING_URI``, else MLflow's default
(``sqlite:///mlflow.db`` in the working directory; the workspace server on Databricks). The
experiment: the argument, else the config's ``tracking.experiment``, else
``MLFLOW_EXPERIMENT_NAME``, else ``mediamix`` (``/Shared/mediamix`` on Databricks, where
experiment names are workspace paths). For a local SQLite store, a new experiment keeps its
artifacts in ``mlruns/`` next to the database file.

:func:`registered_model_name` is the one rule that names the registered model, for the CLI, the
notebooks and the Python API alike: in Unity Catalog ``catalog.schema.name``, elsewhere the
name as given.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import mlflow

from mediamix.config.model import ModelConfig
from mediamix.errors import MediamixError
from mediamix.lakehouse.names import DEFAULT_CATALOG, DEFAULT_SCHEMA
from mediamix.runtime import on_databricks

__all__ = [
    "DEFAULT_EXPERIMENT",
    "TrackingError",
    "TrackingTarget",
    "experiment_id",
    "registered_model_name",
    "resolve_target",
    "uses_unity_catalog",
]

DEFAULT_EXPERIMENT = "mediamix"


class TrackingError(MediamixError):
    """Bad tracking settings: an experiment or registered model name MLflow cannot use."""


@dataclass(frozen=True)
class TrackingTarget:
    """Resolved tracking settings: store, registry and experiment."""

    tracking_uri: str
    registry_uri: str | None
    experiment: str

    @property
    def is_local(self) -> bool:
        """Whether runs go to a local SQLite store or directory (not a server)."""
        uri = self.tracking_uri
        if uri.startswith("databricks"):
            return False
        return uri.startswith(("sqlite:", "file:")) or "://" not in uri

    @property
    def ui_command(self) -> str:
        """How to view the runs: the ``mlflow ui`` command, or the workspace to open."""
        if self.is_local:
            return f"{_mlflow_executable()} ui --backend-store-uri {self.tracking_uri}"
        if self.tracking_uri.startswith("databricks"):
            return f"open the experiment {self.experiment} in the Databricks workspace"
        return f"open {self.tracking_uri} in a browser"


def _mlflow_executable() -> str:
    """``mlflow`` when it is on PATH, else this interpreter's own (an unactivated venv)."""
    import shutil
    import sys

    beside = Path(sys.executable).parent / "mlflow"
    if shutil.which("mlflow") or not beside.is_file():
        return "mlflow"
    try:  # relative when the venv is under the working directory: `.venv/bin/mlflow`
        return str(beside.relative_to(Path.cwd()))
    except ValueError:
        return str(beside)


def _absolute_sqlite(uri: str) -> str:
    """``sqlite:///mlflow.db`` -> ``sqlite:////abs/dir/mlflow.db`` (same file, any cwd)."""
    prefix = "sqlite:///"
    if not uri.startswith(prefix) or uri.startswith(prefix + "/") or ":memory:" in uri:
        return uri
    return prefix + str(Path(uri[len(prefix) :]).resolve())


def resolve_target(
    config: ModelConfig | None = None,
    *,
    experiment: str | None = None,
    tracking_uri: str | None = None,
) -> TrackingTarget:
    """Work out where a run goes (see the module docstring for the order of precedence).

    Parameters
    ----------
    config : ModelConfig, optional
        Its ``tracking.experiment`` is used when ``experiment`` is not given.
    experiment : str, optional
        Experiment name (a workspace path such as ``/Users/me/mmm`` on Databricks).
    tracking_uri : str, optional
        Tracking store; default ``MLFLOW_TRACKING_URI`` or MLflow's default.

    Returns
    -------
    TrackingTarget
        Local SQLite paths made absolute.
    """
    uri = tracking_uri or mlflow.get_tracking_uri()
    uri = _absolute_sqlite(str(uri))
    name = (
        experiment
        or (config.tracking.experiment if config is not None else None)
        or os.environ.get("MLFLOW_EXPERIMENT_NAME")
        or DEFAULT_EXPERIMENT
    )
    registry = None
    if uri.startswith("databricks"):
        registry = "databricks-uc"
        if not name.startswith("/"):
            name = f"/Shared/{name}"
    return TrackingTarget(tracking_uri=uri, registry_uri=registry, experiment=name)


@contextlib.contextmanager
def _store_lock(target: TrackingTarget) -> Iterator[None]:
    """Hold an exclusive lock on ``<db>.lock`` beside a local SQLite store.

    The first access to a new SQLite file creates MLflow's tables, and two processes doing it at
    once make one of them fail ("table already exists"); likewise two that create the same
    experiment. The lock serialises only that first access and the experiment's creation.
    Elsewhere (a server, Databricks, or no ``fcntl`` on the platform) nothing is locked.
    """
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        yield
        return
    if not target.tracking_uri.startswith("sqlite:///"):
        yield
        return
    db = Path(target.tracking_uri[len("sqlite:///") :])
    db.parent.mkdir(parents=True, exist_ok=True)
    with open(db.with_name(db.name + ".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def experiment_id(target: TrackingTarget) -> str:
    """The id of the target's experiment, created (artifacts beside a SQLite store) if missing.

    Safe when several processes use a new local SQLite store at once: see :func:`_store_lock`.

    Raises
    ------
    TrackingError
        If the experiment is deleted or cannot be created.
    """
    with _store_lock(target):
        return _get_or_create_experiment(target)


def _get_or_create_experiment(target: TrackingTarget) -> str:
    exp = mlflow.get_experiment_by_name(target.experiment)
    if exp is not None:
        if exp.lifecycle_stage == "deleted":
            raise TrackingError(
                f"experiment {target.experiment!r} is deleted; restore it or pick another name"
            )
        return str(exp.experiment_id)
    location = None
    if target.tracking_uri.startswith("sqlite:///"):
        db = Path(target.tracking_uri[len("sqlite:///") :])
        slug = re.sub(r"[^\w.-]+", "_", target.experiment).strip("_") or "experiment"
        location = (db.parent / "mlruns" / slug).as_uri()
    try:
        return str(mlflow.create_experiment(target.experiment, artifact_location=location))
    except mlflow.exceptions.MlflowException as exc:
        raise TrackingError(f"cannot create experiment {target.experiment!r}: {exc}") from exc


def uses_unity_catalog() -> bool:
    """Whether models are registered in Unity Catalog: on Databricks, or tracking to it."""
    return on_databricks() or str(mlflow.get_tracking_uri()).startswith("databricks")


def registered_model_name(
    name: str, *, catalog: str | None = None, schema: str | None = None
) -> str:
    """The name a model is registered under: ``catalog.schema.name`` in Unity Catalog.

    Parameters
    ----------
    name : str
        ``name``, ``schema.name`` or ``catalog.schema.name``.
    catalog, schema : str, optional
        In Unity Catalog, the parts ``name`` leaves out; default the lakehouse's defaults
        (``main`` and ``mediamix``). Elsewhere the name is used as given.

    Returns
    -------
    str
        The full name; applying the rule to its own result gives the same name.

    Raises
    ------
    TrackingError
        If the name is empty, or has more than three parts in Unity Catalog.
    """
    text = (name or "").strip()
    if not text:
        raise TrackingError(
            "the registered model name is empty; give NAME, schema.NAME or catalog.schema.NAME"
        )
    if not uses_unity_catalog():
        return text
    parts = text.split(".")
    if len(parts) > 3:
        raise TrackingError(f"{name!r}: a Unity Catalog model name is catalog.schema.name")
    defaults = [catalog or DEFAULT_CATALOG, schema or DEFAULT_SCHEMA]
    return ".".join(defaults[: 3 - len(parts)] + parts)
