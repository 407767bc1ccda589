"""Packaging and set-up: dependency lists, the CI entry point and the interpreter finder."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement

SPARK_PACKAGES = {"pyspark", "delta-spark", "databricks-connect"}


@pytest.fixture(scope="module")
def pyproject(repo_root: Path) -> dict[str, Any]:
    with (repo_root / "pyproject.toml").open("rb") as fh:
        return tomllib.load(fh)


def _normalized(lines: list[str]) -> list[str]:
    return [str(Requirement(line)) for line in lines]


def _requirements_txt(repo_root: Path) -> list[str]:
    lines = (repo_root / "requirements.txt").read_text().splitlines()
    return [ln.split("#", 1)[0].strip() for ln in lines if ln.split("#", 1)[0].strip()]


# --------------------------------------------------------------------------------------
# Dependencies
# --------------------------------------------------------------------------------------


def test_requirements_txt_matches_pyproject(repo_root: Path, pyproject: dict[str, Any]) -> None:
    declared = _normalized(pyproject["project"]["dependencies"])
    listed = _normalized(_requirements_txt(repo_root))
    assert len(listed) == len(set(listed)), "requirements.txt repeats a line"
    assert sorted(listed) == sorted(declared), (
        f"only in requirements.txt: {sorted(set(listed) - set(declared))}; "
        f"only in pyproject.toml: {sorted(set(declared) - set(listed))}"
    )


def test_no_spark_among_hard_dependencies(repo_root: Path, pyproject: dict[str, Any]) -> None:
    hard = pyproject["project"]["dependencies"] + _requirements_txt(repo_root)
    names = {Requirement(r).name.lower() for r in hard}
    assert not names & SPARK_PACKAGES, "Databricks brings its own Spark: keep it optional"
    optional = {
        Requirement(r).name.lower()
        for reqs in pyproject["project"]["optional-dependencies"].values()
        for r in reqs
    }
    assert "pyspark" in optional


def test_project_metadata(pyproject: dict[str, Any]) -> None:
    project = pyproject["project"]
    assert project["requires-python"] == ">=3.12"
    assert project["scripts"]["mediamix"] == "mediamix.cli:main"
    dev = {Requirement(r).name for r in project["optional-dependencies"]["dev"]}
    assert {"pytest", "hypothesis", "ruff", "mypy"} <= dev


def test_pytest_treats_warnings_as_errors(pyproject: dict[str, Any]) -> None:
    assert pyproject["tool"]["pytest"]["ini_options"]["filterwarnings"][0] == "error"


# --------------------------------------------------------------------------------------
# CI entry point and Makefile
# --------------------------------------------------------------------------------------


def test_ci_runs_make_test(repo_root: Path) -> None:
    ci = repo_root / ".ci" / "run"
    assert ci.stat().st_mode & stat.S_IXUSR, ".ci/run must be executable"
    commands = [
        ln.strip()
        for ln in ci.read_text().splitlines()
        if ln.strip() and not ln.lstrip().startswith("#")
    ]
    assert "make test" in commands
    assert any(c.startswith("set -e") for c in commands)  # a failing step fails CI


def _make_dry_run(repo_root: Path, *args: str) -> str:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    result = subprocess.run(
        ["make", "-n", *args], cwd=repo_root, capture_output=True, text=True, check=True
    )
    return result.stdout


def test_make_test_runs_lint_typecheck_and_pytest(repo_root: Path) -> None:
    out = _make_dry_run(repo_root, "-W", "requirements.txt", "test")
    for step in ("ruff check", "ruff format --check", "mypy", "-m pytest"):
        assert step in out, step


@pytest.mark.parametrize("changed", ["pyproject.toml", "requirements.txt"])
def test_environment_is_reinstalled_when_dependencies_change(repo_root: Path, changed: str) -> None:
    out = _make_dry_run(repo_root, "-W", changed, "env")
    assert "pip install" in out
    assert ".installed" in out  # and the stamp is renewed


def test_make_run_sets_up_then_runs_the_local_job(repo_root: Path) -> None:
    out = _make_dry_run(repo_root, "-W", "requirements.txt", "run")
    lines = out.splitlines()
    install = next(i for i, ln in enumerate(lines) if "pip install" in ln)
    run = next(i for i, ln in enumerate(lines) if "RUNME.py --local" in ln)
    assert install < run


# --------------------------------------------------------------------------------------
# scripts/find-python
# --------------------------------------------------------------------------------------

FAKE_311 = """#!/bin/sh
# Stands in for a Python 3.11 interpreter: runs the real one with version_info patched.
if [ "$1" = "--version" ]; then echo "Python 3.11.9"; exit 0; fi
if [ "$1" = "-c" ]; then
    shift
    patch='import sys; sys.version_info = (3, 11, 9, "final", 0)'
    exec {real} -c "$patch; exec(sys.argv.pop(1))" "$@"
fi
exit 2
"""


def _tool_dir(tmp_path: Path) -> Path:
    """A bin directory with the shell tools find-python uses and no Python, pyenv or uv."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("sh", "cat", "ls", "grep", "sort"):
        found = shutil.which(tool)
        assert found, tool
        (bin_dir / tool).symlink_to(found)
    return bin_dir


