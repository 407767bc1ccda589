"""RUNME.py and the job: the spec against databricks-sdk's types, the bundle, the Jobs API calls.

The Jobs API is played by a small HTTP server on 127.0.0.1 that implements the endpoints the
SDK calls (host metadata, jobs list/create/reset/run-now, runs/get, current user); RUNME runs
in a subprocess against it with a personal access token, as from a laptop.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import yaml
from databricks.sdk.service.jobs import JobSettings

from mediamix.databricks.job import local_tasks, main, run_local
from mediamix.databricks.job_spec import (
    DEFAULT_SPARK_VERSION,
    JOB_NAME,
    TASKS,
    JobError,
    JobOptions,
    build_job_settings,
    workspace_folder,
)
from mediamix.databricks.notebook import NOTEBOOKS, job_parameters, param_defaults, widget_names

REPO = Path(__file__).resolve().parents[2]
WS_PATH = "/Workspace/Users/tester@example.com/mediamix"
TOKEN = "dapi-test-0123456789abcdef-secret"


def spec(**kwargs: Any) -> dict[str, Any]:
    options = JobOptions(workspace_path=kwargs.pop("workspace_path", WS_PATH), **kwargs)
    return build_job_settings(options).as_dict()


# --------------------------------------------------------------------------- the spec


def test_spec_round_trips_through_the_sdk_types() -> None:
    for compute in ("serverless", "cluster"):
        s = spec(compute=compute, node_type_id="m5d.xlarge" if compute == "cluster" else None)
        assert JobSettings.from_dict(s).as_dict() == s
        assert json.loads(json.dumps(s)) == s


def test_tasks_run_01_then_02_with_the_notebooks_widgets_as_parameters() -> None:
    s = spec()
    assert s["name"] == JOB_NAME
    tasks = {t["task_key"]: t for t in s["tasks"]}
    assert list(tasks) == ["data_gen", "mmm_pymc"]
    assert "depends_on" not in tasks["data_gen"]
    assert tasks["mmm_pymc"]["depends_on"] == [{"task_key": "data_gen"}]
    assert tasks["data_gen"]["notebook_task"]["notebook_path"] == f"{WS_PATH}/01_MMM Data Gen"
    assert tasks["mmm_pymc"]["notebook_task"]["notebook_path"] == f"{WS_PATH}/02_MMM PyMC Example"
    for _, notebook, _ in TASKS:
        assert (REPO / f"{notebook}.py").is_file()
        assert notebook in NOTEBOOKS
    widgets = {w for cls in NOTEBOOKS.values() for w in widget_names(cls)}
    params = {p["name"]: p.get("default", "") for p in s["parameters"]}
    assert set(params) == widgets
    for cls in NOTEBOOKS.values():
        for name, default in param_defaults(cls).items():
            assert params[name] == default, name


def test_notebook_files_read_the_widgets_they_declare() -> None:
    for notebook, cls in NOTEBOOKS.items():
        text = (REPO / f"{notebook}.py").read_text()
        assert text.startswith("# Databricks notebook source\n")
        assert f"nb.params({cls.__name__})" in text
        used = set(re.findall(r"params\.(\w+)", text))
        fields = set(widget_names(cls)) | {n for n in dir(cls) if not n.startswith("_")}
        assert used <= fields, used - fields


def test_serverless_environment_installs_the_requirements() -> None:
    s = spec()
    assert "job_clusters" not in s
    (env,) = s["environments"]
    assert env["spec"]["dependencies"] == [f"-r {WS_PATH}/requirements.txt"]
    assert all(t["environment_key"] == env["environment_key"] for t in s["tasks"])


def test_cluster_option_uses_an_ml_runtime_job_cluster() -> None:
    s = spec(compute="cluster", node_type_id="Standard_D4ds_v5")
    assert "environments" not in s
    (cluster,) = s["job_clusters"]
    assert "-ml-" in cluster["new_cluster"]["spark_version"] == DEFAULT_SPARK_VERSION
    assert cluster["new_cluster"]["node_type_id"] == "Standard_D4ds_v5"
    assert all(t["job_cluster_key"] == cluster["job_cluster_key"] for t in s["tasks"])


def test_parameters_overrides_and_unknown_names() -> None:
    s = spec(parameters={"draws": "200", "catalog": "dev"})
    params = {p["name"]: p["default"] for p in s["parameters"]}
    assert params["draws"] == "200" and params["catalog"] == "dev"
    assert params["schema"] == "mediamix"
    with pytest.raises(JobError, match="unknown job parameters \\['drawz'\\]"):
        spec(parameters={"drawz": "1"})


def test_parameters_follow_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDIAMIX_CHAINS", "2")
    assert job_parameters()["chains"] == "2"


def _run_runme(
    *args: str, env: dict[str, str] | None = None, cwd: Path = REPO, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO / "RUNME.py"), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=timeout,
        check=False,
    )


def test_dry_run_prints_the_spec_as_json() -> None:
    done = _run_runme("--dry-run", "--workspace-path", WS_PATH, "--param", "draws=500")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == spec(parameters=job_parameters() | {"draws": "500"})


def test_bad_param_is_an_error_with_status_2() -> None:
    done = _run_runme("--dry-run", "--param", "nope")
    assert done.returncode == 2
    assert "expected NAME=VALUE" in done.stderr


# --------------------------------------------------------------------------- the bundle


def _resolve(value: Any, variables: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: _resolve(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, variables) for v in value]
    if isinstance(value, str):
        return re.sub(r"\$\{([\w.]+)\}", lambda m: variables[m.group(1)], value)
    return value


def _bundle_job(target: str, file_path: str) -> tuple[dict[str, Any], dict[str, str]]:
    bundle = yaml.safe_load((REPO / "databricks.yml").read_text())
    assert set(bundle["targets"]) == {"dev", "prod"}
    assert bundle["targets"]["dev"]["mode"] == "development"
    assert bundle["targets"]["prod"]["mode"] == "production"
    values = {k: str(v["default"]) for k, v in bundle["variables"].items()}
    values |= bundle["targets"][target].get("variables", {})
    variables = {f"var.{k}": v for k, v in values.items()} | {"workspace.file_path": file_path}
    (job,) = bundle["resources"]["jobs"].values()
    job = _resolve(job, variables)
    for task in job["tasks"]:  # the bundle names notebooks relative to itself, with .py
        path = task["notebook_task"]["notebook_path"]
        assert path.startswith("./") and path.endswith(".py"), path
        task["notebook_task"]["notebook_path"] = f"{file_path}/{path[2:-3]}"
    return job, values


@pytest.mark.parametrize("target", ["dev", "prod"])
def test_bundle_defines_the_same_job_as_runme(target: str) -> None:
    file_path = "/Workspace/Users/tester@example.com/.bundle/mediamix/files"
    job, values = _bundle_job(target, file_path)
    assert JobSettings.from_dict(job).as_dict() == job, "the bundle's job is not valid JobSettings"
    expected = spec(
        workspace_path=file_path,
        parameters=job_parameters({}) | {"catalog": values["catalog"], "schema": values["schema"]},
        environment_version=values["environment_version"],
    )
    assert job == expected


# --------------------------------------------------------------------------- local run


def test_local_run_runs_the_tasks_in_order_with_the_parameters(tmp_path: Path) -> None:
    log = tmp_path / "log.txt"
    for _, notebook, _ in TASKS:
        (tmp_path / f"{notebook}.py").write_text(
            "import os, pathlib\n"
            f"p = pathlib.Path({str(log)!r})\n"
            f"p.write_text(p.read_text() if p.exists() else '')\n"
            f"with p.open('a') as fh: fh.write({notebook!r} + ' ' + os.environ['MEDIAMIX_DRAWS'] "
            "+ ' ' + os.environ['MEDIAMIX_CATALOG'] + '\\n')\n"
        )
    settings = build_job_settings(JobOptions(workspace_path=WS_PATH))
    assert [k for k, _ in local_tasks(settings, tmp_path)] == ["data_gen", "mmm_pymc"]
    params = job_parameters({}) | {"draws": "7", "catalog": "c"}
    assert run_local(settings, params, repo_root=tmp_path, out=io.StringIO()) == 0
    assert log.read_text().splitlines() == ["01_MMM Data Gen 7 c", "02_MMM PyMC Example 7 c"]


def test_local_run_stops_at_the_first_failure(tmp_path: Path) -> None:
    (tmp_path / "01_MMM Data Gen.py").write_text("raise SystemExit(3)\n")
    (tmp_path / "02_MMM PyMC Example.py").write_text(f"open({str(tmp_path / 'ran')!r}, 'w')\n")
    settings = build_job_settings(JobOptions(workspace_path=WS_PATH))
    out = io.StringIO()
    assert run_local(settings, {}, repo_root=tmp_path, out=out) == 3
    assert "task data_gen FAILED (exit 3); later tasks skipped" in out.getvalue()
    assert not (tmp_path / "ran").exists()


# --------------------------------------------------------------------------- Jobs API


@dataclass
class FakeWorkspace:
    """State of the fake workspace: jobs by id, runs, and every request seen."""

    jobs: dict[int, dict[str, Any]] = field(default_factory=dict)
    runs: dict[int, int] = field(default_factory=dict)
    requests: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    unauthorized: list[str] = field(default_factory=list)
    fail_create: bool = False
    host: str = ""


def _handler(ws: FakeWorkspace) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

        def _reply(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _handle(self) -> None:
            url = urlparse(self.path)
            size = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(size) or b"{}") if size else {}
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            ws.requests.append((self.command, url.path, body or query))
            if url.path == "/.well-known/databricks-config":
                self._reply(200, {"oidc_endpoint": f"{ws.host}/oidc", "workspace_id": "42"})
                return
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                ws.unauthorized.append(url.path)
                self._reply(401, {"error_code": "UNAUTHENTICATED", "message": "bad token"})
                return
            route = (self.command, url.path)
            if route == ("GET", "/api/2.0/preview/scim/v2/Me"):
                self._reply(200, {"id": "1", "userName": "tester@example.com"})
            elif route == ("GET", "/api/2.2/jobs/list"):
                found = [
                    {"job_id": i, "settings": {"name": s["name"]}}
                    for i, s in ws.jobs.items()
                    if s["name"] == query.get("name", s["name"])
                ]
                self._reply(200, {"jobs": found, "has_more": False} if found else {})
            elif route == ("POST", "/api/2.2/jobs/create"):
                if ws.fail_create:
                    self._reply(403, {"error_code": "PERMISSION_DENIED", "message": "no jobs"})
                    return
                job_id = 1000 + len(ws.jobs)
                ws.jobs[job_id] = body
                self._reply(200, {"job_id": job_id})
            elif route == ("POST", "/api/2.2/jobs/reset"):
                ws.jobs[int(body["job_id"])] = body["new_settings"]
                self._reply(200, {})
            elif route == ("POST", "/api/2.2/jobs/run-now"):
                run_id = 5000 + len(ws.runs)
                ws.runs[run_id] = int(body["job_id"])
                self._reply(200, {"run_id": run_id, "number_in_job": run_id})
            elif route == ("GET", "/api/2.2/jobs/runs/get"):
                run_id = int(query["run_id"])
                url_ = f"{ws.host}/?o=42#job/{ws.runs[run_id]}/run/{run_id}"
                self._reply(200, {"run_id": run_id, "run_page_url": url_})
            else:
                self._reply(404, {"error_code": "ENDPOINT_NOT_FOUND", "message": url.path})

        def do_GET(self) -> None:
            self._handle()

        def do_POST(self) -> None:
            self._handle()

    return Handler


@pytest.fixture
def workspace() -> Iterator[FakeWorkspace]:
    ws = FakeWorkspace()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(ws))
    ws.host = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield ws
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment less any Databricks settings, with a home that has no ~/.databrickscfg."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABRICKS_", "MEDIAMIX_"))}
    env |= {"HOME": str(tmp_path), "DATABRICKS_CONFIG_FILE": str(tmp_path / ".databrickscfg")}
    env |= {"DATABRICKS_RETRY_TIMEOUT_SECONDS": "10", "DATABRICKS_HTTP_TIMEOUT_SECONDS": "10"}
    return env | extra


def _assert_no_token(done: subprocess.CompletedProcess[str]) -> None:
    assert TOKEN not in done.stdout and TOKEN not in done.stderr
    assert TOKEN[5:] not in done.stdout + done.stderr


def test_runme_creates_then_updates_then_runs(workspace: FakeWorkspace, tmp_path: Path) -> None:
    env = _clean_env(tmp_path, DATABRICKS_HOST=workspace.host, DATABRICKS_TOKEN=TOKEN)
    first = _run_runme("--workspace-path", WS_PATH, env=env, cwd=tmp_path)
    _assert_no_token(first)
    assert first.returncode == 0, first.stderr
    assert f"created job {JOB_NAME!r} (id 1000)" in first.stdout
    assert f"{workspace.host}/jobs/1000" in first.stdout
    assert workspace.jobs == {1000: spec()}
    assert not workspace.runs

    second = _run_runme(
        "--workspace-path", WS_PATH, "--param", "draws=500", "--run", env=env, cwd=tmp_path
    )
    _assert_no_token(second)
    assert second.returncode == 0, second.stderr
    assert f"updated job {JOB_NAME!r} (id 1000)" in second.stdout
    assert list(workspace.jobs) == [1000], "an update must not create a second job"
    assert workspace.jobs[1000] == spec(parameters=job_parameters({}) | {"draws": "500"})
    assert workspace.runs == {5000: 1000}
    assert f"started run 5000: {workspace.host}/?o=42#job/1000/run/5000" in second.stdout
    calls = [(m, p) for m, p, _ in workspace.requests if p.startswith("/api/")]
    assert calls.count(("POST", "/api/2.2/jobs/create")) == 1
    assert calls.count(("POST", "/api/2.2/jobs/reset")) == 1
    assert ("GET", "/api/2.2/jobs/list") in calls
    assert not workspace.unauthorized


def test_runme_with_a_profile_and_the_default_workspace_path(
    workspace: FakeWorkspace, tmp_path: Path
) -> None:
    (tmp_path / ".databrickscfg").write_text(
        f"[DEFAULT]\nhost = http://127.0.0.1:9\ntoken = wrong\n\n"
        f"[mmm]\nhost = {workspace.host}\ntoken = {TOKEN}\n"
    )
    done = _run_runme(
        "--profile",
        "mmm",
        "--compute",
        "cluster",
        "--node-type",
        "n1",
        env=_clean_env(tmp_path),
        cwd=tmp_path,
    )
    _assert_no_token(done)
    assert done.returncode == 0, done.stderr
    path = "/Workspace/Users/tester@example.com/mediamix"
    assert f"notebooks expected in {path}" in done.stdout
    (job,) = workspace.jobs.values()
    assert job == spec(workspace_path=path, compute="cluster", node_type_id="n1")


def test_runme_reports_a_refusal_without_the_token(
    workspace: FakeWorkspace, tmp_path: Path
) -> None:
    workspace.fail_create = True
    env = _clean_env(tmp_path, DATABRICKS_HOST=workspace.host, DATABRICKS_TOKEN=TOKEN)
    done = _run_runme("--workspace-path", WS_PATH, env=env, cwd=tmp_path)
    _assert_no_token(done)
    assert done.returncode == 1
    assert "the workspace refused" in done.stderr and "no jobs" in done.stderr
    assert not workspace.jobs


class _Widgets:
    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.defined: list[str] = []

    def text(self, name: str, default: str, label: str) -> None:
        self.defined.append(name)
        self.values.setdefault(name, default)

    def dropdown(self, name: str, default: str, choices: list[str], label: str) -> None:
        assert default in choices
        self.text(name, default, label)

    def get(self, name: str) -> str:
        return self.values[name]


class _Box:
    """``x.get()`` / chained no-argument calls, as the notebook context's Java objects answer."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def get(self) -> Any:
        return self.value


