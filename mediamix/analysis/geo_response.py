"""Media response of a geo fit: per-geo effects, national answers.

A geo fit shares each channel's adstock and saturation across geos, has one effect
``beta[geo, channel]`` per geo and works per capita (:func:`mediamix.model.forward.media_geo`).
In outcome units, channel ``c`` in geo ``g`` contributes::

    y_scale * pop_g * beta_gc * saturation_c(adstock_c(spend_gc / pop_g / spend_max_c))

Everything here goes through the model's forward pass; nothing re-derives it:

- :class:`GeoParameters`: the shared transforms (a
  :class:`~mediamix.analysis.response.MediaParameters`), ``beta`` per draw, geo and channel,
  each geo's population and each channel's historical split of spend across geos (its *geo
  shares*);
- :func:`geo_media_contributions`: contributions per draw, date, geo and channel;
- :class:`GeoSteadyStateResponse`: the steady-state response the optimizer and the response
  curves use. Nationally (the default) the decision is spend per channel and each geo gets its
  historical share of it, so the response of channel ``c`` is the sum over geos at
  ``spend_c * share_gc``; ``by_geo`` makes every (geo, channel) a decision of its own, named
  ``<geo>/<channel>``.

:func:`steady_state_response` and :func:`current_spend_of` pick the national or the geo
version from the fit, so callers need no branch.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytensor.tensor as pt

from mediamix.analysis.response import (
    MediaParameters,
    SteadyStateResponse,
    draw_index,
    steady_state_multiplier,
)
from mediamix.analysis.windows import Window, current_spend, window_mask
from mediamix.errors import MediamixError
from mediamix.model import forward, registry

if TYPE_CHECKING:
    from mediamix.inference.fit import FitResult

__all__ = [
    "GEO_BETA",
    "GEO_SEPARATOR",
    "GeoParameters",
    "GeoSteadyStateResponse",
    "current_spend_of",
    "geo_media_contributions",
    "geo_media_totals",
    "geo_shares",
    "geo_spend",
    "is_geo_fit",
    "steady_state_response",
]

FloatArray = npt.NDArray[np.float64]
#: The posterior variable of the per-geo channel effects, dims (chain, draw, geo, channel).
GEO_BETA = "beta_geo"
#: Joins a geo and a channel into one decision name in a by-geo allocation: ``north/tv``.
GEO_SEPARATOR = "/"
# elements of the largest temporary array built per chunk of draws (as in response)
_CHUNK_ELEMENTS = 4_000_000


def is_geo_fit(result: FitResult) -> bool:
    """Whether the fit is a geo (hierarchical) model."""
    return bool(getattr(result.scalers, "geo_column", None))


def geo_spend(result: FitResult, window: Window = None) -> FloatArray:
    """Training spend (currency) as ``(date, geo, channel)`` over ``window``, geos in fit order."""
    frame, mask = result.frame, window_mask(result, window)
    if len(mask) != len(frame):  # a mask over the distinct dates rather than the rows
        dates = pd.DatetimeIndex(frame["date"].unique())
        mask = frame["date"].isin(dates[mask]).to_numpy()
    frame = frame.loc[mask]
    column = str(result.scalers.geo_column)
    spend_cols = [result.config.spend_column(c) for c in result.channels]
    geos = list(result.scalers.geos)
    wide = frame.pivot_table(index="date", columns=column, values=spend_cols, aggfunc="sum")
    cube = np.stack(
        [pd.DataFrame(wide[c]).reindex(columns=geos).to_numpy() for c in spend_cols], -1
    )
    return np.nan_to_num(np.asarray(cube, dtype=np.float64))


@dataclass(frozen=True)
class GeoParameters:
    """A geo fit's media parameters per draw.

    Attributes
    ----------
    media : MediaParameters
        The shared transforms and their values; ``spend_max`` and ``y_scale`` are per capita
        (its national ``beta`` is not used).
    geos : tuple of str
        Geo names, the order of every ``geo`` axis.
    beta : numpy.ndarray
        ``(draw, geo, channel)``, per-capita model units.
    population : numpy.ndarray
        ``(geo,)`` (``pop`` above).
    share : numpy.ndarray
        ``(geo, channel)``: each channel's share of training spend by geo (each column sums to
        1); a channel that never spent is split by population.
    """

    media: MediaParameters
    geos: tuple[str, ...]
    beta: FloatArray
    population: FloatArray
    share: FloatArray

    @classmethod
    def from_fit(
        cls,
        result: FitResult,
        draws: int | None = None,
        *,
        media_units: bool = False,
        window: Window = None,
    ) -> GeoParameters:
        """Take a geo fit's parameters (see :meth:`MediaParameters.from_fit` for the options).

        Raises
        ------
        MediamixError
            If the fit is not a geo fit or its posterior lacks :data:`GEO_BETA`.
        """
        if not is_geo_fit(result):
            raise MediamixError("this fit has no geos: it was fitted without a 'geo:' config")
        post = result.posterior
        if GEO_BETA not in post:
            raise MediamixError(f"the geo fit's posterior has no {GEO_BETA!r} variable")
        geos = [str(g) for g in result.scalers.geos]
        media = MediaParameters.from_fit(result, draws, media_units=media_units)
        da = post[GEO_BETA].sel(geo=geos, channel=list(media.channels))
        values = da.transpose("chain", "draw", "geo", "channel").to_numpy().astype(np.float64)
        index = draw_index(post.sizes["chain"] * post.sizes["draw"], draws)
        beta = values.reshape(-1, len(geos), len(media.channels))[index]
        population = np.array([float(result.scalers.population.get(g, 1.0)) for g in geos])
        share = geo_shares(geo_spend(result, window).sum(axis=0), population)
        return cls(media, tuple(geos), beta, population, share)

    def subset(self, geos: list[str]) -> GeoParameters:
        """The parameters of some geos only, in the given order."""
        j = [self.geos.index(g) for g in geos]
        return replace(
            self,
            geos=tuple(geos),
            beta=self.beta[:, j],
            population=self.population[j],
            share=self.share[j],
        )


def geo_shares(totals: FloatArray, population: FloatArray) -> FloatArray:
    """Columns of ``totals`` (geo, channel) as shares; all-zero columns split by population.

    Parameters
    ----------
    totals : numpy.ndarray
        ``(geo, column)``: each geo's total of each column (spend, volume).
    population : numpy.ndarray
        ``(geo,)``.

    Returns
    -------
    numpy.ndarray
        ``(geo, column)``, each column summing to 1.
    """
    sums = totals.sum(axis=0, keepdims=True)
    by_population = np.broadcast_to((population / population.sum())[:, None], totals.shape)
    safe = np.where(sums > 0, sums, 1.0)
    return np.asarray(np.where(sums > 0, totals / safe, by_population), dtype=np.float64)


def _checked(gp: GeoParameters, spend: npt.ArrayLike) -> FloatArray:
    x = np.asarray(spend, dtype=np.float64)
    if x.ndim != 3 or x.shape[1:] != gp.beta.shape[1:]:
        raise MediamixError(
            f"spend must be (time, geo, channel) with {len(gp.geos)} geos and "
            f"{len(gp.media.channels)} channels, got shape {x.shape}"
        )
    return x


def _by_draw_blocks(gp: GeoParameters, x: FloatArray) -> Iterator[tuple[slice, FloatArray]]:
    """Contributions ``(draws, time, geo, channel)`` a block of draws at a time (bounded memory)."""
    mp = gp.media
    per_capita = x / gp.population[None, :, None]
    per_draw = x.shape[0] * mp.window * x.shape[1] * x.shape[2]
    size = max(1, _CHUNK_ELEMENTS // max(1, per_draw))
    scale = mp.y_scale * gp.population[None, None, :, None]
    for start in range(0, mp.n_draws, size):
        draws = slice(start, min(start + size, mp.n_draws))
        media = forward.media_geo(per_capita, mp.spend_max, mp.stages(draws), gp.beta[draws])
        yield draws, np.asarray(media) * scale


def geo_media_contributions(gp: GeoParameters, spend: npt.ArrayLike) -> FloatArray:
    """Contribution of each (geo, channel) per date under every draw, in outcome units.

    Parameters
    ----------
    gp : GeoParameters
        The geo fit's parameters (``media_units=True`` for the model's own media inputs).
    spend : array_like
        ``(time, geo, channel)`` media input (currency, or exposure), geos and channels in the
        order of ``gp``; before the first row counts as 0.

    Returns
    -------
    numpy.ndarray
        ``(draw, time, geo, channel)``.
    """
    x = _checked(gp, spend)
    out = np.empty((gp.media.n_draws, *x.shape))
    for draws, block in _by_draw_blocks(gp, x):
        out[draws] = block
    return out


def geo_media_totals(gp: GeoParameters, spend: npt.ArrayLike, first: int = 0) -> FloatArray:
    """:func:`geo_media_contributions` summed over the rows from ``first`` on.

    Returns
    -------
    numpy.ndarray
        ``(draw, geo, channel)``, computed a block of draws at a time, so every draw's time
        series is never held at once.
    """
    x = _checked(gp, spend)
    out = np.empty((gp.media.n_draws, *x.shape[1:]))
    for draws, block in _by_draw_blocks(gp, x):
        out[draws] = block[:, first:].sum(axis=1)
    return out


class GeoSteadyStateResponse(SteadyStateResponse):
    """Steady-state response of a geo fit: per channel (national) or per (geo, channel).

    Parameters
    ----------
    params : GeoParameters
        From :meth:`GeoParameters.from_fit` (spend in currency: ``media_units=False``).
    by_geo : bool, default False
        Decide spend per (geo, channel), named ``<geo>/<channel>`` (geo-major). Otherwise
        per channel, split across geos by the historical shares ``params.share``.
    """

    def __init__(self, params: GeoParameters, by_geo: bool = False) -> None:
        self.geo = params
        self.by_geo = bool(by_geo)
        channels = params.media.channels
        if self.by_geo:
            self._names = tuple(f"{g}{GEO_SEPARATOR}{c}" for g in params.geos for c in channels)
        else:
            self._names = tuple(channels)
        super().__init__(params.media)

    @property
    def channels(self) -> tuple[str, ...]:
        """Decision names, the order of spend vectors: channels, or ``<geo>/<channel>``."""
        return self._names

    def _graph(self, spend: Any) -> Any:
        gp, mp = self.geo, self.geo.media
        n_geo, n_channel = gp.beta.shape[1:]
        # the national decision is split by each channel's geo shares (geo-major columns)
        flat = spend if self.by_geo else pt.tile(spend, n_geo) * gp.share.reshape(-1)
        kinds = [kind for kind in registry.KINDS if kind != "adstock"]
        stages = forward.geo_stages([mp.stage(kind) for kind in kinds], n_geo)
        carried = np.tile(steady_state_multiplier(mp), (1, n_geo))
        # per capita: spend / (population * spend_max) in, beta * population out
        spend_max = (gp.population[:, None] * mp.spend_max[None, :]).reshape(-1)
        beta = (gp.beta * gp.population[None, :, None]).reshape(mp.n_draws, -1)
        out = forward.steady_state(flat, spend_max, carried, stages, beta) * mp.y_scale
        if self.by_geo:
            return out
        return out.reshape((mp.n_draws, n_geo, n_channel)).sum(axis=1)


def steady_state_response(
    result: FitResult, draws: int | None = None, *, by_geo: bool = False
) -> SteadyStateResponse:
    """The fit's compiled steady-state response: national for any fit, per geo on request.

    Raises
    ------
    MediamixError
        If ``by_geo`` is asked of a fit without geos.
    """
    if is_geo_fit(result):
        return GeoSteadyStateResponse(GeoParameters.from_fit(result, draws), by_geo=by_geo)
    if by_geo:
        raise MediamixError("by_geo needs a geo fit; this fit has no geos (no 'geo:' config)")
    return SteadyStateResponse(MediaParameters.from_fit(result, draws))


def current_spend_of(result: FitResult, window: Window = None, by_geo: bool = False) -> pd.Series:
    """Mean spend per period over the window: per channel, or per ``<geo>/<channel>``.

    For a geo fit the national value of a channel is the sum over geos of their mean spend
    per period (the fit's rows are per date and geo). Without geos it is
    :func:`~mediamix.analysis.metrics.current_spend`.
    """
    if not is_geo_fit(result):
        if by_geo:
            raise MediamixError("by_geo needs a geo fit; this fit has no geos (no 'geo:' config)")
        return current_spend(result, window)
    mean = geo_spend(result, window).mean(axis=0)  # (geo, channel)
    if not by_geo:
        return pd.Series(mean.sum(axis=0), index=list(result.channels), name="spend")
    names = [f"{g}{GEO_SEPARATOR}{c}" for g in result.scalers.geos for c in result.channels]
    return pd.Series(mean.reshape(-1), index=names, name="spend")
