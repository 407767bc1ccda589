"""The hierarchical geo model: one row per (date, geo), channel effects partially pooled.

Per capita, on the model's scale (media per capita / its national max per channel, outcome per
capita / one ``y_scale``)::

    mu_tg       = intercept + geo_intercept_g + trend_t + seasonality_t + controls_tg
                  + sum_c beta_geo_gc * saturation_c(adstock_c(spend_tgc / pop_g / spend_max_c))
    beta_geo_gc = beta_c * exp(beta_geo_sd_c * beta_geo_raw_gc),   beta_geo_raw ~ N(0, 1)
                  (geo.effects: centred: log beta_geo_gc ~ Normal(log beta_c, beta_geo_sd_c);
                   or per channel, the centred channels' over dim ``channel_centred``)
    geo_intercept_g ~ Normal(0, geo_intercept_sd)   (centred: every period informs it)
    y_tg / pop_g / y_scale ~ Normal(mu_tg, sigma)   (or StudentT)

Scaling per capita lets geos of very different size share one saturation curve; adstock and
saturation parameters, trend, seasonality and control coefficients are shared by all geos.
The media term is :func:`mediamix.model.forward.media_geo` (the (geo, channel) pairs as columns
of the one forward pass) and the baseline :func:`mediamix.model.forward.baseline` over the
(date, geo) rows, so nothing loops over geos. ``channel_contribution`` (date, geo, channel) and
``baseline`` (date, geo) are in original outcome units (per capita times population). Lift
tests in named geos and priors on a channel's national ROAS are
:mod:`mediamix.model.geo_calibration`'s.

Per-cell quantities are named variables of the model but not deterministics, so no sampler
stores them per draw: at 200 geos x 156 weeks x 10 channels, ``channel_contribution`` alone
would be 10 GB over 4,000 draws in float64. What is stored per draw are their sums
(:data:`PER_CELL`): ``<name>_national`` over the geos (date, ...) and ``<name>_by_geo`` over all
the fit's dates (geo, ...). Anything else (a window of dates per geo, a posterior mean per cell)
is evaluated from the named variable over the draws in blocks
(:func:`mediamix.inference.predictive.reduce_draws`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt

from mediamix.config.model import ModelConfig
from mediamix.data.columns import column_roles, exposure_inputs
from mediamix.data.geo import validate_geo_frame
from mediamix.data.geo_lift_tests import geo_lift_tests_for_data
from mediamix.data.validation import DataValidationError, infer_frequency
from mediamix.model import forward
from mediamix.model.calibration import lift_table, refuse_organic_roas, roas_beta
from mediamix.model.geo_calibration import add_geo_lift_likelihood, geo_outcome_per_beta
from mediamix.model.parameters import media_stages, prior_rv, scalar_rv, shared_coords
from mediamix.model.scalers import FloatArray, ModelData, Scalers, fourier_features
from mediamix.model.window import geo_fit_window

__all__ = [
    "BY_GEO",
    "NATIONAL",
    "PER_CELL",
    "build_geo_model",
    "geo_cube",
    "per_cell_sums",
    "prepare_geo_data",
]

#: Suffix of a per-cell variable's per-draw sum over geos: dims (date, ...).
NATIONAL = "_national"
#: Suffix of a per-cell variable's per-draw sum over all the fit's dates: dims (geo, ...).
BY_GEO = "_by_geo"
#: The per-cell variables whose sums are stored per draw (:data:`NATIONAL`, :data:`BY_GEO`).
PER_CELL = ("channel_contribution", "baseline", "organic_contribution")


def per_cell_sums(name: str) -> tuple[str, str]:
    """The names of ``name``'s stored sums: over geos (per date), over dates (per geo)."""
    return f"{name}{NATIONAL}", f"{name}{BY_GEO}"


def _per_cell(name: str, value: Any, dims: tuple[str, ...]) -> None:
    """Name a (date, geo, ...) value in the model; store only its sums (see the docstring).

    Its sums are deterministics; the value itself is a named variable (``model[name]``) that
    samplers and prior draws leave out unless asked for it by name.
    """
    model = pm.modelcontext(None)
    value.name = name
    model.add_named_variable(value, dims=dims)
    if name not in PER_CELL:
        return
    national, by_geo = per_cell_sums(name)
    rest = dims[2:]
    pm.Deterministic(national, value.sum(axis=1), dims=(dims[0], *rest))
    pm.Deterministic(by_geo, value.sum(axis=0), dims=(dims[1], *rest))


