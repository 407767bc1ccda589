"""The gold table's grid rules: one daily or weekly grid, no gaps, every expected channel."""

from __future__ import annotations

import pandas as pd
import pytest

from mediamix.lakehouse.gold import build_gold, feed_frequency
from mediamix.lakehouse.quality import DataQualityError

MONDAYS = pd.date_range("2024-01-01", periods=6, freq="7D")


def day(i: int) -> str:
    return str((MONDAYS[0] + pd.Timedelta(weeks=i)).date())


def silver_frames(
    spend_rows: list[tuple[str, str, float]],
    outcome_rows: list[tuple[str, float]],
    control_rows: list[tuple[str, float]] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    spend = pd.DataFrame(spend_rows, columns=["date", "channel", "spend"])
    outcome = pd.DataFrame(outcome_rows, columns=["date", "sales"])
    controls = pd.DataFrame(control_rows or [], columns=["date", "price"])
    if control_rows is None:
        controls = controls[["date"]]
    for frame in (spend, outcome, controls):
        frame["date"] = pd.to_datetime(frame["date"]).astype("datetime64[us]")
    return spend, outcome, controls


def daily(start: str, n: int) -> list[str]:
    return [str(d.date()) for d in pd.date_range(start, periods=n, freq="D")]


def test_daily_data_is_aggregated_to_weeks_and_partial_weeks_dropped() -> None:
    days = daily("2024-01-03", 17)  # a Wednesday: weeks run Wednesday..Tuesday
    spend, outcome, controls = silver_frames(
        [(d, "tv", 1.0) for d in days] + [(days[0], "radio", 5.0)],
        [(d, 10.0) for d in days],
        [(d, float(i)) for i, d in enumerate(days)],
    )
    gold, notes = build_gold(spend, outcome, controls, frequency="weekly")
    assert gold["date"].tolist() == [pd.Timestamp("2024-01-03"), pd.Timestamp("2024-01-10")]
    assert gold["tv"].tolist() == [7.0, 7.0]
    assert gold["radio"].tolist() == [5.0, 0.0]
    assert gold["sales"].tolist() == [70.0, 70.0]
    assert gold["price"].tolist() == [3.0, 10.0]  # controls are averaged
    assert any("partial week" in n and "2024-01-17" in n for n in notes)


def test_less_than_a_week_of_daily_data_cannot_be_weekly() -> None:
    days = daily("2024-01-01", 5)
    spend, outcome, controls = silver_frames([(days[0], "tv", 1.0)], [(d, 1.0) for d in days])
    with pytest.raises(DataQualityError, match="one complete week"):
        build_gold(spend, outcome, controls, frequency="weekly")


def test_daily_frequency_keeps_days() -> None:
    days = daily("2024-01-01", 5)
    spend, outcome, controls = silver_frames([(days[1], "tv", 2.0)], [(d, 1.0) for d in days])
    gold, _ = build_gold(spend, outcome, controls, frequency="daily")
    assert gold["tv"].tolist() == [0.0, 2.0, 0.0, 0.0, 0.0]


@pytest.mark.parametrize(
    ("spend_dates", "outcome_dates", "frequency", "text"),
    [
        # outcome daily for a while, then weekly
        (
            [],
            [*daily("2024-01-01", 7), "2024-01-14", "2024-01-21", "2024-01-28"],
            "weekly",
            "no single",
        ),
        # outcome every 3 days
        ([], ["2024-01-01", "2024-01-04", "2024-01-07", "2024-01-10"], "weekly", "no single"),
        # weekly outcome cannot become daily
        ([], [str(d.date()) for d in MONDAYS], "daily", "cannot be made daily"),
        # weekly spend on Wednesdays, weekly outcome on Mondays
        (["2024-01-03", "2024-01-10"], [str(d.date()) for d in MONDAYS], "weekly", "Wednesdays"),
    ],
)
def test_mixed_frequencies_are_errors(
    spend_dates: list[str], outcome_dates: list[str], frequency: str, text: str
) -> None:
    spend, outcome, controls = silver_frames(
        [(d, "tv", 1.0) for d in spend_dates or outcome_dates[:1]],
        [(d, 1.0) for d in outcome_dates],
    )
    with pytest.raises(DataQualityError, match=text) as info:
        build_gold(spend, outcome, controls, frequency=frequency)  # type: ignore[arg-type]
    assert {i.rule for i in info.value.issues} == {"frequency_mixed"}
    assert all(i.column == "date" and i.examples for i in info.value.issues)


def test_spend_outside_the_outcome_range_is_a_gap() -> None:
    outcome_dates = [str(d.date()) for d in MONDAYS[:3]]
    spend, outcome, controls = silver_frames(
        [(d, "tv", 1.0) for d in [*outcome_dates, str(MONDAYS[4].date())]],
        [(d, 1.0) for d in outcome_dates],
    )
    with pytest.raises(DataQualityError, match="spend dated outside") as info:
        build_gold(spend, outcome, controls)
    assert [(i.rule, i.column, i.examples) for i in info.value.issues] == [
        ("date_grid_gap", "sales", ("2024-01-29",))
    ]


def test_missing_control_periods_are_gaps() -> None:
    dates = [str(d.date()) for d in MONDAYS[:4]]
    spend, outcome, controls = silver_frames(
        [(d, "tv", 1.0) for d in dates], [(d, 1.0) for d in dates], [(dates[0], 1.0)]
    )
    with pytest.raises(DataQualityError) as info:
        build_gold(spend, outcome, controls)
    assert [(i.rule, i.column, i.count) for i in info.value.issues] == [
        ("date_grid_gap", "price", 3)
    ]


def test_expected_channels_without_spend_and_name_clashes() -> None:
    dates = [str(d.date()) for d in MONDAYS[:2]]
    spend, outcome, controls = silver_frames(
        [(d, "sales", 1.0) for d in dates], [(d, 1.0) for d in dates]
    )
    with pytest.raises(DataQualityError) as info:
        build_gold(spend, outcome, controls, channels=["sales", "tv"])
    rules = {(i.rule, i.examples) for i in info.value.issues}
    assert rules == {("channel_missing", ("tv",)), ("channel_unknown", ("sales",))}


def test_no_spend_at_all_is_an_error() -> None:
    spend, outcome, controls = silver_frames([], [(day(0), 1.0), (day(1), 2.0)])
    with pytest.raises(DataQualityError, match="no channels") as info:
        build_gold(spend, outcome, controls)
    assert [i.rule for i in info.value.issues] == ["channel_missing"]


def test_empty_outcome_is_an_error() -> None:
    spend, outcome, controls = silver_frames([(day(0), "tv", 1.0)], [])
    with pytest.raises(DataQualityError, match="no valid rows"):
        build_gold(spend, outcome, controls)


@pytest.mark.parametrize(
    ("dates", "expected"),
    [
        (["2024-01-01"], "single"),
        (daily("2024-01-01", 10), "daily"),
        ([str(d.date()) for d in MONDAYS], "weekly"),
        (["2024-01-01", "2024-01-15", "2024-01-22"], "weekly"),  # weekly with a gap
        ([*daily("2024-01-01", 3), "2024-01-10"], "daily"),  # daily with a gap
        ([*daily("2024-01-01", 3), "2024-01-10", "2024-01-17", "2024-01-24"], "mixed"),
        (["2024-01-01", "2024-01-03", "2024-01-05"], "irregular"),
    ],
)
def test_feed_frequency(dates: list[str], expected: str) -> None:
    assert feed_frequency(pd.Series(pd.to_datetime(dates))) == expected
