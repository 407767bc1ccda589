from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mediamix.analysis.summary import fit_summary
from mediamix.cli import main
from mediamix.config.model import load_model_config
from mediamix.data.generator import Generator, SyntheticData
from mediamix.inference.diagnostics import ConvergenceWarning
from mediamix.inference.fit import FitResult, fit, load_fit

REPO = Path(__file__).resolve().parents[2]
GEN_CONFIG = REPO / "config/generator/basic_config.yaml"
MODEL_CONFIG = REPO / "config/model/basic_config.yaml"


@pytest.fixture(scope="module")
def synthetic() -> SyntheticData:
    return Generator.from_config_file(GEN_CONFIG).generate()


@pytest.fixture(scope="module")
def default_fit(synthetic: SyntheticData) -> FitResult:
    """The shipped model config on the shipped generator's data, as `make run` fits it."""
    return fit(synthetic.data, load_model_config(MODEL_CONFIG))


@pytest.mark.slow
def test_recovers_the_truth(default_fit: FitResult, synthetic: SyntheticData) -> None:
    summary = fit_summary(default_fit)
    diag = summary["diagnostics"]
    assert diag["r_hat_max"] <= 1.01
    assert diag["divergences"] == 0
    assert diag["converged"], diag["problems"]
    for ch, est in summary["channels"].items():
        true_roas = synthetic.truth.roas[ch]
        roas = est["roas"]
        assert roas["hdi_low"] <= true_roas <= roas["hdi_high"], (ch, roas, true_roas)
        assert abs(roas["mean"] - true_roas) <= 0.15 * true_roas
        true_alpha = synthetic.truth.params[ch]["adstock_alpha"]
        assert abs(est["params"]["adstock_alpha"]["mean"] - true_alpha) <= 0.1


@pytest.mark.slow
def test_fit_result_has_every_group(default_fit: FitResult) -> None:
    groups = set(default_fit.idata.children)
    assert {
        "posterior",
        "sample_stats",
        "observed_data",
        "log_likelihood",
        "posterior_predictive",
    } <= groups
    post = default_fit.posterior
    assert post["channel_contribution"].dims == ("chain", "draw", "date", "channel")
    assert set(default_fit.timings) >= {"sample_seconds", "fit_seconds"}
    diag = default_fit.diagnostics()
    assert diag.r2 > 0.9
    assert np.isfinite(diag.elpd_loo)


@pytest.mark.slow
def test_saved_fit_loads_in_a_fresh_process(default_fit: FitResult, tmp_path: Path) -> None:
    path = default_fit.save(tmp_path / "fit.nc")
    code = (
        "import json, sys; from mediamix.inference.fit import load_fit; "
        "from mediamix.analysis.summary import fit_summary; "
        "print(json.dumps(fit_summary(load_fit(sys.argv[1])), sort_keys=True))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout) == json.loads(json.dumps(fit_summary(default_fit)))
    loaded = load_fit(path)
    pd.testing.assert_frame_equal(loaded.frame, default_fit.frame)
    assert loaded.config == default_fit.config


def test_load_fit_rejects_other_files(tmp_path: Path) -> None:
    from mediamix.errors import MediamixError

    with pytest.raises(MediamixError, match="no fit file"):
        load_fit(tmp_path / "missing.nc")
    bogus = tmp_path / "bogus.nc"
    bogus.write_text("not netcdf")
    with pytest.raises(MediamixError, match="not a readable NetCDF"):
        load_fit(bogus)


@pytest.mark.slow
def test_unconverged_fit_says_so(synthetic: SyntheticData) -> None:
    cfg = load_model_config(MODEL_CONFIG).with_sampler(
        sampler="nutpie", draws=15, tune=15, chains=2
    )
    with pytest.warns(ConvergenceWarning, match="did NOT converge"):
        result = fit(synthetic.data, cfg)
    diag = result.diagnostics()
    assert not diag.converged
    assert diag.problems


@pytest.mark.slow
def test_cli_fit_writes_summary_and_fit(
    synthetic: SyntheticData, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data.csv"
    synthetic.data.to_csv(data, index=False)
    out = tmp_path / "out"
    args = [
        "fit",
        "--data",
        str(data),
        "--config",
        str(MODEL_CONFIG),
        "--out",
        str(out),
        "--sampler",
        "nutpie",
        "--draws",
        "100",
        "--tune",
        "100",
        "--chains",
        "2",
        "--seed",
        "3",
        "--no-tracking",
    ]
    assert main(args) == 0  # so few draws miss the ESS threshold: reported, not raised
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary) >= {"hdi_prob", "channels", "diagnostics"}
    adwords = summary["channels"]["adwords"]
    assert set(adwords) == {"roas", "contribution_share", "params"}
    assert set(adwords["params"]) == {"adstock_alpha", "saturation_lam", "beta"}
    assert set(adwords["roas"]) == {"mean", "hdi_low", "hdi_high"}
    assert set(summary["diagnostics"]) >= {
        "r_hat_max",
        "ess_bulk_min",
        "divergences",
        "converged",
        "r2",
        "mape",
        "fit_seconds",
    }
    assert (out / "fit.nc").is_file()
    printed = capsys.readouterr()
    assert "ROAS adwords" in printed.out
    assert "did NOT converge" in printed.err


def test_cli_fit_rejects_bad_data_before_sampling(
    synthetic: SyntheticData, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = synthetic.data.copy()
    bad.loc[7, "facebook"] = -5.0
    data = tmp_path / "bad.csv"
    bad.to_csv(data, index=False)
    out = tmp_path / "out"
    code = main(["fit", "--data", str(data), "--config", str(MODEL_CONFIG), "--out", str(out)])
    assert code == 2
    err = capsys.readouterr().err
    assert "'facebook'" in err and "rows 7" in err and ">= 0" in err
    assert not out.exists()
