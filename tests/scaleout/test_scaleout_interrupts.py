"""Ctrl-C or SIGTERM during an in-process fit-many: the rest stops, resume redoes it."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from mlflow.tracking import MlflowClient


def _groups(n: int = 40) -> pd.DataFrame:
    frames = []
    for seed, name in enumerate(["a", "b", "c"]):
        rng = np.random.default_rng(seed)
        tv, search = rng.uniform(10, 100, n), rng.uniform(5, 50, n)
        frames.append(
            pd.DataFrame(
                {
                    "date": pd.date_range("2022-01-03", periods=n, freq="7D"),
                    "brand": name,
                    "tv": tv,
                    "search": search,
                    "sales": 1000 + 2 * tv + search + rng.normal(0, 5, n),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def _command(tmp_path: Path, *extra: str) -> list[str]:
    data = tmp_path / "groups.csv"
    if not data.exists():
        _groups().to_csv(data, index=False)
        config = {
            "outcome": {"name": "sales"},
            "channels": ["tv", "search"],
            "seasonality": {"yearly_order": 1},
            # long enough that the second group is surely still fitting when the signal comes
            "sampler": {"sampler": "advi", "advi_iterations": 20_000, "draws": 100},
        }
        (tmp_path / "model.yaml").write_text(yaml.safe_dump(config))
    cmd = [sys.executable, "-m", "mediamix", "fit-many", "--data", str(data)]
    cmd += ["--group-by", "brand", "--config", str(tmp_path / "model.yaml")]
    cmd += ["--out", str(tmp_path / "out"), "--lakehouse", str(tmp_path / "lake")]
    cmd += ["--tracking-uri", f"sqlite:///{tmp_path}/mlflow.db", "--experiment", "many"]
    return [*cmd, *extra]


@pytest.mark.slow
@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_stops_the_remaining_groups(tmp_path: Path, signum: int, status: int) -> None:
    env_cmd = _command(tmp_path)
    proc = subprocess.Popen(env_cmd, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    first = tmp_path / "out" / "a" / "status.json"
    deadline = time.monotonic() + 300
    b_started = tmp_path / "out" / "b"
    while not first.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert first.exists(), proc.communicate()[1]
    time.sleep(2)  # the second group is compiling and fitting now
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == status, err
    assert f"interrupted by {signal.Signals(signum).name}" in err
    assert "Traceback" not in err
    table = pd.read_csv(tmp_path / "out" / "status.csv")
    assert table["status"].tolist() == ["ok", "interrupted", "not_started"], table
    assert "--resume fits it again" in table["error"].iloc[1]
    assert not (tmp_path / "out" / "c").exists() and not (b_started / "fit.nc").exists()
    assert not list((tmp_path / "out").rglob("*.tmp"))

    client = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    runs = client.search_runs([client.get_experiment_by_name("many").experiment_id])
    by_group = {r.data.tags.get("mediamix.group", "parent"): r.info.status for r in runs}
    assert by_group == {"parent": "KILLED", "a": "FINISHED", "b": "KILLED"}

    # resume fits the interrupted and the unstarted groups, and skips the finished one
    again = subprocess.run(_command(tmp_path, "--resume"), cwd=tmp_path, capture_output=True,
                           text=True, timeout=600)  # fmt: skip
    assert again.returncode == 0, again.stderr
    table = pd.read_csv(tmp_path / "out" / "status.csv")
    assert table["status"].tolist() == ["skipped", "ok", "ok"]


def test_a_wrapped_interrupt_is_not_a_failed_group() -> None:
    from mediamix.inference.interrupts import FitInterrupted
    from mediamix.scaleout.group import _reraise_interrupt

    try:
        raise FitInterrupted(signal.SIGTERM)
    except FitInterrupted as inner:
        wrapped = SystemError("returned a result with an exception set")
        wrapped.__cause__ = inner
    with pytest.raises(FitInterrupted):
        _reraise_interrupt(wrapped)
    _reraise_interrupt(ValueError("a real failure"))  # nothing to re-raise
