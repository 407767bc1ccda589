"""The prior predictive check of a geo model speaks national outcome units."""

from __future__ import annotations

import numpy as np

from mediamix.analysis.prior_check import prior_predictive
from tests.geo_fit import small_geo_data, small_geo_model_config


def test_geo_prior_predictive_is_national_and_in_outcome_units() -> None:
    data = small_geo_data()
    config = small_geo_model_config()
    pp = prior_predictive(data.data, config, draws=50, seed=3)
    frame = data.data
    outcome = config.outcome.name
    national = frame.groupby("date", sort=True)[outcome].sum().to_numpy()
    n_dates = frame["date"].nunique()
    assert pp.draws.shape == (50, n_dates)
    assert len(pp.dates) == n_dates and pp.dates.is_unique
    np.testing.assert_allclose(pp.observed, national)
    # per-capita model units put back in outcome units: the simulated totals are of the
    # observed totals' order, not ~1 (the scale before population and y_scale)
    ratio = np.median(pp.draws) / np.median(national)
    assert 0.05 < ratio < 20, ratio
