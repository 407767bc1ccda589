"""The calibration figures draw what they are given."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from mediamix.analysis.calibration_plots import plot_lift_tests, plot_roas_before_after


def test_roas_before_after_draws_both_fits_and_the_truth() -> None:
    index = pd.Index(["tv", "radio"], name="channel")
    before = pd.DataFrame(
        {"mean": [2.0, 1.0], "hdi_low": [1.0, 0.2], "hdi_high": [3.0, 1.8]}, index
    )
    after = pd.DataFrame({"mean": [2.2, 0.6], "hdi_low": [1.9, 0.5], "hdi_high": [2.5, 0.7]}, index)
    fig = plot_roas_before_after(before, after, {"tv": 2.3, "radio": 0.55})
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert sorted(labels) == ["truth", "with lift tests", "without lift tests"]
    truth = ax.collections[-1].get_offsets()
    np.testing.assert_allclose(np.asarray(truth)[:, 0], [2.3, 0.55])


def test_lift_tests_plot_puts_each_test_at_measured_and_predicted() -> None:
    tests = [
        {"channel": "tv", "start_date": "2024-01-01", "lift": -50.0, "lift_se": 5.0,
         "predicted": {"mean": -45.0, "hdi_low": -55.0, "hdi_high": -35.0}},
        {"channel": "radio", "start_date": "2024-03-04", "lift": 20.0, "lift_se": 4.0,
         "predicted": {"mean": 22.0, "hdi_low": 15.0, "hdi_high": 30.0}},
    ]  # fmt: skip
    fig = plot_lift_tests({"tests": tests})
    ax = fig.axes[0]
    points = ax.lines[0].get_xydata()
    np.testing.assert_allclose(points, [[-50.0, -45.0], [20.0, 22.0]])
    assert [t.get_text() for t in ax.texts] == ["tv 2024-01-01", "radio 2024-03-04"]
