"""Lift tests recover a channel's ROAS that correlated spend hides (real fits, known truth)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from shared_fit import REPO

from mediamix.analysis.calibration import calibration_summary
from mediamix.analysis.experiments import simulate_lift
from mediamix.analysis.metrics import roas
from mediamix.config.base import parse_config
from mediamix.config.model import ModelConfig
from mediamix.data.generator import Generator
from mediamix.inference.diagnostics import ConvergenceWarning
from mediamix.inference.fit import fit
from mediamix.model.calibration import resolve_calibration

CONFIG = parse_config(
    ModelConfig,
    {
        "outcome": {"name": "sales"},
        "channels": ["tv", "social"],
        "channel_defaults": {"adstock": {"l_max": 8}},
        "seasonality": {"yearly_order": 1},
        "sampler": {"sampler": "pymc", "draws": 300, "tune": 300, "chains": 2, "seed": 1},
    },
)


def test_two_holdouts_recover_the_hidden_channel() -> None:
    syn = Generator.from_config_file(REPO / "config/generator/correlated_two_channels.yaml")
    synthetic = syn.generate()
    assert np.corrcoef(synthetic.data["tv"], synthetic.data["social"])[0, 1] > 0.9
    # two 8-week holdouts of social (spend cut by 80 %), one early and one late
    data, truth, rows = synthetic.data, synthetic.truth.to_dict(), []
    for k, start in enumerate(["2021-05-24", "2023-10-02"]):
        test = simulate_lift(truth, data, "social", start, 8, -0.8, se_fraction=0.1, seed=k)
        data, truth = test.data, test.truth
        rows.append(test.row)
    true_roas = truth["channels"]["social"]["roas"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # few draws miss the ESS threshold
        plain = fit(data, CONFIG)
        calibrated = fit(data, resolve_calibration(CONFIG, pd.DataFrame(rows)))
    before, after = roas(plain).loc["social"], roas(calibrated).loc["social"]
    assert abs(before["mean"] / true_roas - 1) > 0.20  # the same data, no test: misses by > 20 %
    assert abs(after["mean"] / true_roas - 1) <= 0.10
    assert after["hdi_low"] <= true_roas <= after["hdi_high"]
    width_before = before["hdi_high"] - before["hdi_low"]
    assert after["hdi_high"] - after["hdi_low"] <= 0.7 * width_before
    summary = calibration_summary(calibrated)
    assert summary is not None and not summary["warnings"]
    assert [abs(t["z"]) < 4 for t in summary["tests"]] == [True, True]
