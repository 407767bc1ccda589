"""A user's own CSV read as the config describes it: date column and format, events, holidays."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from mediamix.config.base import ConfigError, parse_config
from mediamix.config.model import ModelConfig
from mediamix.data.columns import UnusedColumnsWarning, plan_controls, prepare_frame
from mediamix.data.generator import Generator
from mediamix.data.validation import DataValidationError

REPO = Path(__file__).resolve().parents[2]
GEN_CONFIG = REPO / "config/generator/basic_config.yaml"

CONFIG = {
    "outcome": {"name": "revenue"},
    "channels": ["adwords", "facebook", "linkedin"],
    "date_column": "DATE",
    "date_format": "%d/%m/%Y",
    "events": ["events"],
    "holidays": {"country": "US"},
}


def user_frame() -> pd.DataFrame:
    """The shipped synthetic data as a user's export: own names, day-first dates, extras."""
    data = Generator.from_config_file(GEN_CONFIG).generate().data
    frame = data.rename(columns={"date": "DATE", "sales": "revenue"})
    frame["DATE"] = data["date"].dt.strftime("%d/%m/%Y")
    frame["events"] = "na"
    frame.loc[10, "events"] = "event1"
    frame.loc[[20, 30], "events"] = "event 2"
    frame["dayofyear"] = data["date"].dt.day_of_year
    frame["facebook_I"] = frame["facebook"] * 120.0
    return frame


def test_prepare_frame_reads_a_users_table() -> None:
    config = parse_config(ModelConfig, CONFIG)
    with pytest.warns(UnusedColumnsWarning, match=r"\['dayofyear', 'facebook_I'\]") as caught:
        frame, derived = prepare_frame(user_frame(), config)
    assert len(caught) == 1
    assert derived.controls == ["events_event_2", "events_event1", "holiday_US"]  # label order
    assert list(frame.columns) == [
        "date",
        "adwords",
        "facebook",
        "linkedin",
        *derived.controls,
        "revenue",
    ]
    assert frame["date"].iloc[0] == pd.Timestamp("2019-01-01")
    assert frame["events_event1"].sum() == 1 and frame.loc[10, "events_event1"] == 1
    assert frame["events_event_2"].sum() == 2
    # weekly periods start on Tuesdays here: the week of 2019-12-24 holds Christmas Day
    christmas = frame.index[frame["date"] == pd.Timestamp("2019-12-24")][0]
    assert frame.loc[christmas, "holiday_US"] == 1.0
    assert frame.loc[christmas + 1 : christmas + 1, "holiday_US"].item() == 1.0  # New Year
    assert 8 <= frame["holiday_US"].sum() / 4 <= 12  # about ten federal holidays a year
    # a second pass (a saved fit's config) derives the same columns and adds none
    with pytest.warns(UnusedColumnsWarning):
        again, same = prepare_frame(user_frame(), derived)
    assert same.controls == derived.controls
    pd.testing.assert_frame_equal(again, frame)


def test_bad_dates_and_missing_columns_are_named() -> None:
    config = parse_config(ModelConfig, CONFIG)
    frame = user_frame()
    frame.loc[7, "DATE"] = "2019-02-19"  # ISO in a day-first column
    with pytest.raises(DataValidationError, match=r"column 'DATE': rows 7 .*'%d/%m/%Y'"):
        prepare_frame(frame, config)
    with pytest.raises(DataValidationError, match=r"no date column 'DATE'"):
        prepare_frame(user_frame().drop(columns="DATE"), config)
    with pytest.raises(DataValidationError, match=r"events column 'events' is missing"):
        prepare_frame(user_frame().drop(columns="events"), config)


def test_holiday_config_is_checked() -> None:
    with pytest.raises(ConfigError, match=r"country 'XX' is not a holidays calendar"):
        parse_config(ModelConfig, CONFIG | {"holidays": {"country": "XX"}})
    with pytest.raises(ConfigError, match=r"subdivision 'ZZ'"):
        parse_config(ModelConfig, CONFIG | {"holidays": {"country": "US", "subdivision": "ZZ"}})
    with pytest.raises(ConfigError, match=r"repeated: \['events'\]"):
        parse_config(ModelConfig, CONFIG | {"controls": ["events"]})


def test_plan_gets_holidays_and_event_indicators() -> None:
    config = parse_config(ModelConfig, CONFIG)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnusedColumnsWarning)
        _, derived = prepare_frame(user_frame(), config)
    plan = pd.DataFrame(
        {
            "date": pd.date_range("2023-12-19", periods=3, freq="7D"),
            "adwords": 1.0,
            "facebook": 1.0,
            "linkedin": 1.0,
            "events": ["event1", "na", "new label"],
        }
    )
    out = plan_controls(plan, derived, step=7)
    assert out["holiday_US"].tolist() == [1.0, 1.0, 0.0]  # Christmas, New Year's Day, none
    assert out["events_event1"].tolist() == [1.0, 0.0, 0.0]
    assert out["events_event_2"].tolist() == [0.0, 0.0, 0.0]


@pytest.mark.slow
def test_cli_fits_a_users_csv_as_is(tmp_path: Path) -> None:
    from mediamix.analysis.predict import example_plan, predict_plan
    from mediamix.cli import main
    from mediamix.inference.fit import load_fit

    data = tmp_path / "export.csv"
    user_frame().to_csv(data, index=False)
    config = tmp_path / "model.yaml"
    config.write_text(yaml.safe_dump(CONFIG))
    out = tmp_path / "out"
    args = ["fit", "--data", data, "--config", config, "--out", out, "--no-tracking"]
    args += ["--sampler", "pymc", "--draws", "100", "--tune", "100", "--chains", "2"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnusedColumnsWarning)
        assert main([str(a) for a in args]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["channels"]) == {"adwords", "facebook", "linkedin"}
    result = load_fit(out / "fit.nc")
    assert "holiday_US" in result.config.controls
    plan = example_plan(result, periods=2).drop(columns=result.config.controls)
    predicted = predict_plan(result, plan)  # holidays derived from the plan's dates
    assert np.isfinite(predicted["prediction_mean"]).all()


def test_organic_columns_are_kept_not_reported_unused() -> None:
    from mediamix.data.columns import UnusedColumnsWarning, prepare_frame

    config = parse_config(
        ModelConfig,
        {"outcome": {"name": "sales"}, "channels": ["tv"], "organic_channels": ["newsletter"]},
    )
    frame = pd.DataFrame(
        {
            "date": ["2024-01-01", "2024-01-08"],
            "tv": [1.0, 2.0],
            "newsletter": [3.0, 0.0],
            "extra": [0, 1],
            "sales": [5.0, 6.0],
        }
    )
    with pytest.warns(UnusedColumnsWarning, match=r"\['extra'\]"):
        out, _ = prepare_frame(frame, config)
    assert list(out.columns) == ["date", "tv", "newsletter", "sales"]
