"""Shared fixtures: a seeded random generator and the paths of the repository's files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def rng() -> np.random.Generator:
    """A fresh, seeded generator per test, so tests never depend on each other's draws."""
    return np.random.default_rng(20240611)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository's root directory."""
    return REPO_ROOT


@pytest.fixture(scope="session")
def basic_config_path(repo_root: Path) -> Path:
    """The generator config shipped with the repository (the one `make run` uses)."""
    path = repo_root / "config" / "generator" / "basic_config.yaml"
    assert path.is_file(), path
    return path


@pytest.fixture(scope="session", autouse=True)
def _mlflow_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """MLflow runs that tests make without naming a store go to a temporary one, never ./"""
    uri = f"sqlite:///{tmp_path_factory.mktemp('mlflow')}/mlflow.db"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        yield uri
