"""What a geo fit keeps of its per-cell draws: sums, posterior means and a national predictive.

A geo model's per-cell values (date x geo x channel) would dominate a fit's memory and file:
at 200 geos x 156 weeks x 10 channels and 4 x 1,000 draws, ``channel_contribution`` alone is
10 GB in float64, and the posterior predictive and log-likelihood 1 GB each. So, block by block
of draws (:func:`mediamix.inference.predictive.reduce_draws`), a geo fit keeps

- per draw, each per-cell variable's sums over geos and over dates (the model's own
  deterministics, :data:`mediamix.model.geo.PER_CELL`): every national answer and every per-geo
  answer over the whole data range;
- per cell, each one's posterior mean (group :data:`CELL_MEANS`): the fitted values behind R²;
- of the posterior predictive, the national outcome per date and draw
  (:data:`NATIONAL_OUTCOME`, outcome units): the fit plot's band.

The log-likelihood stays per (date, geo): leave-one-out needs every observation's draws. A
per-geo answer over a window of dates is evaluated from the parameters when asked
(:mod:`mediamix.analysis.geo_draws`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pymc as pm
import xarray as xr

from mediamix.inference.predictive import Reduction
from mediamix.model.geo import PER_CELL

__all__ = [
    "CELL_MEANS",
    "NATIONAL_OUTCOME",
    "add_cell_means",
    "cell_variables",
    "geo_predictive",
    "is_geo_model",
]

#: The group of a geo fit that holds the posterior mean of every per-cell variable.
CELL_MEANS = "posterior_mean"
#: A geo fit's posterior predictive: the national outcome (date), original outcome units.
NATIONAL_OUTCOME = "outcome_national"


def is_geo_model(model: pm.Model) -> bool:
    """Whether ``model`` is a geo model (it has a ``geo`` dim and per-capita data)."""
    return "geo" in model.coords and "population" in model.named_vars


def geo_predictive(model: pm.Model) -> dict[str, Reduction]:
    """What to keep of a geo model's predictive draws of ``y``: the national outcome.

    ``y`` is per capita on the model's scale (date, geo); the national outcome of a draw is
    ``sum_geo y * y_scale * population``. Nothing for a national model.
    """
    if not is_geo_model(model):
        return {}
    scale = float(model["y_scale"].get_value()) * np.asarray(model["population"].get_value())

    def national(draws: np.ndarray) -> np.ndarray:
        return np.asarray((draws * scale).sum(axis=-1))

    return {"y": Reduction(NATIONAL_OUTCOME, ("date",), national)}


def cell_variables(model: pm.Model) -> list[str]:
    """The per-cell variables whose posterior means a geo fit keeps (none for a national one)."""
    if not is_geo_model(model):
        return []
    return [n for n in PER_CELL if n in model.named_vars]


def add_cell_means(model: pm.Model, idata: Any, means: dict[str, np.ndarray]) -> None:
    """Add the :data:`CELL_MEANS` group: each per-cell variable's mean over all draws.

    Parameters
    ----------
    model : pymc.Model
        The model (its dims and coordinates name the cells).
    idata : xarray.DataTree
        The fit's draws.
    means : dict of str to numpy.ndarray
        From :func:`mediamix.inference.predictive.add_deterministics` with ``means`` set to
        :func:`cell_variables`: a NaN draw (an interrupted sampler's padding) makes the cells
        it touches NaN, as a mean over stored draws with ``skipna=False`` would. Nothing is
        added when it is empty.
    """
    if not means:
        return
    posterior = idata["posterior"].to_dataset()
    data = {}
    for name, values in means.items():
        dims = model.named_vars_to_dims[name]
        coords = {
            d: posterior[d].values if d in posterior.coords else np.asarray(model.coords[d])
            for d in dims
        }
        data[name] = xr.DataArray(values, dims=dims, coords=coords)
    idata[CELL_MEANS] = xr.DataTree(xr.Dataset(data), name=CELL_MEANS)
