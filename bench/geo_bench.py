"""The geo benchmark: mediamix's hierarchical geo model and Google Meridian on the same data.

Each geo dataset is drawn once (:mod:`bench.geo_data`), written as one long CSV, and fitted by
each library in a fresh subprocess of its own environment (mediamix in ``.venv``, Meridian in
``.venv-meridian``), one fit at a time. Both fits are scored by :mod:`bench.metrics`: national
ROAS per channel against the truth, per-geo ROAS coverage, R-hat, bulk ESS, divergences, wall
time and peak memory. mediamix runs cold (empty compile cache) and, unless ``warm=False``, again
warm; Meridian has no compile cache on disk, so it runs once.
"""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from bench.datasets import CONFIG_DIR, REPO_ROOT, FitSettings, model_config_dict
from bench.geo_data import GeoData, generate_geo
from bench.harness import cache_env, run_fit
from mediamix.config.generator import GeneratorConfig, load_generator_config

GEO_LIBRARIES = ("mediamix", "meridian")
#: The probability of every HDI the geo benchmark reports.
HDI_PROB = 0.94
#: The scale the memory projection is made for: 200 geos x 156 weeks x 10 channels, 4 x 1000
#: draws.
TARGET_SHAPE = {"geo": 200, "date": 156, "channel": 10, "draws": 4000}


@dataclass(frozen=True)
class GeoDataset:
    """A geo benchmark dataset: a generator config with ``geos:`` and its stated shape."""

    key: str
    title: str
    config_path: Path
    geos: int
    weeks: int
    channels: int

    def config(self) -> GeneratorConfig:
        """The validated generator config."""
        return load_generator_config(self.config_path)

    def generate(self, seed: int | None = None) -> GeoData:
        """Draw the dataset (the config's seed unless ``seed`` is given)."""
        return generate_geo(self.config_path, seed)


GEO_DATASETS: dict[str, GeoDataset] = {
    "geo": GeoDataset(
        "geo",
        "40 geos x 156 weeks x 5 channels (config/generator/geo_config.yaml)",
        REPO_ROOT / "config" / "generator" / "geo_config.yaml",
        geos=40,
        weeks=156,
        channels=5,
    ),
    "geo-small": GeoDataset(
        "geo-small",
        "8 geos x 104 weeks x 3 channels, for smoke runs (bench/configs/geo_8x104x3.yaml)",
        CONFIG_DIR / "geo_8x104x3.yaml",
        geos=8,
        weeks=104,
        channels=3,
    ),
}


#: The prior of each channel's spread of log effects across geos: mean 0.33, mode 0.17, zero
#: density at 0 (see ``config/model/geo_config.yaml``).
GEO_SPREAD_PRIOR = {"dist": "Gamma", "alpha": 2.0, "beta": 6.0}
#: How the geo effects are sampled (see ``geo.effects`` in the README).
GEO_EFFECTS = "centred"


def geo_model_config_dict(
    dataset: GeoDataset, data: GeoData, settings: FitSettings
) -> dict[str, Any]:
    """The mediamix model config for the dataset: the national one plus ``geo:``.

    Centred geo effects and a zero-avoiding prior on their spread, as in the shipped
    ``config/model/geo_config.yaml``: the generator's geos differ enough (spread 0.2 over 104
    weeks or more) for the centred form to mix better, and the prior keeps a channel whose geo
    effects the data barely separate out of the funnel at spread 0.
    """
    raw = model_config_dict(dataset.config(), settings)
    raw["geo"] = {
        "column": data.geo_column,
        "population": data.population_column,
        "effects": GEO_EFFECTS,
        "beta_spread": dict(GEO_SPREAD_PRIOR),
    }
    return raw


