"""Out-of-sample validation of geo models: the same dates held out in every geo."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mediamix.analysis.geo_holdout import geo_forecast, likelihood_noise
from mediamix.analysis.geo_plan import geo_plan_draws
from mediamix.analysis.holdout import cross_validate
from mediamix.cli import main
from mediamix.inference.fit import FitResult, fit
from tests.geo_fit import GEO_MODEL_CONFIG, small_geo_data, small_geo_model_config
from tests.shared_geo_fit import GEOS, WEEKS, geo_frame, prior_geo_fit


def test_a_geo_model_with_organic_channels_forecasts_with_its_organic_media() -> None:
    frame = geo_frame(organic=True)
    held = frame["date"] >= WEEKS[-4]
    fit = prior_geo_fit(organic=True, frame=frame[~held])
    test = frame[held]
    forecast = geo_forecast(fit, test)
    assert forecast.geos == list(GEOS)
    np.testing.assert_allclose(forecast.national_actual, test.groupby("date")["sales"].sum())
    gd = geo_plan_draws(fit, test.drop(columns="sales"), draws=None)
    assert gd.organic is not None and np.abs(gd.organic).max() > 0
    # the forecast is the expected outcome, organic media included, plus the likelihood's noise
    population = np.array([GEOS[g] for g in gd.geos])
    noise = likelihood_noise(fit, gd.outcome.shape) * fit.scalers.y_scale * population
    np.testing.assert_allclose(forecast.draws, gd.outcome + noise, rtol=1e-10)


@pytest.mark.slow
def test_geo_folds_hold_out_the_same_dates_in_every_geo() -> None:
    data = small_geo_data().data
    config = small_geo_model_config(draws=150, tune=200, chains=2, max_target_accept=0.9)
    seen: list[pd.DataFrame] = []

    def run(train: pd.DataFrame, cfg: object) -> FitResult:
        seen.append(train)
        return fit(train, config)

    report = cross_validate(data, config, holdout=4, folds=2, fit_fn=run)
    dates = pd.DatetimeIndex(sorted(data["date"].unique()))
    geos = sorted(data["geo"].unique())
    # every fold trains on all geos up to its origin: 96 and 100 of the 104 weeks
    assert [train["date"].nunique() for train in seen] == [96, 100]
    assert all(sorted(train["geo"].unique()) == geos for train in seen)
    assert [f.origin for f in report.folds] == [dates[96], dates[100]]
    first = report.folds[0]
    assert list(first.dates) == list(dates[96:100]) and first.geo is not None
    held = data[data["date"].isin(dates[96:100])]
    national = held.groupby("date")["sales"].sum().to_numpy()
    np.testing.assert_allclose(first.actual, national)
    # each geo's forecast is its own: mean within 15% of its actual, noise at its own scale
    forecast = first.geo
    assert forecast.draws.shape == (300, 4, len(geos))
    mean = forecast.draws.mean(axis=0)
    assert np.all(np.abs(mean / forecast.actual - 1) < 0.15)
    spread = forecast.draws.std(axis=0).mean(axis=0)
    size = forecast.actual.mean(axis=0)
    assert np.corrcoef(spread, size)[0, 1] > 0.9  # bigger geos, wider forecasts
    geo_scores = report.geo_table()
    assert geo_scores is not None and list(geo_scores["geo"]) == forecast.geos
    assert geo_scores["mape"].median() < 10 and geo_scores["coverage"].mean() > 0.6
    assert report.scores["mape"] < 10 and report.scores["coverage"] >= 0.5


@pytest.mark.slow
def test_cli_validate_a_geo_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "geo.csv"
    small_geo_data().data.to_csv(data, index=False)
    config = tmp_path / "geo.yaml"
    text = GEO_MODEL_CONFIG.read_text().replace(
        "channels: [tv, search, social, display, radio]", "channels: [tv, search, social]"
    )
    config.write_text(text)
    out = tmp_path / "val"
    args = ["validate", "--data", data, "--config", config, "--out", out, "--no-tracking"]
    args += ["--holdout-weeks", "4", "--draws", "100", "--tune", "150", "--chains", "2"]
    assert main([str(a) for a in args]) == 0
    doc = json.loads((out / "validation.json").read_text())
    assert len(doc["geos"]) == 8 and set(doc["geos"][0]) == {
        "geo",
        "mape",
        "r2",
        "crps",
        "coverage",
    }
    printed = capsys.readouterr().out
    assert "per geo (8 geos): median MAPE" in printed
    assert (out / "validation.png").stat().st_size > 10_000
