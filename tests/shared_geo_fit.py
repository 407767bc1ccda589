"""A geo fit whose "posterior" is the geo model's prior: real draws, no sampling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr

from mediamix.config.base import parse_config
from mediamix.config.model import ModelConfig
from mediamix.inference.fit import FitResult
from mediamix.model.builder import build_model, prepare_data

GEOS = {"north": 900.0, "south": 300.0, "east": 40.0}
WEEKS = pd.date_range("2023-01-02", periods=30, freq="7D")


def geo_frame(seed: int = 0, organic: bool = False) -> pd.DataFrame:
    """Three geos x 30 weeks; ``organic`` adds a ``newsletter`` volume column."""
    rng = np.random.default_rng(seed)
    rows = []
    for d in WEEKS:
        for geo, pop in GEOS.items():
            rows.append(
                {
                    "date": d,
                    "geo": geo,
                    "tv": pop * rng.uniform(0.5, 2.0),
                    "search": pop * rng.uniform(0.1, 0.5),
                    "price": rng.uniform(1, 2),
                    "sales": pop * rng.uniform(5, 8),
                    "population": pop,
                }
            )
    frame = pd.DataFrame(rows)
    if organic:  # its own stream, so the other columns do not change
        volume = np.random.default_rng(seed + 1).uniform(0.0, 3.0, len(frame))
        frame["newsletter"] = frame["population"] * volume
    return frame


def geo_config(organic: bool = False) -> ModelConfig:
    """The geo model of :func:`geo_frame`; ``organic`` adds ``newsletter`` as organic media."""
    extra = {"organic_channels": ["newsletter"]} if organic else {}
    return parse_config(
        ModelConfig,
        {
            **extra,
            "outcome": {"name": "sales"},
            "channels": ["tv", "search"],
            "channel_defaults": {"adstock": {"type": "geometric", "l_max": 3}},
            "controls": ["price"],
            "geo": {"column": "geo", "population": "population"},
            "seasonality": {"yearly_order": 1},
            "trend": {"enabled": True},
        },
    )


def prior_geo_fit(organic: bool = False, frame: pd.DataFrame | None = None) -> FitResult:
    """Three geos x 30 weeks x 2 channels; 40 prior draws stand in for the posterior.

    Besides the stored sums, the draws hold the per-cell ``channel_contribution`` and
    ``baseline`` (named variables a fit does not store), as the reference the tests check
    against, and as a fit saved before the sums existed held them. ``organic`` adds the
    organic channel ``newsletter`` (and the per-cell ``organic_contribution``); ``frame``
    replaces :func:`geo_frame`'s rows.
    """
    cfg = geo_config(organic)
    md = prepare_data(geo_frame(organic=organic) if frame is None else frame, cfg)
    with build_model(md, cfg) as model:
        names = [v.name for v in (*model.basic_RVs, *model.deterministics)]
        names += ["channel_contribution", "baseline"]
        names += ["organic_contribution"] if organic else []
        prior = pm.sample_prior_predictive(draws=40, random_seed=3, var_names=names)
    group = prior["prior"] if not hasattr(prior, "prior") else prior.prior
    post = group.to_dataset() if hasattr(group, "to_dataset") else group
    idata = xr.DataTree.from_dict({"posterior": xr.DataTree(post)})
    return FitResult(idata=idata, frame=md.frame, config=cfg, scalers=md.scalers, timings={})
