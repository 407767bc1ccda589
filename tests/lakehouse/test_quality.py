"""The row rules' parsers: ISO dates, numbers with missing values told apart, column names."""

from __future__ import annotations

import pandas as pd
import pytest

from mediamix.lakehouse.quality import normalize_name, parse_dates, parse_numbers


def test_parse_dates_accepts_iso_dates_only() -> None:
    raw = pd.Series(["2024-01-05", " 2024-01-05T00:00:00 ", "2024-02-30", "05/01/2024", "", None])
    parsed = parse_dates(raw)
    assert parsed.iloc[0] == parsed.iloc[1] == pd.Timestamp("2024-01-05")
    assert parsed.iloc[2:].isna().all()


def test_parse_numbers_separates_missing_from_not_numeric() -> None:
    values, missing, not_numeric = parse_numbers(
        pd.Series(["1.5", " 2 ", "", "NaN", "abc", "inf", "1e3", "-4"])
    )
    assert missing.tolist() == [False, False, True, True, False, False, False, False]
    assert not_numeric.tolist() == [False, False, False, False, True, True, False, False]
    assert values[[0, 1, 6, 7]].tolist() == [1.5, 2.0, 1000.0, -4.0]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("TV", "tv"), (" Paid Search ", "paid_search"), ("a-b/c", "a_b_c"), ("3d", ""), ("--", "")],
)
def test_normalize_name(raw: str, expected: str) -> None:
    assert normalize_name(raw) == expected


def test_absurd_values_are_quarantined_with_their_row() -> None:
    from mediamix.lakehouse.quality import validate_outcome

    bronze = pd.DataFrame(
        {
            "date": ["2024-01-01", "2024-01-08", "2024-01-15"],
            "sales": ["10.5", "3e18", "-2e15"],
            "source": "sales.csv",
            "source_row": [2, 3, 4],
            "ingested_at": pd.Timestamp("2024-02-01"),
        }
    )
    silver, rejects, _ = validate_outcome(bronze)
    assert silver["sales"].tolist() == [10.5]
    assert rejects["rule"].tolist() == ["value_absurd", "value_absurd"]
    assert rejects["source_row"].tolist() == [3, 4]
    assert "'3e18' has magnitude >= 1e+15" in rejects["reason"].iloc[0]
