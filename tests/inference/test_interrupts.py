"""Interrupts during a fit: exit 130/143, no fit file, the MLflow run KILLED, nothing registered."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from mlflow.tracking import MlflowClient

from mediamix.cli import main
from mediamix.config.model import load_model_config
from mediamix.data.generator import Generator
from mediamix.inference import fit as fit_module
from mediamix.inference.interrupts import FitInterrupted, interrupt_guard

REPO = Path(__file__).resolve().parents[2]
GEN_CONFIG = REPO / "config/generator/basic_config.yaml"
MODEL_CONFIG = REPO / "config/model/basic_config.yaml"


def _swallowing_sampler(signum: int) -> Any:
    """A sampler that, like nutpie, catches the interrupt and returns what it has."""

    def sample(*args: Any, **kwargs: Any) -> Any:
        try:
            os.kill(os.getpid(), signum)
            time.sleep(5)  # the handler raises before this ends
        except KeyboardInterrupt:
            return object()  # partial draws: must never be used
        raise AssertionError("the signal handler did not run")

    return sample


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_guard_turns_a_swallowed_signal_into_an_error(signum: int) -> None:
    with pytest.raises(FitInterrupted) as caught, interrupt_guard():
        _swallowing_sampler(signum)()
    assert caught.value.exit_status == 128 + signum
    # the previous handlers are back once the guard is gone
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


def test_fit_raises_instead_of_returning_partial_draws(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fit_module, "sample_posterior", _swallowing_sampler(signal.SIGINT))
    frame = Generator.from_config_file(GEN_CONFIG).generate().data
    with pytest.raises(FitInterrupted, match="SIGINT"):
        fit_module.fit(frame, load_model_config(MODEL_CONFIG))


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_cli_fit_interrupted_saves_and_registers_nothing(
    signum: int,
    status: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(fit_module, "sample_posterior", _swallowing_sampler(signum))
    data = tmp_path / "data.csv"
    Generator.from_config_file(GEN_CONFIG).generate().data.to_csv(data, index=False)
    store = f"sqlite:///{tmp_path}/mlflow.db"
    out = tmp_path / "out"
    args = ["fit", "--data", data, "--config", MODEL_CONFIG, "--out", out]
    args += ["--tracking-uri", store, "--register-as", "interrupted", "--register-anyway"]
    assert main([str(a) for a in args]) == status
    err = capsys.readouterr().err
    assert f"interrupted by {signal.Signals(signum).name}" in err
    assert "Traceback" not in err
    assert not (out / "fit.nc").exists() and not (out / "summary.json").exists()
    client = MlflowClient(store, registry_uri=store)
    (run,) = client.search_runs([client.get_experiment_by_name("mediamix").experiment_id])
    assert run.info.status == "KILLED"
    assert not client.search_registered_models()


def _has_run(db: Path) -> bool:
    if not db.exists():
        return False
    try:
        with contextlib.closing(sqlite3.connect(db)) as con:
            return bool(con.execute("select count(*) from runs").fetchone()[0])
    except sqlite3.Error:  # tables not created yet
        return False


@pytest.mark.slow
def test_real_sampler_interrupted_by_sigint(tmp_path: Path) -> None:
    """The real nutpie sampler, a real Ctrl-C: the process reports 130 and leaves no fit."""
    data = tmp_path / "data.csv"
    Generator.from_config_file(GEN_CONFIG).generate().data.to_csv(data, index=False)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "mediamix", "fit", "--data", str(data)]
    cmd += ["--config", str(MODEL_CONFIG), "--out", str(out), "--draws", "200000"]
    cmd += ["--tracking-uri", f"sqlite:///{tmp_path}/mlflow.db", "--register-as", "m"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not _has_run(tmp_path / "mlflow.db") and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(5)  # compiling and sampling now
    proc.send_signal(signal.SIGINT)
    _, rest = proc.communicate(timeout=120)
    assert proc.returncode == 130, rest
    assert "interrupted by SIGINT" in rest
    assert not out.exists()
    client = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    (run,) = client.search_runs([client.get_experiment_by_name("mediamix").experiment_id])
    assert run.info.status == "KILLED"


def test_an_interrupt_wrapped_by_compiled_code_still_interrupts() -> None:
    # numba reports an exception raised by a signal handler inside it as a SystemError
    with pytest.raises(FitInterrupted) as err, interrupt_guard() as guard:
        try:
            guard._handle(signal.SIGTERM, None)
        except FitInterrupted as inner:
            raise SystemError("returned a result with an exception set") from inner
    assert err.value.signum == signal.SIGTERM
    # without a signal, the error is the error
    with pytest.raises(SystemError), interrupt_guard():
        raise SystemError("a real failure")
