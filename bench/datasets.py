"""The benchmark datasets and what the runners are given to fit them.

Each dataset is a generator config with a known truth. For each fit the harness writes the
data as CSV, a mediamix model config (YAML, the ``config/model/basic_config.yaml`` schema) and a
JSON spec that both runners read: channels, controls, adstock window, seasonality, sampler
settings, the true ROAS and mediamix's priors (which the PyMC-Marketing runner copies).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mediamix.config.base import parse_config
from mediamix.config.generator import GeneratorConfig, load_generator_config
from mediamix.config.model import ModelConfig, PriorConfig
from mediamix.data.generator import Generator, SyntheticData

REPO_ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = Path(__file__).resolve().parent / "configs"


@dataclass(frozen=True)
class Dataset:
    """A benchmark dataset: a generator config and the shape it is stated to have.

    Attributes
    ----------
    key : str
        Short name used on the command line (``a``, ``b``, ``c``).
    title : str
        One-line description for the report.
    config_path : Path
        The generator config.
    weeks, channels, controls : int
        The stated shape, checked by the tests.
    """

    key: str
    title: str
    config_path: Path
    weeks: int
    channels: int
    controls: int

    def config(self) -> GeneratorConfig:
        """The validated generator config."""
        return load_generator_config(self.config_path)

    def generate(self, seed: int | None = None) -> SyntheticData:
        """Draw the dataset (the config's seed unless ``seed`` is given)."""
        return Generator(self.config()).generate(seed)


DATASETS: dict[str, Dataset] = {
    "a": Dataset(
        "a",
        "the accelerator scenario (config/generator/basic_config.yaml)",
        REPO_ROOT / "config" / "generator" / "basic_config.yaml",
        weeks=209,
        channels=3,
        controls=0,
    ),
    "b": Dataset(
        "b",
        "10 channels, 2 controls, yearly seasonality (bench/configs/ten_channels_156w.yaml)",
        CONFIG_DIR / "ten_channels_156w.yaml",
        weeks=156,
        channels=10,
        controls=2,
    ),
    "c": Dataset(
        "c",
        "4 channels over two years (bench/configs/four_channels_104w.yaml)",
        CONFIG_DIR / "four_channels_104w.yaml",
        weeks=104,
        channels=4,
        controls=0,
    ),
}


@dataclass(frozen=True)
class FitSettings:
    """Model and sampler settings shared by both libraries."""

    chains: int = 4
    draws: int = 1000
    tune: int = 1000
    seed: int = 1
    l_max: int = 12
    yearly_order: int = 2
    trend: bool = True
    sampler: str = "nutpie"


def model_config_dict(gen: GeneratorConfig, settings: FitSettings) -> dict[str, Any]:
    """The mediamix model config (as YAML would hold it) for data from ``gen``."""
    return structure_config(gen.outcome.name, list(gen.media), list(gen.controls), settings)


def structure_config(
    outcome: str, channels: list[str], controls: list[str], settings: FitSettings
) -> dict[str, Any]:
    """The mediamix model config (as YAML would hold it) for these columns and settings."""
    return {
        "outcome": {"name": outcome, "likelihood": "normal"},
        "channels": channels,
        "channel_defaults": {
            "adstock": {"type": "geometric", "l_max": settings.l_max},
            "saturation": {"type": "logistic"},
        },
        "controls": controls,
        "seasonality": {"yearly_order": settings.yearly_order},
        "trend": {"enabled": settings.trend},
        "sampler": {
            "sampler": settings.sampler,
            "draws": settings.draws,
            "tune": settings.tune,
            "chains": settings.chains,
            "seed": settings.seed,
        },
    }


def _prior(p: PriorConfig) -> dict[str, Any]:
    return {"dist": p.dist, **p.params}


def mediamix_priors(config: ModelConfig) -> dict[str, Any]:
    """mediamix's priors in a library-neutral form, for the PyMC-Marketing runner to copy.

    Raises
    ------
    ValueError
        If channels have different priors (PyMC-Marketing's runner takes one per parameter).
    """
    per_channel = {
        ch: {
            "adstock_alpha": _prior(c.adstock.alpha),
            "saturation_lam": _prior(c.saturation.lam),
            "beta": _prior(c.beta),
        }
        for ch, c in config.channels.items()
    }
    first = next(iter(per_channel.values()))
    if any(p != first for p in per_channel.values()):
        raise ValueError("the benchmark expects the same channel priors for every channel")
    return {
        **first,
        "intercept": _prior(config.outcome.intercept),
        "sigma": _prior(config.outcome.sigma),
        "seasonality": _prior(config.seasonality.prior),
        "control": _prior(config.control_prior),
        "trend": _prior(config.trend.prior) if config.trend.enabled else None,
    }


def write_inputs(
    dataset: Dataset,
    data: SyntheticData,
    settings: FitSettings,
    work_dir: Path,
    *,
    hdi_prob: float | None = None,
) -> dict[str, Any]:
    """Write the CSV and model YAML of one dataset and return the runners' spec.

    Parameters
    ----------
    dataset : Dataset
        Which dataset.
    data : SyntheticData
        Its generated data and truth.
    settings : FitSettings
        Chains, draws, tuning, seed and model structure.
    work_dir : Path
        Where to write ``<key>.csv`` and ``<key>.model.yaml``.
    hdi_prob : float, optional
        Overrides the model config's ``hdi_prob``.

    Returns
    -------
    dict
        The JSON spec both runners read.
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    gen = dataset.config()
    csv = work_dir / f"{dataset.key}.csv"
    data.data.to_csv(csv, index=False)
    raw = model_config_dict(gen, settings)
    if hdi_prob is not None:
        raw["hdi_prob"] = hdi_prob
    model_yaml = work_dir / f"{dataset.key}.model.yaml"
    model_yaml.write_text(yaml.safe_dump(raw, sort_keys=False))
    config = parse_config(ModelConfig, raw, str(model_yaml))
    return {
        "dataset": dataset.key,
        "csv": str(csv),
        "model_config": str(model_yaml),
        "outcome": gen.outcome.name,
        "channels": list(gen.media),
        "controls": list(gen.controls),
        "n_periods": len(data.data),
        "l_max": settings.l_max,
        "yearly_order": settings.yearly_order,
        "trend": settings.trend,
        "chains": settings.chains,
        "draws": settings.draws,
        "tune": settings.tune,
        "seed": settings.seed,
        "hdi_prob": config.hdi_prob,
        "true_roas": data.truth.roas,
        "priors": mediamix_priors(config),
        "prior_mode": "matched",
    }
