"""The PyMC model: ``build_model(data, config) -> pm.Model``.

On the scaled outcome ``y / y_scale``::

    mu_t = intercept + trend_t + seasonality_t + controls_t + index effects_t
           + sum_c beta_c * saturation_c(adstock_c(spend_tc / spend_max_c))
    y_t ~ Normal(mu_t, sigma)   (or StudentT)

The terms themselves are :mod:`mediamix.model.forward`, the one definition the analysis code
shares; the transforms are :mod:`mediamix.model.registry`'s. Channel parameters are vector random
variables, one per transform group: channels that share an adstock type and window (or a
saturation type) share one vector over the ``channel`` dim (or, when channels differ, over a
``channel_<group>`` dim naming that group's channels). The deterministics
``channel_contribution`` (date x channel) and ``baseline`` (date) are in original outcome units,
so analysis never re-derives them.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pymc as pm
import pytensor.tensor as pt

from mediamix.config.base import ConfigError
from mediamix.config.model import ChannelModelConfig, ModelConfig, PriorConfig
from mediamix.data.columns import exposure_inputs
from mediamix.data.frames import DATE_DTYPE, PERIOD_DAYS
from mediamix.data.validation import infer_frequency, validate_frame
from mediamix.model import calibration, forward, registry
from mediamix.model.registry import Transform
from mediamix.model.window import fit_window

__all__ = [
    "ModelData",
    "ParamGroup",
    "Scalers",
    "build_model",
    "channel_parameters",
    "channel_transform",
    "fourier_features",
    "parameter_groups",
    "prepare_data",
]

FloatArray = npt.NDArray[np.float64]
_DAYS_PER_YEAR = 365.25


@dataclass(frozen=True)
class Scalers:
    """Constants that map between original and model units, recorded with every fit."""

    spend_max: dict[str, float]  # the media input's max: exposure for an exposure channel
    y_scale: float
    control_scale: dict[str, float]
    start_date: str
    end_date: str
    frequency: str
    index_levels: dict[str, list[str]] = field(default_factory=dict)
    organic_max: dict[str, float] = field(default_factory=dict)
    cost_per_exposure: dict[str, float] = field(default_factory=dict)
    # media inputs (paid and organic) of the periods just before a fit window, oldest first:
    # the carry-over into the window's first periods (see ``window`` in the README)
    warmup: dict[str, list[float]] = field(default_factory=dict)

    def warmup_frame(self) -> pd.DataFrame:
        """The warm-up periods before ``start_date``: ``date`` and one column per media input.

        Empty (no rows) for a fit without a window, or with one that starts at the data's start.
        """
        n = len(next(iter(self.warmup.values()), []))
        step = pd.Timedelta(days=PERIOD_DAYS[self.frequency])
        start = pd.Timestamp(self.start_date)
        dates = pd.DatetimeIndex([start - step * k for k in range(n, 0, -1)]).astype(DATE_DTYPE)
        return pd.DataFrame({"date": dates, **self.warmup})

    def to_json(self) -> str:
        """Serialise to JSON."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Scalers:
        """Inverse of :meth:`to_json`."""
        return cls(**json.loads(text))

    def trend(self, dates: pd.Series | pd.DatetimeIndex) -> FloatArray:
        """Time on the trend's scale: 0 at the first training date, 1 at the last."""
        start, end = pd.Timestamp(self.start_date), pd.Timestamp(self.end_date)
        days = (pd.DatetimeIndex(dates) - start).days.to_numpy(dtype=np.float64)
        return days / max((end - start).days, 1)


@dataclass(frozen=True)
class ModelData:
    """A validated modeling frame and the scalers derived from it."""

    frame: pd.DataFrame
    scalers: Scalers
    config: ModelConfig

    @property
    def dates(self) -> pd.DatetimeIndex:
        """The date coordinate."""
        return pd.DatetimeIndex(self.frame["date"])

    @property
    def spend(self) -> FloatArray:
        """Spend, (date, channel), original currency units."""
        return self.frame[self.config.channel_names].to_numpy(dtype=np.float64)

    @property
    def organic(self) -> FloatArray:
        """Organic media, (date, organic), original units; no columns without organic media."""
        return self.frame[self.config.organic_names].to_numpy(dtype=np.float64)

    def warmup(self, organic: bool = False) -> FloatArray:
        """Media inputs of the warm-up periods before the window ``(period, channel)``."""
        names = self.config.organic_names if organic else self.config.channel_names
        if not self.scalers.warmup:
            return np.zeros((0, len(names)))
        return np.column_stack([self.scalers.warmup[c] for c in names]).astype(np.float64)

    @property
    def y(self) -> FloatArray:
        """Outcome, original units."""
        return self.frame[self.config.outcome.name].to_numpy(dtype=np.float64)


