"""The media parameters' random variables: how channels group by transform, and their priors.

Channels that share an adstock type and window (or a saturation type) share one vector random
variable per parameter, over the ``channel`` dim (or, when channels differ, over a
``channel_<group>`` dim naming that group's channels). :func:`media_stages` creates them for
a model; :func:`channel_parameters` says where each channel's value lives in a posterior.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pymc as pm

from mediamix.config.base import ConfigError
from mediamix.config.model import ChannelModelConfig, ModelConfig, PriorConfig
from mediamix.model import forward, registry
from mediamix.model.registry import Transform

__all__ = [
    "ParamGroup",
    "channel_parameters",
    "channel_transform",
    "media_stages",
    "parameter_groups",
    "prior_rv",
    "scalar_rv",
    "shared_coords",
]


@dataclass(frozen=True)
class ParamGroup:
    """Channels that share a transform, and so one vector random variable per parameter."""

    transform: Transform
    channels: tuple[str, ...]
    dim: str
    var_names: dict[str, str]  # parameter ("alpha") -> random variable name

    @property
    def kind(self) -> str:
        """``adstock`` or ``saturation``."""
        return self.transform.kind

    @property
    def type(self) -> str:
        """The transform's registered type (``geometric``, ``hill``...)."""
        return self.transform.type


def _media_configs(config: ModelConfig, organic: bool) -> dict[str, ChannelModelConfig]:
    return config.organic_channels if organic else config.channels


def channel_transform(config: ModelConfig, channel: str, kind: str) -> Transform:
    """The transform of ``kind`` (``adstock`` or ``saturation``) configured for ``channel``.

    ``channel`` may be a paid or an organic channel.

    Returns
    -------
    Transform
        With the section's options (``l_max``, ``normalize`` for adstock).
    """
    entry = config.channels.get(channel) or config.organic_channels[channel]
    section = getattr(entry, kind)
    return registry.build(kind, section.type, dict(section))


def parameter_groups(config: ModelConfig, organic: bool = False) -> list[ParamGroup]:
    """Group channels by transform so each group's parameters are one vector RV.

    Parameters
    ----------
    config : ModelConfig
        The model configuration.
    organic : bool, default False
        Group the organic channels instead of the paid ones: their random variables are
        prefixed ``organic_`` and their dims are ``organic`` / ``organic_<group>``.

    Returns
    -------
    list of ParamGroup
        Adstock groups first, then saturation groups; channels in config order. Groups with
        transform type ``none`` are included (with no parameters).
    """
    groups: list[ParamGroup] = []
    names = config.organic_names if organic else config.channel_names
    axis, prefix = ("organic", "organic_") if organic else ("channel", "")
    for kind in registry.KINDS:
        members: dict[Transform, list[str]] = {}
        for ch in names:
            members.setdefault(channel_transform(config, ch, kind), []).append(ch)
        param_count: dict[str, int] = {}
        for t in members:
            for p in t.parameter_names():
                param_count[p] = param_count.get(p, 0) + 1
        # the type names a group unless two groups share it (adstock windows that differ)
        unique = len({t.type for t in members}) == len(members)
        for t, chans in members.items():
            label = t.type if unique else t.label
            dim = axis if len(chans) == len(names) else f"{axis}_{label}"
            var_names = {
                p: prefix + (f"{kind}_{p}" if param_count[p] == 1 else f"{kind}_{p}_{label}")
                for p in t.parameter_names()
            }
            groups.append(ParamGroup(t, tuple(chans), dim, var_names))
    return groups


def channel_parameters(
    config: ModelConfig, organic: bool = False
) -> dict[str, dict[str, tuple[str, str | None]]]:
    """Where each channel's parameters live in the posterior.

    Parameters
    ----------
    config : ModelConfig
        The model configuration.
    organic : bool, default False
        The organic channels' parameters instead (``organic_beta`` over ``organic``...).

    Returns
    -------
    dict
        ``{channel: {"adstock_alpha": (var_name, dim), ..., "beta": ("beta", "channel")}}``;
        select the channel's value with ``posterior[var_name].sel({dim: channel})``.
    """
    names = config.organic_names if organic else config.channel_names
    out: dict[str, dict[str, tuple[str, str | None]]] = {ch: {} for ch in names}
    for g in parameter_groups(config, organic):
        for ch in g.channels:
            for p, var in g.var_names.items():
                out[ch][f"{g.kind}_{p}"] = (var, g.dim)
    for ch in names:
        out[ch]["beta"] = ("organic_beta", "organic") if organic else ("beta", "channel")
    return out