def prepare_geo_data(frame: pd.DataFrame, config: ModelConfig) -> ModelData:
    """Validate a long (date, geo) frame and derive the per-capita scalers.

    Returns
    -------
    ModelData
        The frame sorted by date then geo, and scalers whose ``spend_max``, ``organic_max`` and
        ``y_scale`` are per capita (national maxima), with ``geos`` and ``population``.

    Raises
    ------
    DataValidationError
        If the frame does not fit the config (see :mod:`mediamix.data.geo`).
    """
    assert config.geo is not None
    exposed = config.exposure_channels
    frame = exposure_inputs(frame, config)
    frame = frame.drop(columns=[e for e, _ in exposed.values() if e in frame.columns])
    media = [*config.channels.values(), *config.organic_channels.values()]
    n_params = 2 + 2 * config.seasonality.yearly_order + int(config.trend.enabled)
    max_lag = max(c.adstock.l_max for c in media)
    checks = {
        "geo_column": config.geo.column,
        "population": config.geo.population,
        **column_roles(config),
        "min_rows": max(max_lag + 1, n_params + 1),
    }
    clean, geos, population = validate_geo_frame(frame, **checks)
    clean, warmup = geo_fit_window(clean, config, max_lag, checks["min_rows"])
    if len(warmup) or len(clean["date"].unique()) < len(frame["date"].unique()):
        try:  # the window's rows as a modeling frame of their own (spend, enough dates)
            clean, geos, population = validate_geo_frame(clean, **checks)
        except DataValidationError as exc:
            w = config.window
            raise DataValidationError(f"window {w.start} to {w.end}: {exc}") from None
    pop = clean[config.geo.column].map(population).to_numpy(dtype=np.float64)
    y = clean[config.outcome.name].to_numpy() / pop
    dates = pd.Series(clean["date"].unique())
    scalers = Scalers(
        spend_max={c: float((clean[c] / pop).max()) for c in config.channel_names},
        y_scale=float(np.abs(y).max()),
        control_scale={c: float(np.abs(clean[c]).max()) or 1.0 for c in config.controls},
        start_date=str(dates.iloc[0].date()),
        end_date=str(dates.iloc[-1].date()),
        frequency=infer_frequency(dates),
        index_levels={c: sorted(clean[c].unique().tolist()) for c in config.index_variables},
        organic_max={c: float((clean[c] / pop).max()) for c in config.organic_names},
        cost_per_exposure={
            c: float(clean[s].sum() / clean[c].sum()) for c, (_, s) in exposed.items()
        },
        geo_column=config.geo.column,
        geos=geos,
        population=population,
        warmup={c: warmup[c].astype(float).tolist() for c in warmup.columns[2:]}
        if len(warmup)
        else {},
    )
    return ModelData(frame=clean, scalers=scalers, config=config)


def geo_cube(md: ModelData, columns: list[str], per_capita: bool = False) -> FloatArray:
    """Columns of the long frame as ``(date, geo, column)``, optionally per capita."""
    sc = md.scalers
    values = md.frame[columns].to_numpy(dtype=np.float64)
    cube = values.reshape(-1, len(sc.geos), len(columns))
    if per_capita:
        cube = cube / np.array([sc.population[g] for g in sc.geos])[None, :, None]
    return np.ascontiguousarray(cube)


def _coords(md: ModelData) -> dict[str, Any]:
    rows = {"date": pd.DatetimeIndex(md.frame["date"].unique()), "geo": list(md.scalers.geos)}
    coords = rows | shared_coords(md.config, md.scalers.index_levels)
    assert md.config.geo is not None
    names = md.config.channel_names
    forms = md.config.geo.effect_forms(names)
    if md.scalers.warmup:
        coords["warmup"] = pd.DatetimeIndex(md.scalers.warmup_frame()["date"].unique())
    if len(set(forms)) > 1:  # per-channel forms: each form's effects over its own channels
        coords["channel_centred"] = [c for c, f in zip(names, forms, strict=True) if f == "centred"]
        coords["channel_non_centred"] = [
            c for c, f in zip(names, forms, strict=True) if f != "centred"
        ]
    return coords


def _with_warmup(md: ModelData, values: Any, organic: bool = False) -> tuple[Any, int]:
    """Media per capita ``(date, geo, media)`` with the fit window's warm-up periods in front.

    Returns the values (unchanged without a window) and the number of warm-up periods, which
    the caller slices off after the forward pass: their spend carries over into the window.
    """
    names = md.config.organic_names if organic else md.config.channel_names
    if not md.scalers.warmup:
        return values, 0
    geos = md.scalers.geos
    flat = np.column_stack([md.scalers.warmup[c] for c in names]).astype(np.float64)
    pop = np.array([md.scalers.population[g] for g in geos])
    cube = flat.reshape(-1, len(geos), len(names)) / pop[None, :, None]
    name = "organic_warmup_per_capita" if organic else "spend_warmup_per_capita"
    dims = ("warmup", "geo", "organic" if organic else "channel")
    return pt.concatenate([pm.Data(name, cube, dims=dims), values], axis=0), cube.shape[0]


