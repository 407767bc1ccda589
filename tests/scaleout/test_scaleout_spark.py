"""``mediamix fit-many`` on a real local SparkSession: 4 groups, one bad, results recorded."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import yaml

from mediamix.cli import main
from mediamix.inference.fit import load_fit
from mediamix.lakehouse.tables import read_table
from tests.recovery_checks import hdi_allowing_mcse

pytest.importorskip("pyspark", reason="pyspark is not installed (pip install -e '.[spark]')")
if shutil.which("java") is None:
    pytest.skip("no java on PATH: Spark needs a Java runtime (17)", allow_module_level=True)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas"),
]

GENERATOR = {
    "start_date": "2021-01-01",
    "end_date": "2022-12-31",
    "frequency": "weekly",
    "l_max": 8,
    "seed": 11,
    "groups": 4,
    "outcome": {"name": "sales", "intercept": 3.4, "sigma": 0.05, "scale": 100000},
    "trend": {"slope": 0.05},
    "seasonality": {"amplitude": 0.2, "peak": 0.9},
    "media": {
        "adwords": {"min": 3928.0, "max": 49287.0, "alpha": 0.3, "mu": 3.1, "beta": 1.5},
        "facebook": {"min": 1029.0, "max": 83927.0, "alpha": 0.2, "mu": 4.2, "beta": 1.0},
    },
}
for _channel in GENERATOR["media"].values():  # type: ignore[attr-defined]
    _channel.update(decay="geometric", saturation="logistic", signal={"base": "walk", "sigma": 1})
MODEL = {
    "outcome": {"name": "sales"},
    "channels": ["adwords", "facebook"],
    "seasonality": {"yearly_order": 2},
    "trend": {"enabled": True},
    "sampler": {"sampler": "nutpie", "draws": 150, "tune": 150, "chains": 2, "seed": 1},
}


@pytest.fixture(scope="module")
def spark_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("fit_many")
    (root / "gen.yaml").write_text(yaml.safe_dump(GENERATOR))
    (root / "model.yaml").write_text(yaml.safe_dump(MODEL))
    gen = ["generate", "--config", root / "gen.yaml", "--out", root / "all.csv"]
    assert main([str(a) for a in [*gen, "--truth", root / "truth.json"]]) == 0
    data = pd.read_csv(root / "all.csv")
    bad = data.index[data["group"] == "g03"][[4, 9]]
    data.loc[bad, "facebook"] = -250.0  # one bad group: negative spend in rows 4 and 9
    data.to_csv(root / "data.csv", index=False)
    uri = f"sqlite:///{root}/mlflow.db"
    args = ["fit-many", "--data", root / "data.csv", "--group-by", "group"]
    args += ["--config", root / "model.yaml", "--out", root / "out", "--spark", "local[2]"]
    args += ["--lakehouse", root / "lake", "--tracking-uri", uri]
    before = mlflow.get_tracking_uri()
    try:
        code = main([str(a) for a in args])
    finally:
        mlflow.set_tracking_uri(before)  # the run set it for the process; later tests use theirs
    return {"root": root, "code": code, "uri": uri, "args": [str(a) for a in args]}


def test_good_groups_recover_true_roas_and_bad_group_fails_alone(spark_run) -> None:
    root: Path = spark_run["root"]  # type: ignore[assignment]
    assert spark_run["code"] == 1  # a group failed
    status = pd.read_csv(root / "out" / "status.csv")
    assert list(status.columns[:4]) == ["group", "status", "error", "fit_seconds"]
    by_group = status.set_index("group")
    assert by_group["status"].to_dict() == {"g01": "ok", "g02": "ok", "g03": "failed", "g04": "ok"}
    error = by_group.loc["g03", "error"]
    assert "group 'g03'" in error and "'facebook'" in error and "rows 4, 9" in error
    truth = json.loads((root / "truth.json").read_text())["groups"]
    for group in ("g01", "g02", "g04"):
        summary = json.loads((root / "out" / group / "summary.json").read_text())
        assert (root / "out" / group / "fit.nc").is_file()
        for channel, entry in summary["channels"].items():
            true = truth[group]["channels"][channel]["roas"]
            roas = entry["roas"]
            fit = load_fit(root / "out" / group / "fit.nc")
            spend = fit.frame[channel].sum()
            draws = fit.posterior["channel_contribution"].sel(channel=channel).sum("date") / spend
            low, high = hdi_allowing_mcse(
                draws, roas["hdi_low"], roas["hdi_high"], summary["hdi_prob"]
            )
            assert low <= true <= high, (group, channel, true, roas)
    assert not (root / "out" / "g03" / "summary.json").exists()


def test_results_table_holds_one_version_per_run(spark_run) -> None:
    root: Path = spark_run["root"]  # type: ignore[assignment]
    table = read_table("mmm_fit_many", lakehouse=root / "lake")
    assert len(table) == 3 * 2 + 1  # a row per (group, channel), one for the failed group
    failed = table[table["status"] == "failed"]
    assert failed["group_value"].tolist() == ["g03"]
    assert table["run_id"].nunique() == 1
    # the results came from Spark's workers, each reused for later groups
    assert table["worker"].nunique() <= 2


def test_mlflow_has_a_parent_run_with_a_child_per_group(spark_run) -> None:
    client = mlflow.MlflowClient(tracking_uri=str(spark_run["uri"]))
    exp = client.get_experiment_by_name("mediamix")
    runs = client.search_runs([exp.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert len(parents) == 1
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parents[0].info.run_id]
    assert sorted(r.data.tags["mediamix.group"] for r in children) == ["g01", "g02", "g03", "g04"]
    failed = [r for r in children if r.info.status == "FAILED"]
    assert [r.data.tags["mediamix.group"] for r in failed] == ["g03"]
    ok = next(r for r in children if r.data.tags["mediamix.group"] == "g01")
    assert "roas/adwords/mean" in ok.data.metrics
    assert {a.path for a in client.list_artifacts(ok.info.run_id)} >= {"fit", "summary.json"}


def test_resume_skips_groups_that_succeeded(spark_run) -> None:
    root: Path = spark_run["root"]  # type: ignore[assignment]
    assert main([*spark_run["args"], "--resume", "--no-tracking"]) == 1  # type: ignore[misc]
    status = pd.read_csv(root / "out" / "status.csv").set_index("group")["status"]
    assert status.to_dict() == {
        "g01": "skipped",
        "g02": "skipped",
        "g03": "failed",
        "g04": "skipped",
    }
    versions = read_table("mmm_fit_many", lakehouse=root / "lake")["run_id"].nunique()
    assert versions == 2