class FakeDbutils:
    def __init__(self, values: dict[str, str], notebook_path: str) -> None:
        self.widgets = _Widgets(values)
        context = type("Ctx", (), {"notebookPath": lambda _self: _Box(notebook_path)})()
        nb = type("Nb", (), {"getContext": lambda _self: context})()
        dbu = type("Dbu", (), {"notebook": lambda _self: nb})()
        entry = type("Entry", (), {"getDbutils": lambda _self: dbu})()
        self.notebook = type("Notebook", (), {"entry_point": entry})()


def test_runme_as_a_workspace_notebook(
    workspace: FakeWorkspace,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for key in [k for k in os.environ if k.startswith("DATABRICKS_")]:
        monkeypatch.delenv(key)
    for key, value in _clean_env(tmp_path, DATABRICKS_HOST=workspace.host).items():
        if key.startswith("DATABRICKS_") or key == "HOME":
            monkeypatch.setenv(key, value)
    monkeypatch.setenv("DATABRICKS_TOKEN", TOKEN)  # what the notebook context provides
    dbutils = FakeDbutils({"catalog": "team", "start_run": "yes"}, "/Users/t@x.com/mediamix/RUNME")
    assert main(namespace={"dbutils": dbutils}) == 0
    printed = capsys.readouterr()
    assert TOKEN not in printed.out + printed.err
    assert set(dbutils.widgets.defined) == {"job_name", "compute", "catalog", "schema", "start_run"}
    (job,) = workspace.jobs.values()
    expected = spec(
        workspace_path="/Workspace/Users/t@x.com/mediamix",
        parameters=job_parameters({}) | {"catalog": "team"},
    )
    assert job == expected
    assert job["environments"][0]["spec"]["dependencies"] == [
        "-r /Workspace/Users/t@x.com/mediamix/requirements.txt"
    ]
    assert "started run 5000" in printed.out


def test_workspace_folder() -> None:
    assert workspace_folder("/Users/a@b.com/x/") == "/Workspace/Users/a@b.com/x"
    assert workspace_folder("/Workspace/Users/a/x") == "/Workspace/Users/a/x"
    assert workspace_folder("/Repos/a/x") == "/Workspace/Repos/a/x"
    assert spec(workspace_path="/Users/a/x")["tasks"][0]["notebook_task"]["notebook_path"] == (
        "/Workspace/Users/a/x/01_MMM Data Gen"
    )
