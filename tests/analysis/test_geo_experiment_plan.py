"""The experiment planner on geo fits: tests in chosen geos, lifts as the geo model predicts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pymc as pm
import pytest
import xarray as xr

from mediamix.analysis.experiment_plan import plan_experiments
from mediamix.analysis.experiments import ExperimentError
from mediamix.analysis.geo_experiment_plan import (
    GeoDesign,
    default_test_geos,
    geo_predicted_lifts,
)
from mediamix.analysis.geo_response import GeoParameters
from mediamix.inference.fit import FitResult
from mediamix.model.builder import build_model, prepare_data
from mediamix.model.calibration import resolve_calibration
from tests.experiment_checks import assert_precise_test_narrows_more
from tests.shared_geo_fit import GEOS, WEEKS, geo_config, geo_frame, prior_geo_fit


def test_default_test_geos_alternate_by_size() -> None:
    geos = ["a", "b", "c", "d", "e"]
    population = np.array([10.0, 500.0, 40.0, 300.0, 20.0])
    # by size: b, d, c, e, a -> every second from the largest: b, c, a (in the fit's order)
    assert default_test_geos(geos, population) == ["a", "b", "c"]


def test_predicted_geo_lift_is_the_models() -> None:
    frame = geo_frame()
    start, weeks, delta = 12, 4, -900.0
    test_geos = ["north", "east"]
    rows = frame["date"].isin(WEEKS[start : start + weeks]) & frame["geo"].isin(test_geos)
    totals = frame[rows].groupby("geo")["tv"].sum().reindex(test_geos).to_numpy()
    change = dict(zip(test_geos, delta * totals / totals.sum() / weeks, strict=True))
    tested = frame.copy()  # the data include the test: each test geo's share, every period
    tested.loc[rows, "tv"] += tested.loc[rows, "geo"].map(change)
    lift_row = {
        "channel": "tv",
        "start_date": WEEKS[start],
        "end_date": WEEKS[start + weeks - 1],
        "spend_delta": delta,
        "lift": -10.0,
        "lift_se": 5.0,
        "geo": "north;east",
    }
    config = resolve_calibration(geo_config(), pd.DataFrame([lift_row]))
    md = prepare_data(tested, config)
    with build_model(md, config):
        prior = pm.sample_prior_predictive(draws=30, random_seed=4)
    idata = xr.DataTree.from_dict({"posterior": prior["prior"].to_dataset()})
    result = FitResult(idata, md.frame, config, md.scalers, {})
    design = GeoDesign(result, None, test_geos)
    assert design.geos == test_geos
    without = np.stack(
        [frame[frame["geo"] == g][["tv", "search"]].to_numpy(np.float64) for g in design.geos],
        axis=1,
    )
    mine = geo_predicted_lifts(design.gp, without, 0, start, weeks, delta)
    model = result.posterior["lift_test_predicted"].stack(s=("chain", "draw")).to_numpy()[0]
    np.testing.assert_allclose(mine, model, rtol=1e-8)
    assert np.all(mine < 0)


def test_geo_plan_names_its_test_geos_and_a_precise_test_narrows_more() -> None:
    result = prior_geo_fit()
    precise = plan_experiments(result, weeks=4, starts=2, se_fraction=0.05, draws=None)
    vague = plan_experiments(result, weeks=4, starts=2, se_fraction=5.0, draws=None)
    assert sorted(p["channel"] for p in precise) == ["search", "tv"]
    assert all(p["geo"] == "north;east" for p in precise)  # by size: north, (south), east
    assert_precise_test_narrows_more(precise, vague)
    south = plan_experiments(result, weeks=4, starts=2, draws=None, geos=["south"])
    assert {p["geo"] for p in south} == {"south"}


def test_geo_noise_grows_with_the_test_geos_population() -> None:
    result = prior_geo_fit()
    big = GeoDesign(result, None, ["north"]).noise_se(4)
    small = GeoDesign(result, None, ["east"]).noise_se(4)
    assert big / small == pytest.approx(GEOS["north"] / GEOS["east"])
    sigma = float(result.posterior["sigma"].mean()) * result.scalers.y_scale
    assert small == pytest.approx(sigma * GEOS["east"] * np.sqrt(8))


def test_a_cut_never_takes_a_test_geo_below_zero() -> None:
    result = prior_geo_fit()
    design = GeoDesign(result, None, ["north", "east"])
    total, cut = design.spend_in(0, 5, 4)
    window = design.spend[5:9, :, 0]
    share = window.sum(axis=0) / total
    after = window - cut * share[None, :] / 4
    assert after.min() == pytest.approx(0.0, abs=1e-9) and np.all(after > -1e-9)
    assert total == pytest.approx(window.sum())


@pytest.mark.parametrize(
    ("geos", "message"),
    [
        (["west"], r"test geos \['west'\]: not geos of the fit"),
        (["north", "north"], "name each geo once"),
        (["north", "south", "east"], "leave some as controls"),
    ],
)
def test_bad_test_geos_are_refused(geos: list[str], message: str) -> None:
    with pytest.raises(ExperimentError, match=message):
        plan_experiments(prior_geo_fit(), weeks=4, geos=geos)


def test_geo_parameters_subset_matches_the_full_fit() -> None:
    result = prior_geo_fit()
    full = GeoParameters.from_fit(result)
    design = GeoDesign(result, None, ["south"])
    np.testing.assert_allclose(design.gp.beta[:, 0], full.beta[:, 1])


def test_cli_plans_a_geo_fit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from mediamix.cli import main

    prior_geo_fit().save(tmp_path / "fit" / "fit.nc")
    out = tmp_path / "plan.json"
    args = ["plan-experiments", "--fit", str(tmp_path / "fit"), "--out", str(out)]
    assert main([*args, "--weeks", "4", "--starts", "2", "--geos", "south,east"]) == 0
    plan = json.loads(out.read_text())
    assert {p["geo"] for p in plan} == {"south;east"} and len(plan) == 2
    assert "test geos (2; the others are controls): south, east" in capsys.readouterr().out
    assert main([*args, "--weeks", "4", "--geos", "west"]) == 2
    assert "not geos of the fit" in capsys.readouterr().err
