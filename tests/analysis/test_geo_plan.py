"""Plan predictions of a geo fit, checked draw by draw against the PyMC model's own graph.

The "posterior" is the geo model's prior (real parameter draws with the model's names and dims,
no sampling needed), so the model's deterministics ``baseline`` and ``channel_contribution`` are
the independent reference.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pymc as pm
import pytest
import xarray as xr
from shared_geo_fit import GEOS, WEEKS, prior_geo_fit

from mediamix.analysis.geo_plan import (
    NATIONAL,
    example_geo_plan,
    geo_plan_draws,
    predict_geo_plan,
    split_national_plan,
)
from mediamix.analysis.geo_response import current_spend_of, steady_state_response
from mediamix.analysis.optimize import optimize_budget
from mediamix.analysis.predict import PlanError, predict_plan
from mediamix.errors import MediamixError
from mediamix.inference.fit import FitResult
from mediamix.model.builder import build_model, prepare_data


@pytest.fixture(scope="module")
def prior_fit() -> FitResult:
    return prior_geo_fit()


def test_the_training_frame_reproduces_the_model_draw_by_draw(prior_fit: FitResult) -> None:
    gd = geo_plan_draws(prior_fit, prior_fit.frame, draws=None)
    post = prior_fit.posterior
    geos = list(prior_fit.scalers.geos)
    assert gd.geos == geos
    want_base = post["baseline"].transpose("chain", "draw", "date", "geo").to_numpy()
    want_contrib = post["channel_contribution"].transpose("chain", "draw", "date", "geo", "channel")
    np.testing.assert_allclose(gd.baseline, want_base.reshape(gd.baseline.shape), rtol=1e-8)
    np.testing.assert_allclose(
        gd.contributions, want_contrib.to_numpy().reshape(gd.contributions.shape), rtol=1e-8
    )


def test_a_plan_for_some_geos_matches_those_geos(prior_fit: FitResult) -> None:
    whole = geo_plan_draws(prior_fit, prior_fit.frame, draws=10)
    part = prior_fit.frame[prior_fit.frame["geo"] != "north"].sample(frac=1, random_state=1)
    gd = geo_plan_draws(prior_fit, part, draws=10)  # shuffled rows are sorted back
    assert gd.geos == ["south", "east"]
    j = [whole.geos.index(g) for g in gd.geos]
    np.testing.assert_allclose(gd.contributions, whole.contributions[:, :, j], rtol=1e-10)
    np.testing.assert_allclose(gd.baseline, whole.baseline[:, :, j], rtol=1e-10)


def test_predictions_have_national_rows_that_add_up_the_geos(prior_fit: FitResult) -> None:
    plan = example_geo_plan(prior_fit, periods=3)
    out = predict_geo_plan(prior_fit, plan, draws=20)
    assert list(out.columns[:3]) == ["date", "geo", "prediction_mean"]
    assert out["geo"].tolist() == [NATIONAL] * 3 + [g for g in GEOS for _ in range(3)]
    national = out[out["geo"] == NATIONAL].set_index("date")
    summed = out[out["geo"] != NATIONAL].groupby("date")[["prediction_mean", "baseline"]].sum()
    np.testing.assert_allclose(national["prediction_mean"], summed["prediction_mean"], rtol=1e-9)
    np.testing.assert_allclose(national["baseline"], summed["baseline"], rtol=1e-9)
    assert (national["prediction_hdi_low"] <= national["prediction_mean"]).all()


def test_a_national_plan_is_split_at_the_historical_geo_shares(prior_fit: FitResult) -> None:
    frame = prior_fit.frame
    totals = frame.groupby("geo")[["tv", "search"]].sum()
    shares = totals / totals.sum()
    plan = pd.DataFrame(
        {"date": WEEKS[-2:] + pd.Timedelta(weeks=2), "tv": [1000.0, 0.0], "search": [50.0, 70.0]}
    )
    plan["price"] = 1.5
    long = split_national_plan(prior_fit, plan)
    assert long["geo"].tolist() == list(prior_fit.scalers.geos) * 2
    for geo in GEOS:
        rows = long[long["geo"] == geo]
        np.testing.assert_allclose(rows["tv"], plan["tv"] * shares.loc[geo, "tv"])
        np.testing.assert_allclose(rows["search"], plan["search"] * shares.loc[geo, "search"])
    direct = predict_geo_plan(prior_fit, long, draws=10)
    split = predict_geo_plan(prior_fit, plan, draws=10)
    pd.testing.assert_frame_equal(direct, split)


def test_unknown_and_missing_geos_are_plan_errors(prior_fit: FitResult) -> None:
    plan = example_geo_plan(prior_fit, periods=2)
    bad = plan.assign(geo=plan["geo"].replace("east", "atlantis"))
    with pytest.raises(PlanError, match=r"unknown geo\(s\) \['atlantis'\]") as info:
        predict_geo_plan(prior_fit, bad)
    assert "['north', 'south', 'east']" in str(info.value)
    gap = plan.astype({"geo": object})
    gap.loc[1, "geo"] = None
    with pytest.raises(PlanError, match="rows \\[2\\] have no geo"):
        predict_geo_plan(prior_fit, gap)
    twice = pd.concat([plan, plan.iloc[[0]]])
    with pytest.raises(PlanError, match="more than one row"):
        predict_geo_plan(prior_fit, twice)
    short = plan.drop(index=plan.index[-1])
    with pytest.raises(PlanError, match="same dates"):
        predict_geo_plan(prior_fit, short)
    with pytest.raises(PlanError, match="predict_geo_plan"):
        predict_plan(prior_fit, plan)


def test_optimizer_and_current_spend_of_a_geo_fit(prior_fit: FitResult) -> None:
    current = current_spend_of(prior_fit)
    frame = prior_fit.frame
    want = frame.groupby("date")[["tv", "search"]].sum().mean()
    np.testing.assert_allclose(current.to_numpy(), want.to_numpy())
    by_geo = current_spend_of(prior_fit, by_geo=True)
    assert by_geo.index[0] == f"{prior_fit.scalers.geos[0]}/tv"
    assert by_geo.sum() == pytest.approx(current.sum())
    budget = float(current.sum())
    national = optimize_budget(prior_fit, budget, draws=10)
    assert list(national.allocation.index) == ["tv", "search"]
    assert national.allocation.sum() == pytest.approx(budget)
    # never worse than current spend at the same budget
    response = steady_state_response(prior_fit, 10)
    assert (
        response.total(national.allocation.to_numpy()).mean()
        >= response.total(current.to_numpy()).mean() - 1e-9 * budget
    )
    per_geo = optimize_budget(
        prior_fit, budget, draws=10, by_geo=True, bounds={"tv": ("-20%", "+20%")}
    )
    assert len(per_geo.allocation) == 6
    tv = per_geo.allocation[[n for n in per_geo.allocation.index if n.endswith("/tv")]]
    now = by_geo[tv.index]
    assert (tv >= 0.8 * now - 1e-6).all() and (tv <= 1.2 * now + 1e-6).all()


def test_geo_options_on_a_national_fit_are_clear_errors(prior_fit: FitResult) -> None:
    frame = prior_fit.frame[prior_fit.frame["geo"] == "north"].drop(columns=["geo", "population"])
    cfg = prior_fit.config.model_copy(update={"geo": None})
    md = prepare_data(frame.reset_index(drop=True), cfg)
    with build_model(md, cfg):
        prior = pm.sample_prior_predictive(draws=5, random_seed=1)
    idata = xr.DataTree.from_dict({"posterior": prior["prior"]})
    national = FitResult(idata=idata, frame=md.frame, config=cfg, scalers=md.scalers, timings={})
    with pytest.raises(MediamixError, match="by_geo needs a geo fit"):
        optimize_budget(national, 1000.0, by_geo=True)
    with pytest.raises(PlanError, match="this fit has no geos"):
        predict_geo_plan(national, frame)


@pytest.fixture(scope="module")
def organic_fit() -> FitResult:
    return prior_geo_fit(organic=True)


def test_organic_media_in_a_geo_plan_reproduce_the_model_draw_by_draw(
    organic_fit: FitResult,
) -> None:
    gd = geo_plan_draws(organic_fit, organic_fit.frame, draws=None)
    post = organic_fit.posterior
    want = post["organic_contribution"].transpose("chain", "draw", "date", "geo", "organic")
    assert gd.organic_channels == ["newsletter"] and gd.organic is not None
    np.testing.assert_allclose(gd.organic, want.to_numpy().reshape(gd.organic.shape), rtol=1e-8)
    assert np.abs(gd.organic).max() > 0
    total = gd.baseline + gd.contributions.sum(axis=3) + gd.organic.sum(axis=3)
    np.testing.assert_allclose(gd.outcome, total, rtol=1e-12)
    # a plan after the data carries each geo's own training volume over
    plan = example_geo_plan(organic_fit, periods=2)
    assert "newsletter" in plan.columns
    quiet = geo_plan_draws(organic_fit, plan.assign(newsletter=0.0), draws=5)
    assert quiet.organic is not None and (quiet.organic[:, 0] != 0).any()
    cold = geo_plan_draws(organic_fit, plan.assign(newsletter=0.0), draws=5, history=False)
    assert cold.organic is not None and not cold.organic.any()


def test_predictions_of_an_organic_geo_fit_add_up_every_term(organic_fit: FitResult) -> None:
    out = predict_geo_plan(organic_fit, example_geo_plan(organic_fit, periods=2), draws=20)
    parts = out[["baseline", "contribution_tv", "contribution_search", "contribution_newsletter"]]
    np.testing.assert_allclose(out["prediction_mean"], parts.sum(axis=1), rtol=1e-9)
    national = out[out["geo"] == NATIONAL].set_index("date")["contribution_newsletter"]
    summed = out[out["geo"] != NATIONAL].groupby("date")["contribution_newsletter"].sum()
    np.testing.assert_allclose(national, summed, rtol=1e-9)


def test_a_national_plan_splits_organic_volume_at_its_geo_shares(organic_fit: FitResult) -> None:
    totals = organic_fit.frame.groupby("geo")["newsletter"].sum()
    plan = pd.DataFrame(
        {"date": WEEKS[-1:] + pd.Timedelta(weeks=1), "tv": [10.0], "search": [5.0]}
    ).assign(price=1.5, newsletter=600.0)
    long = split_national_plan(organic_fit, plan).set_index("geo")
    np.testing.assert_allclose(
        long.loc[list(GEOS), "newsletter"], 600.0 * (totals / totals.sum())[list(GEOS)]
    )
    with pytest.raises(PlanError, match="missing organic media columns \\['newsletter'\\]"):
        predict_geo_plan(organic_fit, example_geo_plan(organic_fit).drop(columns="newsletter"))
    bad = example_geo_plan(organic_fit, periods=1)
    bad.loc[1, "newsletter"] = -1.0
    with pytest.raises(PlanError, match=r"organic media column 'newsletter'.*negative"):
        predict_geo_plan(organic_fit, bad)
