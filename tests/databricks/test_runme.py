"""RUNME.py and the job: the spec against databricks-sdk's types, the bundle, the Jobs API calls.

The Jobs API is played by a small HTTP server on 127.0.0.1 (``fake_workspace``) that
implements the endpoints the SDK calls (host metadata, jobs list/create/reset/run-now, runs/get,
current user, Unity Catalog schemas and Volumes) and refuses the job settings a workspace
refuses; RUNME runs in a subprocess against it with a personal access token, as from a laptop.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from databricks.sdk.service.jobs import JobSettings
from fake_workspace import TOKEN, FakeWorkspace, job_settings_errors, serve

from mediamix.databricks.bundle import BUNDLE_PATH, render_bundle
from mediamix.databricks.job import local_tasks, main, run_local
from mediamix.databricks.job_spec import (
    DEFAULT_SPARK_VERSION,
    JOB_NAME,
    TASKS,
    JobError,
    JobOptions,
    TaskDef,
    build_job_settings,
    fit_many_task,
    task_parameters,
    workspace_folder,
)
from mediamix.databricks.notebook import NOTEBOOKS, job_parameters, param_defaults, widget_names

REPO = Path(__file__).resolve().parents[2]
WS_PATH = "/Workspace/Users/tester@example.com/mediamix"


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
    for task in TASKS:
        assert (REPO / f"{task.notebook}.py").is_file()
        assert task.notebook in NOTEBOOKS
    in_job = [NOTEBOOKS[t.notebook] for t in TASKS]
    widgets = {w for cls in in_job for w in widget_names(cls)}
    params = {p["name"]: p.get("default", "") for p in s["parameters"]}
    assert set(params) == widgets
    for cls in in_job:
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


def test_cluster_option_uses_a_single_node_ml_runtime_in_the_current_form() -> None:
    s = spec(compute="cluster", node_type_id="Standard_D4ds_v5")
    assert "environments" not in s
    (cluster,) = s["job_clusters"]
    assert cluster["new_cluster"] == {
        "kind": "CLASSIC_PREVIEW",
        "is_single_node": True,
        "use_ml_runtime": True,
        "spark_version": DEFAULT_SPARK_VERSION,
        "node_type_id": "Standard_D4ds_v5",
        "data_security_mode": "DATA_SECURITY_MODE_DEDICATED",
    }
    assert DEFAULT_SPARK_VERSION == "17.3.x-scala2.13"  # 17.3 LTS: Spark 4.0, Python 3.12
    assert all(t["job_cluster_key"] == cluster["job_cluster_key"] for t in s["tasks"])
    with pytest.raises(JobError, match="names an ML runtime; give the runtime release"):
        spec(compute="cluster", spark_version="16.4.x-cpu-ml-scala2.12")


def test_the_spec_passes_the_workspace_rules_and_sends_nothing_the_api_ignores() -> None:
    extra = (TaskDef("fit_many", "02_MMM PyMC Example", after="mmm_pymc", workers=4),)
    for compute in ("serverless", "cluster"):
        for tasks in ((), extra):
            s = spec(compute=compute, node_type_id="n1", extra_tasks=tasks)
            assert job_settings_errors(s) == [], (compute, tasks)
            assert "format" not in s


def test_an_extra_task_with_workers_gets_a_cluster_of_its_own() -> None:
    extra = (TaskDef("fit_many", "02_MMM PyMC Example", after="mmm_pymc", workers=4),)
    s = spec(compute="cluster", node_type_id="n1", extra_tasks=extra)
    clusters = {c["job_cluster_key"]: c["new_cluster"] for c in s["job_clusters"]}
    assert clusters["fit_many_cluster"]["num_workers"] == 4
    assert "is_single_node" not in clusters["fit_many_cluster"]
    assert s["tasks"][-1]["job_cluster_key"] == "fit_many_cluster"
    assert s["tasks"][-1]["depends_on"] == [{"task_key": "mmm_pymc"}]
    serverless = spec(extra_tasks=extra)  # serverless sizes itself: same environment
    assert serverless["tasks"][-1]["environment_key"] == "mediamix"
    with pytest.raises(JobError, match="task keys must be unique"):
        spec(extra_tasks=(TaskDef("data_gen", "01_MMM Data Gen"),))
    with pytest.raises(JobError, match="workers must be at least 1"):
        spec(compute="cluster", extra_tasks=(TaskDef("x", "01_MMM Data Gen", workers=0),))


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
    assert json.loads(done.stdout) == spec(parameters=task_parameters() | {"draws": "500"})


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


def _bundle_job(
    target: str, file_path: str, resource: str = "mediamix_mmm"
) -> tuple[dict[str, Any], dict[str, str]]:
    bundle = yaml.safe_load((REPO / "databricks.yml").read_text())
    assert set(bundle["targets"]) == {"dev", "prod"}
    assert bundle["targets"]["dev"]["mode"] == "development"
    assert bundle["targets"]["prod"]["mode"] == "production"
    values = {k: str(v["default"]) for k, v in bundle["variables"].items()}
    values |= bundle["targets"][target].get("variables", {})
    variables = {f"var.{k}": v for k, v in values.items()} | {"workspace.file_path": file_path}
    assert set(bundle["resources"]["jobs"]) == {"mediamix_mmm", "mediamix_mmm_fit_many"}
    job = _resolve(bundle["resources"]["jobs"][resource], variables)
    for task in job["tasks"]:  # the bundle names notebooks relative to itself, with .py
        path = task["notebook_task"]["notebook_path"]
        assert path.startswith("./") and path.endswith(".py"), path
        task["notebook_task"]["notebook_path"] = f"{file_path}/{path[2:-3]}"
    return job, values


def test_the_committed_bundle_is_the_one_generated_from_the_spec() -> None:
    assert BUNDLE_PATH.read_text() == render_bundle(), "databricks.yml is stale: make bundle"
    assert "MULTI_TASK" not in BUNDLE_PATH.read_text()


@pytest.mark.parametrize("fit_many", [False, True])
@pytest.mark.parametrize("target", ["dev", "prod"])
def test_bundle_defines_the_same_job_as_runme(target: str, fit_many: bool) -> None:
    file_path = "/Workspace/Users/tester@example.com/.bundle/mediamix/files"
    resource = "mediamix_mmm_fit_many" if fit_many else "mediamix_mmm"
    job, values = _bundle_job(target, file_path, resource)
    assert JobSettings.from_dict(job).as_dict() == job, "the bundle's job is not valid JobSettings"
    assert job_settings_errors(job) == []
    extra = (fit_many_task(4),) if fit_many else ()
    expected = spec(
        workspace_path=file_path,
        name=JOB_NAME + (" (fit many)" if fit_many else ""),
        parameters=task_parameters(extra, env={})
        | {"catalog": values["catalog"], "schema": values["schema"]},
        environment_version=values["environment_version"],
        extra_tasks=extra,
    )
    assert job == expected
    assert [t["task_key"] for t in job["tasks"]][-1] == ("fit_many" if fit_many else "mmm_pymc")


# --------------------------------------------------------------------------- local run


def test_local_run_runs_the_tasks_in_order_with_the_parameters(tmp_path: Path) -> None:
    log = tmp_path / "log.txt"
    for task in TASKS:
        notebook = task.notebook
        (tmp_path / f"{notebook}.py").write_text(
            "import os, pathlib\n"
            f"p = pathlib.Path({str(log)!r})\n"
            f"p.write_text(p.read_text() if p.exists() else '')\n"
            f"with p.open('a') as fh: fh.write({notebook!r} + ' ' + os.environ['MEDIAMIX_DRAWS'] "
            "+ ' ' + os.environ['MEDIAMIX_CATALOG'] + '\\n')\n"
        )
    settings = build_job_settings(JobOptions(workspace_path=WS_PATH))
    assert [k for k, _ in local_tasks(settings, tmp_path)] == ["data_gen", "mmm_pymc"]
    params = task_parameters(env={}) | {"draws": "7", "catalog": "c"}
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


@pytest.fixture
def workspace() -> Iterator[FakeWorkspace]:
    yield from serve(FakeWorkspace())


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
    assert workspace.jobs[1000] == spec(parameters=task_parameters(env={}) | {"draws": "500"})
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
    workspace.catalogs.add("team")
    dbutils = FakeDbutils({"catalog": "team", "start_run": "yes"}, "/Users/t@x.com/mediamix/RUNME")
    assert main(namespace={"dbutils": dbutils}) == 0
    assert set(workspace.volumes) == {"team.mediamix.raw", "team.mediamix.cache"}
    printed = capsys.readouterr()
    assert TOKEN not in printed.out + printed.err
    assert set(dbutils.widgets.defined) == {
        "job_name",
        "compute",
        "catalog",
        "schema",
        "volume",
        "start_run",
    }
    (job,) = workspace.jobs.values()
    expected = spec(
        workspace_path="/Workspace/Users/t@x.com/mediamix",
        parameters=task_parameters(env={}) | {"catalog": "team"},
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


# --------------------------------------------------------------------------- rules and Volumes


def test_the_fake_refuses_what_a_workspace_refuses() -> None:
    good = spec(compute="cluster", node_type_id="n1")
    assert job_settings_errors(good) == []
    legacy = json.loads(json.dumps(good))
    cluster = legacy["job_clusters"][0]["new_cluster"]
    del cluster["kind"]
    cluster["spark_conf"] = {"spark.databricks.cluster.profile": "singleNode"}
    assert any("kind CLASSIC_PREVIEW" in e for e in job_settings_errors(legacy))
    typo = spec() | {"max_concurrent_run": 1}
    assert job_settings_errors(typo) == ["Unknown field 'max_concurrent_run' in job_settings"]
    nested = spec()
    nested["tasks"][0]["notebook_task"]["notebook_params"] = {"a": "b"}  # a run-time field
    assert job_settings_errors(nested) == [
        "Unknown field 'notebook_params' in job_settings.tasks[0].notebook_task"
    ]
    script = spec()
    script["tasks"][0] = {"task_key": "data_gen", "spark_python_task": {"python_file": "x.py"}}
    assert any("An environment is required" in e for e in job_settings_errors(script))
    both = spec()
    both["environments"][0]["spec"]["base_environment"] = "/Workspace/env.yaml"
    assert any("exactly one of environment_version" in e for e in job_settings_errors(both))
    mixed = spec()
    mixed["tasks"][0]["job_cluster_key"] = "nowhere"
    errors = job_settings_errors(mixed)
    assert any("'nowhere' is not defined" in e for e in errors)
    assert any("only be used with serverless" in e for e in errors)
    old = job_settings_errors(spec(), notebook_envs=False)
    assert old[0].startswith("A task environment can not be provided for notebook task data_gen")


def _runme_env(workspace: FakeWorkspace, tmp_path: Path) -> dict[str, str]:
    return _clean_env(tmp_path, DATABRICKS_HOST=workspace.host, DATABRICKS_TOKEN=TOKEN)


def test_runme_creates_the_raw_feeds_volume_and_its_schema_when_missing(
    workspace: FakeWorkspace, tmp_path: Path
) -> None:
    env = _runme_env(workspace, tmp_path)
    first = _run_runme("--workspace-path", WS_PATH, "--schema", "mmm_dev", env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "raw feeds volume: /Volumes/main/mmm_dev/raw (created;" in first.stdout
    assert "compile cache volume: /Volumes/main/mmm_dev/cache (created;" in first.stdout
    assert "main.mmm_dev" in workspace.schemas
    assert workspace.volumes["main.mmm_dev.raw"]["volume_type"] == "MANAGED"
    assert workspace.volumes["main.mmm_dev.cache"]["volume_type"] == "MANAGED"
    again = _run_runme("--workspace-path", WS_PATH, "--schema", "mmm_dev", env=env, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "raw feeds volume: /Volumes/main/mmm_dev/raw (exists;" in again.stdout
    assert "compile cache volume: /Volumes/main/mmm_dev/cache (exists;" in again.stdout
    creates = [p for m, p, _ in workspace.requests if m == "POST" and "volumes" in p]
    assert len(creates) == 2
    none = _run_runme(
        "--workspace-path", WS_PATH, "--volume", "", "--param", "compile_cache=/Volumes/a/b/c",
        env=env, cwd=tmp_path,
    )  # fmt: skip
    assert none.returncode == 0 and "volume:" not in none.stdout
    (job,) = workspace.jobs.values()
    assert {"name": "compile_cache", "default": "/Volumes/a/b/c"} in job["parameters"]


def test_runme_says_what_is_missing_when_the_volume_cannot_be_made(
    workspace: FakeWorkspace, tmp_path: Path
) -> None:
    env = _runme_env(workspace, tmp_path)
    done = _run_runme("--workspace-path", WS_PATH, "--catalog", "nope", env=env, cwd=tmp_path)
    assert done.returncode == 1
    assert "The catalog 'nope' must exist" in done.stderr
    workspace.may_create_volumes = False
    done = _run_runme("--workspace-path", WS_PATH, env=env, cwd=tmp_path)
    assert done.returncode == 1
    assert "CREATE VOLUME on the schema" in done.stderr
    assert not workspace.jobs and not workspace.volumes, "nothing half-made"


def test_runme_falls_back_where_notebook_task_environments_are_refused(
    workspace: FakeWorkspace, tmp_path: Path
) -> None:
    workspace.notebook_task_environments = False
    done = _run_runme(
        "--workspace-path", WS_PATH, env=_runme_env(workspace, tmp_path), cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert "refuses a job environment on notebook tasks" in done.stdout
    assert len(workspace.refused) == 1
    (job,) = workspace.jobs.values()
    assert "environments" not in job
    assert all("environment_key" not in t for t in job["tasks"])
    assert (
        job
        == build_job_settings(
            JobOptions(workspace_path=WS_PATH), notebook_environments=False
        ).as_dict()
    )


def test_cluster_jobs_are_not_retried_without_environments(
    workspace: FakeWorkspace, tmp_path: Path
) -> None:
    workspace.notebook_task_environments = False
    args = ("--workspace-path", WS_PATH, "--compute", "cluster", "--node-type", "n1")
    done = _run_runme(*args, env=_runme_env(workspace, tmp_path), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "refuses" not in done.stdout and not workspace.refused


def test_the_readme_shows_what_dry_run_prints_for_both_computes() -> None:
    readme = (REPO / "README.md").read_text()
    ws = "/Workspace/Users/me@example.com/mediamix"
    serverless = spec(workspace_path=ws)
    cluster = spec(workspace_path=ws, compute="cluster", node_type_id="m5d.xlarge")
    for part in (serverless["environments"], serverless["tasks"][0], cluster["job_clusters"]):
        assert json.dumps(part, indent=2) in readme, "README's job JSON is stale"


def test_fit_many_task_gets_its_own_cluster_and_its_notebooks_parameters(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from mediamix.databricks.job import main

    argv = ["--dry-run", "--compute", "cluster", "--node-type", "n1", "--fit-many-workers", "3"]
    assert main(argv) == 0
    s = json.loads(capsys.readouterr().out)
    tasks = {t["task_key"]: t for t in s["tasks"]}
    assert list(tasks) == ["data_gen", "mmm_pymc", "fit_many"]
    assert tasks["fit_many"]["notebook_task"]["notebook_path"].endswith("/03_MMM Fit Many")
    assert tasks["fit_many"]["job_cluster_key"] == "fit_many_cluster"
    clusters = {c["job_cluster_key"]: c["new_cluster"] for c in s["job_clusters"]}
    assert clusters["fit_many_cluster"]["num_workers"] == 3
    assert clusters["mediamix_cluster"]["is_single_node"] is True
    params = {p["name"] for p in s["parameters"]}
    assert set(widget_names(NOTEBOOKS["03_MMM Fit Many"])) <= params
    assert (REPO / "03_MMM Fit Many.py").is_file()
    # without the task its parameters are unknown to the job
    assert main(["--dry-run", "--param", "groups_table=x"]) == 2
    assert main(["--dry-run", "--fit-many-workers", "-1"]) == 2