def write_geo_inputs(
    dataset: GeoDataset,
    data: GeoData,
    settings: FitSettings,
    work_dir: Path,
    *,
    meridian_knots: int | None = None,
) -> dict[str, Any]:
    """Write the long CSV and the mediamix model YAML; return the spec both runners read.

    Parameters
    ----------
    dataset : GeoDataset
        Which dataset.
    data : GeoData
        Its generated data and truth.
    settings : FitSettings
        Chains, draws, tuning, seed and model structure (the same for both libraries).
    work_dir : Path
        Where ``<key>.csv`` and ``<key>.model.yaml`` go.
    meridian_knots : int, optional
        Meridian's number of knots (``None``: Meridian's default).

    Returns
    -------
    dict
        The JSON spec: files, columns, shape, sampler settings, HDI probability and the truth.
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    gen = dataset.config()
    csv = work_dir / f"{dataset.key}.csv"
    data.data.to_csv(csv, index=False)
    model_yaml = work_dir / f"{dataset.key}.model.yaml"
    raw = geo_model_config_dict(dataset, data, settings)
    raw["hdi_prob"] = HDI_PROB  # both libraries' intervals at the same probability
    model_yaml.write_text(yaml.safe_dump(raw, sort_keys=False))
    return {
        "dataset": dataset.key,
        "csv": str(csv),
        "model_config": str(model_yaml),
        "outcome": gen.outcome.name,
        "channels": list(gen.media),
        "controls": list(gen.controls),
        "geo_column": data.geo_column,
        "population_column": data.population_column,
        "n_periods": int(data.data["date"].nunique()),
        "n_geos": len(data.geos),
        "l_max": settings.l_max,
        "yearly_order": settings.yearly_order,
        "trend": settings.trend,
        "chains": settings.chains,
        "draws": settings.draws,
        "tune": settings.tune,
        "seed": settings.seed,
        "hdi_prob": HDI_PROB,
        "true_roas": data.true_roas(),
        "true_geo_roas": data.true_geo_roas(),
        "meridian": {"knots": meridian_knots, **meridian_sampling(settings)},
    }


def meridian_sampling(settings: FitSettings) -> dict[str, int]:
    """Meridian's sampler settings for ``settings``: warm-up split 80/20 into adaptation and
    burn-in (``n_adapt + n_burnin = tune``), ``n_keep = draws``, the same chains."""
    n_burnin = settings.tune // 5
    return {
        "n_chains": settings.chains,
        "n_adapt": settings.tune - n_burnin,
        "n_burnin": n_burnin,
        "n_keep": settings.draws,
    }


def _one_line(rec: dict[str, Any]) -> str:
    head = f"  {rec['dataset']} {rec['library']:<9} {rec['cache']:<5}"
    if not rec["ok"]:
        return f"{head} FAILED: {rec['error']}"
    geo = rec.get("geo_roas", {})
    return (
        f"{head} end-to-end {rec['end_to_end_s']:7.1f} s  sampling {rec['sampling_s']:7.1f} s  "
        f"R-hat {rec['r_hat_max']:.3f}  div {rec['divergences']}  "
        f"ROAS err {100 * rec['roas']['rel_error_mean']:.1f}%  "
        f"geo coverage {100 * geo.get('coverage', float('nan')):.0f}%  "
        f"peak {rec['peak_rss_mib']:.0f} MiB"
    )


def _phases(library: str, warm: bool) -> tuple[str, ...]:
    if library == "meridian":
        return ("-",)
    return ("cold", "warm") if warm else ("cold",)


def prepare(key: str, settings: FitSettings, work_dir: Path, knots: int | None) -> Path:
    """Draw dataset ``key``, write its inputs and spec under ``work_dir``; the spec's path."""
    ds = GEO_DATASETS[key]
    spec = write_geo_inputs(ds, ds.generate(), settings, work_dir / key, meridian_knots=knots)
    spec_path = work_dir / key / "spec.json"
    spec_path.write_text(json.dumps(spec, indent=2) + "\n")
    return spec_path


def geo_study(
    datasets: list[str],
    libraries: list[str],
    settings: FitSettings,
    work_dir: Path,
    pythons: dict[str, str | Path],
    *,
    warm: bool = True,
    timeout: float | None = None,
    meridian_knots: int | None = None,
) -> dict[str, Any]:
    """Fit every geo dataset with every library of :data:`GEO_LIBRARIES`.

    Parameters
    ----------
    datasets : list of str
        Keys of :data:`GEO_DATASETS`.
    libraries : list of str
        A subset of :data:`GEO_LIBRARIES`.
    settings : FitSettings
        Chains, draws, tuning, seed and model structure, the same for both libraries.
    work_dir : Path
        Scratch space: data, specs, caches, logs and per-fit results.
    pythons : dict
        Library -> interpreter of its environment.
    warm : bool, default True
        Also run mediamix a second time with the compile cache the first left.
    timeout : float, optional
        Seconds before one fit is abandoned.
    meridian_knots : int, optional
        Meridian's knots (``None``: its default).

    Returns
    -------
    dict
        ``settings``, ``datasets`` (shape, truth), ``runs`` (one record per fit) and
        ``memory_projection`` (see :func:`memory_projection`).
    """
    runs: list[dict[str, Any]] = []
    described: dict[str, Any] = {}
    for key in datasets:
        spec_path = prepare(key, settings, work_dir, meridian_knots)
        spec = json.loads(spec_path.read_text())
        described[key] = describe_dataset(key, spec)
        for library in libraries:
            cache = work_dir / "cache" / f"{key}-{library}"
            shutil.rmtree(cache, ignore_errors=True)
            cache.mkdir(parents=True)
            for phase in _phases(library, warm):
                out = work_dir / key / f"{library}-{phase if phase != '-' else 'run'}"
                rec = run_fit(pythons[library], library, spec_path, out, cache_env(cache), timeout)
                rec.update(dataset=key, cache=phase)
                runs.append(rec)
                print(_one_line(rec), file=sys.stderr, flush=True)
    return {
        "settings": {**asdict(settings), "meridian_knots": meridian_knots},
        "datasets": described,
        "runs": runs,
        "memory_projection": memory_projection(runs, described, TARGET_SHAPE),
    }


