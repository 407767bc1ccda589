"""The model's forward pass, defined once: the expected outcome given parameter values.

On the model's scale (spend / spend_max, outcome / y_scale)::

    mean_t     = baseline_t + sum_c media_tc + sum_o organic_to
    media_tc   = beta_c * saturation_c(adstock_c(spend_tc / spend_max_c))
    organic_to = beta_o * saturation_o(adstock_o(organic_to / organic_max_o))   (same media())
    baseline_t = intercept + trend_slope * trend_t + fourier_t @ seasonality_coef
                 + (controls_t / control_scale) @ control_coef + sum_v effect_v[code_vt]

The PyMC model, predictions for a spend plan, response curves and the budget optimizer all
call these functions, so they cannot drift apart. Like :mod:`mediamix.model.transforms`, every
function computes with numpy on numpy arrays and builds a PyTensor graph when any input is a
PyTensor variable.

Parameters come in one of two layouts:

- no sample axis, as PyMC's random variables: transform parameters ``(group,)``, ``beta``
  ``(channel,)``, ``intercept`` a scalar, ``seasonality_coef`` ``(fourier,)``...;
- a leading sample axis, as posterior draws (numpy arrays): ``(sample, group)``,
  ``(sample, channel)``, ``(sample,)``, ``(sample, fourier)``...

With a sample axis the media transforms see the samples laid side by side as columns,
``(time, sample * channel)`` with column ``s * channel + c``, so a transform runs once for all
samples with per-column parameters. The outputs gain the same leading sample axis.

A geo model's media term (:func:`media_geo`) is the same :func:`media` with the (geo, channel)
pairs as columns ``g * channel + c``: transform parameters shared by the geos are tiled over them
(:func:`geo_stages`), ``beta`` is per (geo, channel), and media is per capita.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt
import pytensor.tensor as pt
from pytensor.graph.basic import Variable

from mediamix.errors import MediamixError
from mediamix.model.registry import Transform

__all__ = [
    "BaselineInputs",
    "BaselineTerms",
    "ForwardInputError",
    "Group",
    "baseline",
    "carryover",
    "geo_stages",
    "mean",
    "media",
    "media_geo",
    "steady_state",
]


class ForwardInputError(MediamixError):
    """Parameter values whose shapes do not fit the channels or samples they are given for."""


@dataclass(frozen=True)
class Group:
    """Channels that share one transform, and that transform's parameter values.

    Attributes
    ----------
    transform : Transform
        From :mod:`mediamix.model.registry`.
    columns : sequence of int
        The group's channels, as positions on the channel axis.
    values : mapping
        Each of the transform's parameters, by model name (``alpha``): ``(len(columns),)``
        without a sample axis, ``(sample, len(columns))`` with one.
    """

    transform: Transform
    columns: Sequence[int] | npt.NDArray[np.intp]
    values: Mapping[str, Any] = field(default_factory=dict)


def _backend(*values: Any) -> ModuleType:
    return pt if any(isinstance(v, Variable) for v in values) else np


def _sample_count(beta: Any) -> int | None:
    """Samples in a ``beta`` of shape ``(sample, channel)``; None for ``(channel,)``."""
    if beta.ndim == 1:
        return None
    if beta.ndim != 2 or isinstance(beta, Variable):
        raise ForwardInputError(
            f"beta must be (channel,) or a numpy array (sample, channel), got {beta.ndim} "
            f"dimensions of {type(beta).__name__}"
        )
    return int(beta.shape[0])


def _flat(value: Any, samples: int | None, width: int, name: str) -> Any:
    """``(sample, width)`` values as one draw-major vector, matching the side-by-side columns."""
    if samples is None:
        return value
    arr = np.asarray(value, dtype=np.float64)
    if arr.shape != (samples, width):
        raise ForwardInputError(
            f"{name}: expected values of shape (sample, channel) = ({samples}, {width}), "
            f"got {arr.shape}"
        )
    return np.ascontiguousarray(arr).reshape(-1)


def _side_by_side(x: Any, samples: int | None) -> Any:
    """``(time, channel)`` shared by all samples, or ``(sample, time, channel)``, as columns."""
    if samples is None:
        return x
    if x.ndim == 2:
        return _backend(x).tile(x, (1, samples))
    return x.transpose(1, 0, 2).reshape((x.shape[1], -1))


def _unstack(wide: Any, samples: int | None) -> Any:
    """Inverse of :func:`_side_by_side`: ``(time, sample * channel)`` to ``(sample, time, ch)``."""
    if samples is None:
        return wide
    return wide.reshape((wide.shape[0], samples, -1)).transpose(1, 0, 2)


def _values(group: Group, samples: int | None) -> dict[str, Any]:
    """The group's parameter values in the layout of its columns of ``x``."""
    return {
        p: _flat(v, samples, len(group.columns), f"{group.transform.kind}_{p}")
        for p, v in group.values.items()
    }


