"""The command line starts without the heavy libraries; bad input is refused before PyMC loads."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HEAVY = ("pymc", "pytensor", "mlflow", "matplotlib", "pyspark", "arviz", "arviz_stats", "nutpie")


def _loaded(code: str) -> list[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    modules = json.loads(out.strip().splitlines()[-1])
    return [m for m in HEAVY if m in modules]


def test_cli_import_and_parser_load_nothing_heavy() -> None:
    assert _loaded("import mediamix.cli; mediamix.cli.build_parser()") == []


def test_fit_refuses_bad_data_before_loading_pymc(tmp_path: Path, repo_root: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("date,adwords\n2024-01-01,1.0\n")
    config = repo_root / "config" / "model" / "basic_config.yaml"
    args = ["fit", "--data", str(bad), "--config", str(config), "--out", str(tmp_path / "o")]
    code = (
        "import contextlib, io\nfrom mediamix.cli import main\n"
        f"with contextlib.redirect_stderr(io.StringIO()) as err:\n    rc = main({args!r})\n"
        "assert rc == 2 and 'missing columns' in err.getvalue(), err.getvalue()"
    )
    assert _loaded(code) == []
