"""Where the planner's fits come from: fit directories and registered model versions in MLflow."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow import MlflowClient

from mediamix.app.sources import FitCatalog, SourceError, parse_source


@pytest.fixture(scope="module")
def registry(fit_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list[str]]:
    """A local sqlite store with two runs holding fit/fit.nc, registered as versions 1 and 2."""
    root = tmp_path_factory.mktemp("registry")
    uri = f"sqlite:///{root}/mlflow.db"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    exp = client.create_experiment("app-test", artifact_location=(root / "mlruns").as_uri())
    client.create_registered_model("mmm_app")
    runs = []
    for _ in range(2):
        run = client.create_run(exp)
        client.log_artifact(run.info.run_id, str(fit_dir / "fit.nc"), "fit")
        client.log_param(run.info.run_id, "data.table", "main.mediamix.mmm_gold")
        client.set_terminated(run.info.run_id)
        client.create_model_version(
            "mmm_app", f"runs:/{run.info.run_id}/fit", run_id=run.info.run_id
        )
        runs.append(run.info.run_id)
    return uri, runs


def test_model_versions_are_listed_newest_first(registry: tuple[str, list[str]]) -> None:
    uri, runs = registry
    entries = FitCatalog(["models:/mmm_app"], tracking_uri=uri, registry_uri=uri).entries()
    assert [(e.id, e.run_id) for e in entries] == [
        ("model-mmm_app-2", runs[1]),
        ("model-mmm_app-1", runs[0]),
    ]
    latest = FitCatalog(["models:/mmm_app/latest"], tracking_uri=uri, registry_uri=uri)
    assert [e.label for e in latest.entries()] == ["mmm_app version 2"]


def test_a_version_loads_the_fit_of_its_run(registry: tuple[str, list[str]], fit_dir: Path) -> None:
    uri, runs = registry
    catalog = FitCatalog(["models:/mmm_app/1"], tracking_uri=uri, registry_uri=uri)
    entry = catalog.find("model-mmm_app-1")
    result = catalog.load(entry)
    assert result.channels and len(result.frame) > 0
    assert catalog.data_source(entry) == {"table": "main.mediamix.mmm_gold"}
    run_catalog = FitCatalog([f"runs:/{runs[0]}"], tracking_uri=uri)
    assert run_catalog.load(run_catalog.entries()[0]).channels == result.channels


def test_a_missing_version_is_named(registry: tuple[str, list[str]]) -> None:
    uri, _ = registry
    with pytest.raises(SourceError, match="no such registered model version"):
        FitCatalog(["models:/mmm_app/9"], tracking_uri=uri, registry_uri=uri).entries()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("models:/bad name'/1", "expected models:/NAME"),
        ("models:/mmm/one", "expected models:/NAME"),
        ("runs:/../../etc", "32-digit hex id"),
        ("/no/such/dir", "no such file or directory"),
    ],
)
def test_bad_sources_are_refused(text: str, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        parse_source(text)


def test_a_directory_of_fits_lists_each_and_skips_links_out(fit_dir: Path, tmp_path: Path) -> None:
    root = tmp_path / "fits"
    (root / "a").mkdir(parents=True)
    (root / "a" / "fit.nc").symlink_to(fit_dir / "fit.nc")  # a link out of the root
    (root / "b").mkdir()
    (root / "b" / "fit.nc").write_bytes((fit_dir / "fit.nc").read_bytes())
    (root / "notes").mkdir()
    entries = FitCatalog([str(root)]).entries()
    assert [Path(e.label).name for e in entries] == ["b"]
    with pytest.raises(SourceError, match="malformed"):
        FitCatalog([str(root)]).find("../a")
    with pytest.raises(SourceError, match=r"no fit 'dir-0\.5'"):
        FitCatalog([str(root)]).find("dir-0.5")


def test_app_yaml_runs_the_planner_on_the_workspace_model() -> None:
    import yaml

    from mediamix.cli import build_parser

    spec = yaml.safe_load((Path(__file__).resolve().parents[2] / "app.yaml").read_text())
    assert spec["command"][:4] == ["python", "-m", "mediamix", "app"]
    args = build_parser().parse_args(spec["command"][3:])
    assert args.fit == ["models:/main.mediamix.mmm"] and args.host == "0.0.0.0"
    assert parse_source(args.fit[0]).name == "main.mediamix.mmm"
    env = {e["name"]: e["value"] for e in spec["env"]}
    assert env == {"MLFLOW_TRACKING_URI": "databricks", "MLFLOW_REGISTRY_URI": "databricks-uc"}


def test_the_port_comes_from_databricks_apps(monkeypatch: pytest.MonkeyPatch) -> None:
    from mediamix.app import cli as app_cli
    from mediamix.cli import build_parser

    monkeypatch.setenv("DATABRICKS_APP_PORT", "8123")
    assert app_cli._default_port() == 8123
    monkeypatch.delenv("DATABRICKS_APP_PORT")
    args = build_parser().parse_args(["app", "--fit", "x"])
    assert (args.host, args.port) == ("127.0.0.1", app_cli.DEFAULT_PORT)