def fourier_features(dates: pd.Series | pd.DatetimeIndex, order: int) -> FloatArray:
    """Yearly Fourier terms ``[sin(2 pi k t), cos(2 pi k t)]`` for ``k = 1..order``.

    ``t`` is calendar time in years, so the same date always gets the same features (training
    and prediction agree).

    Returns
    -------
    numpy.ndarray
        Shape ``(len(dates), 2 * order)``.
    """
    days = (pd.DatetimeIndex(dates) - pd.Timestamp("2000-01-01")).days.to_numpy(np.float64)
    t = days / _DAYS_PER_YEAR
    k = np.arange(1, order + 1)
    angle = 2 * np.pi * t[:, None] * k[None, :]
    return np.concatenate([np.sin(angle), np.cos(angle)], axis=1)


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


def prepare_data(frame: pd.DataFrame, config: ModelConfig) -> ModelData:
    """Validate a modeling frame against the config and derive the scalers.

    Parameters
    ----------
    frame : pandas.DataFrame
        ``date``, one spend column per configured channel, controls, index variables, outcome.
    config : ModelConfig
        The model configuration.

    Returns
    -------
    ModelData
        Validated frame plus scalers (spend max per channel, outcome scale, control scales).

    Raises
    ------
    DataValidationError
        If the frame does not fit the config (see :mod:`mediamix.data.validation`).
    """
    exposed = config.exposure_channels
    frame = exposure_inputs(frame, config)
    frame = frame.drop(columns=[e for e, _ in exposed.values() if e in frame.columns])
    media = [*config.channels.values(), *config.organic_channels.values()]
    n_params = 2 + 3 * len(media) + 2 * config.seasonality.yearly_order
    n_params += len(config.controls) + int(config.trend.enabled)
    max_lag = max(c.adstock.l_max for c in media)
    clean = validate_frame(
        frame,
        channels=config.channel_names,
        organic=config.organic_names,
        exposure={c: e for c, (e, _) in exposed.items()},
        spend=[s for _, s in exposed.values()],
        outcome=config.outcome.name,
        controls=config.controls,
        index_variables=config.index_variables,
        min_rows=max(max_lag + 1, n_params + 1),
    )
    clean, warmup = fit_window(clean, config, max_lag, max(max_lag + 1, n_params + 1))
    y = clean[config.outcome.name].to_numpy()
    control_scale = {}
    for c in config.controls:
        peak = float(np.abs(clean[c]).max())
        control_scale[c] = peak if peak > 0 else 1.0
    scalers = Scalers(
        spend_max={c: float(clean[c].max()) for c in config.channel_names},
        y_scale=float(np.abs(y).max()),
        control_scale=control_scale,
        start_date=str(clean["date"].iloc[0].date()),
        end_date=str(clean["date"].iloc[-1].date()),
        frequency=infer_frequency(clean["date"]),
        index_levels={c: sorted(clean[c].unique().tolist()) for c in config.index_variables},
        organic_max={c: float(clean[c].max()) for c in config.organic_names},
        # the spend -> exposure map of response curves and the optimizer (see README)
        cost_per_exposure={
            c: float(clean[s].sum() / clean[c].sum()) for c, (_, s) in exposed.items()
        },
        warmup={c: warmup[c].tolist() for c in warmup.columns} if len(warmup) else {},
    )
    return ModelData(frame=clean, scalers=scalers, config=config)


