"""Two processes that start on the same new local MLflow store at once both succeed."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from mlflow.tracking import MlflowClient

# Both processes import everything first, then open the store at the same instant.
_SCRIPT = """
import sys, time
import mlflow
from mediamix.config.model import ModelConfig
from mediamix.mlops.tracking import tracked_run
config = ModelConfig.model_validate({"outcome": {"name": "y"}, "channels": ["tv"]})
at = float(sys.argv[2])
while time.time() < at:
    time.sleep(0.001)
with tracked_run(config, tracking_uri=sys.argv[1], experiment="race") as run:
    mlflow.log_metric("ok", 1.0)
"""


def test_concurrent_first_use_of_a_sqlite_store(tmp_path: Path) -> None:
    for attempt in range(3):  # the race is in the first milliseconds: try it a few times
        store = f"sqlite:///{tmp_path}/{attempt}/mlflow.db"
        start = time.time() + 8  # after both have imported MLflow
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", _SCRIPT, store, str(start)],
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        errors = [p.communicate(timeout=120)[1] for p in procs]
        assert [p.returncode for p in procs] == [0, 0], "\n".join(e[-2000:] for e in errors)
        client = MlflowClient(store)
        runs = client.search_runs([client.get_experiment_by_name("race").experiment_id])
        assert sorted(r.info.status for r in runs) == ["FINISHED", "FINISHED"]
