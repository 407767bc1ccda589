"""A fit on a window of the data: its results cover the window; plans carry over the warm-up."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mediamix.analysis.predict import example_plan, predict_plan
from mediamix.cli import main
from mediamix.config.model import load_model_config
from mediamix.data.generator import Generator
from mediamix.inference.diagnostics import ConvergenceWarning
from mediamix.inference.fit import FitResult, fit, load_fit

REPO = Path(__file__).resolve().parents[2]
GEN_CONFIG = REPO / "config/generator/basic_config.yaml"
MODEL_CONFIG = REPO / "config/model/basic_config.yaml"
START, END = "2021-03-02", "2022-06-28"


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return Generator.from_config_file(GEN_CONFIG).generate().data


@pytest.fixture(scope="module")
def windowed(data: pd.DataFrame) -> FitResult:
    config = load_model_config(MODEL_CONFIG).with_sampler(
        sampler="pymc", draws=100, tune=150, chains=2
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # so few draws miss the ESS threshold
        return fit(data, config.with_window(start=START, end=END))


@pytest.mark.slow
def test_window_fit_covers_the_window_only(data: pd.DataFrame, windowed: FitResult) -> None:
    dates = pd.DatetimeIndex(windowed.frame["date"])
    inside = data[(data["date"] >= START) & (data["date"] <= END)]
    assert (str(dates[0].date()), str(dates[-1].date())) == (START, END)
    assert len(windowed.frame) == len(inside) < len(data)
    assert windowed.posterior.sizes["date"] == len(inside)
    assert windowed.idata["observed_data"]["y"].sizes["date"] == len(inside)
    assert (windowed.scalers.start_date, windowed.scalers.end_date) == (START, END)
    assert len(windowed.scalers.warmup_frame()) == 11  # l_max 12 - 1 weeks before the window


@pytest.mark.slow
def test_plans_use_the_warmup_and_the_window_as_history(
    windowed: FitResult, tmp_path: Path
) -> None:
    post = windowed.posterior
    # the window's own spend reproduces the model, first weeks (carry-over from the warm-up) too
    out = predict_plan(windowed, windowed.frame.drop(columns="sales"), draws=None)
    for ch in windowed.channels:
        model = post["channel_contribution"].sel(channel=ch).mean(("chain", "draw")).values
        # stored contributions are rounded to float32 precision (see inference.fit.compact_draws)
        np.testing.assert_allclose(out[f"contribution_{ch}"], model, rtol=1e-6)
    cold = predict_plan(windowed, windowed.frame.drop(columns="sales"), history=False)
    assert (cold["contribution_adwords"].iloc[:3] < out["contribution_adwords"].iloc[:3]).all()
    # a plan right after the window carries over the window's last weeks
    zero = example_plan(windowed, periods=3).assign(**{c: 0.0 for c in windowed.channels})
    assert (predict_plan(windowed, zero)["contribution_adwords"] > 0).all()
    # the warm-up survives saving and loading
    again = load_fit(windowed.save(tmp_path / "fit.nc"))
    assert again.scalers.warmup == windowed.scalers.warmup
    reloaded = predict_plan(again, again.frame.drop(columns="sales"), draws=None)
    np.testing.assert_allclose(reloaded["prediction_mean"], out["prediction_mean"], rtol=1e-12)


@pytest.mark.slow
def test_fit_command_start_and_end_override_the_config(
    data: pd.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = tmp_path / "data.csv"
    data.to_csv(csv, index=False)
    config = tmp_path / "model.yaml"
    config.write_text(
        MODEL_CONFIG.read_text() + "window:\n  start: 2020-06-02\n  end: 2022-06-28\n"
    )
    base = ["fit", "--data", csv, "--config", config, "--no-tracking"]
    args = [*base, "--sampler", "pymc", "--draws", "20", "--tune", "20", "--chains", "1"]
    assert main([str(a) for a in [*args, "--out", tmp_path / "a", "--start", START]]) == 0
    assert "(window 2021-03-02 to 2022-06-28)" in capsys.readouterr().err
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    fitted = load_fit(tmp_path / "a" / "fit.nc")
    assert str(fitted.frame["date"].iloc[0].date()) == START
    assert summary is not None
    # a bad bound is one line naming the option's key and the allowed range, exit 2
    bad = [*args, "--out", tmp_path / "b", "--start", "2018-01-02"]
    assert main([str(a) for a in bad]) == 2
    err = capsys.readouterr().err
    assert "window.start 2018-01-02 is outside the data, which runs from" in err
    assert "Traceback" not in err and not (tmp_path / "b" / "fit.nc").exists()
    bad = [*args, "--out", tmp_path / "c", "--end", "2020-01-07"]
    assert main([str(a) for a in bad]) == 2
    assert "end 2020-01-07 is before start 2020-06-02" in capsys.readouterr().err
