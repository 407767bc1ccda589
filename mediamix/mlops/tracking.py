"""MLflow tracking for every fit, and the fitted MMM logged as a servable MLflow model.

Every entry point (the CLI, the notebooks, the Python API) records a fit through
:func:`tracked_run` and :meth:`TrackedRun.log_fit`; :func:`fit_tracked` (fit and log in one run)
and :func:`track_fit` (log an existing fit) are thin wrappers over the two. A run holds:

- params: the flattened model config (``channels.tv.adstock.alpha = Beta(alpha=1.0, beta=3.0)``,
  ``sampler.draws``, ...) and the data source (``data.path`` + ``data.sha256`` for a file,
  ``data.table`` + ``data.version`` for a Delta table), plus the modeling frame's shape and hash;
- metrics: R², MAPE, LOO elpd, max R-hat, min ESS, divergences, timings, and per channel
  ``roas/<channel>/{mean,hdi_low,hdi_high}`` and ``contribution_share/<channel>/mean``;
- tags: ``mediamix.converged``, ``mediamix.version``, ``mediamix.git_commit`` (when the package
  lives in a git checkout), and a markdown note with the ROAS table;
- artifacts: ``config/model_config.yaml``, ``summary.json``, ``figures/*.png`` and
  ``report.html`` (the fit's one-page report, :mod:`mediamix.report.html`);
- the modeling frame as the run's input dataset, and the model
  (:mod:`mediamix.mlops.pyfunc_model`), optionally registered. The whole fit (``fit.nc``) is
  stored once, as the model's artifact (``model/artifacts/fit.nc``): a second copy in the run
  would double what every run stores (tens of MB);
- anything added with :meth:`TrackedRun.log_extras` before the run ends (the notebook's budget
  allocation).

A fit that raises inside :func:`tracked_run` ends its run as ``FAILED`` with the error in the tag
``mediamix.error`` and the traceback in ``error.txt``; no run is left ``RUNNING`` unless the
caller asks to keep it open (``keep_open=True``) and ends it later with :meth:`TrackedRun.end`.
Where runs go and what the model is called: :mod:`mediamix.mlops.target`.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import traceback
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mlflow
import pandas as pd
import yaml

from mediamix.analysis.summary import fit_summary
from mediamix.config.model import ModelConfig
from mediamix.inference.fit import FitResult, fit
from mediamix.mlops.dataset import log_dataset
from mediamix.mlops.provenance import (
    MAX_TAG_LENGTH,
    data_params,
    fit_metrics,
    fit_note,
    flatten_config,
    git_commit,
    package_version,
)
from mediamix.mlops.registration import decide_registration
from mediamix.mlops.target import (
    TrackingError,
    TrackingTarget,
    experiment_id,
    registered_model_name,
    resolve_target,
)
from mediamix.report.html import log_report

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["TrackedRun", "fit_tracked", "track_fit", "tracked_run"]

log = logging.getLogger(__name__)

# Runs that tracked_run left open on request (keep_open), by run id: a later tracked_run ends them
# first, so re-running a notebook's fit cell starts a new top-level run instead of a child.
_KEPT_OPEN: dict[str, TrackedRun] = {}


@dataclass
class TrackedRun:
    """One MLflow run of a fit: what :func:`tracked_run` yields.

    Attributes
    ----------
    run_id : str
        The MLflow run id.
    experiment_id : str
        Its experiment.
    target : TrackingTarget
        Tracking store, registry and experiment name.
    data_source : dict
        What was logged under ``data.*``.
    model_uri : str or None
        The logged model's URI, once :meth:`log_fit` has logged it.
    registered_model : str or None
        ``models:/<name>/<version>`` when the model was registered.
    status : str
        ``RUNNING`` until the run ends, then ``FINISHED``, ``FAILED`` or ``KILLED``.
    registration_skipped : str or None
        Why a model that was to be registered was not (a fit that did not converge).
    """

    run_id: str
    experiment_id: str
    target: TrackingTarget
    data_source: dict[str, str] = field(default_factory=dict)
    model_uri: str | None = None
    registered_model: str | None = None
    status: str = "RUNNING"
    registration_skipped: str | None = None

    @property
    def ui_command(self) -> str:
        """How to look at this run (see :attr:`TrackingTarget.ui_command`)."""
        return self.target.ui_command

    def log_fit(
        self,
        result: FitResult,
        *,
        register_as: str | None = None,
        figures: bool = True,
        fit_path: str | Path | None = None,
        summary: dict[str, Any] | None = None,
        draws: int | None = None,
        register_anyway: bool = False,
    ) -> dict[str, Any]:
        """Log a finished fit to this run: metrics, tags, artifacts, input data and the model.

        Parameters
        ----------
        result : FitResult
            The fit.
        register_as : str, optional
            Register the model under this name (see
            :func:`~mediamix.mlops.target.registered_model_name`); default the config's
            ``tracking.registered_model`` (no registration when both are unset).
        figures : bool, default True
            Log the figures of :func:`mediamix.analysis.plots.figures_for_fit` as PNGs and the
            report as ``report.html`` (figures skipped, logged, where that function is missing).
        fit_path : str or Path, optional
            The fit already saved with :meth:`FitResult.save` (saved to a temporary file when
            omitted).
        summary : dict, optional
            ``fit_summary(result)`` if already computed.
        draws : int, optional
            Posterior draws per prediction of the logged model (default 500).
        register_anyway : bool, default False
            Register even a fit that did not converge (see :mod:`mediamix.mlops.registration`).

        Returns
        -------
        dict
            The ``summary.json`` content, with ``"mlflow_run_id"`` and ``"registration"``.
        """
        summary = dict(summary if summary is not None else fit_summary(result))
        summary["mlflow_run_id"] = self.run_id
        decision = decide_registration(
            register_as or result.config.tracking.registered_model,
            summary["diagnostics"],
            register_anyway=register_anyway,
        )
        summary["registration"] = decision.note
        self.registration_skipped = decision.note if decision.skipped else None
        _log_summary(result, summary)
        with tempfile.TemporaryDirectory(prefix="mediamix-run-") as tmp:
            if fit_path is None:
                fit_path = result.save(Path(tmp) / "fit.nc")
            log_dataset(result, self.data_source)
            if figures:
                _log_figures(result)
                log_report(result, self.data_source)  # logs why instead of failing the run
            self._log_model(result, decision.name, fit_path, draws)
        return summary

    def _log_model(
        self, result: FitResult, register_as: str | None, fit_path: str | Path, draws: int | None
    ) -> None:
        from mediamix.analysis.predict import DEFAULT_DRAWS
        from mediamix.mlops.pyfunc import log_model

        full = registered_model_name(register_as) if register_as else None
        info = log_model(
            result,
            registered_model_name=full,
            draws=DEFAULT_DRAWS if draws is None else draws,
            fit_path=fit_path,
        )
        self.model_uri = str(info.model_uri)
        version = getattr(info, "registered_model_version", None)
        if full and version is not None:
            self.registered_model = f"models:/{full}/{version}"

    def log_extras(
        self,
        *,
        metrics: Mapping[str, float] | None = None,
        artifacts: Mapping[str, Any] | None = None,
        figures: Mapping[str, Figure] | None = None,
    ) -> None:
        """Add results to the run while it is open: metrics, JSON artifacts and figures.

        Parameters
        ----------
        metrics : mapping, optional
            ``{key: value}``.
        artifacts : mapping, optional
            ``{path: JSON-serialisable value}``, e.g. ``{"optimizer/allocation.json": {...}}``.
        figures : mapping, optional
            ``{path: matplotlib figure}``, e.g. ``{"figures/budget.png": fig}``.

        Raises
        ------
        TrackingError
            If the run has ended: a finished run is never reopened.
        """
        if self.status != "RUNNING":
            raise TrackingError(
                f"MLflow run {self.run_id} is {self.status}: log to a run before it ends "
                "(fit_tracked(..., keep_open=True) or inside tracked_run, then run.end())"
            )
        client = mlflow.MlflowClient(tracking_uri=self.target.tracking_uri)
        for key, value in (metrics or {}).items():
            client.log_metric(self.run_id, key, float(value))
        for path, value in (artifacts or {}).items():
            client.log_dict(self.run_id, _json_ready(value), path)
        for path, fig in (figures or {}).items():
            client.log_figure(self.run_id, fig, path)

    def end(self) -> None:
        """End the run ``FINISHED``; nothing happens if it has ended already."""
        if self.status != "RUNNING":
            return
        _KEPT_OPEN.pop(self.run_id, None)
        self.status = "FINISHED"
        active = mlflow.active_run()
        if active is not None and active.info.run_id == self.run_id:
            mlflow.end_run(status="FINISHED")
        else:
            client = mlflow.MlflowClient(tracking_uri=self.target.tracking_uri)
            client.set_terminated(self.run_id, status="FINISHED")


def _log_summary(result: FitResult, summary: dict[str, Any]) -> None:
    """Params of the data, metrics, tags, the config and ``summary.json``."""
    diag = summary["diagnostics"]
    mlflow.log_params(data_params(result))
    mlflow.log_metrics(fit_metrics(result, summary))
    tags = {
        "mediamix.converged": str(bool(diag["converged"])).lower(),
        "mediamix.sampler": str(diag["sampler"]),
        "mlflow.note.content": fit_note(result, summary),
        "mediamix.registration": str(summary.get("registration", ""))[:MAX_TAG_LENGTH],
    }
    if diag["problems"]:
        tags["mediamix.problems"] = "; ".join(diag["problems"])[:MAX_TAG_LENGTH]
    if diag.get("target_accept_escalation"):
        tags["mediamix.target_accept_escalation"] = str(diag["target_accept_escalation"])
    mlflow.set_tags(tags)
    mlflow.log_text(_config_yaml(result.config), "config/model_config.yaml")
    mlflow.log_dict(_json_ready(summary), "summary.json")


def _config_yaml(config: ModelConfig) -> str:
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)


def _json_ready(value: Any) -> Any:
    """NaN and infinities as None, so the artifact is strict JSON."""
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    if isinstance(value, float) and (value != value or abs(value) == float("inf")):
        return None
    return value


def _log_figures(result: FitResult) -> None:
    """Log :func:`mediamix.analysis.plots.figures_for_fit` figures, where that function exists.

    A figure that cannot be drawn does not fail the run: the error goes to the log and to the
    tag ``mediamix.figures_error``.
    """
    import importlib
    import importlib.util

    if importlib.util.find_spec("mediamix.analysis.plots") is None:
        log.info("mediamix.analysis.plots is not available: no figures logged")
        return
    make = getattr(importlib.import_module("mediamix.analysis.plots"), "figures_for_fit", None)
    if make is None:
        log.info("mediamix.analysis.plots has no figures_for_fit: no figures logged")
        return
    import matplotlib.pyplot as plt

    try:
        figures = make(result)
    except Exception as exc:
        log.warning("could not draw the fit's figures: %s", exc, exc_info=True)
        mlflow.set_tag("mediamix.figures_error", f"{type(exc).__name__}: {exc}"[:MAX_TAG_LENGTH])
        return
    for name, fig in figures.items():
        try:
            mlflow.log_figure(fig, f"figures/{name}.png")
        finally:
            plt.close(fig)


def _end_failed(run: TrackedRun, exc: BaseException) -> None:
    """Record the error on the run and end it FAILED (KILLED for an interrupt)."""
    _KEPT_OPEN.pop(run.run_id, None)
    run.status = "KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED"
    try:
        mlflow.set_tag("mediamix.error", f"{type(exc).__name__}: {exc}"[:MAX_TAG_LENGTH])
        text = "".join(traceback.format_exception(exc))
        mlflow.log_text(text, "error.txt")
    except Exception:  # recording the error must never hide it
        log.exception("could not record the error on MLflow run %s", run.run_id)
    finally:
        mlflow.end_run(status=run.status)


def _start_run(
    config: ModelConfig,
    data_source: Mapping[str, str] | None,
    experiment: str | None,
    tracking_uri: str | None,
    run_name: str | None,
) -> TrackedRun:
    """Start the run with its tags: nested in an active run, unless that one was kept open."""
    target = resolve_target(config, experiment=experiment, tracking_uri=tracking_uri)
    if tracking_uri is not None:
        mlflow.set_tracking_uri(target.tracking_uri)
    if target.registry_uri is not None:
        mlflow.set_registry_uri(target.registry_uri)
    active = mlflow.active_run()
    if active is not None and active.info.run_id in _KEPT_OPEN:
        _KEPT_OPEN[active.info.run_id].end()
    tags = {"mediamix.version": package_version()}
    commit = git_commit()
    if commit:
        tags["mediamix.git_commit"] = commit
    exp_id = experiment_id(target)
    started = mlflow.start_run(
        experiment_id=exp_id,
        run_name=run_name,
        nested=mlflow.active_run() is not None,
        tags=tags,
    )
    source = {str(k): str(v) for k, v in (data_source or {}).items()}
    return TrackedRun(started.info.run_id, exp_id, target, source)


@contextlib.contextmanager
def tracked_run(
    config: ModelConfig,
    *,
    data_source: Mapping[str, str] | None = None,
    experiment: str | None = None,
    tracking_uri: str | None = None,
    run_name: str | None = None,
    keep_open: bool = False,
) -> Iterator[TrackedRun]:
    """Open an MLflow run for a fit; the run ends FAILED, with the error, if the block raises.

    The config and the data source are logged on entry, so even a fit that fails is traced to
    its settings and data. Call :meth:`TrackedRun.log_fit` inside the block to log the result.
    ``tracking_uri`` (when given) and, on Databricks, the Unity Catalog registry are set for
    the process, like :func:`mlflow.set_tracking_uri`, so the run and its model can be read
    back with MLflow's own functions. Inside an active MLflow run this one is nested in it.

    Parameters
    ----------
    config : ModelConfig
        The model config (logged as params).
    data_source : dict, optional
        Where the data came from (:func:`mediamix.mlops.provenance.describe_data_source`);
        logged under ``data.*``.
    experiment : str, optional
        Experiment name; see :func:`~mediamix.mlops.target.resolve_target` for the default.
    tracking_uri : str, optional
        Tracking store; see :func:`~mediamix.mlops.target.resolve_target` for the default.
    run_name : str, optional
        Display name of the run (MLflow generates one when omitted).
    keep_open : bool, default False
        Leave the run open (and active) after the block, for :meth:`TrackedRun.log_extras`,
        until :meth:`TrackedRun.end`. A block that raises still ends it FAILED; the next
        :func:`tracked_run` ends a run left open before starting its own.

    Yields
    ------
    TrackedRun
        The open run.

    Raises
    ------
    TrackingError
        If the experiment cannot be used. Whatever the block raises is re-raised after the
        run has been ended.
    """
    run = _start_run(config, data_source, experiment, tracking_uri, run_name)
    try:
        params = flatten_config(config) | {f"data.{k}": v for k, v in run.data_source.items()}
        mlflow.log_params(params)
        yield run
    except BaseException as exc:
        _end_failed(run, exc)
        raise
    if keep_open:
        _KEPT_OPEN[run.run_id] = run
    else:
        run.end()


def track_fit(
    result: FitResult,
    *,
    data_source: Mapping[str, str] | None = None,
    experiment: str | None = None,
    tracking_uri: str | None = None,
    register_as: str | None = None,
    figures: bool = True,
    run_name: str | None = None,
    register_anyway: bool = False,
) -> str:
    """Log an existing fit as a new MLflow run: :func:`tracked_run` + :meth:`TrackedRun.log_fit`.

    Returns
    -------
    str
        The run id.
    """
    with tracked_run(
        result.config,
        data_source=data_source,
        experiment=experiment,
        tracking_uri=tracking_uri,
        run_name=run_name,
    ) as run:
        run.log_fit(
            result, register_as=register_as, figures=figures, register_anyway=register_anyway
        )
    return run.run_id


def fit_tracked(
    frame: pd.DataFrame,
    config: ModelConfig,
    *,
    data_source: Mapping[str, str] | None = None,
    experiment: str | None = None,
    tracking_uri: str | None = None,
    register_as: str | None = None,
    figures: bool = True,
    run_name: str | None = None,
    register_anyway: bool = False,
    progress: bool = False,
    keep_open: bool = False,
) -> tuple[FitResult, TrackedRun]:
    """Fit the model inside an MLflow run and log the result: what notebooks call.

    A fit that raises (bad data, sampler failure) ends the run FAILED with the error recorded
    and re-raises. Parameters are those of :func:`mediamix.inference.fit.fit`,
    :func:`track_fit` and :func:`tracked_run` (``keep_open``).

    Returns
    -------
    tuple of (FitResult, TrackedRun)
        The fit and its run (``run.run_id``, ``run.model_uri``): finished, or still open with
        ``keep_open`` until :meth:`TrackedRun.end`.
    """
    with tracked_run(
        config,
        data_source=data_source,
        experiment=experiment,
        tracking_uri=tracking_uri,
        run_name=run_name,
        keep_open=keep_open,
    ) as run:
        result = fit(frame, config, progress=progress)
        run.log_fit(
            result, register_as=register_as, figures=figures, register_anyway=register_anyway
        )
    return result, run
