"""The benchmark harness's pure pieces: dataset configs, runner inputs, metrics and reports.

Nothing here fits a model or needs the PyMC-Marketing environment.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import xarray as xr

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # `bench` is a top-level folder, not an installed package
    sys.path.insert(0, str(REPO_ROOT))

from bench.__main__ import main as bench_main  # noqa: E402
from bench.datasets import DATASETS, FitSettings, write_inputs  # noqa: E402
from bench.geo_bench import (  # noqa: E402
    GEO_DATASETS,
    TARGET_SHAPE,
    memory_projection,
    write_geo_inputs,
)
from bench.geo_data import generate_geo  # noqa: E402
from bench.harness import cache_env  # noqa: E402
from bench.metrics import convergence, geo_roas_vs_truth, hdi, roas_vs_truth  # noqa: E402
from bench.recovery import summarize, summarize_geo  # noqa: E402
from bench.report import render_recovery, render_speed  # noqa: E402
from mediamix.config.base import ConfigError  # noqa: E402
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


# --- geo benchmark: data, spec, scoring, memory arithmetic, reports (no Meridian needed) ---


def test_geo_datasets_have_their_stated_shape() -> None:
    for key, ds in GEO_DATASETS.items():
        data = ds.generate()
        frame = data.data
        n_weeks = frame["date"].nunique()
        assert (len(data.geos), n_weeks, len(ds.config().media)) == (
            ds.geos,
            ds.weeks,
            ds.channels,
        ), key
        assert len(frame) == ds.geos * ds.weeks
        # sorted by date, then geo; every geo on every date
        keys = list(zip(frame["date"], frame[data.geo_column], strict=True))
        assert keys == sorted(keys, key=lambda k: (k[0], data.geos.index(k[1])))
        pop = frame.groupby(data.geo_column)[data.population_column].agg(["min", "max"])
        assert (pop["min"] == pop["max"]).all() and (pop["min"] > 0).all()
        assert pop["max"].max() / pop["min"].min() >= 50


def test_geo_truth_national_roas_is_the_spend_weighted_geo_roas() -> None:
    data = GEO_DATASETS["geo-small"].generate(seed=3)
    frame, geo_roas = data.data, data.true_geo_roas()
    spend = frame.groupby(data.geo_column)[list(data.true_roas())].sum()
    for ch, national in data.true_roas().items():
        contribution = sum(geo_roas[g][ch] * spend.loc[g, ch] for g in data.geos)
        assert national == pytest.approx(contribution / spend[ch].sum(), rel=1e-9)
    # another seed draws other spend and noise
    assert GEO_DATASETS["geo-small"].generate(seed=4).true_roas() != data.true_roas()


def test_a_geo_dataset_needs_a_geos_section(tmp_path: Path) -> None:
    national = tmp_path / "national.yaml"
    national.write_text(DATASETS["c"].config_path.read_text())
    with pytest.raises(ConfigError, match="needs a `geos:` section"):
        generate_geo(national)


def test_write_geo_inputs(tmp_path: Path) -> None:
    ds = GEO_DATASETS["geo-small"]
    data = ds.generate()
    settings = FitSettings(chains=2, draws=50, tune=100, seed=3)
    spec = write_geo_inputs(ds, data, settings, tmp_path, meridian_knots=8)
    config = load_model_config(spec["model_config"])
    assert config.geo is not None
    assert (config.geo.column, config.geo.population) == (data.geo_column, data.population_column)
    assert config.channel_names == spec["channels"] == ["tv", "search", "social"]
    assert config.hdi_prob == spec["hdi_prob"] == 0.94  # both libraries' HDIs alike
    assert (spec["geo_column"], spec["population_column"]) == (data.geo_column, "population")
    assert (spec["n_geos"], spec["n_periods"]) == (8, 104)
    assert spec["true_roas"] == data.true_roas()
    assert set(spec["true_geo_roas"]) == set(data.geos)
    # Meridian: the same chains, warm-up split 80/20 into adaptation and burn-in, same draws
    assert spec["meridian"] == {
        "knots": 8,
        "n_chains": 2,
        "n_adapt": 80,
        "n_burnin": 20,
        "n_keep": 50,
    }
    written = pd.read_csv(spec["csv"])
    assert len(written) == len(data.data)
    assert json.loads(json.dumps(spec)) == spec  # the runners read it as JSON


def test_hdi_matches_arviz(rng: np.random.Generator) -> None:
    import arviz as az

    draws = rng.gamma(2.0, 1.0, size=4000)
    low, high = hdi(draws, 0.94)
    expected = az.hdi(xr.DataArray(draws.reshape(4, 1000), dims=("chain", "draw")), prob=0.94)
    assert low == pytest.approx(float(expected.sel(ci_bound="lower")))
    assert high == pytest.approx(float(expected.sel(ci_bound="upper")))
    # the narrowest interval holding 94 % of the draws
    inside = np.mean((draws >= low) & (draws <= high))
    assert 0.94 <= inside <= 0.941


def test_geo_roas_vs_truth(rng: np.random.Generator) -> None:
    # geo a: draws around the truth; geo b: channel y far off
    draws = np.stack(
        [rng.normal([2.0, 1.0], 0.05, size=(1000, 2)), rng.normal([2.0, 3.0], 0.05, (1000, 2))],
        axis=1,
    )
    truth = {"a": {"x": 2.0, "y": 1.0}, "b": {"x": 2.0, "y": 1.0}}
    out = geo_roas_vs_truth(draws, ["a", "b"], ["x", "y"], truth, 0.94)
    assert out["coverage"] == 0.75
    assert out["channels"]["x"]["coverage"] == 1.0
    assert out["channels"]["y"]["coverage"] == 0.5
    assert out["geos"]["b"]["y"]["rel_error"] == pytest.approx(2.0, abs=0.01)
    assert not out["geos"]["b"]["y"]["covered"]


def _memory_run(dataset: str, peak: float, arrays: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "ok": True,
        "dataset": dataset,
        "library": "mediamix",
        "cache": "cold",
        "peak_rss_mib": peak,
        "draws_total": 2000,
        "arrays": arrays,
    }


def test_memory_projection_scales_arrays_along_their_dims() -> None:
    mib = 2**20
    arrays = [
        {"dims": ["date", "geo", "channel"], "nbytes": 100 * mib, "per_draw": True},
        {"dims": ["channel"], "nbytes": mib, "per_draw": True},
        {"dims": ["geo"], "nbytes": mib, "per_draw": False},  # data, not draws
    ]
    datasets = {"g": {"n_geos": 40, "n_periods": 156, "channels": list("abcde")}}
    [p] = memory_projection([_memory_run("g", 1000.0, arrays)], datasets, TARGET_SHAPE)
    assert p["arrays_mib"] == pytest.approx(102)
    # draws 2000 -> 4000 (x 2); (date, geo, channel) x 1 x 5 x 2; (channel) x 2; (geo) x 5
    assert p["arrays_target_mib"] == pytest.approx(100 * 20 + 4 + 5)
    # one size measured: the rest is carried over
    assert p["rest_target_mib"] == pytest.approx(1000 - 102)
    assert p["projected_peak_mib"] == pytest.approx(898 + 2009)
    assert p["rest_model"] == "carried over from the measured size"
    failed = {**_memory_run("g", 1000.0, arrays), "ok": False}
    assert memory_projection([failed], datasets, TARGET_SHAPE) == []


def test_memory_projection_fits_the_rest_through_two_sizes() -> None:
    datasets = {
        "small": {"n_geos": 10, "n_periods": 100, "channels": ["a"]},  # 1,000 cells
        "big": {"n_geos": 20, "n_periods": 100, "channels": ["a"]},  # 2,000 cells
    }
    runs = [_memory_run("small", 600.0, []), _memory_run("big", 700.0, [])]
    [p] = memory_projection(runs, datasets, TARGET_SHAPE)
    assert p["dataset"] == "big"
    # rest = 500 + 0.1 MiB per cell; the target has 200 x 156 x 10 = 312,000 cells
    assert p["rest_target_mib"] == pytest.approx(500 + 0.1 * 312_000)
    assert p["rest_model"].startswith("linear")


def test_missing_meridian_environment_is_a_clear_error(tmp_path: Path) -> None:
    argv = [
        "--datasets",
        "geo-small",
        "--meridian-python",
        str(tmp_path / "no" / "python"),
        "--doc",
        str(tmp_path / "b.md"),
        "--json",
        str(tmp_path / "b.json"),
    ]
    with pytest.raises(SystemExit, match=r"no Meridian environment at .*make meridian-env"):
        bench_main(argv)
    assert not (tmp_path / "b.md").exists()
    # PyMC-Marketing's environment is not needed for a geo-only run, nor Meridian's without it
    with pytest.raises(SystemExit, match="--geo-libraries: unknown"):
        bench_main([*argv, "--geo-libraries", "pymc-marketing"])


def _geo_run(library: str, cache: str, seconds: float, err: float) -> dict[str, Any]:
    channels = {"tv": _roas(2.0, 2.0 * (1 + err)), "search": _roas(1.0, 1.0)}
    geo = {
        "hdi_prob": 0.94,
        "coverage": 0.9,
        "channels": {
            "tv": {"coverage": 0.8, "rel_error_median": 0.1},
            "search": {"coverage": 1.0, "rel_error_median": 0.05},
        },
    }
    return {
        **_run(library, cache, seconds),
        "dataset": "geo",
        "roas": {
            "hdi_prob": 0.94,
            "channels": channels,
            "coverage": 0.5,
            "rel_error_mean": err / 2,
            "rel_error_max": err,
        },
        "geo_roas": geo,
    }


def _geo_results() -> dict[str, Any]:
    results = _speed_results(FitSettings())
    results["datasets"], results["runs"] = {}, []
    results["geo"] = {
        "settings": {**FitSettings().__dict__, "meridian_knots": None},
        "datasets": {
            "geo": {
                "title": "40 geos",
                "config": "c.yaml",
                "n_periods": 156,
                "n_geos": 40,
                "channels": ["tv", "search"],
                "controls": [],
                "true_roas": {"tv": 2.0, "search": 1.0},
            }
        },
        "runs": [
            _geo_run("mediamix", "cold", 100.0, 0.05),
            _geo_run("mediamix", "warm", 80.0, 0.05),
            _geo_run("meridian", "-", 400.0, 0.1),
        ],
        "memory_projection": [
            {
                "dataset": "geo",
                "library": "meridian",
                "cache": "-",
                "measured_shape": {"geo": 40, "date": 156, "channel": 2, "draws": 4000},
                "target_shape": TARGET_SHAPE,
                "draws_total": 4000,
                "peak_rss_mib": 2000.0,
                "arrays_mib": 50.0,
                "rest_mib": 1950.0,
                "arrays_target_mib": 1250.0,
                "rest_target_mib": 1950.0,
                "rest_model": "carried over from the measured size",
                "projected_peak_mib": 3200.0,
            }
        ],
    }
    return results


def test_render_geo_speed_section() -> None:
    page = render_speed(_geo_results(), "python -m bench --datasets geo")
    assert "## Geo benchmark: mediamix's geo model and Google Meridian" in page
    assert "## Summary" not in page  # no national dataset in this run
    assert "Meridian / mediamix (cold) end-to-end: 400.0 s / 100.0 s = **4.0x**" in page
    assert "Meridian / mediamix (warm) end-to-end: 400.0 s / 80.0 s = **5.0x**" in page
    assert (
        "| Meridian | - | 400.0 | 3.0 | 395.0 | 2.5 | 812 | 1.004 | 0 | 5.0% | 10.0% | 50% "
        "| 90% | 700 |" in page
    )
    assert (
        "| tv | 2.00 | 2.10 [2.00, 2.20] (5.0%) | 2.20 [2.10, 2.30] (10.0%) | 80% (10.0%) "
        "| 80% (10.0%) |" in page
    )
    row = "| Meridian | - | 40 x 156 x 2, 4000 | 2,000 | 50 | 1,950 | 1,250 | 1,950 | 3,200 |"
    assert row + " carried over from the measured size |" in page
    assert "drawn by mediamix's geo generator from `c.yaml`" in page
    assert "## How it is measured" in page


def test_geo_recovery_summary_and_report() -> None:
    def fit(seed: int) -> dict[str, Any]:
        geos = {
            "g1": {"tv": _roas(2.0, 2.0), "search": _roas(1.0, 1.0)},
            "g2": {"tv": _roas(2.0, 2.0 + 0.05 * seed), "search": _roas(1.0, 1.0)},
        }
        covered = [s["covered"] for per in geos.values() for s in per.values()]
        return {
            "dataset": "geo",
            "seed": seed,
            "ok": True,
            "fit_s": 60.0,
            "converged": True,
            "roas": {"hdi_prob": 0.94, "channels": geos["g1"]},
            "geo_roas": {"hdi_prob": 0.94, "coverage": float(np.mean(covered)), "geos": geos},
        }

    fits = [fit(seed) for seed in (1, 2)]  # g2's tv is covered for seed 1 only
    g = summarize_geo(fits)
    assert g["n_geos"] == 2
    assert g["coverage"] == pytest.approx(7 / 8)
    assert g["channels"]["tv"]["coverage"] == 0.75
    assert (g["coverage_min_fit"], g["coverage_max_fit"]) == (0.75, 1.0)
    sm = summarize(fits)
    assert sm["geo"] == g
    results = {
        "settings": {**FitSettings().__dict__},
        "seeds": [1, 2, 3],
        "geo_seeds": [1, 2],
        "fits": fits,
        "summary": {"geo": {"title": "40 geos", "n_failed": 0, **sm}},
        "machine": {"date": "2026-01-01", "cpu_model": "Test CPU", "cpu_count": 2},
    }
    page = render_recovery(results, "python -m bench --study recovery")
    assert "Geo datasets (geo) are drawn with 2 data seeds (1 to 2)" in page
    assert "HDI coverage 87.5% against the nominal 94%" in page
    assert "| tv | 75.0% | 94% |" in page
    assert "| search | 100.0% | 94% | 0.0% |" in page
    assert "stopped after" not in page
    # a study stopped midway says so, and a complete one does not
    assert "stopped after" not in render_recovery({**results, "planned_fits": 2}, "bench")
    stopped = render_recovery({**results, "planned_fits": 20}, "bench")
    assert "**This run stopped after 2 of its 20 planned fits**" in stopped


def test_recovery_study_runs_fits_at_once_and_keeps_partial_results(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import threading

    import bench.recovery as recovery

    running, peak, lock = [0], [0], threading.Lock()
    gate = threading.Barrier(2, timeout=10)

    def fake_fit(
        key: str, seed: int, settings: FitSettings, work_dir: Path, timeout: float | None = None
    ) -> dict[str, Any]:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        if key == "geo":
            gate.wait()  # both geo fits must be in flight together, or this times out
        with lock:
            running[0] -= 1
        if seed == 2 and key == "a":
            return {"dataset": key, "seed": seed, "ok": False, "error": "boom"}
        roas = {"hdi_prob": 0.94, "channels": {"tv": _roas(2.0, 2.0)}, "rel_error_mean": 0.0}
        rec = {"dataset": key, "seed": seed, "ok": True, "fit_s": 1.0, "converged": True}
        return {**rec, "roas": roas, "r_hat_max": 1.0}

    monkeypatch.setattr(recovery, "fit_one", fake_fit)
    snapshots: list[int] = []
    out = recovery.recovery_study(
        ["a", "geo"],
        [1, 2, 3],
        FitSettings(),
        tmp_path,
        geo_seeds=[1, 2],
        jobs=2,
        progress=lambda r: snapshots.append(len(r["fits"])),
    )
    assert peak[0] == 2
    assert snapshots == [1, 2, 3, 4, 5]
    # reported in dataset-then-seed order whatever order they finished in
    assert [(f["dataset"], f["seed"]) for f in out["fits"]] == [
        ("a", 1),
        ("a", 2),
        ("a", 3),
        ("geo", 1),
        ("geo", 2),
    ]
    assert out["summary"]["a"]["n_failed"] == 1 and out["summary"]["a"]["n_fits"] == 2
    assert out["summary"]["geo"]["n_fits"] == 2 and out["jobs"] == 2


def test_page_rewrites_keep_the_sections_other_commands_wrote() -> None:
    from bench.sections import CALIBRATION, GEO_MEMORY, carry_sections

    calibration = f"{CALIBRATION[0]}\n## Calibration\n\nnumbers\n{CALIBRATION[1]}\n"
    memory = f"{GEO_MEMORY[0]}\n## Geo memory\n\nGiB\n{GEO_MEMORY[1]}\n"
    old = f"# old page\n\nold body\n\n{calibration}\nmiddle\n\n{memory}"
    new = carry_sections(old, "# new page\n\nnew body\n")
    assert new.startswith("# new page\n\nnew body\n")
    assert "old body" not in new and "middle" not in new
    assert calibration in new and memory in new
    assert carry_sections("# no section\n", "# fresh\n") == "# fresh\n"
    # a section the new page already has is replaced in place, not repeated
    placed = carry_sections(old, f"# new\n\n{GEO_MEMORY[0]}\nstale\n{GEO_MEMORY[1]}\n\nend\n")
    assert placed.count(GEO_MEMORY[0]) == 1 and "stale" not in placed
    assert placed.index("GiB") < placed.index("end")


def test_cold_start_table_separates_first_and_later_runs() -> None:
    from bench.targets import cold_start_table

    results = _speed_results(FitSettings())
    results["cli_runs"] = {
        "a": [
            {"ok": True, "cache": "cold", "wall_s": 40.0, "archive_mib": 1.5},
            {"ok": True, "cache": "warm", "wall_s": 7.0, "archive_mib": 1.5},
            {"ok": True, "cache": "later", "wall_s": 8.0, "archive_mib": 1.5, "restore_s": 0.07},
            {"ok": True, "cache": "later", "wall_s": 9.5, "archive_mib": 1.5, "restore_s": 0.09},
            {"ok": False, "cache": "later", "wall_s": 1.0, "error": "exit code 1"},
        ]
    }
    table = cold_start_table(results)
    assert table[2] == "| (a) | 40.0 s | 8.8 s | 7.0 s | 1.5 MiB | 0.08 s |"
    rendered = render_speed(results, "python -m bench")
    assert "## Cold starts: first run and later runs" in rendered
    assert table[2] in rendered


def test_cli_cache_numbers_come_from_the_root_and_the_log(tmp_path: Path) -> None:
    from bench.harness import _cache_numbers

    root = tmp_path / "root"
    root.mkdir()
    (root / "cpython-312-x86_64-abc.tar.gz").write_bytes(b"\0" * 2**20)
    log = tmp_path / "run.log"
    log.write_text(
        "compile cache: restored 161 files (1.5 MiB) from /v/c/cpython-312-x86_64-abc.tar.gz "
        "in 0.07 s\nfitting 3 channels\n"
    )
    assert _cache_numbers(root, log) == {
        "archive_mib": 1.0,
        "restored_files": 161,
        "restore_s": 0.07,
    }
    log.write_text("compile cache: no archive yet\n")
    assert _cache_numbers(root, log) == {"archive_mib": 1.0}


def test_recovery_page_says_when_the_study_stopped_early() -> None:
    roas = {"hdi_prob": 0.94, "channels": {"tv": _roas(2.0, 2.1)}}
    fits = [
        {"dataset": "a", "seed": s, "ok": True, "fit_s": 1.0, "converged": True, "roas": roas}
        for s in (1, 2)
    ]
    results = {
        "settings": {**FitSettings().__dict__},
        "seeds": [1, 2, 3, 4],
        "fits": fits,
        "planned_fits": 4,
        "summary": {"a": {"title": "three channels", "n_failed": 0, **summarize(fits)}},
        "machine": {"date": "2026-01-01", "cpu_model": "Test CPU", "cpu_count": 2},
    }
    page = render_recovery(results, "python -m bench --study recovery")
    assert "stopped after 2 of its 4 planned fits" in page
    results["planned_fits"] = 2
    assert "stopped after" not in render_recovery(results, "python -m bench --study recovery")


def _memory_record(mode: str, draws: int, peaks: dict[str, float], fit_nc: float) -> dict[str, Any]:
    """A :mod:`bench.geo_memory_run` record: phases' peaks, the fit's arrays, its file size."""
    mib = 2**20
    spec: dict[str, Any] = {"mode": mode, **({"repeat": draws // 100} if mode == "replay" else {})}
    return {
        "spec": spec,
        "phases": [{"phase": k, "peak_rss_mib": v, "start_rss_mib": 0.0} for k, v in peaks.items()],
        "peak_rss_mib": max(peaks.values()),
        "draws_total": draws,
        "free_vars": ["beta_geo_raw"],
        "fit_nc_mib": fit_nc,
        "wall_s": 1.0,
        "arrays": [
            _array("posterior", "beta_geo_raw", ["geo", "channel"], draws * mib // 64),
            _array("posterior", "beta_geo", ["geo", "channel"], draws * mib // 64),
            _array("sample_stats", "energy", [], draws * mib // 64),
            _array("log_likelihood", "y", ["date", "geo"], draws * mib // 4),
            _array("constant_data", "population", ["geo"], mib, per_draw=False),
        ],
    }


def _array(group: str, name: str, dims: list[str], nbytes: int, per_draw: bool = True) -> dict:
    return {"group": group, "name": name, "dims": dims, "nbytes": nbytes, "per_draw": per_draw}


def test_geo_memory_projection_adds_each_phases_slope_to_the_sampled_peak() -> None:
    from bench.geo_memory import project

    sample = _memory_record("sample", 100, {"fit:sampling": 600, "fit:diagnostics": 900}, 20)
    runs = [
        sample,
        _memory_record("replay", 100, {"fit:sampling": 300, "fit:diagnostics": 700}, 20),
        _memory_record("replay", 400, {"fit:sampling": 300, "fit:diagnostics": 1000}, 50),
    ]
    p = project(runs, 4000)
    rows = {r["phase"]: r for r in p["phases"]}
    # diagnostics: (1000 - 700) / 300 = 1 MiB per draw on top of the sampled 900 at 100 draws
    assert rows["fit:diagnostics"]["slope_mib_per_draw"] == pytest.approx(1.0)
    assert rows["fit:diagnostics"]["projected_mib"] == pytest.approx(900 + 3900)
    # sampling grows by the trace: the sampled variable and the statistics, 2/64 MiB per draw
    assert rows["fit:sampling"]["slope_mib_per_draw"] == pytest.approx(2 / 64)
    assert rows["fit:sampling"]["slope_from"].startswith("nutpie trace")
    assert p["projected_peak_phase"] == "fit:diagnostics"
    assert p["projected_peak_mib"] == pytest.approx(4800)
    # every per-draw array counts, data does not: (3/64 + 1/4) MiB per draw
    assert p["stored_at_target_mib"] == pytest.approx(4000 * (3 / 64 + 1 / 4))
    assert p["fit_nc_per_draw_mb"] == pytest.approx(0.1)
    assert p["fit_nc_at_target_mb"] == pytest.approx(50 + 0.1 * 3600)


def test_geo_memory_section_is_written_between_its_markers() -> None:
    from bench.geo_memory import project
    from bench.report_geo import (
        MEMORY_BEGIN,
        MEMORY_END,
        render_geo_memory,
        write_memory_section,
    )

    runs = [
        _memory_record("sample", 100, {"fit:diagnostics": 900}, 20),
        _memory_record("replay", 100, {"fit:diagnostics": 700}, 20),
        _memory_record("replay", 400, {"fit:diagnostics": 1000}, 50),
    ]
    settings = {
        "generator_config": "bench/configs/geo_200x156x10.yaml",
        "geos": 200,
        "weeks": 156,
        "channels": 10,
        "chains": 2,
        "tune": 30,
        "draws": 50,
        "repeats": [1, 4],
        "target_draws": 4000,
        "budget_mib": 8192,
    }
    results = {"settings": settings, "runs": runs, "projection": project(runs, 4000)}
    section = render_geo_memory(results, "python -m bench --study geo-memory", "m.json")
    assert section.startswith(MEMORY_BEGIN) and section.rstrip().endswith(MEMORY_END)
    assert "**Projected peak at 4,000 draws (4 chains x 1,000): 4.69 GiB**" in section
    assert (
        "| fit: diagnostics (R-hat, ESS, LOO) | 900 | 700 | 1,000 | 1,000.0 | replays "
        "| 4,800 |" in section
    )
    assert "| `log_likelihood/y` | 262,144 | 1,000 |" in section
    doc = "# Benchmarks\n\nintro\n"
    once = write_memory_section(doc, section)
    assert once.startswith(doc) and section in once
    again = write_memory_section(once.replace("4.69 GiB", "old"), section)
    assert again == once


def test_recovery_study_resumes_from_an_earlier_runs_fits(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import bench.recovery as recovery

    ran: list[tuple[str, int]] = []
    roas = {"hdi_prob": 0.94, "channels": {"tv": _roas(2.0, 2.1)}, "rel_error_mean": 0.05}

    def fake_fit(
        key: str, seed: int, settings: FitSettings, work_dir: Path, timeout: float | None = None
    ) -> dict[str, Any]:
        ran.append((key, seed))
        rec = {"dataset": key, "seed": seed, "ok": True, "fit_s": 1.0, "converged": True}
        return {**rec, "roas": roas, "r_hat_max": 1.0}

    monkeypatch.setattr(recovery, "fit_one", fake_fit)
    kept = {"dataset": "a", "seed": 1, "ok": True, "fit_s": 9.0, "converged": False}
    earlier = {
        "settings": asdict(FitSettings()),
        "fits": [
            {**kept, "roas": roas, "r_hat_max": 1.02},
            {"dataset": "a", "seed": 2, "ok": False, "error": "timed out"},
            {**kept, "seed": 7, "roas": roas},  # not planned this time: left out
        ],
        "machine": {"date": "2026-01-01 10:00 UTC", "load_average": [0.1, 0.2, 0.3]},
        "command": "python -m bench --study recovery --seeds 2",
        "model": recovery.model_choices(),
    }
    out = recovery.recovery_study(["a"], [1, 2, 3], FitSettings(), tmp_path, earlier=earlier)
    assert ran == [("a", 2), ("a", 3)]  # the failed seed is fitted again, the kept one not
    assert [f["seed"] for f in out["fits"]] == [1, 2, 3]
    assert out["fits"][0]["fit_s"] == 9.0 and out["resumed"]["fits"] == 1
    assert out["summary"]["a"]["n_fits"] == 3 and out["summary"]["a"]["n_converged"] == 2
    out["machine"] = {"date": "2026-01-02", "cpu_model": "Test CPU", "cpu_count": 2}
    page = render_recovery(out, "python -m bench --study recovery --resume x.json")
    assert "1 of the fits were kept from an earlier run" in page
    assert "2026-01-01 10:00 UTC, load average 0.10, 0.20, 0.30" in page
    other = {**earlier, "model": {**earlier["model"], "geo_effects": "non_centred"}}
    with pytest.raises(SystemExit, match="fitted another model"):
        recovery.recovery_study(["a"], [1], FitSettings(), tmp_path, earlier=other)
    with pytest.raises(SystemExit, match="draws 1000 there, 50 here"):
        recovery.recovery_study(
            ["a"],
            [1],
            FitSettings(draws=50),
            tmp_path,
            earlier={**earlier, "settings": {**earlier["settings"], "draws": 1000}},
        )


def test_calibration_page_scores_each_channel_where_it_was_tested() -> None:
    from bench.calibration import _tested_table

    def fit(tested: list[str], errors: dict[str, tuple[float, float]]) -> dict[str, Any]:
        side = {
            k: {
                ch: {"rel_error": e[i], "covered": e[i] < 0.2, "width": 1.0 - 0.5 * i}
                for ch, e in errors.items()
            }
            for i, k in enumerate(("uncalibrated", "calibrated"))
        }
        return {"tests": [{"channel": ch} for ch in tested], **side}

    fits = [
        fit(["tv", "radio"], {"tv": (0.3, 0.05), "radio": (0.4, 0.25)}),
        fit(["tv"], {"tv": (0.1, 0.15), "radio": (0.4, 0.3)}),
    ]
    lines = _tested_table(fits)
    tv = next(line for line in lines if line.startswith("| tv |"))
    assert tv == "| tv | 2 | 20.0% | 10.0% | 15.0% | 2 of 2 | 0.50 |"
    radio = next(line for line in lines if line.startswith("| radio |"))
    assert radio == "| radio | 1 | 40.0% | 25.0% | 25.0% | 0 of 1 | 0.50 |"
    assert "1 of 3 tested (seed, channel) pairs are within 10 %" in "\n".join(lines)
    assert _tested_table([]) == []
