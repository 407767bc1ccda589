"""The geo model recovers known truth: 8 geos x 104 weeks x 3 channels, sampled with nutpie.

National ROAS (summed over geos) must lie inside its HDI and within 10 % of the truth; per-geo
ROAS is checked loosely (HDI coverage over all geo x channel cells), as short chains allow. The
same fit checks the posterior's layout, the summary's geo section and the geo figures.
"""

from __future__ import annotations

import numpy as np
import pytest
from geo_fit import small_geo_fit
from recovery_checks import hdi_allowing_mcse

from mediamix.analysis.geo_plots import plot_roas_by_geo
from mediamix.analysis.plots import figures_for_fit
from mediamix.analysis.summary import fit_summary
from mediamix.inference.geo_draws import CELL_MEANS, NATIONAL_OUTCOME

pytestmark = pytest.mark.slow


def test_geo_fit_has_the_contract_layout() -> None:
    data, result = small_geo_fit()
    post = result.posterior
    geos = list(dict.fromkeys(data.data["geo"]))
    assert list(post["geo"].values) == geos
    # per-cell draws are kept as sums over geos and over dates, and as per-cell means
    assert "channel_contribution" not in post and "baseline" not in post
    assert post["channel_contribution_national"].dims[2:] == ("date", "channel")
    assert post["channel_contribution_by_geo"].dims[2:] == ("geo", "channel")
    assert post["baseline_national"].dims[2:] == ("date",)
    assert post["baseline_by_geo"].dims[2:] == ("geo",)
    assert post["beta_geo"].dims[2:] == ("geo", "channel")
    assert result.idata["log_likelihood"]["y"].dims[2:] == ("date", "geo")
    assert result.idata["posterior_predictive"][NATIONAL_OUTCOME].dims[2:] == ("date",)
    means = result.idata[CELL_MEANS].to_dataset()
    assert means["channel_contribution"].dims == ("date", "geo", "channel")
    # contributions are in outcome units: baseline + media explains each geo's outcome
    mu = means["baseline"] + means["channel_contribution"].sum("channel")
    observed = data.data["sales"].to_numpy().reshape(mu.shape)
    for g in range(len(geos)):
        err = np.abs(mu.values[:, g] - observed[:, g]).mean() / observed[:, g].mean()
        assert err < 0.05, geos[g]
    diag = result.diagnostics()
    assert diag.r_hat_max < 1.05 and diag.divergences <= 5, diag


def _national_roas(result, channel: str):  # type: ignore[no-untyped-def]
    """Draws (chain, draw) of a channel's national ROAS."""
    post = result.posterior
    spend = result.frame[channel].sum()
    return post["channel_contribution_national"].sel(channel=channel).sum("date") / spend


def test_national_roas_is_recovered_within_its_hdi_and_10_percent() -> None:
    data, result = small_geo_fit()
    summary = fit_summary(result)
    for ch, truth in data.truth["channels"].items():
        roas = summary["channels"][ch]["roas"]
        low, high = hdi_allowing_mcse(
            _national_roas(result, ch), roas["hdi_low"], roas["hdi_high"], summary["hdi_prob"]
        )
        assert low <= truth["roas"] <= high, (ch, truth["roas"], roas)
        assert roas["mean"] == pytest.approx(truth["roas"], rel=0.10), ch


def test_per_geo_roas_hdis_cover_most_true_values() -> None:
    data, result = small_geo_fit()
    summary = fit_summary(result)
    assert set(summary["geos"]) == set(data.truth["geos"])
    inside, cells = 0, 0
    for geo, section in summary["geos"].items():
        assert section["population"] == data.truth["geos"][geo]["population"]
        for ch, numbers in section["channels"].items():
            assert set(numbers) == {"roas", "mroas", "contribution_share", "beta"}
            truth = data.truth["geos"][geo]["channels"][ch]["roas"]
            inside += numbers["roas"]["hdi_low"] <= truth <= numbers["roas"]["hdi_high"]
            cells += 1
    coverage = inside / cells
    assert coverage >= 0.70, f"{inside} of {cells} geo x channel ROAS inside the 94% HDI"


def test_geo_figures_include_the_roas_map() -> None:
    _, result = small_geo_fit()
    figures = figures_for_fit(result)
    assert set(figures) == {
        "fit",
        "contributions",
        "roas",
        "roas_by_geo",
        "response_curves",
        "response_curves_by_geo",
        "prior_posterior",
        "trace",
    }
    fig = plot_roas_by_geo(result)
    image = fig.axes[0].images[0].get_array()
    draws = result.posterior["channel_contribution_by_geo"].mean(("chain", "draw"))
    spend = result.frame.groupby("geo", sort=False)[result.channels].sum()
    # the map shows posterior mean ROAS, per geo (rows) and channel (columns)
    expected = (result.posterior["channel_contribution_by_geo"] / spend.to_numpy()).mean(
        ("chain", "draw")
    )
    assert draws.shape == image.shape
    np.testing.assert_allclose(np.asarray(image), expected.to_numpy(), rtol=1e-10)


def test_notebook_geo_views_show_roas_and_marginal_roas_per_geo() -> None:
    from mediamix.databricks.display import geo_views

    _, result = small_geo_fit()
    views = dict(geo_views(result))
    table = next(v for k, v in views.items() if k.startswith("ROAS and marginal ROAS"))
    assert {"population", "roas_tv", "mroas_tv", "mroas_search"} <= set(table.columns)
    assert len(table) == len(result.scalers.geos)
    assert np.all(table["mroas_tv"] < table["roas_tv"])  # diminishing returns in every geo
    assert {"roas_by_geo", "response_curves_by_geo"} <= set(views)
