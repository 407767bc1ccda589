"""Packaging a fit as an MLflow pyfunc model: signature, pinned requirements, logging.

:func:`log_model` logs a fit as an MLflow model built "from code": the model is the file
:mod:`mediamix.mlops.pyfunc_model` (a :class:`mlflow.pyfunc.PythonModel` that loads the fit's
``fit.nc`` artifact and calls :func:`mediamix.analysis.predict.predict_plan`), the ``mediamix``
package travels with it as code, and no live object is pickled.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mediamix.analysis.geo_plan import example_geo_plan
from mediamix.analysis.geo_response import is_geo_fit
from mediamix.analysis.predict import DEFAULT_DRAWS, example_plan
from mediamix.inference.fit import FitResult

__all__ = [
    "MODEL_FIT_ARTIFACT",
    "MODEL_NAME",
    "log_model",
    "model_requirements",
    "model_signature",
]

#: The name a tracked fit's model has in its run.
MODEL_NAME = "model"
#: Where the fit is inside the logged model: the run's one copy of it.
MODEL_FIT_ARTIFACT = "artifacts/fit.nc"

_OUTPUTS = ["prediction_mean", "prediction_hdi_low", "prediction_hdi_high", "baseline"]


def model_signature(result: FitResult, draws: int = DEFAULT_DRAWS) -> Any:
    """The MLflow signature of a fit's model: the plan's columns in, the prediction frame out.

    Parameters
    ----------
    result : FitResult
        The fit.
    draws : int, default 500
        Default of the ``draws`` request parameter (>= 1; more than the fit holds: all).

    Returns
    -------
    mlflow.models.ModelSignature
        Inputs ``date`` (dates or ISO date strings), one double per channel and control, one
        string per index variable; outputs as :func:`predict_plan` plus ``warning``; params
        ``draws`` and ``hdi_prob``. A geo fit takes an optional geo column (string) and answers
        with a ``geo`` column (:func:`~mediamix.analysis.geo_plan.predict_geo_plan`).
    """
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema
    from mlflow.types.schema import AnyType

    cfg = result.config
    # any type: dates, or ISO date strings as a plan read from a CSV or sent as JSON holds;
    # predict_plan parses and checks them either way
    inputs: list[Any] = [ColSpec(AnyType(), "date")]
    media = [*(cfg.media_column(c) for c in cfg.channel_names), *cfg.organic_names]
    inputs += [ColSpec("double", c) for c in [*media, *cfg.controls]]
    inputs += [ColSpec("string", c) for c in cfg.index_variables]
    names = [*_OUTPUTS, *(f"contribution_{c}" for c in [*cfg.channel_names, *cfg.organic_names])]
    outputs: list[Any] = [ColSpec("datetime", "date"), *(ColSpec("double", n) for n in names)]
    if is_geo_fit(result):
        # optional: a plan without it is national, split at the historical geo shares
        inputs.insert(1, ColSpec("string", str(result.scalers.geo_column), required=False))
        outputs.insert(1, ColSpec("string", "geo"))
    outputs.append(ColSpec("string", "warning"))
    params = ParamSchema(
        [ParamSpec("draws", "long", int(draws)), ParamSpec("hdi_prob", "double", cfg.hdi_prob)]
    )
    return ModelSignature(inputs=Schema(inputs), outputs=Schema(outputs), params=params)


def model_requirements() -> list[str] | None:
    """Pip requirements of the served model: mediamix's runtime dependencies, pinned.

    Returns
    -------
    list of str or None
        Each runtime dependency of the installed ``mediamix`` at its installed version; from
        ``requirements.txt`` beside the package when mediamix is not installed (a Databricks
        repo); None (let MLflow infer them) when neither is available.
    """
    from importlib.metadata import PackageNotFoundError, requires, version

    from packaging.requirements import Requirement

    try:
        declared = [r for r in (requires("mediamix") or []) if "extra ==" not in r]
    except PackageNotFoundError:
        listing = Path(__file__).resolve().parents[2] / "requirements.txt"
        if not listing.is_file():
            return None
        lines = (ln.split("#", 1)[0].strip() for ln in listing.read_text().splitlines())
        declared = [ln for ln in lines if ln]
    pinned = []
    for line in declared:
        name = Requirement(line).name
        try:
            pinned.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            pinned.append(line)
    return pinned


def _stage_package(target: Path) -> Path:
    """Copy the package's source (no caches) to ``target/mediamix`` for ``code_paths``."""
    import shutil

    source = Path(__file__).resolve().parents[1]
    dest = target / "mediamix"
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return dest


def log_model(
    result: FitResult,
    *,
    name: str = MODEL_NAME,
    registered_model_name: str | None = None,
    draws: int = DEFAULT_DRAWS,
    fit_path: str | Path | None = None,
) -> Any:
    """Log a fit as an MLflow pyfunc model to the active run (and optionally register it).

    The model is built from code (:mod:`mediamix.mlops.pyfunc_model`); the ``mediamix`` package is
    shipped with it (``code_paths``), the fit is its ``fit`` artifact, and it carries a
    signature, an input example (:func:`example_plan`) and pinned pip requirements. Load it
    with ``mlflow.pyfunc.load_model(uri)`` or serve it with ``mlflow models serve -m uri``.

    Parameters
    ----------
    result : FitResult
        The fit.
    name : str, default "model"
        The model's name within the run.
    registered_model_name : str, optional
        Register the model under this name (on Databricks a Unity Catalog
        ``catalog.schema.name``).
    draws : int, default 500
        Posterior draws per prediction (>= 1); a request may override it.
    fit_path : str or Path, optional
        An already saved ``fit.nc`` of ``result``; saved to a temporary file when omitted. It
        becomes the model's :data:`MODEL_FIT_ARTIFACT`, the one copy of the fit in the run.

    Returns
    -------
    mlflow.models.model.ModelInfo
        With ``model_uri`` and, when registered, ``registered_model_version``.
    """
    import shutil
    import tempfile

    import mlflow

    with tempfile.TemporaryDirectory(prefix="mediamix-model-") as tmp:
        if fit_path is None:
            fit_path = result.save(Path(tmp) / "fit.nc")
        elif Path(fit_path).name != Path(MODEL_FIT_ARTIFACT).name:
            # the model keeps the file's name: readers find it at MODEL_FIT_ARTIFACT
            fit_path = Path(shutil.copyfile(fit_path, Path(tmp) / Path(MODEL_FIT_ARTIFACT).name))
        code = _stage_package(Path(tmp) / "code")
        return mlflow.pyfunc.log_model(
            name=name,
            python_model=str(Path(__file__).with_name("pyfunc_model.py")),
            artifacts={"fit": str(fit_path)},
            code_paths=[str(code)],
            signature=model_signature(result, draws),
            input_example=example_geo_plan(result) if is_geo_fit(result) else example_plan(result),
            pip_requirements=model_requirements(),
            registered_model_name=registered_model_name,
        )
