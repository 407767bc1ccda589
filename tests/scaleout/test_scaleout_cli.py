"""``mediamix fit-many``: registered, and bad input exits 2 with one line that says why."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mediamix.cli import build_parser, main


def test_fit_many_is_a_command() -> None:
    args = build_parser().parse_args(
        ["fit-many", "--data", "d.csv", "--group-by", "brand", "--config", "c.yaml", "--out", "o"]
    )
    assert args.group_by == "brand" and not args.resume and args.spark is None


def test_missing_group_column_exits_2_naming_it(
    tmp_path: Path, repo_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "d.csv"
    pd.DataFrame({"date": ["2022-01-03"], "brand": ["a"], "sales": [1.0]}).to_csv(data)
    config = repo_root / "config" / "model" / "basic_config.yaml"
    args = ["fit-many", "--data", data, "--group-by", "market", "--config", config]
    args += ["--out", tmp_path / "out", "--no-tracking", "--lakehouse", tmp_path]
    code = main([str(a) for a in args])
    err = capsys.readouterr().err
    assert code == 2
    assert "error: --group-by 'market' is not a column" in err and "'brand'" in err
    assert "Traceback" not in err


def test_missing_data_file_exits_2(
    tmp_path: Path, repo_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["fit-many", "--data", tmp_path / "no.csv", "--group-by", "g"]
    args += ["--config", repo_root / "config" / "model" / "basic_config.yaml", "--out", tmp_path]
    code = main([str(a) for a in args])
    assert code == 2
    assert "no such file" in capsys.readouterr().err


def test_notebook_parameters_share_the_other_notebooks_defaults(repo_root: Path) -> None:
    from mediamix.databricks.notebook import NOTEBOOKS, param_defaults, read_params
    from mediamix.scaleout.params import FitManyParams

    params = read_params(
        FitManyParams, env={"MEDIAMIX_SYNTHETIC_GROUPS": "", "MEDIAMIX_DRAWS": "9"}
    )
    assert params.synthetic_groups is None and params.draws == 9 and not params.resume_flag
    assert params.groups_table_name == "main.mediamix.mmm_groups"
    assert params.out_dir(on_databricks=True) == Path("/Volumes/main/mediamix/fit_many")
    assert params.out_dir(on_databricks=False) == Path("out/fit_many")
    ours = param_defaults(FitManyParams)
    for cls in NOTEBOOKS.values():  # one job passes the same parameters to every notebook
        for name, default in param_defaults(cls).items():
            assert ours.get(name, default) == default, name
    source = (repo_root / "03_MMM Fit Many.py").read_text()
    assert "nb.params(FitManyParams)" in source
