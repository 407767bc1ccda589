"""The served model refuses unknown params and columns and bad draws with HTTP 400, by name.

MLflow's scoring server app (``mlflow.pyfunc.scoring_server``, what ``mlflow models serve``
runs) serves the logged model in-process under uvicorn; requests go over real HTTP.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest

from mediamix.analysis.predict import example_plan, predict_plan
from mediamix.inference.fit import FitResult
from mediamix.mlops.pyfunc import log_model
from tests.byo_fit import robyn_fit

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[str, FitResult]]:
    import uvicorn
    from mlflow.pyfunc import scoring_server

    result = robyn_fit()
    mlflow.set_experiment("served-params-test")
    with mlflow.start_run():
        info = log_model(result)
    model = mlflow.pyfunc.load_model(info.model_uri)
    before = os.environ.get("MLFLOW_IS_IN_SERVING_ENVIRONMENT")
    app = scoring_server.init(model)  # the app `mlflow models serve` runs
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert time.monotonic() < deadline, "the scoring server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", result
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        if before is None:
            os.environ.pop("MLFLOW_IS_IN_SERVING_ENVIRONMENT", None)


def _post(url: str, plan: pd.DataFrame, params: dict[str, Any] | None = None) -> tuple[int, Any]:
    frame = plan.assign(date=pd.to_datetime(plan["date"]).dt.strftime("%Y-%m-%d"))
    body: dict[str, Any] = {"dataframe_split": frame.to_dict(orient="split", index=False)}
    if params is not None:
        body["params"] = params
    request = urllib.request.Request(
        f"{url}/invocations",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_a_good_request_predicts_like_the_fit(served: tuple[str, FitResult]) -> None:
    url, result = served
    plan = example_plan(result, periods=4)
    status, body = _post(url, plan, {"draws": 10**6})
    assert status == 200, body
    got = pd.DataFrame(body["predictions"])
    assert (got.pop("warning") == "").all()
    want = predict_plan(result, plan, draws=None)
    np.testing.assert_allclose(
        got.drop(columns="date").to_numpy(float), want.drop(columns="date").to_numpy(), rtol=1e-9
    )
    # the outcome column may ride along (a modeling frame is a plan): ignored, not refused
    status, body = _post(url, plan.assign(revenue=1.0))
    assert status == 200, body


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"draw": 100}, "unknown params ['draw']; allowed params are ['draws', 'hdi_prob']"),
        ({"draws": 100, "colour": "red"}, "unknown params ['colour']"),
        ({"draws": 0}, "param draws must be an integer >= 1, got 0"),
        ({"draws": -5}, "param draws must be an integer >= 1, got -5"),
        ({"hdi_prob": 1.5}, "param hdi_prob must be in (0, 1), got 1.5"),
    ],
)
def test_bad_params_get_400_naming_the_param(
    served: tuple[str, FitResult], params: dict[str, Any], message: str
) -> None:
    url, result = served
    status, body = _post(url, example_plan(result, periods=2), params)
    assert status == 400, body
    assert body["error_code"] == "INVALID_PARAMETER_VALUE"
    assert message in body["message"], body["message"]
    assert "draws: posterior draws per prediction" in body["message"]


def test_unknown_plan_columns_get_400_naming_the_column(served: tuple[str, FitResult]) -> None:
    url, result = served
    status, body = _post(url, example_plan(result, periods=2).assign(note="x"))
    assert status == 400, body
    assert "unknown columns ['note']" in body["message"], body["message"]
    assert "'tv_S'" in body["message"]  # and what a plan may hold


def test_far_plan_dates_come_back_with_a_warning(served: tuple[str, FitResult]) -> None:
    url, result = served
    plan = example_plan(result, periods=2)
    far = plan.assign(date=pd.to_datetime(plan["date"]) + pd.Timedelta(weeks=52 * 10))
    status, body = _post(url, far)
    assert status == 200, body
    assert "outside it" in body["predictions"][0]["warning"]
