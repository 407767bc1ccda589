"""Posterior summaries: the mean and highest-density interval (HDI) of draws.

Written once here and used by every analysis that reports an interval (:mod:`.metrics`,
:mod:`.summary`, the report and the planner); :mod:`.metrics` re-exports them.
"""

from __future__ import annotations

from dataclasses import dataclass

import arviz_stats as azs
import numpy as np
import numpy.typing as npt
import pandas as pd
import xarray as xr

__all__ = ["Interval", "interval", "summarize_draws"]


@dataclass(frozen=True)
class Interval:
    """A posterior mean and its highest-density interval."""

    mean: float
    hdi_low: float
    hdi_high: float

    def to_dict(self) -> dict[str, float]:
        """``{"mean", "hdi_low", "hdi_high"}``."""
        return {"mean": self.mean, "hdi_low": self.hdi_low, "hdi_high": self.hdi_high}


def interval(draws: npt.ArrayLike | xr.DataArray, prob: float) -> Interval:
    """Mean and HDI of a one-dimensional set of draws.

    Parameters
    ----------
    draws : array_like or xarray.DataArray
        Posterior draws of one quantity (any shape; all values are pooled).
    prob : float
        HDI probability mass, e.g. ``config.hdi_prob``.

    Returns
    -------
    Interval
    """
    values = np.asarray(draws, dtype=np.float64).reshape(-1)
    hdi = azs.hdi(xr.DataArray(values, dims="draw"), prob=prob, dim="draw")
    return Interval(
        float(values.mean()),
        float(hdi.sel(ci_bound="lower")),
        float(hdi.sel(ci_bound="upper")),
    )


def summarize_draws(da: xr.DataArray, prob: float, dim: str | list[str] = "draw") -> pd.DataFrame:
    """Posterior mean and HDI over the sample dims, one row per remaining coordinate.

    Parameters
    ----------
    da : xarray.DataArray
        Draws, e.g. ``(chain, draw, date)`` or ``(draw, channel)``.
    prob : float
        HDI probability.
    dim : str or list of str, default "draw"
        The sample dims to reduce (``["chain", "draw"]`` for a posterior variable).

    Returns
    -------
    pandas.DataFrame
        Columns ``mean``, ``hdi_low``, ``hdi_high``, indexed by the remaining dims.
    """
    dims = [dim] if isinstance(dim, str) else dim
    hdi = azs.hdi(da, prob=prob, dim=dims)
    out = xr.Dataset(
        {
            "mean": da.mean(dims),
            "hdi_low": hdi.sel(ci_bound="lower", drop=True),
            "hdi_high": hdi.sel(ci_bound="upper", drop=True),
        }
    )
    # the index follows ``da``'s dim order (xarray's own order may vary between processes)
    order = [d for d in da.dims if d not in dims]
    return out.to_dataframe(dim_order=order)[["mean", "hdi_low", "hdi_high"]]
