"""The fits a planner may open: local fit directories and registered model versions in MLflow.

The command line names the sources (``--fit``); the app lists what they hold as
:class:`FitEntry` items with opaque ids, and a request can only pick one of those ids. A path or a
model URI never comes from a request, so nothing outside the configured sources can be read, and
a fit is only ever read with :func:`mediamix.inference.fit.load_fit` (NetCDF, never pickle).

A source is one of:

- a directory written by ``mediamix fit`` (it holds ``fit.nc``), or a ``fit.nc`` file;
- a directory whose sub-directories are such fit directories (each one is listed);
- ``models:/NAME`` (every version of a registered model, newest first), ``models:/NAME/VERSION``
  or ``models:/NAME/latest``: the fit is the model's own ``artifacts/fit.nc``;
- ``runs:/RUN_ID``: the fit of that run's model (``model/artifacts/fit.nc``).

A run holds its fit once, as an artifact of its model (:mod:`mediamix.mlops.pyfunc`). Runs that
hold ``fit/fit.nc`` themselves (written before the fit was stored only once, and the child runs
of ``fit-many``, which log no model) are read from there.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import tempfile
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mediamix.errors import MediamixError
from mediamix.inference.fit import FitResult, load_fit
from mediamix.mlops.pyfunc import MODEL_FIT_ARTIFACT, MODEL_NAME

__all__ = ["FitCatalog", "FitEntry", "SourceError", "parse_source", "recorded_data_source"]

log = logging.getLogger(__name__)

FIT_FILE = "fit.nc"
#: Where runs without a model (``fit-many``'s children) and runs of older versions hold the fit.
FIT_ARTIFACT = "fit/fit.nc"
#: Where a tracked fit's run holds it: in its model (see :data:`MODEL_FIT_ARTIFACT`).
RUN_MODEL_FIT = f"{MODEL_NAME}/{MODEL_FIT_ARTIFACT}"
_MODEL_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,254}$")
_VERSION = re.compile(r"^(latest|[1-9][0-9]{0,8})$")
_RUN_ID = re.compile(r"^[0-9a-f]{32}$")
_FIT_ID = re.compile(r"^[a-z]+-[A-Za-z0-9_.\-]{1,300}$")


def recorded_data_source(
    run_id: str | None, tracking_uri: str | None = None
) -> dict[str, str] | None:
    """The data source a tracked fit's run recorded (its ``data.*`` params), if it can be read.

    Parameters
    ----------
    run_id : str, optional
        The fit's MLflow run (``summary.json``'s ``mlflow_run_id``); None gives None.
    tracking_uri : str, optional
        The tracking store (MLflow's default otherwise).

    Returns
    -------
    dict or None
        ``{"kind", "table", "version", ...}`` or ``{"kind", "path", "sha256"}``; None when the
        run or its store cannot be read, which only leaves the report's data section shorter.
    """
    if not run_id:
        return None
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    try:
        params = MlflowClient(tracking_uri=tracking_uri).get_run(run_id).data.params
    except MlflowException as exc:
        log.info("no data source for run %s: %s", run_id, exc)
        return None
    found = {k[len("data.") :]: v for k, v in params.items() if k.startswith("data.")}
    return found or None


class SourceError(MediamixError):
    """A fit source or fit id that cannot be used: what was wrong and what is allowed."""


@dataclass(frozen=True)
class FitEntry:
    """One fit the planner can open.

    Attributes
    ----------
    id : str
        Opaque id used in URLs (``dir-0``, ``model-mmm-3``, ``run-<id>``).
    label : str
        What the picker shows.
    path : Path or None
        The ``fit.nc`` of a local fit.
    run_id : str or None
        The MLflow run of a model version or run source.
    model_uri : str or None
        ``models:/NAME/VERSION`` of a model version (its fit is the model's artifact).
    """

    id: str
    label: str
    path: Path | None = None
    run_id: str | None = None
    model_uri: str | None = None


@dataclass(frozen=True)
class _Source:
    kind: str  # "dir", "model" or "run"
    text: str
    path: Path | None = None
    name: str | None = None
    version: str | None = None


def parse_source(text: str) -> _Source:
    """Check one ``--fit`` value and say what kind of source it is.

    Raises
    ------
    SourceError
        If a model URI is malformed, or a path holds no fit.
    """
    text = text.strip()
    if text.startswith("models:/"):
        name, _, version = text[len("models:/") :].partition("/")
        if not _MODEL_NAME.match(name) or (version and not _VERSION.match(version)):
            raise SourceError(
                f"--fit {text!r}: expected models:/NAME, models:/NAME/VERSION or "
                "models:/NAME/latest (NAME of letters, digits, '_', '.', '-'; VERSION a number)"
            )
        return _Source("model", text, name=name, version=version or None)
    if text.startswith("runs:/"):
        run_id = text[len("runs:/") :].split("/", 1)[0]
        if not _RUN_ID.match(run_id):
            raise SourceError(f"--fit {text!r}: expected runs:/RUN_ID with a 32-digit hex id")
        return _Source("run", text, name=run_id)
    path = Path(text).expanduser().resolve()
    if not path.exists():
        raise SourceError(f"--fit {text!r}: no such file or directory")
    return _Source("dir", text, path=path)


def _local_entries(source: _Source, index: int) -> list[FitEntry]:
    assert source.path is not None
    root = source.path
    if root.is_file():
        return [FitEntry(f"dir-{index}", str(root), path=root)]
    if (root / FIT_FILE).is_file():
        return [FitEntry(f"dir-{index}", str(root), path=root / FIT_FILE)]
    out: list[FitEntry] = []
    for sub in sorted(p for p in root.iterdir() if (p / FIT_FILE).is_file()):
        fit_file = (sub / FIT_FILE).resolve()
        if fit_file.is_relative_to(root):  # a symlink out of the configured directory is skipped
            out.append(FitEntry(f"dir-{index}.{len(out)}", str(sub), path=fit_file))
    if not out:
        raise SourceError(
            f"--fit {source.text!r}: no {FIT_FILE} in it or in its sub-directories; "
            "give a directory written by `mediamix fit`"
        )
    return out


class FitCatalog:
    """The fits of the configured sources, listed on request and loaded by id.

    Parameters
    ----------
    sources : sequence of str
        ``--fit`` values (see the module docstring); at least one.
    tracking_uri, registry_uri : str, optional
        MLflow stores for model and run sources (MLflow's defaults otherwise).
    cache_dir : Path, optional
        Where downloaded fits are kept (a temporary directory by default).

    Raises
    ------
    SourceError
        If no source is given or one is malformed.
    """

    def __init__(
        self,
        sources: Sequence[str],
        *,
        tracking_uri: str | None = None,
        registry_uri: str | None = None,
        cache_dir: Path | None = None,
    ) -> None:
        if not sources:
            raise SourceError("give at least one --fit: a fit directory or models:/NAME")
        self.sources = [parse_source(s) for s in sources]
        self.tracking_uri = tracking_uri
        self.registry_uri = registry_uri
        if cache_dir is None:
            cache_dir = Path(tempfile.mkdtemp(prefix="mediamix-app-"))
            # downloaded fits go when the catalog does (or the process ends)
            weakref.finalize(self, shutil.rmtree, cache_dir, True)
        self.cache_dir = cache_dir

    def _client(self) -> Any:
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.registry_uri)

    def _model_entries(self, source: _Source) -> list[FitEntry]:
        from mlflow.exceptions import MlflowException

        try:
            found = self._client().search_model_versions(f"name = '{source.name}'")
        except MlflowException as exc:
            raise SourceError(f"--fit {source.text!r}: cannot list its versions: {exc}") from exc
        versions = sorted(found, key=lambda v: int(v.version), reverse=True)
        if source.version == "latest":
            versions = versions[:1]
        elif source.version:
            versions = [v for v in versions if str(v.version) == source.version]
        if not versions:
            import mlflow

            where = self.tracking_uri or mlflow.get_tracking_uri()
            raise SourceError(
                f"--fit {source.text!r}: no such registered model version in {where}; "
                "`make run` registers one as models:/mmm (in ./mlflow.db), `mediamix fit "
                "--register-as NAME` another"
            )
        return [
            FitEntry(
                f"model-{v.name}-{v.version}",
                f"{v.name} version {v.version}",
                run_id=v.run_id,
                model_uri=f"models:/{v.name}/{v.version}",
            )
            for v in versions
        ]

    def entries(self) -> list[FitEntry]:
        """Every fit of every source, in the order the sources were given.

        Raises
        ------
        SourceError
            If a source holds no fit (or its registered model has no versions).
        """
        out: list[FitEntry] = []
        for i, source in enumerate(self.sources):
            if source.kind == "dir":
                out.extend(_local_entries(source, i))
            elif source.kind == "model":
                out.extend(self._model_entries(source))
            else:
                out.append(FitEntry(f"run-{source.name}", f"run {source.name}", run_id=source.name))
        return out

    def find(self, fit_id: str) -> FitEntry:
        """The entry with this id.

        Raises
        ------
        SourceError
            If the id is malformed or not one of :meth:`entries`.
        """
        if not isinstance(fit_id, str) or not _FIT_ID.match(fit_id):
            raise SourceError(f"fit id {str(fit_id)[:80]!r} is malformed; pick one from /api/fits")
        for entry in self.entries():
            if entry.id == fit_id:
                return entry
        raise SourceError(f"no fit {fit_id!r} among the configured sources; see /api/fits")

    def load(self, entry: FitEntry) -> FitResult:
        """Read the fit of an entry (downloading it from MLflow first for a model or run)."""
        return self._load(entry)

    def data_source(self, entry: FitEntry) -> dict[str, str] | None:
        """What the entry's run recorded as its data source (see :func:`recorded_data_source`).

        A local fit's run is the ``mlflow_run_id`` of the ``summary.json`` beside it.
        """
        run_id = entry.run_id
        if entry.path is not None:
            summary = entry.path.parent / "summary.json"
            try:
                run_id = json.loads(summary.read_text()).get("mlflow_run_id")
            except (OSError, ValueError, AttributeError):
                return None
        return recorded_data_source(run_id, self.tracking_uri)

    def _load(self, entry: FitEntry) -> FitResult:
        if entry.path is not None:
            return load_fit(entry.path)
        import mlflow
        from mlflow.exceptions import MlflowException

        dst = self.cache_dir / re.sub(r"[^\w.-]+", "_", entry.id)
        dst.mkdir(parents=True, exist_ok=True)
        where = f"the fit of {entry.model_uri or f'run {entry.run_id}'}"
        try:
            if entry.run_id and self._run_holds_fit(entry.run_id):
                where = f"{FIT_ARTIFACT} of run {entry.run_id}"
                uri = f"runs:/{entry.run_id}/{FIT_ARTIFACT}"
            elif entry.model_uri:
                uri = f"{entry.model_uri}/{MODEL_FIT_ARTIFACT}"
            else:
                uri = f"runs:/{entry.run_id}/{RUN_MODEL_FIT}"
            local = mlflow.artifacts.download_artifacts(
                artifact_uri=uri,
                dst_path=str(dst),
                tracking_uri=self.tracking_uri,
                registry_uri=self.registry_uri,
            )
        except (MlflowException, OSError) as exc:
            raise SourceError(f"{entry.label}: cannot download {where}: {exc}") from exc
        return load_fit(local)

    def _run_holds_fit(self, run_id: str) -> bool:
        """Whether the run holds ``fit/fit.nc`` itself (older runs, ``fit-many``'s children)."""
        listed = self._client().list_artifacts(run_id, FIT_ARTIFACT.split("/")[0])
        return any(f.path == FIT_ARTIFACT for f in listed)
