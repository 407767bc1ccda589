"""Predictions for a spend plan: the forward pass, its checks, and the model served over HTTP."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mediamix.analysis.predict import (
    PlanError,
    example_plan,
    plan_columns,
    plan_draws,
    predict_plan,
)
from mediamix.config.model import load_model_config
from mediamix.data.generator import Generator
from mediamix.errors import MediamixError
from mediamix.inference.diagnostics import ConvergenceWarning
from mediamix.inference.fit import FitResult, fit

REPO = Path(__file__).resolve().parents[2]
GEN_CONFIG = REPO / "config/generator/basic_config.yaml"
MODEL_CONFIG = REPO / "config/model/basic_config.yaml"

# stored deterministics are rounded to float32 precision (inference.fit.compact_draws)
_STORED_RTOL = 1e-6


@pytest.fixture(scope="module")
def fitted() -> FitResult:
    data = Generator.from_config_file(GEN_CONFIG).generate().data
    config = load_model_config(MODEL_CONFIG).with_sampler(
        sampler="pymc", draws=200, tune=200, chains=2
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # 400 draws miss the ESS threshold
        return fit(data, config)


def _posterior_mean(result: FitResult, name: str) -> np.ndarray:
    post = result.posterior
    if name == "outcome":
        da = post["baseline"] + post["channel_contribution"].sum("channel")
    elif name == "baseline":
        da = post["baseline"]
    else:
        da = post["channel_contribution"].sel(channel=name)
    return np.asarray(da.mean(("chain", "draw")).values)


@pytest.mark.slow
def test_training_spend_reproduces_the_model(fitted: FitResult) -> None:
    plan = fitted.frame.drop(columns=[fitted.config.outcome.name])
    out = predict_plan(fitted, plan, draws=None)
    assert list(out.columns) == [
        "date",
        "prediction_mean",
        "prediction_hdi_low",
        "prediction_hdi_high",
        "baseline",
        *(f"contribution_{c}" for c in fitted.channels),
    ]
    np.testing.assert_allclose(
        out["prediction_mean"], _posterior_mean(fitted, "outcome"), rtol=_STORED_RTOL
    )
    np.testing.assert_allclose(
        out["baseline"], _posterior_mean(fitted, "baseline"), rtol=_STORED_RTOL
    )
    for ch in fitted.channels:
        np.testing.assert_allclose(
            out[f"contribution_{ch}"], _posterior_mean(fitted, ch), rtol=_STORED_RTOL
        )
    assert (out["prediction_hdi_low"] <= out["prediction_mean"]).all()
    assert (out["prediction_mean"] <= out["prediction_hdi_high"]).all()
    pd.testing.assert_series_equal(out["date"], fitted.frame["date"], check_names=False)


@pytest.mark.slow
def test_plan_inside_the_window_takes_the_training_history(fitted: FitResult) -> None:
    # rows 60..89: the 11 weeks before row 60 come from the training frame, so the
    # prediction equals the model's own values on those dates
    plan = fitted.frame.iloc[60:90]
    out = predict_plan(fitted, plan, draws=None)
    np.testing.assert_allclose(
        out["prediction_mean"], _posterior_mean(fitted, "outcome")[60:90], rtol=_STORED_RTOL
    )
    cut = predict_plan(fitted, plan, draws=None, history=False)
    assert (cut["contribution_adwords"].iloc[:3] < out["contribution_adwords"].iloc[:3]).all()


@pytest.mark.slow
def test_plan_after_the_window_carries_over_recent_spend(fitted: FitResult) -> None:
    plan = example_plan(fitted, periods=6)
    assert list(plan.columns) == plan_columns(fitted)
    assert plan["date"].iloc[0] == fitted.frame["date"].iloc[-1] + pd.Timedelta(days=7)
    zero = plan.assign(**{c: 0.0 for c in fitted.channels})
    carried = predict_plan(fitted, zero)
    # no spend in the plan: what is left is the carry-over of the last training weeks' spend,
    # positive and fading
    for ch in fitted.channels:
        values = carried[f"contribution_{ch}"].to_numpy()
        assert values[0] > 0
        assert np.all(np.diff(values) <= 1e-9)
    cold = predict_plan(fitted, zero, history=False)
    for ch in fitted.channels:
        assert np.all(cold[f"contribution_{ch}"] == 0)
    spend = predict_plan(fitted, plan)
    assert (spend["prediction_mean"] > carried["prediction_mean"]).all()


@pytest.mark.slow
def test_thinning_is_deterministic_and_close(fitted: FitResult) -> None:
    plan = example_plan(fitted)
    a = predict_plan(fitted, plan, draws=100)
    b = predict_plan(fitted, plan, draws=100)
    pd.testing.assert_frame_equal(a, b)
    full = predict_plan(fitted, plan, draws=None)
    np.testing.assert_allclose(a["prediction_mean"], full["prediction_mean"], rtol=0.01)
    draws = plan_draws(fitted, plan, draws=100)
    assert draws.contributions.shape == (100, len(plan), len(fitted.channels))
    assert draws.outcome.shape == (100, len(plan))


def _bad_plans(plan: pd.DataFrame) -> list[tuple[Any, str]]:
    shifted = plan.assign(date=plan["date"] + pd.Timedelta(days=1))
    gap = plan.drop(index=1)
    text = plan.astype({"adwords": object})
    text.loc[2, "adwords"] = "lots"
    nan = plan.copy()
    nan.loc[0, "facebook"] = np.nan
    neg = plan.copy()
    neg.loc[3, "linkedin"] = -10.0
    baddate = plan.astype({"date": object})
    baddate.loc[1, "date"] = "next tuesday"
    return [
        (plan.drop(columns=["facebook"]), r"missing channel columns \['facebook'\]"),
        (plan.assign(tv=1.0), r"unknown columns \['tv'\]"),
        (plan.drop(columns=["date"]), "no 'date' column"),
        (plan.iloc[:0], "no rows"),
        (text, r"'adwords': rows 2 are not numbers \(e.g. 'lots'\)"),
        (nan, "'facebook': rows 0 are missing"),
        (neg, "'linkedin': rows 3 are negative.*>= 0"),
        (shifted, "not on the model's weekly grid"),
        (gap, "consecutive weekly periods"),
        (plan.iloc[::-1], "consecutive weekly periods"),
        (baddate, "rows 1 are not dates"),
        (plan.to_dict(), "must be a pandas DataFrame"),
    ]


@pytest.mark.slow
def test_bad_plans_are_rejected_with_the_reason(fitted: FitResult) -> None:
    plan = example_plan(fitted)
    for bad, message in _bad_plans(plan):
        with pytest.raises(PlanError, match=message):
            predict_plan(fitted, bad)
    assert issubclass(PlanError, MediamixError)
    with pytest.raises(MediamixError, match="draws must be a positive integer"):
        predict_plan(fitted, plan, draws=0)
    with pytest.raises(PlanError, match=r"hdi_prob must be in \(0, 1\)"):
        predict_plan(fitted, plan, hdi_prob=1.5)
    # the outcome column may ride along (a modeling frame is a plan) and is ignored
    with_outcome = fitted.frame.tail(4)
    pd.testing.assert_frame_equal(
        predict_plan(fitted, with_outcome),
        predict_plan(fitted, with_outcome.drop(columns=[fitted.config.outcome.name])),
    )


# --------------------------------------------------------------------------- over HTTP


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _post(url: str, body: bytes) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def _wait_until_up(url: str, proc: subprocess.Popen[bytes], deadline_s: float) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise AssertionError(f"the model server exited with status {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(1.0)
    raise AssertionError(f"the model server did not answer {url} within {deadline_s:.0f} s")


def _split(plan: pd.DataFrame) -> bytes:
    frame = plan.assign(date=plan["date"].dt.strftime("%Y-%m-%d"))
    return json.dumps({"dataframe_split": frame.to_dict(orient="split", index=False)}).encode()


@pytest.mark.slow
def test_model_served_over_http(fitted: FitResult, tmp_path: Path) -> None:
    from mediamix.mlops.tracking import track_fit

    store = f"sqlite:///{tmp_path}/mlflow.db"
    track_fit(
        fitted,
        data_source={"kind": "file", "path": str(GEN_CONFIG), "sha256": "-"},
        tracking_uri=store,
        experiment="serving-test",
        register_as="mediamix_serving_test",
        register_anyway=True,  # a short test fit
        figures=False,
    )
    port = _free_port()
    bin_dir = str(Path(sys.executable).parent)
    env = os.environ | {
        "MLFLOW_TRACKING_URI": store,
        "PATH": bin_dir + os.pathsep + os.environ["PATH"],
    }
    log = (tmp_path / "serve.log").open("wb")
    cmd = [
        str(Path(bin_dir) / "mlflow"),
        "models",
        "serve",
        "-m",
        "models:/mediamix_serving_test/1",
        "--env-manager",
        "local",
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
    ]
    # its own process group, so the server and its uvicorn worker stop together
    proc = subprocess.Popen(
        cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(f"{base}/ping", proc, deadline_s=240)
        plan = example_plan(fitted, periods=5)
        status, body = _post(f"{base}/invocations", _split(plan))
        assert status == 200, body
        served = pd.DataFrame(body["predictions"])
        assert (served.pop("warning") == "").all()
        expected = predict_plan(fitted, plan)
        assert list(served.columns) == list(expected.columns)
        np.testing.assert_allclose(
            served.drop(columns="date").to_numpy(),
            expected.drop(columns="date").to_numpy(),
            rtol=1e-9,
        )
        assert pd.to_datetime(served["date"]).tolist() == expected["date"].tolist()

        status, body = _post(f"{base}/invocations", _split(plan.drop(columns=["linkedin"])))
        assert status == 400, body
        assert "missing inputs ['linkedin']" in body["message"]
        negative = plan.assign(adwords=-100.0)
        status, body = _post(f"{base}/invocations", _split(negative))
        assert status == 400, body
        assert "spend column 'adwords'" in body["message"] and ">= 0" in body["message"]
        status, body = _post(f"{base}/invocations", b'{"dataframe_split": ')
        assert 400 <= status < 500, body
        request = json.loads(_split(plan))
        status, body = _post(
            f"{base}/invocations", json.dumps(request | {"params": {"draws": -5}}).encode()
        )
        assert status == 400 and "draws must be an integer >= 1" in body["message"], body
        # columns and params the signature does not name are refused by name, not dropped
        status, body = _post(
            f"{base}/invocations", json.dumps(request | {"params": {"colour": 1}}).encode()
        )
        assert status == 400 and "unknown params ['colour']" in body["message"], body
        request["dataframe_split"]["columns"].append("note")
        for row in request["dataframe_split"]["data"]:
            row.append("x")
        status, body = _post(f"{base}/invocations", json.dumps(request).encode())
        assert status == 400 and "unknown columns ['note']" in body["message"], body
        far = plan.assign(date=plan["date"] + pd.Timedelta(weeks=520))
        status, body = _post(f"{base}/invocations", _split(far))
        assert status == 200, body
        assert "outside it" in body["predictions"][0]["warning"], body
    finally:
        _stop(proc)
        log.close()


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop the server's process group (the server and its worker), SIGKILL after 30 s."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
