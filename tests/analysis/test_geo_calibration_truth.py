"""Geo lift tests narrow a poorly identified channel's national ROAS around the truth (real fits).

6 geos x 104 weeks x 2 channels whose spend moves together in every geo (the correlated
national plan, little geo-level spend noise): the data alone leave social's ROAS wide. Two
8-week tests of social, each in 3 geos drawn by the simulator (spend cut by 50 %), are added to
the likelihood; both fits use nutpie, 2 chains x (300 tune + 300 draws).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest
from shared_fit import REPO

from mediamix.analysis.calibration import calibration_summary
from mediamix.analysis.geo_experiments import simulate_geo_lift
from mediamix.analysis.metrics import roas
from mediamix.config.base import load_yaml, parse_config
from mediamix.config.generator import GeneratorConfig
from mediamix.config.model import ModelConfig
from mediamix.data.generator import Generator
from mediamix.data.geo_generator import generate_geos
from mediamix.inference.diagnostics import ConvergenceWarning
from mediamix.inference.fit import fit
from mediamix.model.calibration import resolve_calibration

pytestmark = pytest.mark.slow

CONFIG = parse_config(
    ModelConfig,
    {
        "outcome": {"name": "sales"},
        "channels": ["tv", "social"],
        "channel_defaults": {"adstock": {"l_max": 8}},
        "seasonality": {"yearly_order": 1},
        "trend": {"enabled": True},
        "geo": {"column": "geo", "population": "population"},
        "sampler": {
            "sampler": "nutpie",
            "draws": 300,
            "tune": 300,
            "chains": 2,
            "seed": 1,
            "target_accept": 0.9,
            "max_target_accept": 0.9,
        },
    },
)


def _generator() -> Generator:
    raw: dict[str, Any] = dict(load_yaml(REPO / "config/generator/correlated_two_channels.yaml"))
    raw["end_date"] = "2022-12-26"
    raw["geos"] = {
        "count": 6,
        "population": {"min": 100000, "max": 1000000},
        "spend_noise": 0.05,
        "beta_spread": 0.1,
        "intercept_spread": 0.1,
    }
    return Generator(parse_config(GeneratorConfig, raw))


def test_geo_lift_tests_narrow_the_hidden_channel_around_the_truth() -> None:
    synthetic = generate_geos(_generator())
    data, truth, rows = synthetic.data, synthetic.truth, []
    for k, start in enumerate(["2021-05-24", "2022-06-06"]):
        test = simulate_geo_lift(truth, data, "social", start, 8, -0.5, test_geos=3, seed=k)
        data, truth = test.data, test.truth
        rows.append(test.row)
    by_geo = data.groupby("geo", sort=False)
    within = np.mean([np.corrcoef(g["tv"], g["social"])[0, 1] for _, g in by_geo])
    assert within > 0.85  # the geos do not separate the channels either
    true_roas = truth["channels"]["social"]["roas"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # few draws miss the ESS threshold
        plain = fit(data, CONFIG)
        calibrated = fit(data, resolve_calibration(CONFIG, pd.DataFrame(rows)))
    before, after = roas(plain).loc["social"], roas(calibrated).loc["social"]
    assert after["hdi_low"] <= true_roas <= after["hdi_high"], (true_roas, after)
    assert abs(after["mean"] / true_roas - 1) <= 0.15
    width_before = before["hdi_high"] - before["hdi_low"]
    assert after["hdi_high"] - after["hdi_low"] <= 0.6 * width_before, (before, after)
    summary = calibration_summary(calibrated)
    assert summary is not None and not summary["warnings"]
    assert [t["geo"] for t in summary["tests"]] == [r["geo"] for r in rows]
    for t, row in zip(summary["tests"], rows, strict=True):
        assert abs(t["z"]) < 4 and t["predicted"]["hdi_low"] < 0  # go-dark: a negative lift
        assert t["lift"] == pytest.approx(row["lift"])
    assert calibrated.diagnostics().divergences <= 5
