"""Steady-state what-ifs on the shared small fit: response curves and plan comparisons."""

from __future__ import annotations

import numpy as np
import pytest
from shared_fit import small_fit

from mediamix.analysis import scenarios
from mediamix.analysis.metrics import current_spend
from mediamix.data.generator import Generator, SyntheticData
from mediamix.errors import MediamixError
from mediamix.inference.fit import FitResult


@pytest.fixture(scope="module")
def fitted() -> tuple[SyntheticData, FitResult]:
    return small_fit()


@pytest.mark.slow
def test_response_curves(fitted: tuple[SyntheticData, FitResult]) -> None:
    syn, result = fitted
    curves = scenarios.response_curves(result, n_points=11)
    table = curves.curves
    assert list(table.columns) == ["channel", "spend", "mean", "hdi_low", "hdi_high"]
    assert len(table) == 33
    current = current_spend(result)
    np.testing.assert_allclose(current, result.frame[result.channels].mean(), rtol=1e-12)
    gen = Generator.from_config_file("config/generator/basic_config.yaml")
    scale = syn.truth.meta["scale"]
    for ch in gen.channels:
        rows = table[table["channel"] == ch.name]
        assert rows["spend"].iloc[0] == 0 and rows["mean"].iloc[0] == 0
        assert rows["spend"].iloc[-1] == pytest.approx(2 * current[ch.name])
        assert (np.diff(rows["mean"]) > 0).all()
        assert (rows["hdi_low"] <= rows["mean"]).all() and (rows["mean"] <= rows["hdi_high"]).all()
        spend_max = syn.truth.params[ch.name]["spend_max"]
        true = ch.effect(np.full(40, current[ch.name]), spend_max)[-1] * scale
        assert curves.current.loc[ch.name, "mean"] == pytest.approx(true, rel=0.1)
        assert curves.current.loc[ch.name, "spend"] == pytest.approx(current[ch.name])


@pytest.mark.slow
def test_compare_plan(fitted: tuple[SyntheticData, FitResult]) -> None:
    _, result = fitted
    current = current_spend(result)
    same = scenarios.compare_plan(result, current.to_dict())
    assert same.lift.mean == pytest.approx(0.0, abs=1e-6)
    assert same.p_lift_positive == 0.0
    more = scenarios.compare_plan(result, (current * 1.2).to_dict(), draws=100)
    assert more.p_lift_positive == 1.0  # more of every channel never earns less
    assert more.lift.hdi_low > 0
    assert more.plan_outcome.mean == pytest.approx(more.channels["plan_outcome"].sum())
    lift = more.plan_outcome.mean - more.current_outcome.mean
    assert more.lift.mean == pytest.approx(lift)
    with pytest.raises(MediamixError, match=r"missing \['linkedin'\]"):
        scenarios.compare_plan(result, {"adwords": 1.0, "facebook": 1.0})
    with pytest.raises(MediamixError, match=r"unknown \['tv'\]"):
        scenarios.compare_plan(result, {**current.to_dict(), "tv": 1.0})
    with pytest.raises(MediamixError, match=">= 0"):
        scenarios.compare_plan(result, {**current.to_dict(), "adwords": -1.0})
