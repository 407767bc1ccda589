"""The mediamix MLflow model, logged as a "model from code".

MLflow runs this file when the model is loaded (``mlflow.pyfunc.load_model``,
``mlflow models serve``, Databricks Model Serving) instead of unpickling a live object: it defines
:class:`MediamixModel` and hands an instance to :func:`mlflow.models.set_model`. The instance's
``load_context`` reads the fit from the model's ``fit`` artifact (a ``fit.nc`` written by
:meth:`~mediamix.inference.fit.FitResult.save`) and ``predict`` calls
:func:`mediamix.analysis.predict.predict_plan`.
:func:`mediamix.mlops.pyfunc.log_model` logs it.

MLflow's signature enforcement drops request params and plan columns the signature does not
name (it only logs a warning) before ``predict`` runs, so a misspelt ``draw`` would silently
serve the default. ``predict`` therefore reads the request as the caller handed it to
:meth:`mlflow.pyfunc.PyFuncModel.predict` (its documented ``data`` and ``params`` arguments,
found on the call stack) and refuses unknown names with ``INVALID_PARAMETER_VALUE``, which the
scoring server answers with HTTP 400.
"""

from __future__ import annotations

import inspect
import warnings
from typing import Any

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.pyfunc import PyFuncModel, PythonModel

from mediamix.analysis.geo_plan import predict_geo_plan
from mediamix.analysis.geo_response import is_geo_fit
from mediamix.analysis.predict import (
    DEFAULT_DRAWS,
    PlanRangeWarning,
    accepted_columns,
    predict_plan,
)
from mediamix.errors import MediamixError
from mediamix.inference.fit import FitResult, load_fit

__all__ = ["PARAMS", "MediamixModel"]

#: The request params the model takes, and what each must be.
PARAMS: dict[str, str] = {
    "draws": "posterior draws per prediction, an integer >= 1 (more than the fit holds: all)",
    "hdi_prob": "probability mass of the prediction band, in (0, 1)",
}


def _allowed() -> str:
    return "; ".join(f"{name}: {rule}" for name, rule in PARAMS.items())


def _request() -> tuple[Any, Any] | None:
    """``(data, params)`` as given to the nearest :meth:`PyFuncModel.predict` up the stack.

    None when the model is called some other way (directly, in a test).
    """
    frame = inspect.currentframe()
    try:
        caller = frame.f_back if frame is not None else None
        while caller is not None:
            if caller.f_code.co_name == "predict" and isinstance(
                caller.f_locals.get("self"), PyFuncModel
            ):
                return caller.f_locals.get("data"), caller.f_locals.get("params")
            caller = caller.f_back
    finally:
        del frame  # a frame kept alive holds every local of the stack
    return None


def _check_request(params: dict[str, Any], columns: list[str]) -> None:
    """Refuse unknown param names and plan columns, and params out of range; name each."""
    given = _request()
    raw_params, raw_data = (given[1], given[0]) if given is not None else (params, None)
    unknown = sorted(set(raw_params or {}) - set(PARAMS)) if isinstance(raw_params, dict) else []
    if unknown:
        raise MlflowException.invalid_parameter_value(
            f"unknown params {unknown}; allowed params are {list(PARAMS)} ({_allowed()})"
        )
    if isinstance(raw_data, pd.DataFrame):
        extra = [str(c) for c in raw_data.columns if str(c) not in columns]
        if extra:
            raise MlflowException.invalid_parameter_value(
                f"invalid spend plan: unknown columns {extra}; a plan may hold {columns}"
            )
    draws = params.get("draws", DEFAULT_DRAWS)
    if isinstance(draws, bool) or not isinstance(draws, int) or draws < 1:
        raise MlflowException.invalid_parameter_value(
            f"param draws must be an integer >= 1, got {draws!r}; allowed params: {_allowed()}"
        )
    prob = params.get("hdi_prob")
    if prob is not None and not 0 < float(prob) < 1:
        raise MlflowException.invalid_parameter_value(
            f"param hdi_prob must be in (0, 1), got {prob!r}; allowed params: {_allowed()}"
        )


class MediamixModel(PythonModel):
    """The fitted MMM as an MLflow pyfunc: a spend plan in, :func:`predict_plan`'s frame out.

    A request may set the params ``draws`` (posterior draws per prediction, >= 1; the
    signature's default otherwise) and ``hdi_prob`` (default the fit's). Unknown params, unknown
    plan columns, out-of-range params and a plan that does not fit the model raise an
    ``INVALID_PARAMETER_VALUE`` MLflow error naming what was wrong and what is allowed, which the
    scoring server answers with HTTP 400. ``date`` may hold dates or ISO date strings (a plan
    read from a CSV). Warnings about the plan (dates far outside the training window) come back
    in the ``warning`` column, empty when there are none.

    A geo fit answers with :func:`~mediamix.analysis.geo_plan.predict_geo_plan`: a ``geo``
    column, the national rows (``geo`` = ``national``) then each geo's. Its plan may have one
    row per date and geo, or no geo column (a national plan, split at the fit's historical geo
    shares); a geo the fit does not know is a 400 that names it and lists the known geos.
    """

    def __init__(self) -> None:
        self._result: FitResult | None = None
        self._columns: list[str] = []

    def load_context(self, context: Any) -> None:
        """Load the fit from the model's ``fit`` artifact."""
        self._result = load_fit(context.artifacts["fit"])
        self._columns = accepted_columns(self._result)

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        """Predict a spend plan: see :func:`mediamix.analysis.predict.predict_plan`.

        Parameters
        ----------
        context : PythonModelContext
            Unused (the fit is loaded in :meth:`load_context`).
        model_input : pandas.DataFrame
            The spend plan, already checked against the model signature by MLflow.
        params : dict, optional
            ``draws`` (>= 1) and ``hdi_prob`` overrides.

        Returns
        -------
        pandas.DataFrame
            ``date``, ``prediction_mean``, ``prediction_hdi_low``, ``prediction_hdi_high``,
            ``baseline``, ``contribution_<channel>`` and ``warning``.

        Raises
        ------
        MlflowException
            ``INVALID_PARAMETER_VALUE`` for unknown or out-of-range params, unknown columns or a
            plan the model cannot predict.
        """
        if self._result is None:
            raise MlflowException("the model has no fit; load it with mlflow.pyfunc.load_model")
        params = dict(params or {})
        _check_request(params, self._columns)
        try:
            prob = params.get("hdi_prob")
            plan = (
                model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
            )
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                predict = predict_geo_plan if is_geo_fit(self._result) else predict_plan
                out = predict(
                    self._result,
                    plan,
                    draws=int(params.get("draws", DEFAULT_DRAWS)),
                    hdi_prob=None if prob is None else float(prob),
                )
            out["warning"] = "; ".join(str(w.message) for w in caught if _about_plan(w))
            return out
        except (MediamixError, ValueError, TypeError) as exc:
            raise MlflowException.invalid_parameter_value(f"invalid spend plan: {exc}") from exc


def _about_plan(caught: warnings.WarningMessage) -> bool:
    """Whether a warning is about the request's plan (not a library's deprecation notice)."""
    return issubclass(caught.category, PlanRangeWarning)


mlflow.models.set_model(MediamixModel())
