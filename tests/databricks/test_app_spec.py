"""The planner's Databricks App spec, and create-or-update against a stand-in workspace."""

from __future__ import annotations

import json
from typing import Any

import pytest
from databricks.sdk.errors import NotFound

from mediamix.databricks.app_spec import APP_NAME, app_spec, deploy_app


class _Waiter:
    def result(self) -> None:
        return None


class _Apps:
    def __init__(self, existing: set[str]) -> None:
        self.existing = existing
        self.calls: list[tuple[str, Any]] = []

    def get(self, name: str) -> object:
        if name not in self.existing:
            raise NotFound(f"app {name} does not exist")
        return object()

    def create(self, app: Any) -> _Waiter:
        self.calls.append(("create", app.name))
        self.existing.add(app.name)
        return _Waiter()

    def update(self, name: str, app: Any) -> None:
        self.calls.append(("update", name))

    def deploy(self, app_name: str, app_deployment: Any) -> _Waiter:
        self.calls.append(("deploy", app_deployment.source_code_path))
        return _Waiter()


class _Workspace:
    def __init__(self, existing: set[str]) -> None:
        self.apps = _Apps(existing)


def test_spec_names_the_folder_and_the_experiment() -> None:
    plan = app_spec("/Workspace/Users/me/mediamix", experiment_id="123")
    body = json.loads(plan.to_json())
    assert body["app"]["name"] == APP_NAME
    assert body["deployment"] == {"source_code_path": "/Workspace/Users/me/mediamix"}
    [resource] = body["app"]["resources"]
    assert resource["experiment"] == {"experiment_id": "123", "permission": "CAN_READ"}
    assert "resources" not in json.loads(app_spec("/x").to_json())["app"]


@pytest.mark.parametrize(("existing", "verb"), [(set(), "create"), ({APP_NAME}, "update")])
def test_creates_once_then_updates_and_deploys(existing: set[str], verb: str) -> None:
    w = _Workspace(set(existing))
    done = deploy_app(w, app_spec("/Workspace/repo"))
    assert done.existed is (verb == "update")
    assert w.apps.calls == [(verb, APP_NAME), ("deploy", "/Workspace/repo")]


def test_dry_run_calls_nothing() -> None:
    w = _Workspace(set())
    assert deploy_app(w, app_spec("/r"), dry_run=True).existed is None
    assert w.apps.calls == []


class _App:
    url = "https://mediamix-planner-1.example.databricksapps.com"


class _UrlApps(_Apps):
    def get(self, name: str) -> object:
        super().get(name)
        return _App()


class _Experiments:
    def __init__(self, experiment_id: str | None) -> None:
        self.experiment_id = experiment_id

    def get_by_name(self, name: str) -> Any:
        if self.experiment_id is None:
            raise NotFound(f"experiment {name} does not exist")
        experiment = type("Experiment", (), {"experiment_id": self.experiment_id})()
        return type("Response", (), {"experiment": experiment})()


class _RunmeWorkspace:
    def __init__(self, experiment_id: str | None) -> None:
        self.apps = _UrlApps(set())
        self.experiments = _Experiments(experiment_id)


@pytest.mark.parametrize("experiment_id", ["42", None])
def test_runme_deploys_the_app_with_read_access_to_the_fits(experiment_id: str | None) -> None:
    import io

    from mediamix.databricks.job import _deploy_app

    w = _RunmeWorkspace(experiment_id)
    out = io.StringIO()
    _deploy_app(w, "/Workspace/Users/me/mediamix", out)  # type: ignore[arg-type]
    assert w.apps.calls == [("create", APP_NAME), ("deploy", "/Workspace/Users/me/mediamix")]
    text = out.getvalue()
    assert f"created app {APP_NAME!r}" in text
    assert _App.url in text
    assert ("no experiment /Shared/mediamix yet" in text) == (experiment_id is None)


def test_runme_dry_run_with_app_prints_job_and_app(capsys: pytest.CaptureFixture[str]) -> None:
    from mediamix.databricks.job import main

    assert main(["--dry-run", "--app", "--workspace-path", "/Workspace/Users/me/mm"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["app"]["app"]["name"] == APP_NAME
    assert body["app"]["deployment"]["source_code_path"] == "/Workspace/Users/me/mm"
    assert [t["task_key"] for t in body["job"]["tasks"]][:2] == ["data_gen", "mmm_pymc"]
