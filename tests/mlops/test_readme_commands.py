"""The README's MLflow commands work from a fresh clone, without an activated venv."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text(encoding="utf-8")
BIN = Path(sys.executable).parent


def test_printed_ui_command_runs_without_the_venv_on_path(tmp_path: Path) -> None:
    code = (
        "from mediamix.mlops.target import resolve_target\n"
        "print(resolve_target(None, tracking_uri='sqlite:///m.db').ui_command)"
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    command = done.stdout.strip()
    executable, _, rest = command.partition(" ")
    assert rest.startswith("ui --backend-store-uri sqlite:///"), command
    assert Path(executable).is_file() and os.access(executable, os.X_OK), command
    shown = subprocess.run(
        [executable, "ui", "--help"], env=env, capture_output=True, text=True, timeout=120
    )
    assert shown.returncode == 0 and "--backend-store-uri" in shown.stdout


def test_readme_commands_name_the_venv() -> None:
    ui = [line for line in README.splitlines() if re.search(r"\bmlflow ui --", line)]
    assert ui
    for line in ui:
        assert ".venv/bin/mlflow ui" in line, line
    serve = re.search(r"^(.*\n)?.*mlflow models serve.*$", README, re.MULTILINE)
    assert serve is not None
    # the scoring server starts `uvicorn` through PATH: the venv's bin must be on it
    assert 'PATH="$PWD/.venv/bin:$PATH"' in serve.group(0)
    assert (BIN / "uvicorn").is_file()


def test_notebook_ui_command_names_the_mlflow_script_once() -> None:
    from types import SimpleNamespace

    from mediamix.databricks.notebook import mlflow_ui_command

    local = SimpleNamespace(
        ui_command=".venv/bin/mlflow ui --backend-store-uri sqlite:////tmp/m.db",
        target=SimpleNamespace(is_local=True),
    )
    command = mlflow_ui_command(local, port=5001)  # type: ignore[arg-type]
    assert command == ".venv/bin/mlflow ui --backend-store-uri sqlite:////tmp/m.db --port 5001"
    assert command.count("mlflow ui") == 1 and command.count(".venv/bin") == 1
    remote = SimpleNamespace(
        ui_command="open the experiment x", target=SimpleNamespace(is_local=False)
    )
    assert mlflow_ui_command(remote) == "open the experiment x"  # type: ignore[arg-type]
