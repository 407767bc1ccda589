"""Out-of-sample validation: the scores, the folds, and `mediamix validate` end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from mediamix.analysis.holdout import _origins, score_forecast
from mediamix.cli import main
from mediamix.data.generator import Generator
from mediamix.errors import MediamixError

REPO = Path(__file__).resolve().parents[2]
GEN_CONFIG = REPO / "config/generator/basic_config.yaml"
MODEL_CONFIG = REPO / "config/model/basic_config.yaml"


def test_scores_match_their_definitions() -> None:
    rng = np.random.default_rng(5)
    actual = np.array([10.0, 12.0, 9.0, 11.0, 30.0])
    draws = actual[None] + rng.standard_normal((8000, 5))  # N(actual, 1) forecasts
    s = score_forecast(actual, draws, prob=0.9)
    assert s["mape"] < 1.0 and s["r2"] > 0.99
    # CRPS of N(mu, 1) at y = mu is (sqrt(2) - 1) / sqrt(pi)
    assert s["crps"] == pytest.approx((np.sqrt(2) - 1) / np.sqrt(np.pi), rel=0.03)
    shifted = score_forecast(actual + 10.0, draws, prob=0.9)
    assert shifted["coverage"] == 0.0 and shifted["crps"] > 9.0
    # coverage of a calibrated forecast is near its probability
    y = rng.standard_normal(400)
    calibrated = score_forecast(y, rng.standard_normal((4000, 400)), prob=0.9)
    assert calibrated["coverage"] == pytest.approx(0.9, abs=0.05)


def test_origins_roll_forward_and_refuse_too_little_data() -> None:
    assert _origins(100, holdout=8, folds=3, min_train=20) == [76, 84, 92]
    assert _origins(100, holdout=10, folds=1, min_train=20) == [90]
    with pytest.raises(MediamixError, match=r"leave 4 of 100 periods .* at least 20"):
        _origins(100, holdout=12, folds=8, min_train=20)
    with pytest.raises(MediamixError, match=r"must be >= 1"):
        _origins(100, holdout=0, folds=1, min_train=20)


@pytest.mark.slow
def test_cli_validate_reports_and_tracks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data.csv"
    Generator.from_config_file(GEN_CONFIG).generate().data.to_csv(data, index=False)
    store = f"sqlite:///{tmp_path}/mlflow.db"
    out = tmp_path / "val"
    args = ["validate", "--data", data, "--config", MODEL_CONFIG, "--out", out]
    args += ["--holdout-weeks", "6", "--folds", "2", "--sampler", "pymc", "--draws", "100"]
    args += ["--tune", "100", "--chains", "2", "--tracking-uri", store]
    assert main([str(a) for a in args]) == 0
    doc = json.loads((out / "validation.json").read_text())
    assert set(doc["scores"]) == {"mape", "r2", "crps", "coverage"}
    assert len(doc["folds"]) == 2 and doc["folds"][0]["periods"] == 6
    assert doc["scores"]["mape"] < 10 and 0 <= doc["scores"]["coverage"] <= 1
    assert (out / "validation.png").stat().st_size > 10_000
    printed = capsys.readouterr().out
    assert "out of sample (2 fold(s) x 6 periods)" in printed
    client = MlflowClient(store)
    (run,) = client.search_runs([client.get_experiment_by_name("mediamix").experiment_id])
    assert run.info.status == "FINISHED"
    assert run.data.metrics["oos/mape"] == pytest.approx(doc["scores"]["mape"])
    assert "oos/fold2/crps" in run.data.metrics