def _executable(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return path


def _fake_311(path: Path) -> Path:
    return _executable(path, FAKE_311.format(real=sys.executable))


def _find_python(
    repo_root: Path, path_dirs: list[Path], **env: str
) -> subprocess.CompletedProcess[str]:
    environ = {
        "PATH": os.pathsep.join(str(d) for d in path_dirs),
        "HOME": env.pop("HOME", str(path_dirs[0].parent)),
        **env,
    }
    return subprocess.run(
        [str(repo_root / "scripts" / "find-python")],
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _version_of(interpreter: str) -> tuple[int, int]:
    out = subprocess.run(
        [interpreter, "-c", "import sys; print(*sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return int(out[0]), int(out[1])


def test_fake_311_really_reports_311(tmp_path: Path) -> None:
    fake = _fake_311(tmp_path / "python3")
    assert _version_of(str(fake)) == (3, 11)


def test_fails_with_install_advice_when_only_311_is_on_path(
    repo_root: Path, tmp_path: Path
) -> None:
    bin_dir = _tool_dir(tmp_path)
    _fake_311(bin_dir / "python3")
    result = _find_python(repo_root, [bin_dir])
    assert result.returncode == 1
    assert result.stdout == ""
    err = result.stderr
    assert "mediamix needs Python >= 3.12 and none was found" in err
    for advice in ("apt install python3.12", "pyenv install 3.12", "uv python install 3.12"):
        assert advice in err
    assert "PYTHON=/path/to/python3.12" in err


def test_explicit_python_that_is_too_old_fails_clearly(repo_root: Path, tmp_path: Path) -> None:
    bin_dir = _tool_dir(tmp_path)
    fake = _fake_311(tmp_path / "old" / "python3.11")
    (bin_dir / "python3.12").symlink_to(sys.executable)  # would be found without PYTHON=
    result = _find_python(repo_root, [bin_dir], PYTHON=str(fake))
    assert result.returncode == 1
    assert result.stdout == ""
    assert f"PYTHON={fake} is not a Python >= 3.12 interpreter" in result.stderr


def test_explicit_python_that_does_not_exist_fails(repo_root: Path, tmp_path: Path) -> None:
    result = _find_python(repo_root, [_tool_dir(tmp_path)], PYTHON=str(tmp_path / "nope"))
    assert result.returncode == 1
    assert "is not a Python >= 3.12 interpreter" in result.stderr


def test_explicit_python_is_used(repo_root: Path, tmp_path: Path) -> None:
    result = _find_python(repo_root, [_tool_dir(tmp_path)], PYTHON=sys.executable)
    assert result.returncode == 0, result.stderr
    assert _version_of(result.stdout.strip()) >= (3, 12)


def test_python312_on_path_wins_over_old_python3(repo_root: Path, tmp_path: Path) -> None:
    bin_dir = _tool_dir(tmp_path)
    _fake_311(bin_dir / "python3")
    (bin_dir / "python3.12").symlink_to(sys.executable)
    result = _find_python(repo_root, [bin_dir])
    assert result.returncode == 0, result.stderr
    printed = result.stdout.strip()
    assert Path(printed).is_absolute()
    assert _version_of(printed) >= (3, 12)


def test_pyenv_version_is_found(repo_root: Path, tmp_path: Path) -> None:
    bin_dir = _tool_dir(tmp_path)
    _fake_311(bin_dir / "python3")
    root = tmp_path / "pyenv"
    good = _pyenv_tree(root)
    _executable(bin_dir / "pyenv", f'#!/bin/sh\n[ "$1" = root ] && echo "{root}"\n')
    result = _find_python(repo_root, [bin_dir])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(good)


def _pyenv_tree(root: Path) -> Path:
    """A pyenv root with a 3.11 and a 3.12 install; returns the 3.12 interpreter's path."""
    _fake_311(root / "versions" / "3.11.2" / "bin" / "python")
    good = root / "versions" / "3.12.4" / "bin" / "python"
    good.parent.mkdir(parents=True)
    good.symlink_to(sys.executable)
    return good


def test_pyenv_versions_found_without_pyenv_on_path(repo_root: Path, tmp_path: Path) -> None:
    bin_dir = _tool_dir(tmp_path)
    _fake_311(bin_dir / "python3")
    home = tmp_path / "home"
    good = _pyenv_tree(home / ".pyenv")
    result = _find_python(repo_root, [bin_dir], HOME=str(home))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(good)


def test_pyenv_root_variable_is_honoured(repo_root: Path, tmp_path: Path) -> None:
    bin_dir = _tool_dir(tmp_path)
    good = _pyenv_tree(tmp_path / "elsewhere")
    result = _find_python(repo_root, [bin_dir], PYENV_ROOT=str(tmp_path / "elsewhere"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(good)


def test_uv_python_is_found(repo_root: Path, tmp_path: Path) -> None:
    bin_dir = _tool_dir(tmp_path)
    _fake_311(bin_dir / "python3")
    _executable(
        bin_dir / "uv",
        f'#!/bin/sh\n[ "$1 $2" = "python find" ] && echo "{sys.executable}" && exit 0\nexit 2\n',
    )
    result = _find_python(repo_root, [bin_dir])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == sys.executable


def test_on_this_machine(repo_root: Path) -> None:
    result = subprocess.run(
        [str(repo_root / "scripts" / "find-python")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode == 0:
        assert _version_of(result.stdout.strip()) >= (3, 12)
    else:
        assert "mediamix needs Python >= 3.12" in result.stderr