def _static(stages: list[list[forward.Group]], beta: Any) -> tuple[list[list[forward.Group]], Any]:
    """Stage values and ``beta`` with static shapes, so tiling them over geos needs no dim size.

    Without this, the tiled graph reads the (shared) length of the ``channel`` dim, an integer
    that the nutpie C callback's float64 data buffer cannot carry.
    """
    fixed = [
        [
            forward.Group(
                g.transform,
                g.columns,
                {p: pt.specify_shape(v, (len(g.columns),)) for p, v in g.values.items()},
            )
            for g in groups
        ]
        for groups in stages
    ]
    return fixed, pt.specify_shape(beta, (sum(len(g.columns) for g in stages[0]),))


def _geo_spread(md: ModelData, name: str, dim: str) -> Any:
    """``exp(sd * raw)`` (geo, channel): each geo's effect relative to the national ``beta``."""
    assert md.config.geo is not None
    n_geo, n_channel = len(md.scalers.geos), len(md.config.channel_names)
    spread = prior_rv(f"{name}_sd", [md.config.geo.beta_spread] * n_channel, dim)
    raw = pm.Normal(f"{name}_raw", 0.0, 1.0, dims=("geo", dim), shape=(n_geo, n_channel))
    return pt.specify_shape(pt.exp(spread[None, :] * raw), (n_geo, n_channel))


def _geo_beta(md: ModelData, beta: Any, name: str, dim: str) -> Any:
    """Per-(geo, channel) effects, log-normal around the national ``beta``.

    Non-centred (``exp(sd * raw)`` times ``beta``) by default; ``geo.effects: centred`` samples
    ``log beta_geo ~ Normal(log beta, sd)``, for every channel or for those a mapping names.
    Centred mixes better when the data pin each geo's effect down (8 geos x 104 weeks, geo
    spread 0.2: no divergences against 7, twice the smallest bulk ESS); non-centred when the
    geos barely differ (6 geos, spread 0.1: centred diverged 13 times) or the data barely
    separate one channel's geo effects (its ``beta_geo_sd`` mixes slowly in the centred form).
    """
    assert md.config.geo is not None
    names = md.config.channel_names
    n_geo, n_channel = len(md.scalers.geos), len(names)
    forms = md.config.geo.effect_forms(names)
    spread = prior_rv(f"{name}_sd", [md.config.geo.beta_spread] * n_channel, dim)
    centred = [j for j, f in enumerate(forms) if f == "centred"]
    other = [j for j, f in enumerate(forms) if f != "centred"]
    # one form for all: plain slices, so the graph gathers nothing
    cols_c: Any = centred if other else slice(None)
    cols_n: Any = other if centred else slice(None)
    parts = []
    if centred:
        log_geo = pm.Normal(
            f"{name}_log",
            mu=pt.log(beta)[None, cols_c],
            sigma=spread[None, cols_c],
            dims=("geo", f"{dim}_centred" if other else dim),
            shape=(n_geo, len(centred)),
        )
        parts.append(pt.exp(log_geo))
    if other:
        raw = pm.Normal(
            f"{name}_raw",
            0.0,
            1.0,
            dims=("geo", f"{dim}_non_centred" if centred else dim),
            shape=(n_geo, len(other)),
        )
        parts.append(beta[None, cols_n] * pt.exp(spread[None, cols_n] * raw))
    order = np.argsort(centred + other)  # back to channel order
    value = parts[0] if len(parts) == 1 else pt.concatenate(parts, axis=1)[:, order]
    value = pt.specify_shape(value, (n_geo, n_channel))
    return pm.Deterministic(name, value, dims=("geo", dim))


