"""A geo fit's answers: national numbers sum the geos, per-geo ones divide by each geo's spend."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from shared_geo_fit import prior_geo_fit

from mediamix.analysis import metrics
from mediamix.errors import MediamixError
from mediamix.inference.fit import FitResult


@pytest.fixture(scope="module")
def result() -> FitResult:
    return prior_geo_fit()


def _contribution_draws(result: FitResult) -> np.ndarray:
    """``(sample, date, geo, channel)`` from the posterior, chains stacked chain-major."""
    da = result.posterior["channel_contribution"].transpose(
        "chain", "draw", "date", "geo", "channel"
    )
    values = da.to_numpy()
    return values.reshape(-1, *values.shape[2:])


def _spend(result: FitResult) -> np.ndarray:
    """``(geo, channel)`` total spend, from the long frame."""
    frame = result.frame
    return np.stack(
        [
            frame.loc[frame["geo"] == g, result.channels].sum().to_numpy()
            for g in result.scalers.geos
        ]
    )


def test_national_roas_sums_contributions_and_spend_over_geos(result: FitResult) -> None:
    contrib = _contribution_draws(result).sum(axis=(1, 2))
    expected = contrib / _spend(result).sum(axis=0)
    np.testing.assert_allclose(metrics.roas_draws(result).to_numpy(), expected, rtol=1e-12)
    table = metrics.roas(result)
    np.testing.assert_allclose(table["spend"], _spend(result).sum(axis=0), rtol=1e-12)
    np.testing.assert_allclose(table["mean"], expected.mean(axis=0), rtol=1e-12)


def test_geo_roas_divides_each_geos_contribution_by_its_spend(result: FitResult) -> None:
    draws = metrics.geo_roas_draws(result)
    assert draws.dims == ("draw", "geo", "channel")
    expected = _contribution_draws(result).sum(axis=1) / _spend(result)[None]
    np.testing.assert_allclose(draws.to_numpy(), expected, rtol=1e-12)
    # spend-weighted, the geos' ROAS is the national ROAS, draw by draw
    spend = _spend(result)
    national = (draws.to_numpy() * spend[None]).sum(axis=1) / spend.sum(axis=0)
    np.testing.assert_allclose(national, metrics.roas_draws(result).to_numpy(), rtol=1e-10)
    table = metrics.geo_roas(result)
    assert table.index.names == ["geo", "channel"]
    np.testing.assert_allclose(table.loc[("east", "tv"), "spend"], spend[2, 0], rtol=1e-12)
    np.testing.assert_allclose(
        table.loc[("south", "search"), "mean"], expected[:, 1, 1].mean(), rtol=1e-12
    )


def test_shares_and_totals_are_national_and_per_geo(result: FitResult) -> None:
    shares = metrics.geo_contribution_share_draws(result)
    assert shares.dims == ("draw", "geo", "component")
    np.testing.assert_allclose(shares.sum("component").to_numpy(), 1.0, rtol=1e-12)
    totals = metrics.component_totals(result)
    base = result.posterior["baseline"].transpose("chain", "draw", "date", "geo").to_numpy()
    np.testing.assert_allclose(
        totals.sel(component="baseline").to_numpy(), base.reshape(-1, *base.shape[2:]).sum((1, 2))
    )
    over_time = metrics.contributions_over_time(result)
    tv = over_time[over_time["component"] == "tv"]["mean"].to_numpy()
    np.testing.assert_allclose(tv, _contribution_draws(result)[..., 0].sum(axis=2).mean(axis=0))


def test_current_spend_of_a_geo_fit_is_national_per_period(result: FitResult) -> None:
    frame = result.frame
    expected = frame.groupby("date")[result.channels].sum().mean()
    pd.testing.assert_series_equal(
        metrics.current_spend(result), expected.rename("spend"), check_names=False
    )
    window = (frame["date"].iloc[30], None)
    later = frame[frame["date"] >= window[0]].groupby("date")[result.channels].sum().mean()
    np.testing.assert_allclose(metrics.current_spend(result, window), later.to_numpy())
    roas = metrics.roas(result, window)
    np.testing.assert_allclose(
        roas["spend"], frame.loc[frame["date"] >= window[0], result.channels].sum()
    )


def test_per_geo_numbers_of_a_national_fit_are_refused(result: FitResult) -> None:
    national = FitResult(
        result.idata, result.frame, result.config, replace(result.scalers, geos=[]), {}
    )
    with pytest.raises(MediamixError, match="national model"):
        metrics.geo_roas_draws(national)
