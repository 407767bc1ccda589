"""A loopback Databricks workspace for RUNME's tests: the endpoints it calls, and the rules.

The Jobs API checks a job's settings on the server; this fake refuses what a workspace refuses
(``INVALID_PARAMETER_VALUE``), so a spec that a real workspace would reject fails here too:

- a field the Jobs API does not know (checked against databricks-sdk's dataclasses);
- a serverless task that is not a notebook task without an ``environment_key``, an
  ``environment_key`` that names no environment or is set on a task with a cluster, and
  (``notebook_task_environments=False``, the rule until late 2025) any task environment on a
  notebook task;
- an environment spec without exactly one of ``environment_version`` / ``base_environment``;
- ``is_single_node`` or ``use_ml_runtime`` without ``kind: CLASSIC_PREVIEW``, a single node with
  workers, a cluster with no size, an unknown ``job_cluster_key``;
- repeated task keys and dependencies on unknown tasks.

``format`` is accepted and ignored, as the API documents: the stored settings leave it out.
Unity Catalog schemas and Volumes are kept too (get/create), for RUNME's Volume step.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from databricks.sdk.service.jobs import JobSettings

TOKEN = "dapi-test-0123456789abcdef-secret"
#: Accepted by create/reset and dropped, as the Jobs API documents.
IGNORED_FIELDS = ("format",)
OLD_NOTEBOOK_RULE = (
    "A task environment can not be provided for notebook task {key}. Please use the %pip magic "
    "command to install notebook-scoped Python libraries and Python wheel packages"
)


def _dataclass_of(hint: Any) -> type | None:
    """The dataclass inside ``Optional[X]`` / ``List[X]`` / ``X``, or ``None``."""
    if dataclasses.is_dataclass(hint):
        return hint if isinstance(hint, type) else None
    origin = typing.get_origin(hint)
    if origin in (list, typing.Union, types.UnionType):
        for arg in typing.get_args(hint):
            found = _dataclass_of(arg)
            if found is not None:
                return found
    return None


def unknown_fields(value: Any, cls: type, where: str) -> list[str]:
    """Keys of ``value`` (a request body) that ``cls`` (an SDK dataclass) does not have."""
    if isinstance(value, list):
        return [e for i, v in enumerate(value) for e in unknown_fields(v, cls, f"{where}[{i}]")]
    if not isinstance(value, dict):
        return []
    hints = typing.get_type_hints(cls)
    errors = []
    for key, item in value.items():
        if key not in hints:
            errors.append(f"Unknown field '{key}' in {where}")
            continue
        inner = _dataclass_of(hints[key])
        if inner is not None:
            errors += unknown_fields(item, inner, f"{where}.{key}")
    return errors


def _cluster_errors(key: str, cluster: dict[str, Any]) -> list[str]:
    errors = []
    classic = cluster.get("kind") == "CLASSIC_PREVIEW"
    for name in ("is_single_node", "use_ml_runtime"):
        if name in cluster and not classic:
            errors.append(f"job cluster {key}: {name} can only be used with kind CLASSIC_PREVIEW")
    if cluster.get("is_single_node") and cluster.get("num_workers"):
        errors.append(f"job cluster {key}: a single-node cluster can not have workers")
    sized = "num_workers" in cluster or "autoscale" in cluster or cluster.get("is_single_node")
    if not sized:
        errors.append(f"job cluster {key}: one of num_workers, autoscale or is_single_node")
    if not cluster.get("spark_version"):
        errors.append(f"job cluster {key}: spark_version is required")
    return errors


def _environment_errors(envs: list[dict[str, Any]]) -> list[str]:
    errors = []
    keys = [e.get("environment_key") for e in envs]
    if len(set(keys)) != len(keys):
        errors.append(f"environment keys must be unique, got {keys}")
    for env in envs:
        spec = env.get("spec") or {}
        given = [k for k in ("environment_version", "base_environment") if spec.get(k)]
        if len(given) != 1:
            errors.append(
                f"environment {env.get('environment_key')}: exactly one of environment_version "
                f"or base_environment must be provided, got {given}"
            )
    return errors


def _task_errors(
    task: dict[str, Any], envs: set[str], clusters: set[str], notebook_envs: bool
) -> list[str]:
    key = task.get("task_key")
    compute = [k for k in ("job_cluster_key", "existing_cluster_id", "new_cluster") if k in task]
    env_key = task.get("environment_key")
    errors = []
    if len(compute) > 1:
        errors.append(f"task {key}: only one of {compute} may be set")
    if "job_cluster_key" in task and task["job_cluster_key"] not in clusters:
        errors.append(f"task {key}: job cluster {task['job_cluster_key']!r} is not defined")
    if env_key is not None and env_key not in envs:
        errors.append(f"task {key}: environment {env_key!r} is not defined")
    if env_key is not None and compute:
        errors.append(f"task {key}: environment_key can only be used with serverless compute")
    notebook = "notebook_task" in task
    if not compute and not notebook and env_key is None:
        errors.append(
            f"An environment is required for serverless task {key}. Please define one using "
            "`environments` and `environment_key`."
        )
    if notebook and env_key is not None and not notebook_envs:
        errors.append(OLD_NOTEBOOK_RULE.format(key=key))
    return errors


def job_settings_errors(settings: dict[str, Any], notebook_envs: bool = True) -> list[str]:
    """Every server-side rule ``settings`` (a Jobs API request's job settings) breaks."""
    errors = unknown_fields(settings, JobSettings, "job_settings")
    envs = settings.get("environments") or []
    clusters = settings.get("job_clusters") or []
    errors += _environment_errors(envs)
    for cluster in clusters:
        errors += _cluster_errors(cluster.get("job_cluster_key"), cluster.get("new_cluster", {}))
    tasks = settings.get("tasks") or []
    keys = [t.get("task_key") for t in tasks]
    if len(set(keys)) != len(keys):
        errors.append(f"task keys must be unique, got {keys}")
    env_keys = {e.get("environment_key") for e in envs}
    cluster_keys = {c.get("job_cluster_key") for c in clusters}
    for task in tasks:
        errors += _task_errors(task, env_keys, cluster_keys, notebook_envs)
        for dep in task.get("depends_on") or []:
            if dep.get("task_key") not in keys:
                errors.append(f"task {task.get('task_key')}: depends on unknown {dep}")
    return errors


@dataclass
class FakeWorkspace:
    """State of the fake workspace: jobs, runs, schemas, Volumes and every request seen."""

    jobs: dict[int, dict[str, Any]] = field(default_factory=dict)
    runs: dict[int, int] = field(default_factory=dict)
    schemas: set[str] = field(default_factory=lambda: {"main.default"})
    catalogs: set[str] = field(default_factory=lambda: {"main"})
    volumes: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    unauthorized: list[str] = field(default_factory=list)
    refused: list[list[str]] = field(default_factory=list)
    fail_create: bool = False
    may_create_volumes: bool = True
    notebook_task_environments: bool = True
    host: str = ""

    def accept(self, settings: dict[str, Any]) -> tuple[dict[str, Any] | None, list[str]]:
        """The settings as stored, or the rules they break."""
        errors = job_settings_errors(settings, self.notebook_task_environments)
        if errors:
            self.refused.append(errors)
            return None, errors
        return {k: v for k, v in settings.items() if k not in IGNORED_FIELDS}, []


class _Handler(BaseHTTPRequestHandler):
    ws: FakeWorkspace

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, code: str, message: str) -> None:
        self._reply(status, {"error_code": code, "message": message})

    def _handle(self) -> None:
        ws = self.ws
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
            self._error(401, "UNAUTHENTICATED", "bad token")
            return
        if url.path.startswith("/api/2.1/unity-catalog/"):
            self._unity_catalog(url.path.removeprefix("/api/2.1/unity-catalog/"), body)
        else:
            self._jobs((self.command, url.path), body, query)

    def _jobs(self, route: tuple[str, str], body: dict[str, Any], query: dict[str, str]) -> None:
        ws = self.ws
        if route == ("GET", "/api/2.0/preview/scim/v2/Me"):
            self._reply(200, {"id": "1", "userName": "tester@example.com"})
        elif route == ("GET", "/api/2.2/jobs/list"):
            found = [
                {"job_id": i, "settings": {"name": s["name"]}}
                for i, s in ws.jobs.items()
                if s["name"] == query.get("name", s["name"])
            ]
            self._reply(200, {"jobs": found, "has_more": False} if found else {})
        elif route in (("POST", "/api/2.2/jobs/create"), ("POST", "/api/2.2/jobs/reset")):
            if ws.fail_create:
                self._error(403, "PERMISSION_DENIED", "no jobs")
                return
            reset = route[1].endswith("reset")
            stored, errors = ws.accept(body["new_settings"] if reset else body)
            if stored is None:
                self._error(400, "INVALID_PARAMETER_VALUE", "; ".join(errors))
                return
            job_id = int(body["job_id"]) if reset else 1000 + len(ws.jobs)
            ws.jobs[job_id] = stored
            self._reply(200, {} if reset else {"job_id": job_id})
        elif route == ("POST", "/api/2.2/jobs/run-now"):
            run_id = 5000 + len(ws.runs)
            ws.runs[run_id] = int(body["job_id"])
            self._reply(200, {"run_id": run_id, "number_in_job": run_id})
        elif route == ("GET", "/api/2.2/jobs/runs/get"):
            run_id = int(query["run_id"])
            url_ = f"{ws.host}/?o=42#job/{ws.runs[run_id]}/run/{run_id}"
            self._reply(200, {"run_id": run_id, "run_page_url": url_})
        else:
            self._error(404, "ENDPOINT_NOT_FOUND", route[1])

    def _unity_catalog(self, path: str, body: dict[str, Any]) -> None:
        ws = self.ws
        kind, _, name = path.partition("/")
        name = unquote(name)
        if self.command == "GET" and kind in ("schemas", "volumes"):
            known = ws.schemas if kind == "schemas" else ws.volumes
            if name in known:
                self._reply(200, {"full_name": name})
            else:
                self._error(404, "RESOURCE_DOES_NOT_EXIST", f"{kind[:-1]} {name} does not exist")
        elif self.command == "POST" and kind in ("schemas", "volumes"):
            if not ws.may_create_volumes:
                self._error(403, "PERMISSION_DENIED", f"User does not have CREATE on {kind}")
                return
            catalog = body["catalog_name"]
            parent = catalog if kind == "schemas" else f"{catalog}.{body['schema_name']}"
            if parent not in (ws.catalogs if kind == "schemas" else ws.schemas):
                self._error(404, "RESOURCE_DOES_NOT_EXIST", f"{parent} does not exist")
                return
            full = f"{parent}.{body['name']}"
            if kind == "schemas":
                ws.schemas.add(full)
            else:
                ws.volumes[full] = body
            self._reply(200, {"full_name": full})
        else:
            self._error(404, "ENDPOINT_NOT_FOUND", path)

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()


def serve(ws: FakeWorkspace) -> Iterator[FakeWorkspace]:
    """Serve ``ws`` on 127.0.0.1 until the generator is closed (a fixture's body)."""
    handler = type("Handler", (_Handler,), {"ws": ws})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    ws.host = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield ws
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
