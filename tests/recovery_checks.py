"""Truth-in-HDI checks shared by recovery tests."""

from __future__ import annotations

import arviz_stats as azs
import xarray as xr


def hdi_allowing_mcse(
    roas: xr.DataArray, low: float, high: float, hdi_prob: float
) -> tuple[float, float]:
    """The HDI ``(low, high)`` of ``roas`` (dims chain, draw) widened by 2 MCSE at each end.

    The ends come from a few hundred draws: each is allowed its Monte Carlo error, so a truth
    at the edge of the posterior's HDI passes or fails on the posterior, not on sampling noise.
    """
    tail = (1 - hdi_prob) / 2
    low_mcse = float(azs.mcse(roas, method="quantile", prob=tail))
    high_mcse = float(azs.mcse(roas, method="quantile", prob=1 - tail))
    return low - 2 * low_mcse, high + 2 * high_mcse