def _media(
    md: ModelData, spend: Any, n_warm: int, spend_max: Any, y_scale: Any, population: Any
) -> tuple[Any, ...]:
    """The paid media term per capita (date, geo, channel), its stages and ``beta_geo``.

    ``spend`` starts with ``n_warm`` warm-up periods, whose rows the term leaves out (their
    spend carries over into the window). With ROAS priors
    (:mod:`mediamix.model.geo_calibration`) ``beta`` is a deterministic of ``roas`` (over the
    window) and the geo spread, and the media term is the terms per unit of ``beta`` times it.
    """
    cfg = md.config
    if not any(c.prior is not None for c in cfg.channels.values()):
        stages, beta = _static(*media_stages(cfg))
        beta_geo = _geo_beta(md, beta, "beta_geo", "channel")
        media = forward.media_geo(spend, spend_max, stages, beta_geo)[n_warm:]
        return media, stages, beta_geo
    refuse_organic_roas(cfg)
    names = cfg.channel_names
    stages, _ = _static(media_stages(cfg, hook=lambda _: None)[0], pt.ones(len(names)))
    spread = _geo_spread(md, "beta_geo", "channel")
    terms, per_beta = geo_outcome_per_beta(
        spend, spend_max, stages, spread, population, y_scale, skip=n_warm
    )
    totals = geo_cube(md, [cfg.spend_column(c) for c in names]).sum(axis=(0, 1))

    def beta_rv(name: str, channels: Any, dim: str) -> Any:
        return prior_rv(name, [cfg.channels[c].beta for c in channels], dim)

    beta = pt.specify_shape(roas_beta(cfg, totals, lambda: per_beta, beta_rv), (len(names),))
    beta_geo = pm.Deterministic("beta_geo", beta[None, :] * spread, dims=("geo", "channel"))
    return terms * beta[None, None, :], stages, beta_geo


def _lift_tests(md: ModelData, spend_max: Any, y_scale: Any, stages: Any, beta_geo: Any) -> None:
    """The lift tests of the config in the likelihood (:mod:`.geo_calibration`), if any."""
    cfg, sc = md.config, md.scalers
    table = lift_table(cfg)
    if table is None:
        return
    names = cfg.channel_names
    tests = geo_lift_tests_for_data(
        table,
        pd.DatetimeIndex(md.frame["date"].unique()),
        sc.geos,
        geo_cube(md, [cfg.spend_column(c) for c in names]),
        names,
        source="calibration.tests",
    )
    per_currency = np.array([1.0 / sc.cost_per_exposure.get(c, 1.0) for c in names])
    population = np.array([sc.population[g] for g in sc.geos])
    media = geo_cube(md, names, per_capita=True)
    add_geo_lift_likelihood(
        tests, media, per_currency, population, spend_max, stages, beta_geo, y_scale
    )


def _organic(md: ModelData, per_row: Any) -> Any:
    """The organic channels' term (date, geo, organic) per capita; their beta is national."""
    cfg, sc = md.config, md.scalers
    n_geo, n_organic = len(sc.geos), len(cfg.organic_names)
    scale = pm.Data("organic_max", np.array([sc.organic_max[c] for c in cfg.organic_names]))
    organic = pm.Data("organic_media_per_capita", geo_cube(md, cfg.organic_names, True))
    full, n_warm = _with_warmup(md, organic, organic=True)
    stages, beta = _static(*media_stages(cfg, organic=True))
    tiled = pt.specify_shape(pt.tile(beta[None, :], (n_geo, 1)), (n_geo, n_organic))
    terms = forward.media_geo(full, scale, stages, tiled)[n_warm:]
    _per_cell("organic_contribution", terms * per_row, ("date", "geo", "organic"))
    return terms


def _baseline(md: ModelData, per_row: Any) -> Any:
    """Intercept, geo intercepts, trend, seasonality, controls, index effects over the rows."""
    cfg, sc = md.config, md.scalers
    assert cfg.geo is not None
    n_date, n_geo = len(md.frame) // len(sc.geos), len(sc.geos)
    rows = pd.DatetimeIndex(md.frame["date"])
    spread = scalar_rv("geo_intercept_sd", cfg.geo.intercept_spread)
    # centred: each geo's level is pinned by all its periods, where non-centred would funnel
    offset = pm.Normal("geo_intercept", 0.0, spread, dims="geo", shape=n_geo)
    params = {"intercept": scalar_rv("intercept", cfg.outcome.intercept), "geo_intercept": offset}
    data: dict[str, Any] = {"geo_codes": np.tile(np.arange(n_geo), n_date)}
    if cfg.trend.enabled:
        data["trend_time"] = pm.Data("trend_time", sc.trend(rows))
        params["trend_slope"] = scalar_rv("trend_slope", cfg.trend.prior)
    if cfg.seasonality.yearly_order:
        features = fourier_features(rows, cfg.seasonality.yearly_order)
        data["fourier"] = pm.Data("fourier_features", features)
        params["seasonality_coef"] = scalar_rv(
            "seasonality_coef", cfg.seasonality.prior, dims="fourier"
        )
    if cfg.controls:
        scale = np.array([sc.control_scale[c] for c in cfg.controls])
        data["control_scale"] = pm.Data("control_scale", scale, dims="control")
        data["controls"] = pm.Data("controls", md.frame[cfg.controls].to_numpy(np.float64))
        params["control_coef"] = scalar_rv("control_coef", cfg.control_prior, dims="control")
    codes = {}
    for c in cfg.index_variables:
        levels = {v: i for i, v in enumerate(sc.index_levels[c])}
        codes[c] = md.frame[c].map(levels).to_numpy()
        params[f"{c}_effect"] = scalar_rv(f"{c}_effect", cfg.index_prior, dims=f"{c}_level")
    terms = forward.baseline(
        forward.BaselineInputs(len(md.frame), **data, index_codes=codes), params
    )
    grid = (n_date, n_geo)
    if terms.seasonality is not None:
        _per_cell("seasonality", terms.seasonality.reshape(grid) * per_row[..., 0], ("date", "geo"))
    if terms.control_contribution is not None:
        _per_cell(
            "control_contribution",
            terms.control_contribution.reshape((*grid, -1)) * per_row,
            ("date", "geo", "control"),
        )
    return terms.total