def prior_rv(name: str, priors: list[PriorConfig], dims: str | tuple[str, ...]) -> Any:
    """One vector RV whose per-element prior parameters come from ``priors``.

    Raises
    ------
    ConfigError
        If the priors are not all of one distribution.
    """
    families = {p.dist for p in priors}
    if len(families) > 1:
        raise ConfigError(
            f"{name}: channels that share a transform must share the prior's distribution "
            f"(per-channel parameters may differ); got {sorted(families)}"
        )
    params = {k: np.array([p.params[k] for p in priors]) for k in priors[0].params}
    return getattr(pm, priors[0].dist)(name, **params, dims=dims)


def scalar_rv(name: str, prior: PriorConfig, dims: str | tuple[str, ...] | None = None) -> Any:
    """One RV (over ``dims``, if given) with the prior ``prior``."""
    return getattr(pm, prior.dist)(name, **prior.params, dims=dims)


def media_stages(
    cfg: ModelConfig, organic: bool = False, hook: Any = None
) -> tuple[list[list[forward.Group]], Any]:
    """The transform stages and ``beta`` of the paid (or ``organic``) channels, as new RVs.

    Creates each group's parameter random variables (adstock groups, then saturation groups)
    and then ``beta`` (``organic_beta``) over the ``channel`` (``organic``) dim; ``hook(stages)``,
    if given, makes ``beta`` instead (a ROAS prior, lift tests: ``builder._calibration_hook``).

    Returns
    -------
    tuple
        The stages as :func:`mediamix.model.forward.media` takes them, and ``beta``.
    """
    entries = _media_configs(cfg, organic)
    names = list(entries)
    stages: dict[str, list[forward.Group]] = {kind: [] for kind in registry.KINDS}
    for g in parameter_groups(cfg, organic):
        values = {}
        for p, var in g.var_names.items():
            priors = [getattr(getattr(entries[ch], g.kind), p) for ch in g.channels]
            values[p] = prior_rv(var, priors, g.dim)
        columns = [names.index(ch) for ch in g.channels]
        stages[g.kind].append(forward.Group(g.transform, columns, values))
    beta_name, dim = ("organic_beta", "organic") if organic else ("beta", "channel")
    if hook is not None:
        return list(stages.values()), hook(list(stages.values()))
    beta = prior_rv(beta_name, [entries[c].beta for c in names], dim)
    return list(stages.values()), beta


def shared_coords(cfg: ModelConfig, index_levels: dict[str, list[str]]) -> dict[str, Any]:
    """The coords every model has besides its rows: transform groups, organic, controls...

    Parameters
    ----------
    cfg : ModelConfig
        The model configuration.
    index_levels : dict
        Each index variable's levels (``Scalers.index_levels``); the first is the reference.

    Returns
    -------
    dict
        ``channel`` and its group dims, ``organic`` and its group dims, ``control``,
        ``fourier`` and ``<variable>_level``, for the terms the config switches on.
    """
    coords: dict[str, Any] = {"channel": cfg.channel_names}
    for g in parameter_groups(cfg):
        if g.dim != "channel":
            coords[g.dim] = list(g.channels)
    if cfg.organic_channels:
        coords["organic"] = cfg.organic_names
        for g in parameter_groups(cfg, organic=True):
            if g.dim != "organic":
                coords[g.dim] = list(g.channels)
    if cfg.controls:
        coords["control"] = list(cfg.controls)
    if cfg.seasonality.yearly_order:
        k = range(1, cfg.seasonality.yearly_order + 1)
        coords["fourier"] = [f"sin_{i}" for i in k] + [f"cos_{i}" for i in k]
    for c in cfg.index_variables:
        coords[f"{c}_level"] = index_levels[c][1:]
    return coords
