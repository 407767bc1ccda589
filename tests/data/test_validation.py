from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mediamix.data.validation import DataValidationError, validate_frame

CHANNELS = ["tv", "search"]


def _frame(n: int = 30, freq: str = "7D") -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "date": pd.date_range("2021-01-04", periods=n, freq=freq).strftime("%Y-%m-%d"),
            "tv": rng.uniform(0, 100, n),
            "search": rng.uniform(0, 100, n),
            "price": rng.uniform(1, 2, n),
            "sales": rng.uniform(1000, 2000, n),
        }
    )


def _validate(df: pd.DataFrame, **kw: object) -> pd.DataFrame:
    args: dict[str, object] = {"channels": CHANNELS, "outcome": "sales", "controls": ["price"]}
    args.update(kw)
    return validate_frame(df, **args)  # type: ignore[arg-type]


def test_valid_frame_is_typed() -> None:
    out = _validate(_frame())
    assert out["date"].dtype.kind == "M"
    assert list(out.columns) == ["date", "tv", "search", "price", "sales"]


def _set(df: pd.DataFrame, row: int, col: str, value: object) -> pd.DataFrame:
    df = df.astype({col: object})
    df.loc[row, col] = value
    return df


@pytest.mark.parametrize(
    ("mutate", "needles"),
    [
        (lambda d: d.drop(columns="search"), ["missing columns ['search']"]),
        (lambda d: d.assign(radio=1.0), ["unexpected columns ['radio']"]),
        (lambda d: _set(d, 3, "tv", np.nan), ["'tv'", "rows 3", "NaN"]),
        (lambda d: _set(d, 4, "tv", np.inf), ["'tv'", "rows 4", "infinite"]),
        (lambda d: _set(d, 5, "search", -1.0), ["'search'", "rows 5", ">= 0"]),
        (lambda d: _set(d, 6, "tv", "lots"), ["'tv'", "rows 6", "not numbers", "'lots'"]),
        (lambda d: _set(d, 2, "date", "not a date"), ["'date'", "rows 2", "'not a date'"]),
        (lambda d: _set(d, 2, "date", d.loc[1, "date"]), ["'date'", "rows 1, 2", "repeat"]),
        (lambda d: d.iloc[[0, 2, 1, *range(3, 30)]], ["not in increasing order", "rows 2"]),
        (lambda d: d.drop(index=10), ["gaps", "2021-03-08 -> 2021-03-22"]),
        (lambda d: d.assign(sales=5.0), ["'sales'", "constant"]),
        (lambda d: d.assign(tv=0.0), ["'tv'", "zero in every period"]),
        (lambda d: d.head(2), ["too few"]),
    ],
)
def test_bad_frames_name_column_and_rows(mutate: object, needles: list[str]) -> None:
    df = mutate(_frame())  # type: ignore[operator]
    with pytest.raises(DataValidationError) as err:
        _validate(df)
    for needle in needles:
        assert needle in str(err.value)


def test_odd_spacing_is_rejected() -> None:
    with pytest.raises(DataValidationError, match="3 days apart"):
        _validate(_frame(freq="3D"))


def test_min_rows_is_enforced() -> None:
    with pytest.raises(DataValidationError, match="at least 40"):
        _validate(_frame(n=30), min_rows=40)
