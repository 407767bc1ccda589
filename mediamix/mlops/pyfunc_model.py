"""The mediamix MLflow model, logged as a "model from code".

MLflow runs this file when the model is loaded (``mlflow.pyfunc.load_model``,
``mlflow models serve``, Databricks Model Serving) instead of unpickling a live object: it defines
:class:`MediamixModel` and hands an instance to :func:`mlflow.models.set_model`. The instance's
``load_context`` reads the fit from the model's ``fit`` artifact (a ``fit.nc`` written by
:meth:`~mediamix.inference.fit.FitResult.save`) and ``predict`` calls
:func:`mediamix.analysis.predict.predict_plan`.
:func:`mediamix.mlops.pyfunc.log_model` logs it.
"""

from __future__ import annotations

import warnings
from typing import Any

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.pyfunc import PythonModel

from mediamix.analysis.geo_plan import predict_geo_plan
from mediamix.analysis.geo_response import is_geo_fit
from mediamix.analysis.predict import DEFAULT_DRAWS, PlanRangeWarning, predict_plan
from mediamix.errors import MediamixError
from mediamix.inference.fit import FitResult, load_fit

__all__ = ["MediamixModel"]


class MediamixModel(PythonModel):
    """The fitted MMM as an MLflow pyfunc: a spend plan in, :func:`predict_plan`'s frame out.

    A request may set the params ``draws`` (posterior draws per prediction, 0 for all; the
    signature's default otherwise) and ``hdi_prob`` (default the fit's). A plan that does not fit
    the model, or a negative ``draws``, raises an ``INVALID_PARAMETER_VALUE`` MLflow error, which
    the scoring server answers with HTTP 400 and the reason. ``date`` may hold dates or ISO date
    strings (a plan read from a CSV). Columns the signature does not name are dropped by MLflow
    before the plan gets here, and so are params other than ``draws`` and ``hdi_prob`` (MLflow
    logs a warning). Warnings about the plan (dates far outside the training window) come back
    in the ``warning`` column, empty when there are none.

    A geo fit answers with :func:`~mediamix.analysis.geo_plan.predict_geo_plan`: a ``geo``
    column, the national rows (``geo`` = ``national``) then each geo's. Its plan may have one
    row per date and geo, or no geo column (a national plan, split at the fit's historical geo
    shares); a geo the fit does not know is a 400 that names it and lists the known geos.
    """

    def __init__(self) -> None:
        self._result: FitResult | None = None

    def load_context(self, context: Any) -> None:
        """Load the fit from the model's ``fit`` artifact."""
        self._result = load_fit(context.artifacts["fit"])

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
            ``draws`` (0 for all) and ``hdi_prob`` overrides.

        Returns
        -------
        pandas.DataFrame
            ``date``, ``prediction_mean``, ``prediction_hdi_low``, ``prediction_hdi_high``,
            ``baseline`` and ``contribution_<channel>``.
        """
        if self._result is None:
            raise MlflowException("the model has no fit; load it with mlflow.pyfunc.load_model")
        params = dict(params or {})
        try:
            draws = int(params.get("draws", DEFAULT_DRAWS))
            if draws < 0:
                raise ValueError(f"param draws must be >= 0 (0 for all draws), got {draws}")
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
                    draws=draws if draws > 0 else None,
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
