"""The budget planner as a Databricks App: its specification, and creating or updating it.

``app.yaml`` at the repository root says how the app runs (``mediamix app`` over the registered
model, on the workspace's tracking server); this module says what the app is: its name,
description, the experiment its service principal may read, and the deployment from the
repository's workspace folder. :func:`deploy_app` creates the app when it is missing, updates it
otherwise (it never makes a second one) and deploys the folder; with ``dry_run`` it only returns
the specification as JSON, for ``RUNME.py --dry-run`` to print.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from databricks.sdk.service.apps import (
    App,
    AppDeployment,
    AppResource,
    AppResourceExperiment,
    AppResourceExperimentExperimentPermission,
)

if TYPE_CHECKING:
    from databricks.sdk import WorkspaceClient

__all__ = ["APP_NAME", "AppPlan", "app_spec", "deploy_app"]

APP_NAME = "mediamix-planner"
_DESCRIPTION = "mediamix budget planner: ROAS, response curves and budget scenarios of the MMM"


@dataclass(frozen=True)
class AppPlan:
    """What :func:`deploy_app` does or did: the app, its deployment, and whether it existed."""

    app: App
    deployment: AppDeployment
    existed: bool | None  # None for a dry run, which does not ask the workspace

    def to_json(self) -> str:
        """The specification as the Apps API takes it (what a dry run prints)."""
        body = {"app": self.app.as_dict(), "deployment": self.deployment.as_dict()}
        return json.dumps(body, indent=2, sort_keys=True)


def app_spec(
    source_code_path: str, *, name: str = APP_NAME, experiment_id: str | None = None
) -> AppPlan:
    """The app and its deployment from the repository folder ``source_code_path``.

    Parameters
    ----------
    source_code_path : str
        The workspace folder holding ``app.yaml`` (``/Workspace/Users/me/mediamix``).
    name : str, default "mediamix-planner"
        The app's name (lower-case letters, digits and dashes).
    experiment_id : str, optional
        The MLflow experiment of the fits (``/Shared/mediamix``'s id): the app's service
        principal gets *Can read* on it, to download each version's fit (``fit.nc``).

    Returns
    -------
    AppPlan
    """
    resources = []
    if experiment_id:
        resources.append(
            AppResource(
                name="experiment",
                description="the runs holding the fits (fit.nc) of the registered model",
                experiment=AppResourceExperiment(
                    experiment_id=experiment_id,
                    permission=AppResourceExperimentExperimentPermission.CAN_READ,
                ),
            )
        )
    app = App(name=name, description=_DESCRIPTION, resources=resources or None)
    return AppPlan(app, AppDeployment(source_code_path=source_code_path), existed=None)


def deploy_app(w: WorkspaceClient | Any, plan: AppPlan, *, dry_run: bool = False) -> AppPlan:
    """Create the app (or update the one of that name), then deploy the folder.

    Parameters
    ----------
    w : WorkspaceClient
        An authenticated client.
    plan : AppPlan
        From :func:`app_spec`.
    dry_run : bool, default False
        Return ``plan`` without calling the workspace.

    Returns
    -------
    AppPlan
        With ``existed`` saying whether the app was updated (True) or created (False).
    """
    if dry_run:
        return plan
    from databricks.sdk.errors import NotFound

    name = str(plan.app.name)
    try:
        w.apps.get(name)
        existed = True
    except NotFound:
        existed = False
    if existed:
        w.apps.update(name=name, app=plan.app)
    else:
        w.apps.create(app=plan.app).result()  # waits until the app's compute is up
    w.apps.deploy(app_name=name, app_deployment=plan.deployment).result()
    return AppPlan(plan.app, plan.deployment, existed=existed)
