"""MLflow tracking: what a run records, failed fits, the model in a fresh process, the CLI."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from mediamix.analysis.predict import example_plan, predict_plan
from mediamix.analysis.summary import fit_summary
from mediamix.cli import main
from mediamix.config.model import ModelConfig, load_model_config
from mediamix.data.generator import Generator, SyntheticData
from mediamix.data.validation import DataValidationError
from mediamix.errors import MediamixError
from mediamix.inference.diagnostics import ConvergenceWarning
from mediamix.inference.fit import FitResult
from mediamix.mlops.provenance import describe_data_source, flatten_config
from mediamix.mlops.target import TrackingError, registered_model_name, resolve_target
from mediamix.mlops.tracking import TrackedRun, fit_tracked, track_fit, tracked_run

REPO = Path(__file__).resolve().parents[2]
GEN_CONFIG = REPO / "config/generator/basic_config.yaml"
MODEL_CONFIG = REPO / "config/model/basic_config.yaml"
MODEL_NAME = "mediamix_test"


@dataclass
class Tracked:
    result: FitResult
    run: TrackedRun
    store: str
    data: Path


@pytest.fixture(scope="module")
def synthetic() -> SyntheticData:
    return Generator.from_config_file(GEN_CONFIG).generate()


@pytest.fixture(scope="module")
def small_config() -> ModelConfig:
    return load_model_config(MODEL_CONFIG).with_sampler(
        sampler="pymc", draws=200, tune=200, chains=2
    )


@pytest.fixture(scope="module")
def tracked(
    synthetic: SyntheticData, small_config: ModelConfig, tmp_path_factory: pytest.TempPathFactory
) -> Tracked:
    """One real fit, fitted and logged in one run to a temporary store (the notebook path)."""
    root = tmp_path_factory.mktemp("tracking")
    data = root / "data.csv"
    synthetic.data.to_csv(data, index=False)
    store = f"sqlite:///{root}/mlflow.db"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # 400 draws miss the ESS threshold
        result, run = fit_tracked(
            synthetic.data,
            small_config,
            data_source=describe_data_source(data),
            tracking_uri=store,
            experiment="tracking-test",
            register_as=MODEL_NAME,
            register_anyway=True,  # 400 draws miss the ESS threshold
        )
    return Tracked(result, run, store, data)


@pytest.mark.slow
def test_run_records_params_metrics_tags(tracked: Tracked) -> None:
    client = MlflowClient(tracked.store)
    run = client.get_run(tracked.run.run_id)
    assert run.info.status == "FINISHED"
    assert client.get_experiment(run.info.experiment_id).name == "tracking-test"
    params = run.data.params
    assert params["sampler.sampler"] == "pymc"
    assert params["sampler.draws"] == "200"
    assert params["channels.adwords.adstock.alpha"] == "Beta(alpha=1.0, beta=3.0)"
    assert params["outcome.name"] == "sales"
    assert params["data.kind"] == "file"
    assert params["data.path"] == str(tracked.data.resolve())
    assert params["data.sha256"] == hashlib.sha256(tracked.data.read_bytes()).hexdigest()
    assert params["data.rows"] == str(len(tracked.result.frame))
    metrics = run.data.metrics
    for key in ["r2", "mape", "elpd_loo", "r_hat_max", "ess_bulk_min", "divergences"]:
        assert key in metrics, key
    assert metrics["fit_seconds"] > 0
    summary = fit_summary(tracked.result)
    for ch in tracked.result.channels:
        roas = summary["channels"][ch]["roas"]
        for stat in ("mean", "hdi_low", "hdi_high"):
            assert metrics[f"roas/{ch}/{stat}"] == pytest.approx(roas[stat])
    tags = run.data.tags
    converged = summary["diagnostics"]["converged"]
    assert tags["mediamix.converged"] == str(converged).lower()
    assert tags["mediamix.version"]
    if (REPO / ".git").exists():
        assert re.fullmatch(r"[0-9a-f]{40}", tags["mediamix.git_commit"])
    assert "| adwords |" in tags["mlflow.note.content"]


def _files_named(artifact_uri: str, name: str) -> list[Path]:
    root = Path(artifact_uri.removeprefix("file://"))
    return sorted(root.rglob(name))


@pytest.mark.slow
def test_the_fit_is_stored_once_and_every_reader_finds_it(tracked: Tracked) -> None:
    from mediamix.app.sources import FitCatalog
    from mediamix.inference.fit import load_fit

    client = MlflowClient(tracked.store)
    run = client.get_run(tracked.run.run_id)
    (model,) = mlflow.search_logged_models(
        experiment_ids=[run.info.experiment_id],
        filter_string=f"source_run_id = '{run.info.run_id}'",
        output_format="list",
    )
    assert _files_named(run.info.artifact_uri, "*.nc") == []
    (copy,) = _files_named(model.artifact_location, "*.nc")
    assert copy.name == "fit.nc"
    expected = tracked.result.idata.posterior["beta"].values
    assert np.array_equal(load_fit(copy).idata.posterior["beta"].values, expected)
    name = registered_model_name(MODEL_NAME)
    for source in (f"runs:/{run.info.run_id}", f"models:/{name}", f"models:/{name}/latest"):
        catalog = FitCatalog([source], tracking_uri=tracked.store, registry_uri=tracked.store)
        entry = catalog.entries()[0]
        loaded = catalog.load(entry)
        assert np.array_equal(loaded.idata.posterior["beta"].values, expected), source


@pytest.mark.slow
def test_a_fit_saved_under_another_name_is_still_the_models_fit_nc(
    tracked: Tracked, tmp_path: Path
) -> None:
    from mediamix.app.sources import FitCatalog

    other = tracked.result.save(tmp_path / "fit_v2.nc")
    with tracked_run(tracked.result.config, tracking_uri=tracked.store) as run:
        run.log_fit(tracked.result, fit_path=other, figures=False)
    catalog = FitCatalog([f"runs:/{run.run_id}"], tracking_uri=tracked.store)
    loaded = catalog.load(catalog.entries()[0])
    expected = tracked.result.idata.posterior["beta"].values
    assert np.array_equal(loaded.idata.posterior["beta"].values, expected)
    assert other.is_file()  # the caller's file is left as it was


@pytest.mark.slow
def test_run_holds_artifacts_and_input_dataset(tracked: Tracked, tmp_path: Path) -> None:
    client = MlflowClient(tracked.store)
    run_id = tracked.run.run_id
    top = {f.path for f in client.list_artifacts(run_id)}
    assert {"config", "summary.json", "report.html"} <= top
    assert "fit" not in top  # the fit is stored once: in the model (see the next test)
    summary = json.loads(
        Path(client.download_artifacts(run_id, "summary.json", tmp_path)).read_text()
    )
    assert summary["mlflow_run_id"] == run_id
    assert set(summary["channels"]) == set(tracked.result.channels)
    config_text = Path(client.download_artifacts(run_id, "config", tmp_path)) / "model_config.yaml"
    assert load_model_config(config_text) == tracked.result.config
    import importlib.util

    if importlib.util.find_spec("mediamix.analysis.plots") is not None:
        figures = [f.path for f in client.list_artifacts(run_id, "figures")]
        assert figures and all(p.endswith(".png") for p in figures)
    inputs = client.get_run(run_id).inputs.dataset_inputs
    assert len(inputs) == 1
    dataset = inputs[0].dataset
    assert dataset.name == "data"
    assert dataset.source_type == "local"
    assert json.loads(dataset.source)["uri"] == str(tracked.data.resolve())
    assert {t.key: t.value for t in inputs[0].tags}["mlflow.data.context"] == "training"
    # artifacts live next to the temporary store, never in the working directory
    root = Path(tracked.store.removeprefix("sqlite:///")).parent
    assert client.get_run(run_id).info.artifact_uri.startswith((root / "mlruns").as_uri())


@pytest.mark.slow
def test_model_is_registered(tracked: Tracked) -> None:
    client = MlflowClient(tracked.store, registry_uri=tracked.store)
    versions = client.search_model_versions(f"name='{MODEL_NAME}'")
    assert [int(v.version) for v in versions] == [1]
    assert versions[0].run_id == tracked.run.run_id
    assert tracked.run.registered_model == f"models:/{MODEL_NAME}/1"
    model = mlflow.models.get_model_info(tracked.run.model_uri)
    names = [c.name for c in model.signature.inputs.inputs]
    assert names == ["date", *tracked.result.channels]
    assert model.signature.outputs is not None


@pytest.mark.slow
def test_fresh_process_predicts_like_the_fit_in_memory(tracked: Tracked, tmp_path: Path) -> None:
    plan = example_plan(tracked.result, periods=8)
    plan.loc[2, "adwords"] = 0.0
    history = tracked.result.frame.drop(columns=["sales"]).iloc[100:120]
    plan.to_parquet(tmp_path / "plan.parquet")
    history.to_parquet(tmp_path / "history.parquet")
    plan.to_csv(tmp_path / "plan.csv", index=False, date_format="%Y-%m-%d")
    far = plan.assign(date=plan["date"] + pd.Timedelta(weeks=52 * 10))
    far.to_parquet(tmp_path / "far.parquet")
    code = """
