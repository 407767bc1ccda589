"""One small real geo fit shared by the geo model, metrics and plot tests (fitted once per session).

8 geos x 104 weeks x 3 channels from the shipped geo generator config, fitted with the shipped
geo model config through nutpie (2 chains x (400 tune + 400 draws), no escalation).
"""

from __future__ import annotations

import warnings
from functools import cache
from pathlib import Path
from typing import Any

from mediamix.config.base import load_yaml
from mediamix.config.generator import GeneratorConfig
from mediamix.config.model import ModelConfig
from mediamix.data.generator import Generator
from mediamix.data.geo_generator import GeoSyntheticData, generate_geos
from mediamix.inference.diagnostics import ConvergenceWarning
from mediamix.inference.fit import FitResult, fit

REPO = Path(__file__).resolve().parents[1]
GEO_GEN_CONFIG = REPO / "config/generator/geo_config.yaml"
GEO_MODEL_CONFIG = REPO / "config/model/geo_config.yaml"
SMALL_CHANNELS = ("tv", "search", "social")


def small_geo_generator(geos: int = 8, end_date: str = "2022-12-26") -> Generator:
    """The shipped geo generator config cut to ``geos`` geos, 104 weeks and 3 channels."""
    raw: dict[str, Any] = dict(load_yaml(GEO_GEN_CONFIG))
    raw["end_date"] = end_date
    raw["geos"] = {**raw["geos"], "count": geos}
    raw["media"] = {k: raw["media"][k] for k in SMALL_CHANNELS}
    return Generator(GeneratorConfig.model_validate(raw))


def small_geo_model_config(**sampler: Any) -> ModelConfig:
    """The shipped geo model config for :data:`SMALL_CHANNELS`, sampler settings overridden."""
    raw: dict[str, Any] = dict(load_yaml(GEO_MODEL_CONFIG))
    raw["channels"] = list(SMALL_CHANNELS)
    raw["sampler"] = {**raw["sampler"], **sampler}
    return ModelConfig.model_validate(raw)


@cache
def small_geo_data() -> GeoSyntheticData:
    """The small geo data set (seeded: the same on every call)."""
    return generate_geos(small_geo_generator())


@cache
def small_geo_fit() -> tuple[GeoSyntheticData, FitResult]:
    """:func:`small_geo_data` fitted with nutpie, 2 chains x (400 tune + 400 draws)."""
    data = small_geo_data()
    config = small_geo_model_config(
        draws=400, tune=400, chains=2, target_accept=0.9, max_target_accept=0.9
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # so few draws miss the ESS threshold
        result = fit(data.data, config)
    return data, result
