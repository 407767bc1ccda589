"""Geo benchmark data: a long table (one row per date and geo) and its ground truth.

Drawn by mediamix's geo generator (:func:`mediamix.data.geo_generator.generate_geos`) from a
generator config with a ``geos:`` section. The truth holds national ``channels.<name>.roas``
(sum of the geos' contributions / sum of their spend) and ``geos.<geo>.channels.<name>.roas``
and ``geos.<geo>.population``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from mediamix.config.base import ConfigError
from mediamix.config.generator import load_generator_config
from mediamix.data.generator import Generator
from mediamix.data.geo_generator import generate_geos


@dataclass(frozen=True)
class GeoData:
    """A geo data set: the long table, its truth (the JSON form above) and its column names."""

    data: pd.DataFrame
    truth: dict[str, Any]
    geo_column: str
    population_column: str

    @property
    def geos(self) -> list[str]:
        """Geo names in data order."""
        return list(dict.fromkeys(self.data[self.geo_column].tolist()))

    def true_roas(self) -> dict[str, float]:
        """National true ROAS per channel."""
        return {ch: float(c["roas"]) for ch, c in self.truth["channels"].items()}

    def true_geo_roas(self) -> dict[str, dict[str, float]]:
        """True ROAS per geo and channel."""
        return {
            g: {ch: float(c["roas"]) for ch, c in t["channels"].items()}
            for g, t in self.truth["geos"].items()
        }


def generate_geo(path: Path, seed: int | None = None) -> GeoData:
    """Draw the geo data set a generator config with ``geos:`` describes.

    Parameters
    ----------
    path : Path
        The generator config.
    seed : int, optional
        Overrides the config's seed.

    Raises
    ------
    ConfigError
        If the config has no ``geos:`` section.
    """
    cfg = load_generator_config(path)
    if cfg.geos is None:
        raise ConfigError(f"{path}: a geo benchmark dataset needs a `geos:` section")
    out = generate_geos(Generator(cfg), seed)
    return GeoData(out.data, out.truth, cfg.geos.column, cfg.geos.population_column)
