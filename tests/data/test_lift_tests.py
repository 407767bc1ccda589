"""The lift-test table: each kind of bad input is refused, naming the row and the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mediamix.data.lift_tests import (
    LiftTestError,
    lift_tests_for_data,
    read_lift_tests,
    validate_lift_table,
)

DATES = pd.date_range("2024-01-01", periods=20, freq="7D")
SPEND = pd.DataFrame({"tv": np.full(20, 100.0), "radio": np.full(20, 50.0)})


def _table(**changes: Any) -> pd.DataFrame:
    rows = {
        "channel": ["tv", "radio"],
        "start_date": ["2024-01-08", "2024-02-05"],
        "end_date": ["2024-01-22", "2024-02-19"],
        "spend_delta": [-150.0, 60.0],
        "lift": [-30.0, 12.0],
        "lift_se": [5.0, 4.0],
    }
    for key, (row, value) in changes.items():
        rows.setdefault(key, [None, None])[row] = value
    return pd.DataFrame(rows)


def test_a_good_table_is_matched_to_rows() -> None:
    tests = lift_tests_for_data(_table(), DATES, SPEND)
    assert tests.channel.tolist() == [0, 1]
    assert tests.start.tolist() == [1, 5] and tests.end.tolist() == [3, 7]
    np.testing.assert_allclose(tests.delta_per_period(), [-50.0, 20.0])
    assert tests.labels == ("tv 2024-01-08..2024-01-22", "radio 2024-02-05..2024-02-19")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"channel": (1, "print")}, "row 2, channel: 'print' is not a modeled channel"),
        ({"start_date": (0, "2023-06-05")}, "row 1, start_date: 2023-06-05 is outside the data"),
        ({"end_date": (1, "2025-01-06")}, "row 2, end_date: 2025-01-06 is outside the data"),
        ({"start_date": (1, "2024-02-06")}, "row 2, start_date: 2024-02-06 is not a date of the"),
        ({"end_date": (0, "2024-01-01")}, "row 1, end_date: 2024-01-01 is before start_date"),
        ({"lift_se": (1, 0.0)}, "row 2, lift_se: 0.0 must be > 0"),
        ({"lift_se": (0, -2.0)}, "row 1, lift_se: -2.0 must be > 0"),
        ({"spend_delta": (0, 0.0)}, "row 1, spend_delta: 0 changes nothing"),
        ({"lift": (1, "a lot")}, "row 2, lift: 'a lot' is not a number"),
        ({"start_date": (0, "soon")}, "row 1, start_date: 'soon' is not a date"),
        # the spend without an increase of 700 over 3 weeks would be 100 - 233 < 0
        ({"spend_delta": (0, 700.0)}, "row 1, spend_delta: 700 over 3 periods is 233.333 per"),
    ],
)
def test_bad_rows_name_the_row_and_field(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(LiftTestError, match=message.replace("(", r"\(")):
        lift_tests_for_data(_table(**changes), DATES, SPEND)


def test_a_change_larger_than_the_window_spend_is_refused() -> None:
    # 50 per week observed; an increase of 200 in total over 3 weeks would need 66.7 per week
    table = _table(spend_delta=(1, 200.0))
    with pytest.raises(LiftTestError, match="row 2, spend_delta: 200 over 3 periods"):
        lift_tests_for_data(table, DATES, SPEND)
    # a go-dark test (negative delta): the spend without it is observed + |delta|, always valid
    lift_tests_for_data(_table(spend_delta=(1, -5000.0)), DATES, SPEND)


def test_duplicates_and_missing_columns() -> None:
    table = pd.concat([_table(), _table().iloc[[0]]], ignore_index=True)
    with pytest.raises(LiftTestError, match=r"row 3, channel: the test of 'tv' .* repeats row 1"):
        validate_lift_table(table)
    with pytest.raises(LiftTestError, match=r"missing columns \['lift_se'\]"):
        validate_lift_table(_table().drop(columns="lift_se"))
    with pytest.raises(LiftTestError, match="row 1, geo: 'north' given, but the model is national"):
        lift_tests_for_data(_table(geo=(0, "north")), DATES, SPEND)
    tests = lift_tests_for_data(_table(geo=(0, "north")), DATES, SPEND, geo_model=True)
    assert len(tests) == 2


def test_read_csv(tmp_path: Path) -> None:
    path = tmp_path / "lift.csv"
    _table().to_csv(path, index=False)
    assert read_lift_tests(path)["spend_delta"].tolist() == [-150.0, 60.0]
    with pytest.raises(LiftTestError, match="no file at"):
        read_lift_tests(tmp_path / "none.csv")
    path.write_text("channel,start_date\n")
    with pytest.raises(LiftTestError, match="missing columns"):
        read_lift_tests(path)
