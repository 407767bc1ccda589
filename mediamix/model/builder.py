"""The PyMC model: ``build_model(data, config) -> pm.Model``.

On the scaled outcome ``y / y_scale``::

    mu_t = intercept + trend_t + seasonality_t + controls_t + index effects_t
           + sum_c beta_c * saturation_c(adstock_c(spend_tc / spend_max_c))
    y_t ~ Normal(mu_t, sigma)   (or StudentT)

The terms themselves are :mod:`mediamix.model.forward`, the one definition the analysis code
shares; the transforms are :mod:`mediamix.model.registry`'s, their random variables
:mod:`mediamix.model.parameters`'. The deterministics ``channel_contribution`` (date x channel)
and ``baseline`` (date) are in original outcome units, so analysis never re-derives them. A
config with ``geo:`` builds the hierarchical geo model of :mod:`mediamix.model.geo` instead.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt

from mediamix.config.model import ModelConfig
from mediamix.data.columns import column_roles, exposure_inputs
from mediamix.data.validation import infer_frequency, validate_frame
from mediamix.model import calibration, forward, geo
from mediamix.model.parameters import (
    ParamGroup,
    channel_parameters,
    channel_transform,
    media_stages,
    parameter_groups,
    prior_rv,
    scalar_rv,
    shared_coords,
)
from mediamix.model.scalers import ModelData, Scalers, fourier_features
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
    if config.geo is not None:
        return geo.prepare_geo_data(frame, config)
    return _prepare(frame, config)


def _prepare(frame: pd.DataFrame, config: ModelConfig) -> ModelData:
    exposed = config.exposure_channels
    frame = exposure_inputs(frame, config)
    frame = frame.drop(columns=[e for e, _ in exposed.values() if e in frame.columns])
    media = [*config.channels.values(), *config.organic_channels.values()]
    n_params = 2 + 3 * len(media) + 2 * config.seasonality.yearly_order
    n_params += len(config.controls) + int(config.trend.enabled)
    max_lag = max(c.adstock.l_max for c in media)
    clean = validate_frame(
        frame,
        **column_roles(config),
        min_rows=max(max_lag + 1, n_params + 1),
    )
    clean, warmup = fit_window(clean, config, max_lag, max(max_lag + 1, n_params + 1))
    y = clean[config.outcome.name].to_numpy()
    peaks = {c: float(np.abs(clean[c]).max()) for c in config.controls}
    control_scale = {c: peak if peak > 0 else 1.0 for c, peak in peaks.items()}
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
    stages, beta = media_stages(cfg, organic, hook)
    return forward.media(spend, spend_max, stages, beta)


def _calibration_hook(md: ModelData, spend_max: Any, y_scale: Any) -> Any:
    """``beta`` from its prior or a ROAS prior, plus the lift tests (:mod:`.calibration`)."""
    cfg = md.config

    def beta_rv(name: str, channels: Any, dim: str) -> Any:
        return prior_rv(name, [cfg.channels[c].beta for c in channels], dim)

    def hook(stages: list[list[forward.Group]]) -> Any:
        terms = (spend_max, y_scale, stages)
        cost = md.scalers.cost_per_exposure
        return calibration.calibrated_beta(cfg, md.frame, md.spend, cost, terms, beta_rv)

    return hook


def _coords(md: ModelData) -> dict[str, Any]:
    coords: dict[str, Any] = {"date": md.dates}
    if md.scalers.warmup:
        coords["warmup"] = md.scalers.warmup_frame()["date"].to_numpy()
    return coords | shared_coords(md.config, md.scalers.index_levels)


def _baseline(md: ModelData, y_scale: Any) -> Any:
    """Intercept, trend, seasonality, controls and index effects, scaled units."""
    cfg, sc = md.config, md.scalers
    params = {"intercept": scalar_rv("intercept", cfg.outcome.intercept)}
    data: dict[str, Any] = {}
    if cfg.trend.enabled:
        data["trend_time"] = pm.Data("trend_time", sc.trend(md.dates), dims="date")
        params["trend_slope"] = scalar_rv("trend_slope", cfg.trend.prior)
    if cfg.seasonality.yearly_order:
        features = fourier_features(md.dates, cfg.seasonality.yearly_order)
        data["fourier"] = pm.Data("fourier_features", features, dims=("date", "fourier"))
        params["seasonality_coef"] = scalar_rv(
            "seasonality_coef", cfg.seasonality.prior, dims="fourier"
        )
    if cfg.controls:
        scale = np.array([sc.control_scale[c] for c in cfg.controls])
        data["control_scale"] = pm.Data("control_scale", scale, dims="control")
        raw = md.frame[cfg.controls].to_numpy(dtype=np.float64)
        data["controls"] = pm.Data("controls", raw, dims=("date", "control"))
        params["control_coef"] = scalar_rv("control_coef", cfg.control_prior, dims="control")
    codes = {}
    for c in cfg.index_variables:
        levels = sc.index_levels[c]
        level_codes = md.frame[c].map({v: i for i, v in enumerate(levels)}).to_numpy()
        codes[c] = pm.Data(f"{c}_code", level_codes, dims="date")
        params[f"{c}_effect"] = scalar_rv(f"{c}_effect", cfg.index_prior, dims=f"{c}_level")
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
    if config.geo is not None:
        return geo.build_geo_model(md, config)
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
        sigma = scalar_rv("sigma", cfg.outcome.sigma)
        y_obs = pm.Data("y_scaled", md.y / sc.y_scale, dims="date")
        if cfg.outcome.likelihood == "studentt":
            nu = scalar_rv("nu", cfg.outcome.nu)
            pm.StudentT("y", nu=nu, mu=mu, sigma=sigma, observed=y_obs, dims="date")
        else:
            pm.Normal("y", mu=mu, sigma=sigma, observed=y_obs, dims="date")
    return model