def _prior_rv(name: str, priors: list[PriorConfig], dims: str | tuple[str, ...]) -> Any:
    """One vector RV whose per-element prior parameters come from ``priors``."""
    families = {p.dist for p in priors}
    if len(families) > 1:
        raise ConfigError(
            f"{name}: channels that share a transform must share the prior's distribution "
            f"(per-channel parameters may differ); got {sorted(families)}"
        )
    params = {k: np.array([p.params[k] for p in priors]) for k in priors[0].params}
    return getattr(pm, priors[0].dist)(name, **params, dims=dims)


def _scalar_rv(name: str, prior: PriorConfig, dims: str | tuple[str, ...] | None = None) -> Any:
    return getattr(pm, prior.dist)(name, **prior.params, dims=dims)


def _windowed_media(
    md: ModelData, media: Any, scale: Any, organic: bool = False, hook: Any = None
) -> Any:
    """:func:`_media` over the warm-up periods and the window, warm-up periods sliced off."""
    warm = md.warmup(organic)
    if not len(warm):
        return _media(md.config, media, scale, organic, hook)
    dims = ("warmup", "organic" if organic else "channel")
    name = "organic_warmup" if organic else "spend_warmup"
    full = pt.concatenate([pm.Data(name, warm, dims=dims), media], axis=0)
    return _media(md.config, full, scale, organic, hook)[len(warm) :]


def _media(
    cfg: ModelConfig, spend: Any, spend_max: Any, organic: bool = False, hook: Any = None
) -> Any:
    """Each channel's media term, scaled units; creates the channel parameters' random variables.

    With ``organic``, the organic channels' terms (``spend`` is then the organic media).
    ``hook(stages)``, if given, makes ``beta`` (see :func:`_calibration_hook`).
    """
    entries = _media_configs(cfg, organic)
    names = list(entries)
    stages: dict[str, list[forward.Group]] = {kind: [] for kind in registry.KINDS}
    for g in parameter_groups(cfg, organic):
        values = {}
        for p, var in g.var_names.items():
            priors = [getattr(getattr(entries[ch], g.kind), p) for ch in g.channels]
            values[p] = _prior_rv(var, priors, g.dim)
        columns = [names.index(ch) for ch in g.channels]
        stages[g.kind].append(forward.Group(g.transform, columns, values))
    beta_name, dim = ("organic_beta", "organic") if organic else ("beta", "channel")
    if hook is not None:
        beta = hook(list(stages.values()))
    else:
        beta = _prior_rv(beta_name, [entries[c].beta for c in names], dim)
    return forward.media(spend, spend_max, list(stages.values()), beta)


def _calibration_hook(md: ModelData, spend_max: Any, y_scale: Any) -> Any:
    """``beta`` from its prior or a ROAS prior, plus the lift tests (:mod:`.calibration`)."""
    cfg = md.config

    def beta_rv(name: str, channels: Any, dim: str) -> Any:
        return _prior_rv(name, [cfg.channels[c].beta for c in channels], dim)

    def hook(stages: list[list[forward.Group]]) -> Any:
        terms = (spend_max, y_scale, stages)
        cost = md.scalers.cost_per_exposure
        return calibration.calibrated_beta(cfg, md.frame, md.spend, cost, terms, beta_rv)

    return hook


def _coords(md: ModelData) -> dict[str, Any]:
    cfg = md.config
    coords: dict[str, Any] = {"date": md.dates, "channel": cfg.channel_names}
    if md.scalers.warmup:
        coords["warmup"] = md.scalers.warmup_frame()["date"].to_numpy()
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
        coords[f"{c}_level"] = md.scalers.index_levels[c][1:]
    return coords


