"""A fit's contribution and baseline draws, summed over geos or over dates, without the cells.

A geo fit stores its per-cell variables (``channel_contribution`` (date, geo, channel),
``baseline`` (date, geo), ``organic_contribution``) per draw only as sums: over geos per date
(``<name>_national``) and over all its dates per geo (``<name>_by_geo``); see
:mod:`mediamix.inference.geo_draws`. Here every reader gets what it needs from those:

- :func:`national_draws`: ``(chain, draw, date, ...)`` summed over geos, the stored sum (a
  national fit's variable as it is);
- :func:`geo_total_draws`: ``(chain, draw, geo, ...)`` summed over some dates: the stored sum for
  all dates, else evaluated from the parameters through the model's own graph, a block of
  draws at a time (:func:`mediamix.inference.predictive.reduce_draws`);
- :func:`cell_draws`: every cell of every draw (as large as it sounds; for small fits).

A fit that holds a per-cell variable per draw (saved before the sums existed, or a prior
standing in for a posterior) is read from it, with the same results.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import xarray as xr

from mediamix.inference.predictive import reduce_draws
from mediamix.model.geo import per_cell_sums

if TYPE_CHECKING:
    from mediamix.inference.fit import FitResult

__all__ = ["cell_draws", "geo_total_draws", "national_draws"]

Mask = npt.NDArray[np.bool_] | None
Block = dict[str, np.ndarray]


def national_draws(result: FitResult, name: str) -> xr.DataArray:
    """``name``'s draws summed over geos: dims ``(chain, draw, date, ...)``.

    Parameters
    ----------
    result : FitResult
        Any fit; a national fit's variable is returned as it is.
    name : str
        ``channel_contribution``, ``baseline`` or ``organic_contribution``.
    """
    post = result.posterior
    national, _ = per_cell_sums(name)
    if name in post:
        da = post[name]
        return da.sum("geo") if "geo" in da.dims else da
    return post[national].rename(name)


def geo_total_draws(result: FitResult, name: str, dates: Mask = None) -> xr.DataArray:
    """A geo fit's ``name`` summed over ``dates`` per geo: dims ``(chain, draw, geo, ...)``.

    Parameters
    ----------
    result : FitResult
        A geo fit.
    name : str
        ``channel_contribution``, ``baseline`` or ``organic_contribution``.
    dates : numpy.ndarray of bool, optional
        Which of the fit's dates to sum; all by default (the stored sum, no evaluation).
    """
    post = result.posterior
    _, by_geo = per_cell_sums(name)
    whole = dates is None or bool(np.all(dates))
    if name in post:
        da = post[name]
        return (da if whole else da.isel(date=np.asarray(dates))).sum("date")
    if whole and by_geo in post:
        return post[by_geo].rename(name)
    mask = np.asarray(dates, dtype=bool)

    def window_sum(block: Block) -> Block:
        return {name: block[name][:, mask].sum(axis=1)}

    return _evaluated(result, name, window_sum, drop="date")


def cell_draws(result: FitResult, name: str) -> xr.DataArray:
    """Every cell of ``name`` per draw: dims ``(chain, draw, date, geo, ...)``.

    Evaluated from the parameters unless the fit holds them; draws x dates x geos x channels
    values, so only for small fits.
    """
    post = result.posterior
    if name in post:
        return post[name]
    return _evaluated(result, name, lambda block: block, drop=None)


def _evaluated(
    result: FitResult, name: str, reduce: Callable[[Block], Block], drop: str | None
) -> xr.DataArray:
    """``reduce`` of ``name`` over all draws, through the rebuilt model, as a DataArray."""
    model = result.build_model()
    post = result.posterior
    values = reduce_draws(model, post, [name], reduce)[name]
    dims = [d for d in model.named_vars_to_dims[name] if d != drop]
    shape = (post.sizes["chain"], post.sizes["draw"], *values.shape[1:])
    coords = {d: np.asarray(model.coords[d]) for d in dims}
    coords |= {"chain": post["chain"].values, "draw": post["draw"].values}
    return xr.DataArray(
        values.reshape(shape), dims=("chain", "draw", *dims), coords=coords, name=name
    )
