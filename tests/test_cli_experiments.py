"""``simulate-lift``, ``fit --lift-tests`` and ``plan-experiments`` end to end, through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from mediamix.cli import main
from mediamix.config.generator import load_generator_config
from mediamix.data.generator import Channel

GENERATOR = {
    "start_date": "2022-01-03",
    "end_date": "2023-12-25",
    "frequency": "weekly",
    "l_max": 6,
    "seed": 4,
    "outcome": {"name": "sales", "intercept": 2.0, "sigma": 0.03, "scale": 1000.0},
    "media": {
        "tv": {"min": 100, "max": 1000, "beta": 0.6, "decay": "geometric", "alpha": 0.5, "mu": 2.0},
        "radio": {
            "min": 50,
            "max": 400,
            "beta": 0.3,
            "decay": "geometric",
            "alpha": 0.2,
            "mu": 3.0,
        },
    },
}
MODEL = {
    "outcome": {"name": "sales"},
    "channels": ["tv", "radio"],
    "channel_defaults": {"adstock": {"l_max": 6}},
    "seasonality": {"yearly_order": 1},
}


@pytest.fixture
def generated(tmp_path: Path) -> Path:
    (tmp_path / "gen.yaml").write_text(yaml.safe_dump(GENERATOR))
    (tmp_path / "model.yaml").write_text(yaml.safe_dump(MODEL))
    args = ["generate", "--config", str(tmp_path / "gen.yaml"), "--out", str(tmp_path / "d.csv")]
    assert main([*args, "--truth", str(tmp_path / "truth.json")]) == 0
    return tmp_path


def _simulate(root: Path, *extra: str) -> int:
    return main(
        [
            "simulate-lift",
            *("--truth", str(root / "truth.json"), "--data", str(root / "d.csv")),
            *("--out", str(root / "lift.csv"), "--weeks", "6", "--seed", "3"),
            *extra,
        ]
    )


def test_simulate_lift_matches_the_generator_effect(generated: Path) -> None:
    root = generated
    extra = ["--channel", "tv", "--start", "2022-06-06", "--spend-change", "-80"]
    assert _simulate(root, *extra, "--data-out", str(root / "d1.csv")) == 0
    row = pd.read_csv(root / "lift.csv").iloc[0]
    before, after = pd.read_csv(root / "d.csv"), pd.read_csv(root / "d1.csv")
    window = (before["date"] >= "2022-06-06") & (before["date"] <= "2022-07-11")
    assert window.sum() == 6 and row["end_date"] == "2022-07-11"
    # by the generator's own channel effect, on the truth's spend scale
    channel = Channel("tv", load_generator_config(root / "gen.yaml").media["tv"], l_max=6)
    spend_max = json.loads((root / "truth.json").read_text())["channels"]["tv"]["params"]
    scale = GENERATOR["outcome"]["scale"]  # type: ignore[index]
    f_before = scale * channel.effect(before["tv"], spend_max["spend_max"])
    f_after = scale * channel.effect(after["tv"], spend_max["spend_max"])
    true_lift = float((f_after - f_before)[window].sum())
    assert row["spend_delta"] == pytest.approx(-0.8 * before.loc[window, "tv"].sum())
    np.testing.assert_allclose(after["tv"] - before["tv"], window * row["spend_delta"] / 6)
    np.testing.assert_allclose(after["sales"] - before["sales"], f_after - f_before, atol=1e-6)
    assert row["lift_se"] == pytest.approx(0.1 * abs(true_lift), rel=1e-6)
    assert true_lift < 0 and abs(row["lift"] - true_lift) < 5 * row["lift_se"]
    assert row["lift"] != pytest.approx(true_lift)  # measurement noise was added


def test_simulate_lift_refuses_bad_input(
    generated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = generated
    assert (
        _simulate(root, "--channel", "print", "--start", "2022-06-06", "--spend-change", "-80") == 2
    )
    assert "channel 'print' is not in the truth" in capsys.readouterr().err
    assert _simulate(root, "--channel", "tv", "--start", "2022-06-07", "--spend-change", "-80") == 2
    assert "start 2022-06-07 is not a date of the data" in capsys.readouterr().err
    assert (
        _simulate(root, "--channel", "tv", "--start", "2022-06-06", "--spend-change", "-150") == 2
    )
    assert "must be >= -100 %" in capsys.readouterr().err
    assert not (root / "lift.csv").exists()
    ok = ["--channel", "tv", "--start", "2022-06-06", "--spend-change", "-80"]
    assert _simulate(root, *ok) == 0
    before = (root / "lift.csv").read_text()
    assert _simulate(root, *ok, "--append") == 2  # the same test twice
    assert "repeats row 1" in capsys.readouterr().err
    assert (root / "lift.csv").read_text() == before


def test_fit_with_lift_tests_then_plan(generated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = generated
    data = str(root / "d1.csv")
    tests = [("2022-06-06", "tv", "-50"), ("2023-03-06", "radio", "100")]
    for k, (start, channel, change) in enumerate(tests):
        extra = ["--channel", channel, "--start", start, "--spend-change", change]
        source = ["--data", data] if k else []
        assert _simulate(root, *extra, *source, "--append", "--data-out", data) == 0
    fit = ["fit", "--data", data, "--config", str(root / "model.yaml"), "--out", str(root / "fit")]
    small = ["--sampler", "pymc", "--draws", "100", "--tune", "150", "--chains", "1"]
    assert main([*fit, *small, "--lift-tests", str(root / "lift.csv"), "--no-tracking"]) == 0
    assert "lift test 2 radio 2023-03-06..2023-04-10: measured" in capsys.readouterr().out
    summary = json.loads((root / "fit" / "summary.json").read_text())
    tests = summary["calibration"]["tests"]
    assert [t["channel"] for t in tests] == ["tv", "radio"]
    for t in tests:
        assert t["predicted"]["hdi_low"] <= t["predicted"]["mean"] <= t["predicted"]["hdi_high"]
        assert abs(t["z"]) < 4 and np.sign(t["lift"]) == np.sign(t["predicted"]["mean"])
    assert tests[0]["lift"] < 0 < tests[1]["lift"]
    plan_path = root / "plan.json"
    plan_args = ["--fit", str(root / "fit"), "--out", str(plan_path), "--weeks", "4"]
    assert main(["plan-experiments", *plan_args, "--draws", "100", "--starts", "2"]) == 0
    plan = json.loads(plan_path.read_text())
    assert sorted(p["channel"] for p in plan) == ["radio", "tv"]
    narrowing = [p["expected_narrowing"] for p in plan]
    assert narrowing == sorted(narrowing, reverse=True)
    for p in plan:
        assert 0 < p["roas_hdi_width_expected"] <= p["roas_hdi_width_now"] * 1.05
        assert 1 <= p["ess"] <= 100 and p["weeks"] == 4


def test_lift_tests_from_a_lakehouse_table_or_the_config(tmp_path: Path) -> None:
    import argparse

    from mediamix.commands.fit import _with_lift_tests
    from mediamix.config.base import parse_config
    from mediamix.config.model import ModelConfig
    from mediamix.lakehouse.tables import write_table

    table = pd.DataFrame(
        {
            "channel": ["tv", "radio"],
            "start_date": pd.to_datetime(["2022-06-06", "2023-03-06"]).date,
            "end_date": pd.to_datetime(["2022-07-11", "2023-04-10"]).date,
            "spend_delta": [-500.0, 300.0],
            "lift": [-40.0, 25.0],
            "lift_se": [4.0, 3.0],
        }
    )
    write_table(table, "mmm_lift_tests", lakehouse=tmp_path)
    config = parse_config(ModelConfig, MODEL)
    args = argparse.Namespace(lift_tests="mmm_lift_tests", lakehouse=str(tmp_path))
    tests = _with_lift_tests(args, config).calibration.tests
    assert [(t.channel, t.start_date, t.lift_se) for t in tests] == [
        ("tv", "2022-06-06", 4.0),
        ("radio", "2023-03-06", 3.0),
    ]
    # the same tests named by the model config's calibration.lift_tests (a CSV file)
    table.to_csv(tmp_path / "lift.csv", index=False)
    by_config = parse_config(
        ModelConfig, {**MODEL, "calibration": {"lift_tests": str(tmp_path / "lift.csv")}}
    )
    none = argparse.Namespace(lift_tests=None, lakehouse=None)
    assert _with_lift_tests(none, by_config).calibration.tests == tests


GEO_GENERATOR = {
    **GENERATOR,
    "geos": {"count": 4, "population": {"min": 50000, "max": 500000}},
}


def test_simulate_lift_on_geo_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "gen.yaml").write_text(yaml.safe_dump(GEO_GENERATOR))
    args = ["generate", "--config", str(tmp_path / "gen.yaml"), "--out", str(tmp_path / "d.csv")]
    assert main([*args, "--truth", str(tmp_path / "truth.json")]) == 0
    test = ["--channel", "tv", "--start", "2022-06-06", "--spend-change", "-30", "--test-geos", "2"]
    outputs = ["--data-out", str(tmp_path / "d1.csv"), "--truth-out", str(tmp_path / "t1.json")]
    assert _simulate(tmp_path, *test, *outputs) == 0
    row = pd.read_csv(tmp_path / "lift.csv").iloc[0]
    geos = row["geo"].split(";")
    assert len(geos) == 2
    assert f"tv in {row['geo']} 2022-06-06..2022-07-11" in capsys.readouterr().out
    before, after = pd.read_csv(tmp_path / "d.csv"), pd.read_csv(tmp_path / "d1.csv")
    changed = before["geo"].isin(geos)
    assert (before.loc[~changed] == after.loc[~changed]).all().all()  # control geos unchanged
    window = changed & (before["date"] >= "2022-06-06") & (before["date"] <= "2022-07-11")
    diff = after["tv"] - before["tv"]
    assert (diff[window] < 0).all() and (diff[~window] == 0).all()
    assert diff.sum() == pytest.approx(row["spend_delta"])
    truth = json.loads((tmp_path / "t1.json").read_text())
    assert truth["channels"]["tv"]["spend_total"] == pytest.approx(after["tv"].sum())
    # the same seed draws the same geos; a list of geos is taken as given
    assert _simulate(tmp_path, *test[:-2], "--geos", f"{geos[1]},{geos[0]}", "--append") == 2
    assert "repeats row 1" in capsys.readouterr().err  # the same test (geos in data order)
    assert _simulate(tmp_path, *test[:-2], "--geos", "nowhere") == 2
    assert "test geo 'nowhere' is not a geo of the data" in capsys.readouterr().err


def test_geo_options_on_national_data_are_refused(
    generated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    test = ["--channel", "tv", "--start", "2022-06-06", "--spend-change", "-30"]
    assert _simulate(generated, *test, "--test-geos", "2") == 2
    assert "the truth is national" in capsys.readouterr().err
    assert not (generated / "lift.csv").exists()


def test_fit_refuses_a_bad_geo_lift_test_before_building(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import datetime

    rows = []
    for week in range(30):
        date = datetime.date(2023, 1, 2) + datetime.timedelta(weeks=week)
        for geo, pop in (("north", 900.0), ("south", 300.0)):
            rows.append(f"{date},{geo},{pop},{pop * (1 + week % 3)},{pop * 5 + week}")
    data = tmp_path / "geo.csv"
    data.write_text("date,geo,population,tv,sales\n" + "\n".join(rows) + "\n")
    config = tmp_path / "model.yaml"
    config.write_text(
        "outcome: {name: sales}\nchannels: [tv]\nchannel_defaults: {adstock: {l_max: 2}}\n"
        "geo: {column: geo, population: population}\n"
    )
    lift = tmp_path / "lift.csv"
    lift.write_text(
        "channel,start_date,end_date,spend_delta,lift,lift_se,geo\n"
        "tv,2023-02-06,2023-02-20,-100,-5,1,north\n"
        "tv,2023-03-06,2023-03-20,-100,-5,1,north;west\n"
    )
    args = ["fit", "--data", str(data), "--config", str(config), "--out", str(tmp_path / "o")]
    args += ["--lift-tests", str(lift), "--no-tracking"]
    assert main(args) == 2
    # named by the file: the check against the data ran before the model was built
    assert f"{lift}: row 2, geo: 'west' is not a geo of the data" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
