"""The public dataset shipped as package data, its config, and a fit with default settings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mediamix.config.model import load_model_config
from mediamix.data.public.datasets import DATASETS, load, path
from mediamix.errors import MediamixError
from mediamix.inference.fit import ESCALATION_ATTR
from tests.byo_fit import ROBYN_CONFIG, robyn_fit


def test_robyn_weekly_loads_as_published() -> None:
    data = load("robyn_weekly")
    assert data.shape == (208, 12)
    assert list(data.columns) == [
        "DATE", "revenue", "tv_S", "ooh_S", "print_S", "facebook_I", "search_clicks_P",
        "search_S", "competitor_sales_B", "facebook_S", "events", "newsletter",
    ]  # fmt: skip
    assert (data["DATE"].iloc[0], data["DATE"].iloc[-1]) == ("2015-11-23", "2019-11-11")
    assert set(data["events"]) == {"na", "event1", "event2"}  # "na" is a label, not missing
    dates = pd.to_datetime(data["DATE"])
    assert (dates.diff().dropna() == pd.Timedelta(days=7)).all()
    assert data.drop(columns=["DATE", "events"]).notna().all().all()
    assert (data.drop(columns=["DATE", "events"]).to_numpy() >= 0).all()
    assert "MIT" in DATASETS["robyn_weekly"][1]
    licence = (pd.io.common.Path(path("robyn_weekly")).parent / "LICENSE-robyn.txt").read_text()
    assert "MIT License" in licence and "Meta Platforms" in licence


def test_unknown_dataset_is_named_with_the_available_ones() -> None:
    with pytest.raises(
        MediamixError, match=r"no public dataset 'robyn'; available: \['robyn_weekly'\]"
    ):
        load("robyn")


def test_robyn_config_reads_the_data_with_its_own_column_names() -> None:
    cfg = load_model_config(ROBYN_CONFIG)
    assert cfg.date_column == "DATE" and cfg.outcome.name == "revenue"
    assert cfg.channel_names == ["tv_S", "ooh_S", "print_S", "facebook", "search"]
    assert cfg.exposure_channels == {
        "facebook": ("facebook_I", "facebook_S"),
        "search": ("search_clicks_P", "search_S"),
    }
    assert cfg.organic_names == ["newsletter"] and cfg.events == ["events"]
    assert cfg.holidays is not None and cfg.holidays.country == "DE"
    # the sampler is left at the package defaults: what a user gets without tuning
    assert cfg.sampler == type(cfg.sampler)()


@pytest.mark.slow
def test_robyn_fits_with_the_default_sampler() -> None:
    result = robyn_fit()
    assert result.config.sampler.sampler == "nutpie"
    assert result.posterior.sizes["chain"] == 2 and result.posterior.sizes["draw"] == 200
    assert len(result.frame) == 208
    # event and holiday controls were derived from the data's own columns
    assert {"events_event1", "events_event2", "holiday_DE"} <= set(result.config.controls)
    diag = result.diagnostics()
    escalation = result.idata.attrs.get(ESCALATION_ATTR)
    if escalation is not None:  # NUTS diverged at 0.95: sampled again at 0.99, and says so
        assert "sampled again at 0.99" in escalation
        assert result.config.sampler.target_accept == 0.99
    else:
        assert result.config.sampler.target_accept == 0.95
    assert np.isfinite(diag.r2) and diag.r2 > 0.8
    contributions = result.posterior["organic_contribution"].sel(organic="newsletter")
    assert float(contributions.mean()) > 0
