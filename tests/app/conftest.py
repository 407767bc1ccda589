"""A small fit saved as a fit directory, shared by the report and planner tests."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from shared_fit import small_fit

from mediamix.app.server import PlannerState, create_app
from mediamix.app.sources import FitCatalog
from mediamix.inference.fit import FitResult


@pytest.fixture(scope="session")
def fit_result() -> FitResult:
    """The session's small real fit (tests/shared_fit.py)."""
    return small_fit()[1]


@pytest.fixture(scope="session")
def fit_dir(fit_result: FitResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory laid out like `mediamix fit --out DIR` writes it (untracked)."""
    out = tmp_path_factory.mktemp("fits") / "small"
    fit_result.save(out / "fit.nc")
    (out / "summary.json").write_text(json.dumps({"mlflow_run_id": None}) + "\n")
    return out


@dataclass
class LiveApp:
    """The planner served on a loopback port for the session."""

    url: str
    state: PlannerState

    def request(
        self, path: str, body: Any = None, *, raw: bytes | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        """GET ``path``, or POST ``body`` as JSON (``raw`` bytes as given); never raises on 4xx."""
        data = raw if raw is not None else None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method="POST" if data else "GET")
        req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def json(self, path: str, body: Any = None) -> tuple[int, Any]:
        status, _, content = self.request(path, body)
        return status, json.loads(content)


@pytest.fixture(scope="session")
def live_app(fit_dir: Path) -> Iterator[LiveApp]:
    """The app over ``fit_dir`` in a uvicorn server thread on a free loopback port."""
    state = PlannerState(FitCatalog([str(fit_dir)]), currency="$")
    state.open_default()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))  # the OS picks a free port; the server serves this socket
    server = uvicorn.Server(uvicorn.Config(create_app(state), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the planner did not start"
        time.sleep(0.05)
    yield LiveApp(f"http://127.0.0.1:{sock.getsockname()[1]}", state)
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()