def _stage(x: Any, groups: Sequence[Group], samples: int | None) -> Any:
    """Apply each group's transform to its columns of ``x``; columns keep their order."""
    if not groups:
        return x
    n_channel = sum(len(g.columns) for g in groups)
    if len(groups) == 1 and np.array_equal(groups[0].columns, np.arange(n_channel)):
        # one group covering every channel in order reads x as it is: no gather, no reorder
        return groups[0].transform.apply(x, _values(groups[0], samples))
    parts, order = [], []
    for g in groups:
        cols = np.asarray(g.columns, dtype=np.intp)
        if samples is not None:
            cols = (np.arange(samples)[:, None] * n_channel + cols[None, :]).reshape(-1)
        parts.append(g.transform.apply(x[:, cols], _values(g, samples)))
        order.append(cols)
    stacked = _backend(*parts).concatenate(parts, axis=1)
    return stacked[:, np.argsort(np.concatenate(order))]


def media(spend: Any, spend_max: Any, stages: Sequence[Sequence[Group]], beta: Any) -> Any:
    """Each channel's media term ``beta * saturation(adstock(spend / spend_max))``, model units.

    Parameters
    ----------
    spend : array_like or TensorVariable
        ``(time, channel)``, shared by every sample, or ``(sample, time, channel)``. Spend
        before the first row counts as 0.
    spend_max : array_like or TensorVariable
        ``(channel,)``, the model's spend scale.
    stages : sequence of sequences of Group
        Transform stages in the order they apply (adstock, then saturation); the groups of a
        stage cover every channel once. An empty stage changes nothing.
    beta : array_like or TensorVariable
        ``(channel,)``, or a numpy array ``(sample, channel)``; its shape decides the layout
        every parameter follows.

    Returns
    -------
    numpy.ndarray or TensorVariable
        ``(time, channel)``, or ``(sample, time, channel)`` with a sample axis.

    Raises
    ------
    ForwardInputError
        If parameter values do not have one row per sample and one column per channel.
    """
    samples = _sample_count(beta)
    wide = _side_by_side(spend / spend_max, samples)
    for groups in stages:
        wide = _stage(wide, groups, samples)
    return _unstack(wide * _flat(beta, samples, beta.shape[-1], "beta"), samples)


def carryover(adstocks: Sequence[Group], samples: int | None = None) -> Any:
    """What the adstock stage makes of a constant spend of 1, once its window is full.

    Adstock is linear, so after ``l_max`` periods of constant spend ``s`` it outputs
    ``s * carryover``: 1 for normalized weights, the sum of the weights otherwise.

    Parameters
    ----------
    adstocks : sequence of Group
        The adstock stage (groups covering every channel once).
    samples : int, optional
        The number of samples when the values have a sample axis.

    Returns
    -------
    numpy.ndarray or TensorVariable
        ``(channel,)``, or ``(sample, channel)``.
    """
    n_channel = sum(len(g.columns) for g in adstocks)
    window = max((g.transform.window for g in adstocks), default=1)
    ones = _side_by_side(np.ones((window, n_channel)), samples)
    last = _stage(ones, adstocks, samples)[-1]
    return last if samples is None else last.reshape((samples, n_channel))


def steady_state(
    spend: Any,
    spend_max: Any,
    carried: Any,
    stages: Sequence[Sequence[Group]],
    beta: Any,
) -> Any:
    """The media term per period under constant spend, after the adstock windows fill.

    Parameters
    ----------
    spend : array_like or TensorVariable
        Spend per period, ``(channel,)``.
    spend_max : array_like
        ``(channel,)``, the model's spend scale.
    carried : array_like or TensorVariable
        :func:`carryover` of the adstock stage, ``(channel,)`` or ``(sample, channel)``.
    stages : sequence of sequences of Group
        The stages after adstock (saturation).
    beta : array_like or TensorVariable
        ``(channel,)``, or ``(sample, channel)``.

    Returns
    -------
    numpy.ndarray or TensorVariable
        ``(channel,)``, or ``(sample, channel)``: :func:`media` of a one-period series
        whose adstocked value is ``spend * carried``.
    """
    samples = _sample_count(beta)
    xp = _backend(spend, carried)
    one_period = xp.expand_dims(spend * carried, -2)
    out = media(one_period, spend_max, stages, beta)
    return out[0] if samples is None else out[:, 0, :]