def build_geo_model(md: ModelData, config: ModelConfig) -> pm.Model:
    """Build the hierarchical geo model (see the module docstring).

    Parameters
    ----------
    md : ModelData
        From :func:`prepare_geo_data`.
    config : ModelConfig
        With ``geo`` set.

    Returns
    -------
    pymc.Model
        Coords ``date``, ``geo`` (data order), ``channel`` (and the national model's others);
        data ``spend_per_capita`` (date, geo, channel), ``population`` (geo), ``spend_max``,
        ``y_scale``; national ``beta`` and per-geo ``beta_geo`` (geo, channel); named
        variables ``channel_contribution`` (date, geo, channel) and ``baseline`` (date, geo) in
        original outcome units, stored per draw only as their sums (deterministics
        ``channel_contribution_national`` (date, channel), ``channel_contribution_by_geo``
        (geo, channel), ``baseline_national`` (date), ``baseline_by_geo`` (geo)); likelihood
        ``y`` (date, geo) on the scaled outcome per capita. With lift tests,
        ``lift_test_predicted`` and ``lift_test_observed`` (dim ``lift_test``); with ROAS priors,
        ``roas`` and ``beta`` a deterministic of it.
    """
    cfg, sc = config, md.scalers
    names = cfg.channel_names
    pop = np.array([sc.population[g] for g in sc.geos])
    n_geo = len(sc.geos)
    n_date = len(md.frame) // n_geo
    with pm.Model(coords=_coords(md)) as model:
        spend_max = pm.Data("spend_max", np.array([sc.spend_max[c] for c in names]), dims="channel")
        y_scale = pm.Data("y_scale", np.float64(sc.y_scale))
        population = pm.Data("population", pop, dims="geo")
        spend = pm.Data(
            "spend_per_capita", geo_cube(md, names, True), dims=("date", "geo", "channel")
        )
        # outcome units per (date, geo) cell: per capita model units times y_scale and population
        per_row = (y_scale * population)[None, :, None]
        full, n_warm = _with_warmup(md, spend)
        media, stages, beta_geo = _media(md, full, n_warm, spend_max, y_scale, population)
        _lift_tests(md, spend_max, y_scale, stages, beta_geo)
        _per_cell("channel_contribution", media * per_row, ("date", "geo", "channel"))
        base = _baseline(md, per_row)
        _per_cell("baseline", base.reshape((n_date, n_geo)) * per_row[..., 0], ("date", "geo"))
        terms = [media.reshape((n_date * n_geo, len(names)))]
        if cfg.organic_channels:
            organic = _organic(md, per_row)
            terms.append(organic.reshape((n_date * n_geo, len(cfg.organic_names))))
        mu = forward.mean(base, *terms).reshape((n_date, n_geo))
        sigma = scalar_rv("sigma", cfg.outcome.sigma)
        y = md.frame[cfg.outcome.name].to_numpy(np.float64).reshape(n_date, n_geo)
        y_obs = pm.Data("y_scaled", y / pop[None, :] / sc.y_scale, dims=("date", "geo"))
        if cfg.outcome.likelihood == "studentt":
            nu = scalar_rv("nu", cfg.outcome.nu)
            pm.StudentT("y", nu=nu, mu=mu, sigma=sigma, observed=y_obs, dims=("date", "geo"))
        else:
            pm.Normal("y", mu=mu, sigma=sigma, observed=y_obs, dims=("date", "geo"))
    return model
