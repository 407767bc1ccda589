"""The ``mediamix`` command line: ``generate`` and its error handling."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from mediamix.cli import main
from mediamix.data.generator import Generator

BIN = Path(sys.executable).parent


def write_config(path: Path, **media_overrides: object) -> Path:
    data = {
        "start_date": "2022-01-03",
        "end_date": "2022-12-26",
        "seed": 4,
        "outcome": {"name": "sales", "intercept": 1.0, "sigma": 0.1, "scale": 10.0},
        "media": {
            "tv": {"min": 5.0, "max": 50.0, "beta": 1.0, "decay": True, "alpha": 0.5, "mu": 2.0},
            "radio": {"min": 1.0, "max": 9.0, "beta": 0.5, "saturation": "hill", "k": 0.5, "s": 2},
        },
        "controls": {"price": {"min": 1.0, "max": 2.0, "coef": -0.1}},
    }
    data["media"]["tv"].update(media_overrides)  # type: ignore[attr-defined]
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def run_cli(*args: str | Path) -> int:
    return main([str(a) for a in args])


def test_generate_writes_csv_and_truth(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path / "gen.yaml")
    out, truth = tmp_path / "out" / "data.csv", tmp_path / "out" / "truth.json"
    assert run_cli("generate", "--config", config, "--out", out, "--truth", truth) == 0

    csv_text = out.read_text()
    assert csv_text.splitlines()[0] == "date,tv,radio,price,sales"
    assert csv_text.splitlines()[1].startswith("2022-01-03,")  # ISO dates, no time part
    data = pd.read_csv(out, parse_dates=["date"])
    assert len(data) == 52

    # the CSV holds exactly what the library generates for the config's seed
    expected = Generator.from_config_file(config).generate().data
    pd.testing.assert_frame_equal(data, expected, check_dtype=False, check_exact=True)

    doc = json.loads(truth.read_text())
    assert set(doc) >= {"channels", "baseline_total"}
    assert isinstance(doc["baseline_total"], float)
    assert set(doc["channels"]) == {"tv", "radio"}
    for name, ch in doc["channels"].items():
        assert set(ch) == {"roas", "contribution_total", "spend_total", "params"}
        assert all(isinstance(ch[k], float) for k in ("roas", "contribution_total", "spend_total"))
        assert ch["spend_total"] == pytest.approx(data[name].sum(), rel=1e-12)
        assert ch["roas"] == pytest.approx(ch["contribution_total"] / ch["spend_total"], rel=1e-12)
    assert doc["channels"]["tv"]["params"]["adstock_alpha"] == 0.5
    assert doc["channels"]["radio"]["params"]["saturation_k"] == 0.5

    stdout = capsys.readouterr().out
    assert f"wrote 52 rows x 5 columns to {out}" in stdout
    assert "true ROAS tv" in stdout
    assert not list(out.parent.glob("*.tmp"))


def test_generate_without_truth(tmp_path: Path) -> None:
    config = write_config(tmp_path / "gen.yaml")
    assert run_cli("generate", "--config", config, "--out", tmp_path / "d.csv") == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.csv", "gen.yaml"]


def test_seed_option(tmp_path: Path) -> None:
    config = write_config(tmp_path / "gen.yaml")
    paths = {name: tmp_path / f"{name}.csv" for name in ("a", "b", "c")}
    run_cli("generate", "--config", config, "--seed", "99", "--out", paths["a"])
    run_cli("generate", "--config", config, "--seed", "99", "--out", paths["b"])
    run_cli("generate", "--config", config, "--out", paths["c"])
    assert paths["a"].read_bytes() == paths["b"].read_bytes()
    assert paths["a"].read_bytes() != paths["c"].read_bytes()


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"alpha": 1.5}, r"media\.tv\.alpha: alpha must be in \[0, 1\)"),
        ({"min": 80.0}, r"media\.tv\.max: max must be greater than min \(80\)"),
        ({"bogus": 1}, r"media\.tv\.bogus: unknown key"),
    ],
)
def test_bad_config_exits_2_and_writes_nothing(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    overrides: dict[str, object],
    expected: str,
) -> None:
    config = write_config(tmp_path / "bad.yaml", **overrides)
    out, truth = tmp_path / "out" / "data.csv", tmp_path / "out" / "truth.json"
    assert run_cli("generate", "--config", config, "--out", out, "--truth", truth) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error: invalid configuration in ")
    assert re.search(expected, captured.err), captured.err
    assert "Traceback" not in captured.err
    assert not out.exists()
    assert not truth.exists()
    assert not (tmp_path / "out").exists()


def test_missing_config_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "d.csv"
    assert run_cli("generate", "--config", tmp_path / "nope.yaml", "--out", out) == 2
    assert "error: config file not found" in capsys.readouterr().err
    assert not out.exists()


def test_negative_seed_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path / "gen.yaml")
    out = tmp_path / "d.csv"
    assert run_cli("generate", "--config", config, "--seed", "-3", "--out", out) == 2
    assert "seed must be a non-negative integer" in capsys.readouterr().err
    assert not out.exists()


def test_missing_required_option_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["generate", "--config", "x.yaml"])
    assert info.value.code == 2
    assert "--out" in capsys.readouterr().err


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    return subprocess.run(
        list(args), capture_output=True, text=True, timeout=120, env=env, cwd=cwd, check=False
    )


def test_python_dash_m_help() -> None:
    result = _run(sys.executable, "-m", "mediamix", "--help")
    assert result.returncode == 0, result.stderr
    assert "usage: mediamix" in result.stdout
    assert "generate" in result.stdout


def test_generate_help_lists_options() -> None:
    result = _run(sys.executable, "-m", "mediamix", "generate", "--help")
    assert result.returncode == 0, result.stderr
    for option in ("--config", "--seed", "--out", "--truth"):
        assert option in result.stdout


def test_console_script(tmp_path: Path, basic_config_path: Path) -> None:
    script = BIN / "mediamix"
    assert script.is_file(), "the mediamix console script is not installed (pip install -e .)"
    out, truth = tmp_path / "s.csv", tmp_path / "t.json"
    result = _run(
        str(script), "generate", "--config", str(basic_config_path), "--out", str(out),
        "--truth", str(truth),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert len(pd.read_csv(out)) == 209
    assert set(json.loads(truth.read_text())["channels"]) == {"adwords", "facebook", "linkedin"}


def test_console_script_bad_config_exit_status(tmp_path: Path) -> None:
    config = write_config(tmp_path / "bad.yaml", alpha=-1)
    result = _run(
        str(BIN / "mediamix"), "generate", "--config", str(config), "--out", "x.csv", cwd=tmp_path
    )
    assert result.returncode == 2
    assert not (tmp_path / "x.csv").exists()
    assert result.stderr.startswith("error: ")
    assert "media.tv.alpha" in result.stderr
    assert result.stdout == ""
