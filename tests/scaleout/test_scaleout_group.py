"""One group's work and the in-process runner: errors per group, files, status, resume."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mediamix.config.model import ModelConfig
from mediamix.errors import MediamixError
from mediamix.scaleout import runner
from mediamix.scaleout.group import (
    RESULT_COLUMNS,
    check_dir_names,
    fit_group,
    group_dir_name,
    result_schema,
)
from mediamix.scaleout.runner import fit_many, read_status


@pytest.fixture(autouse=True)
def _in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests run the groups in-process even where another test started Spark."""
    monkeypatch.setattr(runner, "active_session", lambda: None)


def make_config(**sampler: object) -> ModelConfig:
    return ModelConfig.model_validate(
        {
            "outcome": {"name": "sales"},
            "channels": ["tv", "search"],
            "seasonality": {"yearly_order": 1},
            "sampler": {"sampler": "advi", "advi_iterations": 300, "draws": 100, **sampler},
        }
    )


def group_rows(name: str, n: int = 30, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    tv, search = rng.uniform(10, 100, n), rng.uniform(5, 50, n)
    return pd.DataFrame(
        {
            "date": pd.date_range("2022-01-03", periods=n, freq="7D"),
            "brand": name,
            "tv": tv,
            "search": search,
            "sales": 1000 + 2 * tv + search + rng.normal(0, 5, n),
        }
    )


@pytest.mark.parametrize(
    ("breaks", "expected"),
    [
        (lambda f: f.assign(search=f["search"].where(f.index != 4, -3.0)), "'search': rows 4"),
        (lambda f: f.assign(sales=f["sales"].where(f.index != 7, np.nan)), "'sales'"),
        (lambda f: f.head(2), "2 rows is too few"),
    ],
    ids=["negative-spend", "nan-outcome", "too-few-rows"],
)
def test_bad_group_fails_alone_with_its_error(tmp_path: Path, breaks, expected) -> None:
    frame = breaks(group_rows("acme"))
    rows = fit_group(frame, "brand", make_config().model_dump_json(), str(tmp_path))
    assert len(rows) == 1
    row = rows.iloc[0]
    assert row["status"] == "failed"
    assert row["error"].startswith("group 'acme': ")
    assert expected in row["error"]
    assert "Traceback" not in row["error"]
    status = json.loads((tmp_path / "acme" / "status.json").read_text())
    assert status["status"] == "failed" and status["error"] == row["error"]
    assert list(rows.columns) == ["brand", *RESULT_COLUMNS]


def test_group_directory_names_are_safe_and_distinct() -> None:
    assert group_dir_name("US/East coast") == "US_East_coast"
    assert group_dir_name("..") == "_"
    with pytest.raises(MediamixError, match="'a b' and 'a/b' map to the same directory"):
        check_dir_names(["a b", "a/b"])


def test_result_schema_names_the_group_column_first() -> None:
    schema = result_schema("market")
    assert schema.startswith("`market` string, `channel` string")
    assert "`divergences` bigint" in schema


def test_missing_group_column_is_named(tmp_path: Path) -> None:
    with pytest.raises(MediamixError, match=r"--group-by 'market' is not a column.*'brand'"):
        fit_many(group_rows("a"), "market", make_config(), tmp_path)


@pytest.mark.slow
def test_local_run_fits_each_group_and_resume_skips_unchanged(tmp_path: Path) -> None:
    data = pd.concat([group_rows("a", seed=1), group_rows("b", seed=2)], ignore_index=True)
    bad = group_rows("c", seed=3).assign(tv=-1.0)
    cfg = make_config()
    first = fit_many(pd.concat([data, bad]), "brand", cfg, tmp_path)
    assert first.engine == "local"
    assert first.status.set_index("brand")["status"].to_dict() == {
        "a": "ok",
        "b": "ok",
        "c": "failed",
    }
    for g in ("a", "b"):
        summary = json.loads((tmp_path / g / "summary.json").read_text())
        assert set(summary["channels"]) == {"tv", "search"}
        assert (tmp_path / g / "fit.nc").is_file()
    csv = pd.read_csv(tmp_path / "status.csv")
    assert list(csv.columns[:4]) == ["brand", "status", "error", "fit_seconds"]
    assert "group 'c': " in csv.set_index("brand").loc["c", "error"]

    # b's data change: only b is fitted again; a is skipped, c still fails
    changed = data.assign(sales=data["sales"].where(data["brand"] != "b", data["sales"] + 1))
    second = fit_many(pd.concat([changed, bad]), "brand", cfg, tmp_path, resume=True)
    assert second.status.set_index("brand")["status"].to_dict() == {
        "a": "skipped",
        "b": "ok",
        "c": "failed",
    }
    a_first = first.results[first.results["brand"] == "a"]["roas_mean"].to_numpy()
    a_second = second.results[second.results["brand"] == "a"]["roas_mean"].to_numpy()
    np.testing.assert_array_equal(a_first, a_second)
    # a new config is a new fingerprint: nothing is skipped
    third = fit_many(changed, "brand", make_config(seed=2), tmp_path, resume=True)
    assert set(third.status["status"]) == {"ok"}


@pytest.mark.slow
def test_interrupted_run_keeps_finished_groups(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = pd.concat([group_rows("a", seed=1), group_rows("b", seed=2)], ignore_index=True)
    real = runner.fit_group
    calls: list[str] = []

    def interrupted(frame: pd.DataFrame, *args: object, **kwargs: object) -> pd.DataFrame:
        calls.append(str(frame["brand"].iloc[0]))
        if len(calls) == 2:
            raise KeyboardInterrupt  # Ctrl-C while the second group fits
        return real(frame, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(runner, "fit_group", interrupted)
    with pytest.raises(KeyboardInterrupt):
        fit_many(data, "brand", make_config(), tmp_path, spark=None)
    assert read_status(tmp_path, "brand", ["a", "b"])["status"].tolist() == ["ok", "interrupted"]
    assert not list(tmp_path.rglob("*.tmp"))  # no half-written file left behind
    monkeypatch.setattr(runner, "fit_group", real)
    again = fit_many(data, "brand", make_config(), tmp_path, resume=True)
    assert again.status["status"].tolist() == ["skipped", "ok"]
