"""The benchmark harness's pure pieces: dataset configs, runner inputs, metrics and reports.

Nothing here fits a model or needs the PyMC-Marketing environment.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import xarray as xr

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # `bench` is a top-level folder, not an installed package
    sys.path.insert(0, str(REPO_ROOT))

from bench.datasets import DATASETS, FitSettings, write_inputs  # noqa: E402
from bench.harness import cache_env  # noqa: E402
from bench.metrics import convergence, roas_vs_truth  # noqa: E402
from bench.recovery import summarize  # noqa: E402
from bench.report import render_recovery, render_speed  # noqa: E402
from mediamix.config.model import load_model_config  # noqa: E402


@pytest.mark.parametrize("key", sorted(DATASETS))
def test_dataset_generates_its_stated_shape(key: str) -> None:
    ds = DATASETS[key]
    data = ds.generate()
    gen = ds.config()
    assert len(data.data) == ds.weeks
    assert len(gen.media) == ds.channels
    assert len(gen.controls) == ds.controls
    assert gen.frequency == "weekly"
    assert set(data.truth.roas) == set(gen.media)
    assert all(r > 0 for r in data.truth.roas.values())


def test_issue_shapes() -> None:
    shapes = {k: (d.weeks, d.channels, d.controls) for k, d in DATASETS.items()}
    assert shapes == {"a": (209, 3, 0), "b": (156, 10, 2), "c": (104, 4, 0)}
    assert DATASETS["b"].config().seasonality.amplitude > 0


def test_write_inputs_gives_a_loadable_model_config(tmp_path: Path) -> None:
    ds = DATASETS["b"]
    data = ds.generate()
    settings = FitSettings(draws=50, tune=60, chains=2, seed=3)
    spec = write_inputs(ds, data, settings, tmp_path)
    config = load_model_config(spec["model_config"])
    assert config.channel_names == spec["channels"] == list(ds.config().media)
    assert config.controls == spec["controls"] == ["price_index", "promo"]
    assert config.seasonality.yearly_order == spec["yearly_order"] == 2
    assert config.trend.enabled
    assert {c.adstock.l_max for c in config.channels.values()} == {12}
    assert {c.adstock.type for c in config.channels.values()} == {"geometric"}
    assert {c.saturation.type for c in config.channels.values()} == {"logistic"}
    s = config.sampler
    assert (s.sampler, s.draws, s.tune, s.chains, s.seed) == ("nutpie", 50, 60, 2, 3)
    assert Path(spec["csv"]).is_file()
    assert spec["true_roas"] == data.truth.roas
    # the priors handed to PyMC-Marketing are mediamix's own
    priors = spec["priors"]
    assert priors["adstock_alpha"] == {"dist": "Beta", "alpha": 1.0, "beta": 3.0}
    assert priors["beta"]["dist"] == config.channels["tv"].beta.dist
    assert priors["trend"]["sigma"] == config.trend.prior.params["sigma"]


def test_cache_env_replaces_an_earlier_compiledir(tmp_path: Path) -> None:
    env = cache_env(tmp_path, {"PYTENSOR_FLAGS": "floatX=float64,base_compiledir=/old", "A": "1"})
    assert env["PYTENSOR_FLAGS"] == f"floatX=float64,base_compiledir={tmp_path / 'pytensor'}"
    assert env["NUMBA_CACHE_DIR"] == str(tmp_path / "numba")
    assert env["A"] == "1"


def test_roas_vs_truth(rng: np.random.Generator) -> None:
    draws = rng.normal([200.0, 50.0], [5.0, 5.0], size=(2, 500, 2))
    totals = xr.DataArray(draws, dims=("chain", "draw", "channel"), coords={"channel": ["x", "y"]})
    out = roas_vs_truth(totals, {"x": 100.0, "y": 10.0}, {"x": 2.0, "y": 4.0}, 0.9)
    x, y = out["channels"]["x"], out["channels"]["y"]
    assert x["covered"] and not y["covered"]
    assert x["mean"] == pytest.approx(2.0, abs=0.01)
    assert y["rel_error"] == pytest.approx(0.25, abs=0.01)
    assert out["coverage"] == 0.5
    assert out["rel_error_max"] == pytest.approx(y["rel_error"])


def test_convergence(rng: np.random.Generator) -> None:
    post = xr.Dataset(
        {
            "a": (("chain", "draw", "channel"), rng.normal(size=(4, 200, 2))),
            "b": (("chain", "draw"), rng.normal(size=(4, 200))),
        }
    )
    stats = xr.Dataset({"diverging": (("chain", "draw"), np.zeros((4, 200), dtype=bool))})
    stats["diverging"][0, 3] = True
    out = convergence(post, stats, ["a", "b"], ["a"], sampling_seconds=2.0)
    assert out["divergences"] == 1
    assert out["r_hat_max"] < 1.05
    assert out["ess_bulk_min_channel"] == out["ess_bulk_min_by_var"]["a"]
    assert out["ess_bulk_min_channel_per_s"] == pytest.approx(out["ess_bulk_min_channel"] / 2)


def _roas(true: float, mean: float) -> dict[str, Any]:
    return {
        "true": true,
        "mean": mean,
        "hdi_low": mean - 0.1,
        "hdi_high": mean + 0.1,
        "rel_error": abs(mean - true) / true,
        "covered": abs(mean - true) <= 0.1,
    }


def _run(library: str, cache: str, seconds: float) -> dict[str, Any]:
    channels = {"tv": _roas(2.0, 2.1), "search": _roas(1.0, 1.0)}
    return {
        "dataset": "a",
        "library": library,
        "cache": cache,
        "ok": True,
        "end_to_end_s": seconds,
        "import_s": 3.0,
        "sampler": "nutpie",
        "sampler_settings": {"adaptation": "low_rank", "target_accept": 0.9, "maxdepth": None},
        "fit_s": seconds - 5,
        "sampling_s": 2.5,
        "ess_bulk_min_channel": 812.0,
        "ess_bulk_min_channel_per_s": 324.8,
        "r_hat_max": 1.0042,
        "divergences": 0,
        "peak_rss_mib": 700.0,
        "roas": {
            "hdi_prob": 0.94,
            "channels": channels,
            "rel_error_mean": 0.025,
            "rel_error_max": 0.05,
        },
    }


def _speed_results(settings: FitSettings) -> dict[str, Any]:
    return {
        "settings": {**settings.__dict__, "prior_mode": "matched"},
        "machine": {
            "date": "2026-01-01 00:00 UTC",
            "cpu_model": "Test CPU",
            "cpu_count": 2,
            "memory_gib": 24.0,
            "platform": "Linux",
            "load_average": [0.1, 0.2, 0.3],
            "versions": {"mediamix": {"python": "3.12.1", "pymc": "6.4.0", "numba": "-"}},
        },
        "datasets": {
            "a": {
                "title": "three channels",
                "n_periods": 209,
                "channels": ["tv", "search"],
                "controls": [],
                "seed": 42,
                "true_roas": {"tv": 2.0, "search": 1.0},
            }
        },
        "runs": [
            _run("mediamix", "cold", 20.0),
            _run("mediamix", "warm", 5.0),
            _run("pymc-marketing", "cold", 60.0),
            {"dataset": "a", "library": "pymc-marketing", "cache": "warm", "ok": False,
             "error": "exit code 1; see run.log"},
        ],
    }  # fmt: skip


def test_render_speed() -> None:
    page = render_speed(_speed_results(FitSettings()), "python -m bench")
    assert "`python -m bench`" in page
    assert "Reduced settings" not in page
    assert "Test CPU, 2 logical cores" in page
    assert "- mediamix: `nutpie` (mass-matrix adaptation low_rank, target_accept 0.9)" in page
    assert "python 3.12.1, pymc 6.4.0 |" in page  # uninstalled packages are left out
    assert "| (a) | 209 x 2 | 20.0 | 5.0 | 60.0 | - | 3.0x | - |" in page
    row = "| mediamix | warm | 5.0 | 3.0 | 0.0 | 2.5 | 812 | 324.8 | 1.004 | 0 | 2.5% | 5.0% | 700"
    assert row in page
    assert "| PyMC-Marketing | warm | failed: exit code 1; see run.log |" in page
    # per-channel ROAS comes from the warm fit, else the cold one
    assert "| tv | 2.00 | 2.10 [2.00, 2.20] (5.0%) | 2.10 [2.00, 2.20] (5.0%) |" in page


def test_render_speed_flags_reduced_settings() -> None:
    page = render_speed(_speed_results(FitSettings(draws=100, tune=100)), "python -m bench")
    assert "**Reduced settings (4 chains x (100 tune + 100 draws))" in page


def test_recovery_summary_and_report() -> None:
    fits = [
        {
            "dataset": "a",
            "seed": seed,
            "ok": True,
            "fit_s": 10.0,
            "converged": seed != 2,
            "roas": {
                "hdi_prob": 0.94,
                "channels": {"tv": _roas(2.0, 2.0 + 0.04 * seed), "search": _roas(1.0, 1.0)},
            },
        }
        for seed in (1, 2, 3, 4)
    ]
    sm = summarize(fits)
    assert sm["n_fits"] == 4 and sm["n_converged"] == 3
    assert sm["channels"]["tv"]["coverage"] == 0.5  # off by 0.04 and 0.08: covered
    assert sm["channels"]["search"]["coverage"] == 1.0
    assert sm["coverage"] == 0.75
    assert sm["rel_error"]["max"] == pytest.approx(0.08)
    assert sm["rel_error"]["p50"] == pytest.approx(np.median([0.02, 0.04, 0.06, 0.08, 0, 0, 0, 0]))
    results = {
        "settings": {**FitSettings(draws=200).__dict__},
        "seeds": [1, 2, 3, 4],
        "fits": fits,
        "summary": {"a": {"title": "three channels", "n_failed": 0, **sm}},
        "machine": {"date": "2026-01-01", "cpu_model": "Test CPU", "cpu_count": 2},
    }
    page = render_recovery(results, "python -m bench --study recovery")
    assert "4 data seeds (1 to 4)" in page
    assert "| (a) | 4 | 0 | 3 | 94% | 75% |" in page
    assert "| tv | 2.00 to 2.00 | 50% | 5.0% | 7.4% |" in page
    assert "Reduced settings" in page


def test_public_dataset_spec_and_model_config(tmp_path: Path) -> None:
    from bench.public import PUBLIC_DATASETS, write_public_inputs
    from mediamix.config.model import load_model_config

    ds = PUBLIC_DATASETS["d"]
    spec = write_public_inputs(ds, FitSettings(l_max=12, trend=True), tmp_path)
    frame = pd.read_csv(spec["csv"], parse_dates=["date"])
    # the published file, unchanged: 179 weeks, its first and last outcome values
    assert len(frame) == spec["n_periods"] == 179
    assert frame["y"].iloc[0] == pytest.approx(3984.662237343649)
    assert frame["date"].iloc[-1] == pd.Timestamp("2021-08-30")
    assert spec["true_roas"] == {} and spec["priors"]["trend"] is None
    config = load_model_config(spec["model_config"])
    # the documented example's structure wins over the run's generic settings
    assert config.channels["x1"].adstock.l_max == 8 and not config.trend.enabled
    assert config.controls == ["event_1", "event_2", "t"] and config.seasonality.yearly_order == 2


def test_roas_without_truth(rng: np.random.Generator) -> None:
    totals = xr.DataArray(
        rng.normal(10.0, 1.0, size=(2, 50, 1)),
        dims=("chain", "draw", "channel"),
        coords={"channel": ["x1"]},
    )
    out = roas_vs_truth(totals, {"x1": 5.0}, {}, 0.94)
    assert out["channels"]["x1"]["mean"] == pytest.approx(float(totals.mean()) / 5.0)
    assert out["channels"]["x1"]["rel_error"] is None and out["rel_error_mean"] is None


def test_targets_and_phases_use_medians() -> None:
    from bench.targets import phase_table, targets_table

    results = _speed_results(FitSettings())
    results["runs"] += [_run("mediamix", "warm", 7.0), _run("mediamix", "warm", 3.0)]
    for rec in results["runs"]:
        rec["timings"] = {"build_seconds": 0.5, "sample_seconds": 3.0, "fit_seconds": 3.5}
        rec["timings"]["postprocess_seconds"] = 0.25
    results["cli_runs"] = {
        "a": [
            {"ok": True, "cache": "warm", "wall_s": w} for w in (4.0, 9.0, 4.5)
        ] + [{"ok": True, "cache": "cold", "wall_s": 30.0}]
    }  # fmt: skip
    table = "\n".join(targets_table(results))
    # warm end to end of mediamix's fit script: median of 5, 7, 3 is 5
    assert (
        "| (a) speed-up over PyMC-Marketing, cold | >= 2x | 20.0 s | 60.0 s | 3.0 x: met |" in table
    )
    assert "| (a) 3 ch x 209 wk, `mediamix fit` end to end, warm | <= 5 s | 4.5 s |" in table
    assert "end to end, cold | <= 20 s | 30.0 s | 60.0 s (its fit script) | **missed** |" in table
    assert "| `make run` (warm) | <= 15 s | - | - | not measured |" in table
    phases = "\n".join(phase_table(results))
    # the median warm run (5 s end to end, fit call 0 s): sampling 2.5 s of sample_seconds 3.0
    assert "| compiling (sampler set-up) | 0.5 s | 0.5 s |" in phases
    assert "| **end to end (fit script)** | 20.0 s | 5.0 s |" in phases