def _baseline(md: ModelData, y_scale: Any) -> Any:
    """Intercept, trend, seasonality, controls and index effects, scaled units."""
    cfg, sc = md.config, md.scalers
    params = {"intercept": _scalar_rv("intercept", cfg.outcome.intercept)}
    data: dict[str, Any] = {}
    if cfg.trend.enabled:
        data["trend_time"] = pm.Data("trend_time", sc.trend(md.dates), dims="date")
        params["trend_slope"] = _scalar_rv("trend_slope", cfg.trend.prior)
    if cfg.seasonality.yearly_order:
        features = fourier_features(md.dates, cfg.seasonality.yearly_order)
        data["fourier"] = pm.Data("fourier_features", features, dims=("date", "fourier"))
        params["seasonality_coef"] = _scalar_rv(
            "seasonality_coef", cfg.seasonality.prior, dims="fourier"
        )
    if cfg.controls:
        scale = np.array([sc.control_scale[c] for c in cfg.controls])
        data["control_scale"] = pm.Data("control_scale", scale, dims="control")
        raw = md.frame[cfg.controls].to_numpy(dtype=np.float64)
        data["controls"] = pm.Data("controls", raw, dims=("date", "control"))
        params["control_coef"] = _scalar_rv("control_coef", cfg.control_prior, dims="control")
    codes = {}
    for c in cfg.index_variables:
        levels = sc.index_levels[c]
        level_codes = md.frame[c].map({v: i for i, v in enumerate(levels)}).to_numpy()
        codes[c] = pm.Data(f"{c}_code", level_codes, dims="date")
        params[f"{c}_effect"] = _scalar_rv(f"{c}_effect", cfg.index_prior, dims=f"{c}_level")
    inputs = forward.BaselineInputs(len(md.frame), **data, index_codes=codes)
    terms = forward.baseline(inputs, params)
    if terms.seasonality is not None:
        pm.Deterministic("seasonality", terms.seasonality * y_scale, dims="date")
    if terms.control_contribution is not None:
        pm.Deterministic(
            "control_contribution", terms.control_contribution * y_scale, dims=("date", "control")
        )
    return terms.total


def build_model(data: pd.DataFrame | ModelData, config: ModelConfig) -> pm.Model:
    """Build the media mix model.

    Parameters
    ----------
    data : pandas.DataFrame or ModelData
        The modeling frame (validated here) or an already prepared :class:`ModelData`.
    config : ModelConfig
        Channels, priors, baseline terms.

    Returns
    -------
    pymc.Model
        With coords ``date`` and ``channel`` (plus group, control, fourier and index dims),
        data containers ``spend`` (original units) and the scalers ``spend_max``, ``y_scale``
        (and ``control_scale``), deterministics ``channel_contribution``
        (date x channel) and ``baseline`` (date) in original outcome units, and the
        likelihood ``y`` on the scaled outcome.

    Raises
    ------
    DataValidationError
        If the frame does not fit the config.
    """
    md = data if isinstance(data, ModelData) else prepare_data(data, config)
    cfg, sc = config, md.scalers
    names = cfg.channel_names
    with pm.Model(coords=_coords(md)) as model:
        # scalers are data, not constants: the compiled model then serves any data of this shape
        spend_max = pm.Data("spend_max", np.array([sc.spend_max[c] for c in names]), dims="channel")
        y_scale = pm.Data("y_scale", np.float64(sc.y_scale))
        spend = pm.Data("spend", md.spend, dims=("date", "channel"))
        hook = _calibration_hook(md, spend_max, y_scale)
        media = _windowed_media(md, spend, spend_max, hook=hook)
        pm.Deterministic("channel_contribution", media * y_scale, dims=("date", "channel"))
        base = _baseline(md, y_scale)
        pm.Deterministic("baseline", base * y_scale, dims="date")
        terms = [media]
        if cfg.organic_channels:
            organic_max = np.array([sc.organic_max[c] for c in cfg.organic_names])
            scale = pm.Data("organic_max", organic_max, dims="organic")
            organic = pm.Data("organic_media", md.organic, dims=("date", "organic"))
            terms.append(_windowed_media(md, organic, scale, organic=True))
            pm.Deterministic("organic_contribution", terms[-1] * y_scale, dims=("date", "organic"))
        mu = forward.mean(base, *terms)
        sigma = _scalar_rv("sigma", cfg.outcome.sigma)
        y_obs = pm.Data("y_scaled", md.y / sc.y_scale, dims="date")
        if cfg.outcome.likelihood == "studentt":
            nu = _scalar_rv("nu", cfg.outcome.nu)
            pm.StudentT("y", nu=nu, mu=mu, sigma=sigma, observed=y_obs, dims="date")
        else:
            pm.Normal("y", mu=mu, sigma=sigma, observed=y_obs, dims="date")
    return model
