"""The notebooks: parameter plumbing, display, and both notebooks end to end as plain Python.

The end-to-end test runs ``RUNME.py --local`` (each notebook as ``python "<notebook>.py"`` in
its own process, in job order) with a temporary lakehouse and MLflow store and tiny sampling,
then checks what the notebooks wrote: the gold table, the MLflow run and the registered model.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import pytest
from matplotlib.figure import Figure
from mlflow.tracking import MlflowClient

from mediamix.databricks.notebook import (
    DataGenParams,
    ModelParams,
    Notebook,
    ParameterError,
    read_params,
)
from mediamix.lakehouse.tables import read_table

REPO = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------- parameters


class FakeWidgets:
    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.created: dict[str, tuple[str, str]] = {}

    def text(self, name: str, default: str, label: str) -> None:
        self.created[name] = (default, label)
        self.values.setdefault(name, default)

    def get(self, name: str) -> str:
        return self.values[name]


@dataclass
class FakeDbutils:
    widgets: FakeWidgets


def test_defaults_and_environment() -> None:
    assert read_params(ModelParams, env={}) == ModelParams()
    params = read_params(
        ModelParams,
        env={"MEDIAMIX_DRAWS": "200", "MEDIAMIX_BUDGET": "1e5", "MEDIAMIX_SAMPLER": "pymc"},
    )
    assert (params.draws, params.budget, params.sampler) == (200, 100_000.0, "pymc")
    assert params.tune is None and params.catalog == "main"
    assert read_params(DataGenParams, env={"MEDIAMIX_DATA_SEED": " 7 "}).data_seed == 7


def test_bad_values_name_the_parameter() -> None:
    with pytest.raises(ParameterError, match="'draws' \\(MEDIAMIX_DRAWS\\) must be a whole number"):
        read_params(ModelParams, env={"MEDIAMIX_DRAWS": "ten"})
    widgets = FakeWidgets({"budget": "lots"})
    with pytest.raises(ParameterError, match="'budget' \\(widget budget\\) must be a number"):
        read_params(ModelParams, FakeDbutils(widgets), env={})


def test_widgets_are_created_with_defaults_and_read_back() -> None:
    widgets = FakeWidgets({"chains": "2", "catalog": "dev"})
    params = read_params(ModelParams, FakeDbutils(widgets), env={"MEDIAMIX_CHAINS": "9"})
    assert params.chains == 2 and params.catalog == "dev"  # widgets win over the environment
    assert widgets.created["gold_table"][0] == "mmm_gold"
    assert widgets.created["draws"][0] == ""
    assert set(widgets.created) == {f for f in ModelParams.__dataclass_fields__}


def test_names_of_the_gold_table_and_the_model(monkeypatch: pytest.MonkeyPatch) -> None:
    params = ModelParams(catalog="c", schema="s")
    assert params.gold_table_name == "c.s.mmm_gold"
    assert ModelParams(gold_table="x.t").gold_table_name == "main.x.t"
    assert ModelParams(gold_table="a.b.t").gold_table_name == "a.b.t"
    monkeypatch.delenv("DATABRICKS_RUNTIME_VERSION", raising=False)
    assert params.registered_model_name == "mmm"
    assert ModelParams(registered_model=" ").registered_model_name is None
    monkeypatch.setenv("DATABRICKS_RUNTIME_VERSION", "16.4")
    assert params.registered_model_name == "c.s.mmm"
    assert ModelParams(bounds="tv=-10%:+10%, *=:5000").bounds_list == ["tv=-10%:+10%", "*=:5000"]


def test_show_prints_tables_and_saves_figures_locally(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MEDIAMIX_OUTPUT_DIR", str(tmp_path))
    nb = Notebook("nb", {})
    assert not nb.on_databricks
    nb.show(pd.DataFrame({"a": [1.5, 2.5]}), "a table")
    fig = Figure()
    fig.subplots().plot([0, 1])
    nb.show(fig, "my figure")
    out = capsys.readouterr().out
    assert "== a table ==" in out and "2.5" in out
    assert (tmp_path / "nb" / "my_figure.png").stat().st_size > 0
    assert nb.path("config/model/basic_config.yaml").is_file()  # from any working directory


def test_show_uses_databricks_display() -> None:
    shown: list[Any] = []
    nb = Notebook("nb", {"dbutils": object(), "display": shown.append})
    table, fig = pd.DataFrame({"a": [1]}), Figure()
    nb.show(table, "t")
    nb.show(fig, "f")
    assert shown[0] is table and shown[1] is fig
    # the index and mixed values survive display's conversion to a Spark table
    nb.show(pd.Series({"r2": 0.99, "problems": ["x"]}, name="value"), "diagnostics")
    assert list(shown[2].columns) == ["index", "value"]
    assert shown[2]["value"].tolist() == ["0.99", "['x']"]


# --------------------------------------------------------------------------- end to end


@dataclass(frozen=True)
class LocalRun:
    lakehouse: Path
    tracking_uri: str
    output_dir: Path
    stdout: str
    cwd: Path


@pytest.fixture(scope="module")
def local_run(tmp_path_factory: pytest.TempPathFactory) -> LocalRun:
    work = tmp_path_factory.mktemp("notebooks")
    lakehouse, out = work / "lake", work / "out"
    uri = f"sqlite:///{work / 'mlflow.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEDIAMIX_", "DATABRICKS_"))}
    env |= {
        "MEDIAMIX_LAKEHOUSE": str(lakehouse),
        "MEDIAMIX_OUTPUT_DIR": str(out),
        "MLFLOW_TRACKING_URI": uri,
        "MEDIAMIX_DRAWS": "100",
        "MEDIAMIX_TUNE": "100",
        "MEDIAMIX_CHAINS": "2",
        "MEDIAMIX_SAMPLER": "nutpie",
        "MEDIAMIX_COMPILE_CACHE": str(work / "compile-cache"),  # the job's Volume folder
        "MPLBACKEND": "Agg",
    }
    done = subprocess.run(
        [sys.executable, str(REPO / "RUNME.py"), "--local"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    return LocalRun(lakehouse, uri, out, done.stdout, work)


@pytest.mark.slow
def test_data_gen_writes_the_gold_table(local_run: LocalRun) -> None:
    gold = read_table("main.mediamix.mmm_gold", lakehouse=local_run.lakehouse)
    assert list(gold.columns) == ["date", "adwords", "facebook", "linkedin", "sales"]
    assert len(gold) == 209
    assert gold["date"].is_monotonic_increasing and gold.notna().all().all()
    silver = read_table("main.mediamix.mmm_silver_spend", lakehouse=local_run.lakehouse)
    assert len(silver) == 3 * 209
    assert (local_run.output_dir / "01_data_gen" / "synthetic_data.png").is_file()


@pytest.mark.slow
def test_model_notebook_records_an_mlflow_run(local_run: LocalRun) -> None:
    mlflow.set_tracking_uri(local_run.tracking_uri)
    runs = mlflow.search_runs(experiment_names=["mediamix"], output_format="list")
    (run,) = runs
    assert run.info.status == "FINISHED"
    metrics = run.data.metrics
    for key in ("r2", "r_hat_max", "ess_bulk_min", "roas/adwords/mean", "optimizer/lift_mean"):
        assert key in metrics, key
    assert 0.9 < metrics["r2"] <= 1.0
    assert run.data.params["sampler.draws"] == "100"
    assert run.data.params["data.table"] == "main.mediamix.mmm_gold"
    artifacts = {a.path for a in MlflowClient().list_artifacts(run.info.run_id, "optimizer")}
    assert "optimizer/allocation.json" in artifacts
    figures = {a.path for a in MlflowClient().list_artifacts(run.info.run_id, "figures")}
    assert {"figures/fit.png", "figures/roas.png", "figures/budget.png"} <= figures


@pytest.mark.slow
def test_model_notebook_registers_the_model(local_run: LocalRun) -> None:
    client = MlflowClient(tracking_uri=local_run.tracking_uri)
    runs = mlflow.search_runs(experiment_names=["mediamix"], output_format="list")
    tags = runs[0].data.tags
    if tags["mediamix.converged"] != "true":  # a short test fit is logged, never registered
        assert tags["mediamix.registration"].startswith("not registered as 'mmm'")
        assert not client.search_model_versions("name='mmm'")
        return
    model = client.get_registered_model("mmm")
    (version,) = client.search_model_versions("name='mmm'")
    assert model.name == "mmm" and version.run_id == runs[0].info.run_id


@pytest.mark.slow
def test_local_run_says_where_everything_is(local_run: LocalRun) -> None:
    out = local_run.stdout
    assert "=== task data_gen" in out and "=== task mmm_pymc" in out
    assert out.index("=== task data_gen") < out.index("=== task mmm_pymc")
    assert "local run finished" in out
    assert f"gold table:   main.mediamix.mmm_gold version 0 (delta-rs: {local_run.lakehouse}" in out
    assert "MLflow UI:" in out and "ui --backend-store-uri sqlite:///" in out
    # a short test fit is not registered, and says why (see the test above)
    assert "registered:   models:/mmm/1" in out or (
        "registered:   not registered as 'mmm': the fit did not converge" in out
    )
    assert (local_run.output_dir / "02_mmm_pymc" / "prior_predictive.png").is_file()
    assert not (local_run.cwd / "lakehouse").exists()  # everything went where it was told
    # the model notebook set the compile cache up before PyTensor loaded, and saved it
    (archive,) = (local_run.cwd / "compile-cache").glob("*.tar.gz")
    assert "compile cache: saved " in out and f"to {archive} in" in out


def test_prior_predictive_check(basic_config_path: Path) -> None:
    from mediamix.analysis.prior_check import plot_prior_predictive, prior_predictive
    from mediamix.config.model import load_model_config
    from mediamix.data.generator import Generator
    from mediamix.errors import MediamixError

    frame = Generator.from_config_file(basic_config_path).generate(seed=3).data
    config = load_model_config(REPO / "config" / "model" / "basic_config.yaml")
    pp = prior_predictive(frame, config, draws=60, seed=1)
    assert pp.draws.shape == (60, len(frame)) and pp.observed.shape == (len(frame),)
    summary = pp.summary()
    assert 0.0 <= summary["coverage"] <= 1.0 and summary["band_width_ratio"] > 0
    assert summary["observed_mean"] == pytest.approx(frame["sales"].mean())
    # simulated outcomes are in outcome units, on the data's scale rather than the model's
    assert 0.1 < summary["simulated_mean"] / summary["observed_mean"] < 10
    assert len(pp.band()) == len(frame)
    assert isinstance(plot_prior_predictive(pp), Figure)
    with pytest.raises(MediamixError, match="draws must be at least 2"):
        prior_predictive(frame, config, draws=1)