def describe_dataset(key: str, spec: dict[str, Any]) -> dict[str, Any]:
    """What the report says about a geo dataset: shape, controls, the national truth."""
    ds = GEO_DATASETS[key]
    return {
        "title": ds.title,
        "config": str(ds.config_path.relative_to(REPO_ROOT)),
        "n_periods": spec["n_periods"],
        "n_geos": spec["n_geos"],
        "channels": spec["channels"],
        "controls": spec["controls"],
        "true_roas": spec["true_roas"],
    }


def _scaled_bytes(
    arrays: list[dict[str, Any]], shape: dict[str, int], target: dict[str, int]
) -> float:
    """Sum of array sizes, each scaled to the target along the dims it has (and its draws)."""
    total = 0.0
    for a in arrays:
        factor = target["draws"] / shape["draws"] if a.get("per_draw", True) else 1.0
        for dim in a["dims"]:
            kind = dim_kind(dim)
            if kind is not None:
                factor *= target[kind] / shape[kind]
        total += a["nbytes"] * factor
    return total


def dim_kind(dim: str) -> str | None:
    """Which of geo / date / channel an array dimension counts (``None``: none of them)."""
    if dim in ("geo", "geos"):
        return "geo"
    if dim in ("date", "time", "media_time", "knots"):  # Meridian's geo default: a knot a week
        return "date"
    if dim in ("channel", "media_channel"):
        return "channel"
    return None


def _cells(shape: dict[str, int]) -> int:
    return shape["geo"] * shape["date"] * shape["channel"]


def _rest_model(points: list[tuple[int, float]], target_cells: int) -> tuple[float, str]:
    """Memory other than the result arrays at the target size: a line through the measured
    (geo x week x channel, MiB) points where there are two sizes or more, else the largest."""
    sizes = {c for c, _ in points}
    largest = max(r for _, r in points)
    if len(sizes) < 2:
        return largest, "carried over from the measured size"
    x = np.array([c for c, _ in points], dtype=float)
    y = np.array([r for _, r in points])
    slope, intercept = np.polyfit(x, y, 1)
    slope = max(float(slope), 0.0)
    projected = max(intercept + slope * target_cells, largest)
    return float(projected), f"linear in geos x weeks x channels through {len(sizes)} sizes"


def memory_projection(
    runs: list[dict[str, Any]], datasets: dict[str, Any], target: dict[str, int]
) -> list[dict[str, Any]]:
    """Peak memory at ``target`` scale, projected from each library's measured fits.

    The measured peak resident memory of a fit is split into its result arrays (posterior,
    sample statistics, predictive draws, log-likelihood: the runners record each array's size
    and dims) and the rest (interpreter, libraries, compiled code, the sampler's working
    memory). The arrays are scaled to the target's geos, weeks, channels and draws along the
    dims each has. The rest is fitted as a line in geos x weeks x channels where a library was
    measured at two sizes or more (the geo datasets of one run), else carried over. Arithmetic
    from measurements, not a measurement at the target.

    Returns
    -------
    list of dict
        One row per library and cache state, from its largest measured fit.
    """
    rows: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for rec in runs:
        if not rec.get("ok") or "arrays" not in rec:
            continue
        ds = datasets[rec["dataset"]]
        shape = {
            "geo": ds["n_geos"],
            "date": ds["n_periods"],
            "channel": len(ds["channels"]),
            "draws": int(rec["draws_total"]),
        }
        arrays = sum(a["nbytes"] for a in rec["arrays"]) / 2**20
        row = {
            "dataset": rec["dataset"],
            "library": rec["library"],
            "cache": rec["cache"],
            "measured_shape": shape,
            "target_shape": target,
            "draws_total": shape["draws"],
            "peak_rss_mib": float(rec["peak_rss_mib"]),
            "arrays_mib": arrays,
            "arrays_target_mib": _scaled_bytes(rec["arrays"], shape, target) / 2**20,
            "rest_mib": float(rec["peak_rss_mib"]) - arrays,
        }
        rows.setdefault((rec["library"], rec["cache"]), []).append(row)
    out = []
    for measured in rows.values():
        big = max(measured, key=lambda r: _cells(r["measured_shape"]))
        points = [(_cells(r["measured_shape"]), r["rest_mib"]) for r in measured]
        rest, how = _rest_model(points, _cells(target))
        out.append(
            {
                **big,
                "rest_target_mib": rest,
                "rest_model": how,
                "projected_peak_mib": rest + big["arrays_target_mib"],
            }
        )
    return out