def _tile_last(value: Any, reps: int) -> Any:
    """Repeat ``value`` ``reps`` times along its last axis: ``[a, b] -> [a, b, a, b]``."""
    if isinstance(value, Variable):
        return pt.tile(value, (1,) * (value.type.ndim - 1) + (reps,))
    arr = np.asarray(value, dtype=np.float64)
    return np.tile(arr, (1,) * (arr.ndim - 1) + (reps,))


def geo_stages(stages: Sequence[Sequence[Group]], n_geo: int) -> list[list[Group]]:
    """Transform stages over channels as stages over flattened (geo, channel) columns.

    Column ``g * channel + c`` is channel ``c`` in geo ``g``; every geo shares the channel's
    transform parameters, so each group's columns repeat once per geo and its values are
    tiled to match (``(k,)`` to ``(geo * k,)``, ``(sample, k)`` to ``(sample, geo * k)``).

    Parameters
    ----------
    stages : sequence of sequences of Group
        The channel stages, as :func:`media` takes them.
    n_geo : int
        The number of geos.

    Returns
    -------
    list of list of Group
        The same stages for ``n_geo * channel`` columns.
    """
    out = []
    for groups in stages:
        n_channel = sum(len(g.columns) for g in groups)
        offsets = np.arange(n_geo)[:, None] * n_channel
        out.append(
            [
                Group(
                    g.transform,
                    (offsets + np.asarray(g.columns, dtype=np.intp)[None, :]).reshape(-1),
                    {p: _tile_last(v, n_geo) for p, v in g.values.items()},
                )
                for g in groups
            ]
        )
    return out


def _geo_shape(beta: Any) -> tuple[int | None, int, int]:
    """``(samples or None, geo, channel)`` of a ``(geo, channel)`` or ``(sample, geo, channel)``."""
    shape = beta.type.shape if isinstance(beta, Variable) else np.shape(beta)
    if len(shape) == 3 and not isinstance(beta, Variable):
        return int(shape[0]), int(shape[1]), int(shape[2])
    if len(shape) != 2 or shape[0] is None or shape[1] is None:
        raise ForwardInputError(
            "beta must be (geo, channel) with a static shape, or a numpy array (sample, geo, "
            f"channel); got shape {shape} of {type(beta).__name__}"
        )
    return None, int(shape[0]), int(shape[1])


def media_geo(spend: Any, spend_max: Any, stages: Sequence[Sequence[Group]], beta: Any) -> Any:
    """Each (geo, channel)'s media term, model units: :func:`media` over flattened columns.

    The transforms' parameters are shared by every geo; ``beta`` is per (geo, channel). The
    (geo, channel) pairs become the columns ``g * channel + c`` of one :func:`media` call, so
    a transform runs once for all geos (and samples), with no loop over geos.

    Parameters
    ----------
    spend : array_like or TensorVariable
        Media per capita, ``(time, geo, channel)`` shared by every sample, or
        ``(sample, time, geo, channel)``. Before the first row counts as 0.
    spend_max : array_like or TensorVariable
        ``(channel,)``, the model's scale of media per capita (the same for every geo).
    stages : sequence of sequences of Group
        The channel stages as :func:`media` takes them: values ``(k,)`` or ``(sample, k)``.
    beta : array_like or TensorVariable
        ``(geo, channel)`` (a PyTensor variable needs a static shape), or a numpy array
        ``(sample, geo, channel)``; its shape decides the layout every parameter follows.

    Returns
    -------
    numpy.ndarray or TensorVariable
        ``(time, geo, channel)``, or ``(sample, time, geo, channel)`` with a sample axis; per
        capita, model units (multiply by ``y_scale`` and the geo's population for outcome).

    Raises
    ------
    ForwardInputError
        If ``beta`` or the parameter values do not fit the geos, channels or samples.
    """
    samples, n_geo, n_channel = _geo_shape(beta)
    width = n_geo * n_channel
    if samples is None:
        flat_spend = spend.reshape((spend.shape[0], width))
        flat_beta = beta.reshape((width,))
    else:
        flat_spend = spend.reshape((*spend.shape[:-2], width))
        flat_beta = np.asarray(beta, dtype=np.float64).reshape((samples, width))
    out = media(flat_spend, _tile_last(spend_max, n_geo), geo_stages(stages, n_geo), flat_beta)
    return out.reshape((*out.shape[:-1], n_geo, n_channel))


