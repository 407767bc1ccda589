"""Synthetic geo-level data: one national plan split over geos, with per-geo and national truth.

A generator config with ``geos:`` (:class:`~mediamix.config.generator.GeosConfig`) draws the
national data set as :class:`~mediamix.data.generator.Generator` does, then for each geo:

- spend: the national spend times the geo's share (population times log-normal noise,
  normalised), times log-normal noise per (period, channel), rounded to cents;
- effects per capita: ``beta_gc * saturation(adstock(spend_tgc / pop_g / m_c))`` with the
  channel's true transforms (shared by every geo), ``m_c`` the largest spend per capita of the
  channel in any geo and period, ``beta_gc = beta_c * exp(N(0, beta_spread))``;
- outcome: ``scale * pop_g / sum(pop) * (baseline_t + geo offset_g + sum_c effects + noise)``,
  so the outcome per capita is on one scale for every geo.

The truth keeps the national section of a national data set (``channels.<name>.roas`` = the
sum over geos of contributions / of spend) and adds ``geos.<geo>``: population and per-channel
ROAS, contribution, spend and ``beta``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mediamix.config.base import ConfigError
from mediamix.data.generator import Generator, _stream
from mediamix.model import registry

__all__ = ["GeoSyntheticData", "generate_geos"]


@dataclass(frozen=True)
class GeoSyntheticData:
    """A geo data set: the long table (one row per date and geo) and its truth (JSON form)."""

    data: pd.DataFrame
    truth: dict[str, Any]

    def write_json(self, path: str | Path) -> None:
        """Write the truth to ``path`` as JSON (through a temporary file)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.truth, indent=2) + "\n")
        tmp.replace(path)


def _effects(generator: Generator, x: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """Per-capita effects (time, geo, channel) of scaled media ``x``; geos are the columns."""
    out = np.empty_like(x)
    for c, ch in enumerate(generator.channels):
        y = x[:, :, c]
        for kind in registry.KINDS:
            y = ch.transform(kind).apply(y, ch.config.parameter_values(kind))
        out[:, :, c] = beta[None, :, c] * y
    return out


def _channel_truth(spend: np.ndarray, contribution: np.ndarray) -> dict[str, float]:
    total = float(spend.sum())
    return {
        "roas": float(contribution.sum() / total) if total > 0 else 0.0,
        "contribution_total": float(contribution.sum()),
        "spend_total": total,
    }


def _truth(
    truth: dict[str, Any],
    geo_column: str,
    population_column: str,
    names: list[str],
    channels: list[str],
    arrays: dict[str, np.ndarray],
) -> dict[str, Any]:
    """The national truth's JSON form updated for the geos, plus the ``geos`` section."""
    pop, share, offset, beta = (arrays[k] for k in ("pop", "share", "offset", "beta"))
    spend, contribution, baseline = (arrays[k] for k in ("spend", "contribution", "baseline"))
    spend_max = arrays["spend_max"]
    for c, name in enumerate(channels):
        truth["channels"][name].update(_channel_truth(spend[:, :, c], contribution[:, :, c]))
        truth["channels"][name]["params"]["spend_max"] = float(spend_max[c])
    truth["baseline_total"] = float(baseline.sum())
    truth.update(geo_column=geo_column, population_column=population_column)
    truth["geos"] = {
        g: {
            "population": float(pop[i]),
            "share": float(share[i]),
            "intercept_offset": float(offset[i]),
            "baseline_total": float(baseline[:, i].sum()),
            "channels": {
                name: {
                    **_channel_truth(spend[:, i, c], contribution[:, i, c]),
                    "beta": float(beta[i, c]),
                }
                for c, name in enumerate(channels)
            },
        }
        for i, g in enumerate(names)
    }
    return truth


def generate_geos(generator: Generator, seed: int | None = None) -> GeoSyntheticData:
    """Draw a geo-level data set from a generator whose config has ``geos``.

    Parameters
    ----------
    generator : Generator
        Its config's ``geos`` says how many geos, their populations and their spread.
    seed : int, optional
        Overrides the config's seed; the same seed gives the same data, bit for bit.

    Returns
    -------
    GeoSyntheticData
        ``data``: ``date``, the geo column, the population column, spend per channel, controls,
        the outcome, sorted by date then geo; ``truth`` as the module docstring says.

    Raises
    ------
    ConfigError
        If the config has no ``geos``.
    """
    cfg = generator.config
    if cfg.geos is None:
        raise ConfigError("the generator config has no `geos:` section; it is not a geo data set")
    gc, national = cfg.geos, generator.generate(seed=seed)
    seed = national.truth.seed
    entries = gc.entries()
    names = [g.name for g in entries]
    pop = np.array([g.population for g in entries], dtype=np.float64)
    channels = [ch.name for ch in generator.channels]
    n, n_geo, n_ch = len(national.data), len(names), len(channels)
    rng = _stream(seed, "geo", "geos")
    share = pop * np.exp(rng.normal(0.0, gc.share_noise, n_geo))
    share /= share.sum()
    wiggle = np.exp(rng.normal(0.0, gc.spend_noise, (n, n_geo, n_ch)))
    plan = national.data[channels].to_numpy(dtype=np.float64)
    spend = np.round(plan[:, None, :] * share[None, :, None] * wiggle, 2)
    per_capita = spend / pop[None, :, None]
    spend_max = per_capita.max(axis=(0, 1))
    beta_national = np.array([ch.config.beta for ch in generator.channels])
    beta = beta_national[None, :] * np.exp(rng.normal(0.0, gc.beta_spread, (n_geo, n_ch)))
    effects = _effects(generator, per_capita / spend_max, beta)
    offset = rng.normal(0.0, gc.intercept_spread, n_geo)
    scale = cfg.outcome.scale
    parts = national.truth.components.drop(columns="noise").to_numpy() / scale
    base = parts.sum(axis=1)[:, None] + offset[None, :]
    noise = rng.normal(0.0, cfg.outcome.sigma, (n, n_geo))
    weight = scale * pop / pop.sum()  # outcome units per unit of the per-capita sum
    outcome = weight[None, :] * (base + effects.sum(axis=2) + noise)
    contribution = weight[None, :, None] * effects
    data = _long_frame(national.data, gc.column, gc.population_column, names, pop, spend, outcome)
    arrays = dict(pop=pop, share=share, offset=offset, beta=beta, spend=spend)
    arrays.update(contribution=contribution, baseline=weight[None, :] * base, spend_max=spend_max)
    truth = _truth(
        national.truth.to_dict(), gc.column, gc.population_column, names, channels, arrays
    )
    return GeoSyntheticData(data=data, truth=truth)


def _long_frame(
    national: pd.DataFrame,
    geo_column: str,
    population_column: str,
    names: list[str],
    pop: np.ndarray,
    spend: np.ndarray,
    outcome: np.ndarray,
) -> pd.DataFrame:
    """One row per (date, geo), date-major; controls are the national ones in every geo."""
    n, n_geo = outcome.shape
    channels = national.columns[1 : 1 + spend.shape[2]].tolist()
    controls = national.columns[1 + spend.shape[2] : -1].tolist()
    out = pd.DataFrame(
        {
            "date": np.repeat(national["date"].to_numpy(), n_geo),
            geo_column: np.tile(np.array(names, dtype=object), n),
            population_column: np.tile(pop, n),
        }
    )
    for c, name in enumerate(channels):
        out[name] = spend[:, :, c].reshape(-1)
    for name in controls:
        out[name] = np.repeat(national[name].to_numpy(), n_geo)
    out[national.columns[-1]] = outcome.reshape(-1)
    return out
