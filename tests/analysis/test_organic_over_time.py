"""Organic channels in the decomposition over time and its plot (no spend, so no ROAS)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from mediamix.analysis import metrics, plots
from tests.byo_fit import robyn_fit


@pytest.mark.slow
def test_organic_channels_are_in_the_decomposition_over_time() -> None:
    result = robyn_fit()
    table = metrics.contributions_over_time(result)
    components = ["baseline", *result.channels, "newsletter"]
    assert len(table) == len(result.frame) * len(components)
    assert list(table["component"].iloc[: len(components)]) == components
    kinds = table.drop_duplicates("component").set_index("component")["kind"]
    assert kinds["baseline"] == "baseline" and kinds["newsletter"] == "organic"
    assert (kinds[result.channels] == "paid").all()
    newsletter = table[table["component"] == "newsletter"]
    expected = result.posterior["organic_contribution"].sel(organic="newsletter")
    np.testing.assert_allclose(
        newsletter["mean"], expected.mean(("chain", "draw")).values, rtol=1e-12
    )
    assert (newsletter["hdi_low"] <= newsletter["mean"]).all()
    # the components add up to the model's expected outcome, date by date
    total = table.groupby("date", sort=True)["mean"].sum().to_numpy()
    post = result.posterior
    mean = post["baseline"] + post["channel_contribution"].sum("channel")
    mean = mean + post["organic_contribution"].sum("organic")
    np.testing.assert_allclose(total, mean.mean(("chain", "draw")).values, rtol=1e-9)
    # organic media have no spend: ROAS lists the paid channels only
    assert list(metrics.roas(result).index) == result.channels


@pytest.mark.slow
def test_contributions_plot_marks_organic_channels() -> None:
    import matplotlib.pyplot as plt

    result = robyn_fit()
    fig = plots.plot_contributions(result)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "newsletter (organic)" in labels and "tv_S" in labels
    hatched = [c.get_label() for c in ax.collections if c.get_hatch()]
    assert hatched == ["newsletter (organic)"]
    plt.close(fig)
