"""Each geo's response curves: through its own effect, at its own spend, drawn per capita."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mediamix.analysis.geo_plots import geo_response_curves, plot_geo_response_curves
from mediamix.analysis.geo_response import GeoParameters, current_spend_of
from mediamix.analysis.scenarios import response_curves
from mediamix.errors import MediamixError
from tests.shared_geo_fit import GEOS, prior_geo_fit


def test_each_geos_curve_is_its_own_and_they_add_up_to_the_national_one() -> None:
    result = prior_geo_fit()
    by_geo = geo_response_curves(result, n_points=5)
    curves = by_geo.curves
    assert list(curves.columns) == ["geo", "channel", "spend", "mean", "hdi_low", "hdi_high"]
    assert len(curves) == len(GEOS) * 2 * 5
    now = current_spend_of(result, by_geo=True)
    assert by_geo.current.loc[("south", "tv"), "spend"] == pytest.approx(now["south/tv"])
    # zero spend, zero response; then rising, and concave along the grid
    for (_, _), line in curves.groupby(["geo", "channel"]):
        mean = line["mean"].to_numpy()
        assert mean[0] == pytest.approx(0.0, abs=1e-12) and np.all(np.diff(mean) > 0)
        assert np.all(np.diff(mean, 2) <= 1e-9)
    # at the current spend of every geo, the geos' responses add up to the national curve's
    national = response_curves(result, n_points=5).current["mean"]
    summed = by_geo.current["mean"].groupby(level="channel").sum()
    np.testing.assert_allclose(summed.loc[national.index], national, rtol=1e-9)


def test_a_geo_with_a_larger_effect_responds_more_per_capita() -> None:
    result = prior_geo_fit()
    gp = GeoParameters.from_fit(result)
    beta = gp.beta.mean(axis=0)[:, 0]  # tv, per geo
    rc = geo_response_curves(result, n_points=3)
    current = rc.current.xs("tv", level="channel")
    per_capita = current["mean"] / current["spend"]
    ratio = per_capita / pd.Series(beta, index=list(gp.geos))
    # per unit of spend at current spend, geos differ by their effect and their saturation only
    assert ratio.min() > 0 and ratio.max() / ratio.min() < 5


def test_geo_curves_figure() -> None:
    result = prior_geo_fit()
    fig = plot_geo_response_curves(result)
    assert [ax.get_title() for ax in fig.axes] == ["tv", "search"]
    assert len(fig.axes[0].lines) == len(GEOS) + 1  # a line per geo, then the current dots


def test_national_fits_have_no_geo_curves() -> None:
    from tests.analysis.test_experiment_plan import CONFIG, _data, _prior_fit

    with pytest.raises(MediamixError, match="need a geo fit"):
        geo_response_curves(_prior_fit(_data(), CONFIG, draws=10))
