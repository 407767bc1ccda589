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


def test_organic_channel_fits_predicts_and_summarises(
    synthetic: SyntheticData, tmp_path: Path
) -> None:
    """An organic channel: contribution in the model, plans and summary; no ROAS, no spend."""
    from mediamix.analysis.predict import PlanError, example_plan, plan_columns, predict_plan
    from mediamix.config.base import parse_config
    from mediamix.config.model import ModelConfig

    week = np.arange(len(synthetic.data))
    data = synthetic.data.assign(newsletter=100.0 + 50.0 * (week % 4 == 0))
    config = parse_config(
        ModelConfig,
        {
            "outcome": {"name": "sales"},
            "channels": ["adwords", "facebook", "linkedin"],
            "organic_channels": {"newsletter": {"adstock": {"l_max": 4}}},
            "sampler": {"sampler": "advi", "advi_iterations": 300, "draws": 50},
        },
    )
    with pytest.warns(ConvergenceWarning, match="ADVI"):
        result = fit(data, config)
    post = result.posterior
    assert list(post["organic_contribution"].coords["organic"].values) == ["newsletter"]
    assert "organic_beta" in post and "organic_adstock_alpha" in post
    assert result.scalers.organic_max == {"newsletter": 150.0}
    assert "newsletter" not in result.channels

    summary = fit_summary(result)
    assert set(summary["channels"]) == {"adwords", "facebook", "linkedin"}
    assert "roas" not in summary["organic"]["newsletter"]
    assert set(summary["organic"]["newsletter"]["params"]) == {
        "adstock_alpha",
        "saturation_lam",
        "beta",
    }
    shares = [c["contribution_share"]["mean"] for c in summary["channels"].values()]
    assert 0 < summary["organic"]["newsletter"]["contribution_share"]["mean"] < 1
    assert sum(shares) < 1

    plan = example_plan(result)
    assert plan_columns(result) == ["date", "adwords", "facebook", "linkedin", "newsletter"]
    assert list(plan.columns) == plan_columns(result)
    predicted = predict_plan(result, plan, draws=20)
    assert "contribution_newsletter" in predicted.columns
    more = predict_plan(result, plan.assign(newsletter=10 * plan["newsletter"]), draws=20)
    assert (more["contribution_newsletter"] > predicted["contribution_newsletter"]).all()
    with pytest.raises(PlanError, match=r"missing organic media columns \['newsletter'\]"):
        predict_plan(result, plan.drop(columns="newsletter"))
    with pytest.raises(PlanError, match=r"organic media column 'newsletter': row"):
        predict_plan(result, plan.assign(newsletter=[-1.0, 1.0, 1.0, 1.0]))

    loaded = load_fit(result.save(tmp_path / "fit.nc"))
    assert loaded.scalers.organic_max == result.scalers.organic_max
    assert loaded.config.organic_names == ["newsletter"]


def test_exposure_channel_fits_with_roas_in_currency(synthetic: SyntheticData) -> None:
    """A channel modeled on impressions: the exposure is the input, ROAS is per unit of spend."""
    from mediamix.analysis.metrics import current_spend, roas
    from mediamix.analysis.predict import PlanError, example_plan, plan_columns, predict_plan
    from mediamix.config.base import parse_config
    from mediamix.config.model import ModelConfig
    from mediamix.data.validation import DataValidationError

    cost = np.linspace(0.01, 0.02, len(synthetic.data))  # currency per impression
    data = synthetic.data.rename(columns={"facebook": "facebook_S"})
    data = data.assign(facebook_I=data["facebook_S"] / cost)
    config = parse_config(
        ModelConfig,
        {
            "outcome": {"name": "sales"},
            "channels": [
                "adwords",
                {"name": "facebook", "exposure": "facebook_I", "spend": "facebook_S"},
                "linkedin",
            ],
            "sampler": {"sampler": "advi", "advi_iterations": 300, "draws": 50},
        },
    )
    with pytest.warns(ConvergenceWarning, match="ADVI"):
        result = fit(data, config)
    assert result.scalers.spend_max["facebook"] == pytest.approx(data["facebook_I"].max())
    cpe = data["facebook_S"].sum() / data["facebook_I"].sum()
    assert result.scalers.cost_per_exposure["facebook"] == pytest.approx(cpe)

    table = roas(result)
    assert table.loc["facebook", "spend"] == pytest.approx(data["facebook_S"].sum())
    contribution = float(result.posterior["channel_contribution"].sel(channel="facebook").sum())
    draws = result.posterior.sizes["chain"] * result.posterior.sizes["draw"]
    expected = contribution / draws / data["facebook_S"].sum()
    assert table.loc["facebook", "mean"] == pytest.approx(expected, rel=1e-9)
    summary = fit_summary(result)
    assert summary["channels"]["facebook"]["roas"]["mean"] == pytest.approx(expected, rel=1e-9)
    assert current_spend(result)["facebook"] == pytest.approx(data["facebook_S"].mean())
    # the optimizer and response curves work in currency (spend -> exposure at the average cpe)
    from mediamix.analysis.optimize import optimize_budget
    from mediamix.analysis.response import MediaParameters, SteadyStateResponse

    allocation = optimize_budget(result, float(current_spend(result).sum()), draws=20)
    assert allocation.current["facebook"] == pytest.approx(data["facebook_S"].mean())
    assert allocation.allocation.sum() == pytest.approx(current_spend(result).sum(), rel=1e-6)
    spend = current_spend(result).to_numpy()
    exposure = spend / np.array([1.0, cpe, 1.0])
    in_spend = SteadyStateResponse(MediaParameters.from_fit(result, 20)).draws(spend)
    in_media = SteadyStateResponse(MediaParameters.from_fit(result, 20, media_units=True))
    np.testing.assert_allclose(in_spend, in_media.draws(exposure), rtol=1e-9)

    assert plan_columns(result) == ["date", "adwords", "facebook_I", "linkedin"]
    plan = example_plan(result)
    assert list(plan.columns) == plan_columns(result)
    predicted = predict_plan(result, plan.assign(facebook_S=1.0), draws=20)
    assert "contribution_facebook" in predicted.columns
    with pytest.raises(PlanError, match=r"missing channel columns \['facebook_I'\]"):
        predict_plan(result, plan.drop(columns="facebook_I"))

    with pytest.raises(DataValidationError, match="exposure column 'facebook_I' is missing"):
        fit(data.drop(columns="facebook_I"), config)
    with pytest.raises(DataValidationError, match="spend column 'facebook_S' is zero in every"):
        fit(data.assign(facebook_S=0.0), config)
    with pytest.raises(DataValidationError, match=r"exposure column 'facebook_I': row"):
        fit(data.assign(facebook_I=-data["facebook_I"]), config)