@dataclass(frozen=True)
class BaselineInputs:
    """The data the baseline terms read, one row per date; a term is off when its data is None.

    Attributes
    ----------
    n_time : int
        The number of dates.
    trend_time : array_like or TensorVariable, optional
        ``(time,)``, time on the trend's scale.
    fourier : array_like or TensorVariable, optional
        ``(time, fourier)``, yearly Fourier features.
    controls, control_scale : array_like or TensorVariable, optional
        ``(time, control)`` in original units, and ``(control,)`` their scale.
    index_codes : mapping
        Index variable name to ``(time,)`` integer level codes, 0 being the reference level.
    geo_codes : array_like or TensorVariable, optional
        ``(time,)`` integer geo of each row when rows are (date, geo) pairs: the baseline then
        adds ``params["geo_intercept"][geo_codes]``, each geo's offset from ``intercept``.
    """

    n_time: int
    trend_time: Any = None
    fourier: Any = None
    controls: Any = None
    control_scale: Any = None
    index_codes: Mapping[str, Any] = field(default_factory=dict)
    geo_codes: Any = None


@dataclass(frozen=True)
class BaselineTerms:
    """The baseline and the parts the model reports, model units.

    Attributes
    ----------
    total : numpy.ndarray or TensorVariable
        ``(time,)`` or ``(sample, time)``.
    seasonality : numpy.ndarray or TensorVariable or None
        ``(time,)`` or ``(sample, time)``; None without Fourier terms.
    control_contribution : numpy.ndarray or TensorVariable or None
        ``(time, control)`` or ``(sample, time, control)``; None without controls.
    """

    total: Any
    seasonality: Any = None
    control_contribution: Any = None


def _per_date(value: Any, sampled: bool) -> Any:
    """A parameter lined up against the date axis: ``(sample, ...)`` gains an axis after it."""
    return value[:, None] if sampled else value


def _reference_coded(effect: Any, codes: Any, sampled: bool, xp: ModuleType) -> Any:
    """Effect per date of an index variable; the first level is absorbed by the intercept."""
    if sampled:
        zeros = np.zeros((effect.shape[0], 1))
        return xp.concatenate([zeros, effect], axis=1)[:, codes]
    return xp.concatenate([xp.zeros(1), effect])[codes]


def baseline(inputs: BaselineInputs, params: Mapping[str, Any]) -> BaselineTerms:
    """Intercept, trend, seasonality, controls and index effects, model units.

    Parameters
    ----------
    inputs : BaselineInputs
        The dates' data.
    params : mapping
        By random variable name: ``intercept``; ``trend_slope``, ``seasonality_coef``,
        ``control_coef``, ``<variable>_effect`` and ``geo_intercept`` (``(geo,)``) for the
        terms ``inputs`` switches on. All without a sample axis, or all with one (``intercept``
        of shape ``(sample,)``).

    Returns
    -------
    BaselineTerms
    """
    intercept = params["intercept"]
    sampled = intercept.ndim == 1
    xp = _backend(*vars(inputs).values(), *inputs.index_codes.values(), *params.values())
    total = _per_date(intercept, sampled)
    if inputs.trend_time is not None:
        total = total + _per_date(params["trend_slope"], sampled) * inputs.trend_time
    season = None
    if inputs.fourier is not None:
        gamma = params["seasonality_coef"]
        season = xp.dot(gamma, inputs.fourier.T) if sampled else xp.dot(inputs.fourier, gamma)
        total = total + season
    contribution = None
    if inputs.controls is not None:
        z = inputs.controls / inputs.control_scale
        contribution = z * _per_date(params["control_coef"], sampled)
        total = total + contribution.sum(axis=-1)
    for name, codes in inputs.index_codes.items():
        total = total + _reference_coded(params[f"{name}_effect"], codes, sampled, xp)
    if inputs.geo_codes is not None:
        total = total + params["geo_intercept"][..., inputs.geo_codes]
    shape = (intercept.shape[0], inputs.n_time) if sampled else (inputs.n_time,)
    return BaselineTerms(xp.broadcast_to(total, shape), season, contribution)


def mean(baseline_total: Any, *media_terms: Any) -> Any:
    """The expected outcome: the baseline plus every channel's media term.

    Parameters
    ----------
    baseline_total : array_like or TensorVariable
        ``(time,)`` or ``(sample, time)``.
    *media_terms : array_like or TensorVariable
        ``(time, channel)`` or ``(sample, time, channel)`` each: the paid channels' terms,
        then (if the model has any) the organic channels' terms, both from :func:`media`.

    Returns
    -------
    numpy.ndarray or TensorVariable
        ``(time,)`` or ``(sample, time)``.
    """
    total = baseline_total
    for terms in media_terms:
        total = total + terms.sum(axis=-1)
    return total
