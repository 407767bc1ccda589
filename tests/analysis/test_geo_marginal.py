"""Marginal ROAS of geo fits: each geo through its own effects, the national one their sum."""

from __future__ import annotations

import numpy as np
import pytest

from mediamix.analysis import metrics
from mediamix.analysis.geo_marginal import (
    geo_marginal_draws,
    geo_marginal_roas,
    national_marginal_draws,
)
from mediamix.errors import MediamixError
from tests.shared_geo_fit import prior_geo_fit


def test_marginal_is_below_average_roas_in_every_draw_and_geo() -> None:
    # saturation is concave and zero at zero, so one more unit returns less than the average
    result = prior_geo_fit()
    extra, extra_spend = geo_marginal_draws(result)
    marginal = extra / extra_spend[None]
    average = metrics.geo_roas_draws(result).transpose("draw", "geo", "channel").to_numpy()
    assert np.all(marginal <= average * (1 + 1e-9))
    assert np.all(marginal > 0)
    # a small step is the derivative: halving it barely moves the answer
    finer, finer_spend = geo_marginal_draws(result, step=0.005)
    np.testing.assert_allclose(finer / finer_spend[None], marginal, rtol=0.02)


def test_national_marginal_roas_is_the_spend_weighted_geo_one() -> None:
    result = prior_geo_fit()
    extra, extra_spend = geo_marginal_draws(result)
    national, total = national_marginal_draws(result)
    weights = extra_spend / extra_spend.sum(axis=0, keepdims=True)
    by_geo = (extra / extra_spend[None] * weights[None]).sum(axis=1)
    np.testing.assert_allclose(national.to_numpy(), by_geo, rtol=1e-10)
    table = metrics.marginal_roas(result)
    np.testing.assert_allclose(table["mean"], national.mean("draw"), rtol=1e-10)
    np.testing.assert_allclose(table["spend"], total)
    assert list(table.index) == ["tv", "search"]


def test_a_window_raises_only_its_dates() -> None:
    result = prior_geo_fit()
    dates = sorted(result.frame["date"].unique())
    window = (dates[10], dates[19])
    extra, extra_spend = geo_marginal_draws(result, window=window)
    _, all_spend = geo_marginal_draws(result)
    assert np.all(extra_spend < all_spend) and np.all(extra > 0)
    per_geo = geo_marginal_roas(result, window=window)
    assert list(per_geo.index.names) == ["geo", "channel"] and len(per_geo) == 6
    np.testing.assert_allclose(per_geo["spend"].to_numpy(), extra_spend.reshape(-1))
    assert np.all(per_geo["hdi_low"] <= per_geo["mean"])
    with pytest.raises(MediamixError, match="step must be"):
        geo_marginal_draws(result, step=0)