import sys
import mlflow
import pandas as pd
model = mlflow.pyfunc.load_model(sys.argv[1])
d = sys.argv[2]
model.predict(pd.read_parquet(d + "/plan.parquet")).to_parquet(d + "/plan_out.parquet")
out = model.predict(pd.read_parquet(d + "/history.parquet"), params={"draws": 10**6})
out.to_parquet(d + "/history_out.parquet")
# a plan as read from a CSV: ISO date strings
text = pd.read_csv(d + "/plan.csv", dtype={"date": str})
model.predict(text).to_parquet(d + "/text_out.parquet")
# a column the model does not know is refused, by name
try:
    model.predict(text.assign(note="x"))
except mlflow.exceptions.MlflowException as exc:
    open(d + "/note_error.txt", "w").write(exc.message)
model.predict(pd.read_parquet(d + "/far.parquet")).to_parquet(d + "/far_out.parquet")
"""
    env = os.environ | {"MLFLOW_TRACKING_URI": tracked.store}
    subprocess.run(
        [sys.executable, "-c", code, f"models:/{MODEL_NAME}/1", str(tmp_path)],
        env=env,
        cwd=tmp_path,
        check=True,
        capture_output=True,
        timeout=300,
    )
    got = pd.read_parquet(tmp_path / "plan_out.parquet")
    assert (got.pop("warning") == "").all()
    want = predict_plan(tracked.result, plan)
    pd.testing.assert_frame_equal(got, want, check_dtype=False, rtol=1e-12)
    text = pd.read_parquet(tmp_path / "text_out.parquet").drop(columns="warning")
    pd.testing.assert_frame_equal(text, want, check_dtype=False, rtol=1e-12)
    got = pd.read_parquet(tmp_path / "history_out.parquet").drop(columns="warning")
    want = predict_plan(tracked.result, history, draws=None)
    pd.testing.assert_frame_equal(got, want, check_dtype=False, rtol=1e-12)
    assert "unknown columns ['note']" in (tmp_path / "note_error.txt").read_text()
    far_warning = pd.read_parquet(tmp_path / "far_out.parquet")["warning"]
    assert far_warning.str.contains("outside it").all(), far_warning


@pytest.mark.slow
def test_track_fit_logs_an_existing_fit_even_if_a_figure_breaks(
    tracked: Tracked, monkeypatch: pytest.MonkeyPatch
) -> None:
    plots = pytest.importorskip("mediamix.analysis.plots")

    def broken(result: FitResult, allocation: object = None) -> dict[str, object]:
        raise RuntimeError("no canvas")

    monkeypatch.setattr(plots, "figures_for_fit", broken)
    run_id = track_fit(
        tracked.result,
        data_source={"kind": "table", "table": "main.mediamix.mmm_gold", "version": "7"},
        tracking_uri=tracked.store,
        experiment="tracking-test",
    )
    run = MlflowClient(tracked.store).get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.tags["mediamix.figures_error"] == "RuntimeError: no canvas"
    assert (run.data.params["data.table"], run.data.params["data.version"]) == (
        "main.mediamix.mmm_gold",
        "7",
    )
    assert "figures" not in {f.path for f in MlflowClient(tracked.store).list_artifacts(run_id)}


@pytest.mark.slow
def test_failing_fit_ends_its_run_failed(
    synthetic: SyntheticData, small_config: ModelConfig, tmp_path: Path
) -> None:
    bad = synthetic.data.copy()
    bad.loc[5, "facebook"] = -1.0
    store = f"sqlite:///{tmp_path}/mlflow.db"
    with pytest.raises(DataValidationError, match="'facebook'") as caught:
        fit_tracked(
            bad,
            small_config,
            data_source={"kind": "file", "path": "bad.csv", "sha256": "0"},
            tracking_uri=store,
            experiment="failing",
        )
    client = MlflowClient(store)
    exp = client.get_experiment_by_name("failing")
    runs = client.search_runs([exp.experiment_id])
    assert [r.info.status for r in runs] == ["FAILED"]
    run = runs[0]
    assert run.data.tags["mediamix.error"].startswith("DataValidationError: ")
    assert str(caught.value) in run.data.tags["mediamix.error"]
    assert run.data.params["sampler.draws"] == "200"  # settings are there for a failed fit too
    assert run.data.params["data.path"] == "bad.csv"
    error = Path(client.download_artifacts(run.info.run_id, "error.txt", tmp_path)).read_text()
    assert "Traceback" in error and "DataValidationError" in error
    assert mlflow.active_run() is None


def test_flatten_config_is_dotted_and_bounded() -> None:
    config = load_model_config(MODEL_CONFIG)
    params = flatten_config(config)
    assert params["sampler.draws"] == "1000"
    assert params["channels.facebook.saturation.lam"] == "Gamma(alpha=3.0, beta=1.0)"
    assert params["controls"] == "[]"
    assert params["tracking.experiment"] == "None"
    long = config.model_copy(update={"controls": [f"c{i:05d}" for i in range(2000)]})
    value = flatten_config(long)["controls"]
    assert len(value) == 6000 and value.endswith("...")


def test_describe_data_source(tmp_path: Path) -> None:
    data = tmp_path / "d.csv"
    data.write_text("date,x\n2020-01-01,1\n")
    source = describe_data_source(data)
    assert source == {
        "kind": "file",
        "path": str(data.resolve()),
        "sha256": hashlib.sha256(data.read_bytes()).hexdigest(),
    }
    with pytest.raises(MediamixError, match="neither a file nor a table"):
        describe_data_source(tmp_path / "missing.csv")


def test_resolve_target(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    monkeypatch.chdir(tmp_path)
    config = load_model_config(MODEL_CONFIG)
    local = resolve_target(config, tracking_uri="sqlite:///mlflow.db")
    assert local.tracking_uri == f"sqlite:///{tmp_path.resolve()}/mlflow.db"
    assert local.experiment == "mediamix"
    # `mlflow` itself where it is on PATH, else this venv's (tests/mlops/test_readme_commands.py)
    assert local.ui_command.endswith(
        f"mlflow ui --backend-store-uri sqlite:///{tmp_path.resolve()}/mlflow.db"
    )
    named = config.model_copy(
        update={"tracking": config.tracking.model_copy(update={"experiment": "mmm-q3"})}
    )
    assert resolve_target(named, tracking_uri="sqlite:///x.db").experiment == "mmm-q3"
    assert (
        resolve_target(named, experiment="cli", tracking_uri="sqlite:///x.db").experiment == "cli"
    )
    monkeypatch.setenv("DATABRICKS_RUNTIME_VERSION", "16.4")
    remote = resolve_target(config, tracking_uri="databricks")
    assert (remote.experiment, remote.registry_uri) == ("/Shared/mediamix", "databricks-uc")
    assert remote.ui_command == "open the experiment /Shared/mediamix in the Databricks workspace"
    assert (
        resolve_target(config, experiment="/Users/me/mmm", tracking_uri="databricks").experiment
        == "/Users/me/mmm"
    )
    assert registered_model_name("mmm") == "main.mediamix.mmm"
    assert registered_model_name("sales.mmm") == "main.sales.mmm"
    assert registered_model_name("prod.sales.mmm") == "prod.sales.mmm"


def test_one_rule_names_the_registered_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABRICKS_RUNTIME_VERSION", raising=False)
    assert registered_model_name(" mmm ") == "mmm"  # outside Unity Catalog: as given
    monkeypatch.setenv("DATABRICKS_RUNTIME_VERSION", "16.4")
    assert registered_model_name("mmm", catalog="c", schema="s") == "c.s.mmm"
    assert registered_model_name("x.mmm", catalog="c", schema="s") == "c.x.mmm"
    full = registered_model_name("mmm")
    assert registered_model_name(full, catalog="c", schema="s") == full == "main.mediamix.mmm"
    with pytest.raises(TrackingError, match="registered model name is empty"):
        registered_model_name("  ")
    with pytest.raises(TrackingError, match=r"catalog\.schema\.name"):
        registered_model_name("a.b.c.d")


def test_a_run_kept_open_takes_extras_until_it_ends(
    small_config: ModelConfig, tmp_path: Path
) -> None:
    from matplotlib.figure import Figure

    store = f"sqlite:///{tmp_path}/mlflow.db"
    previous = mlflow.get_tracking_uri()
    try:
        with tracked_run(small_config, tracking_uri=store, keep_open=True) as run:
            pass
        active = mlflow.active_run()
        assert run.status == "RUNNING" and active is not None and active.info.run_id == run.run_id
        fig = Figure()
        fig.subplots().plot([0, 1])
        run.log_extras(
            metrics={"optimizer/lift_mean": 2.5},
            artifacts={"optimizer/allocation.json": {"lift": float("nan")}},
            figures={"figures/budget.png": fig},
        )
        # a new run ends the one left open rather than nesting under it
        with tracked_run(small_config, tracking_uri=store) as second:
            pass
        client = MlflowClient(store)
        first = client.get_run(run.run_id)
        assert (first.info.status, run.status) == ("FINISHED", "FINISHED")
        assert first.data.metrics["optimizer/lift_mean"] == 2.5
        assert "mlflow.parentRunId" not in client.get_run(second.run_id).data.tags
        saved = client.download_artifacts(run.run_id, "optimizer/allocation.json", str(tmp_path))
        assert json.loads(Path(saved).read_text()) == {"lift": None}
        figures = [a.path for a in client.list_artifacts(run.run_id, "figures")]
        assert figures == ["figures/budget.png"]
        with pytest.raises(TrackingError, match="is FINISHED: log to a run before it ends"):
            run.log_extras(metrics={"late": 1.0})
        run.end()  # ending an ended run changes nothing
        assert client.get_run(run.run_id).info.status == "FINISHED"
        assert mlflow.active_run() is None
    finally:
        mlflow.set_tracking_uri(previous)


@pytest.mark.slow
def test_cli_fit_tracks_and_prints_the_run(
    synthetic: SyntheticData, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data.csv"
    synthetic.data.to_csv(data, index=False)
    store = f"sqlite:///{tmp_path}/store/mlflow.db"
    (tmp_path / "store").mkdir()
    common = ["fit", "--data", str(data), "--config", str(MODEL_CONFIG), "--sampler", "pymc"]
    common += ["--draws", "30", "--tune", "30", "--chains", "2", "--tracking-uri", store]
    args = [*common, "--out", str(tmp_path / "out"), "--experiment", "cli-test"]
    assert main([*args, "--register-as", "cli_model", "--register-anyway"]) == 0
    printed = capsys.readouterr().out
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    run_id = summary["mlflow_run_id"]
    assert f"MLflow run {run_id} (experiment cli-test)" in printed
    assert f"mlflow ui --backend-store-uri {store}" in printed
    assert "registered as models:/cli_model/1" in printed
    client = MlflowClient(store)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["data.sha256"] == hashlib.sha256(data.read_bytes()).hexdigest()

    assert main([*common, "--out", str(tmp_path / "off"), "--no-tracking"]) == 0
    off = json.loads((tmp_path / "off" / "summary.json").read_text())
    assert off["mlflow_run_id"] is None
    assert "MLflow run" not in capsys.readouterr().out

    bad = synthetic.data.copy()
    bad.loc[3, "adwords"] = -1.0
    bad_data = tmp_path / "bad.csv"
    bad.to_csv(bad_data, index=False)
    bad_args = [*common, "--out", str(tmp_path / "bad"), "--experiment", "cli-test"]
    bad_args[2] = str(bad_data)
    assert main(bad_args) == 2
    err = capsys.readouterr().err
    # bad data is refused before MLflow (or PyMC) is touched: no run is opened for it
    assert "adwords" in err and "MLflow run" not in err, err
    exp = client.get_experiment_by_name("cli-test")
    statuses = [r.info.status for r in client.search_runs([exp.experiment_id])]
    assert statuses == ["FINISHED"]  # the good fit's run; nothing left RUNNING
    assert np.isfinite(run.data.metrics["r2"])
