"""The model's forward pass agrees wherever it is evaluated, for every transform combination.

For one fit, four computations of the same quantities must agree to 1e-8:

- the PyMC model's deterministics ``baseline`` and ``channel_contribution`` at the draws;
- :func:`plan_draws` for the training dates (``history=True``, so carry-over starts as in the
  model);
- :func:`media_contributions` of the training spend, and :class:`SteadyStateResponse` against
  ``media_contributions`` of a long constant spend;
- a reference written out here, term by term and lag by lag, independently of the package's
  forward pass (so a term dropped from that shared definition is caught too).

Most fits are a few prior draws of the model (every transform combination, with controls,
seasonality, trend and an index variable); one is the shared small MCMC fit.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pymc as pm
import pytest
import xarray as xr
from shared_fit import small_fit

from mediamix.analysis.geo_draws import cell_draws
from mediamix.analysis.predict import plan_draws
from mediamix.analysis.response import MediaParameters, SteadyStateResponse, media_contributions
from mediamix.config.base import parse_config
from mediamix.config.generator import GeneratorConfig
from mediamix.config.model import ModelConfig
from mediamix.data.generator import Generator
from mediamix.inference.fit import FitResult
from mediamix.model.builder import build_model, channel_parameters, prepare_data

RTOL = 1e-8
# a sampled fit stores its deterministics rounded to float32 (inference.fit.compact_draws)
STORED_RTOL = 1e-6
N_PRIOR_DRAWS = 16


def _spend_channel(low: float, high: float) -> dict[str, Any]:
    return {"min": low, "max": high, "beta": 0.5, "decay": "geometric", "alpha": 0.4, "mu": 2.0}


def _data() -> pd.DataFrame:
    """Two years of weekly spend for five channels, a control, and a three-level index column."""
    cfg = parse_config(
        GeneratorConfig,
        {
            "start_date": "2021-01-04",
            "end_date": "2022-12-26",
            "seed": 11,
            "outcome": {"name": "sales", "intercept": 2.0, "sigma": 0.05, "scale": 1000.0},
            "media": {
                "tv": _spend_channel(100, 1000),
                "search": _spend_channel(50, 500),
                "radio": _spend_channel(10, 300),
                "web": _spend_channel(0, 80),
                "print": _spend_channel(5, 60),
            },
            "controls": {"price": {"min": 1.0, "max": 2.0, "coef": -0.3}},
            "seasonality": {"amplitude": 0.2},
            "trend": {"slope": 0.1},
        },
    )
    data = Generator(cfg).generate().data
    week = np.arange(len(data))
    return data.assign(promo=np.where(week % 4 == 0, "on", np.where(week % 3 == 0, "mid", "off")))


def _config(channels: dict[str, Any]) -> ModelConfig:
    return parse_config(
        ModelConfig,
        {
            "outcome": {"name": "sales"},
            "channels": channels,
            "controls": ["price"],
            "index_variables": ["promo"],
            "seasonality": {"yearly_order": 2},
            "trend": {"enabled": True},
        },
    )


def _prior_fit(data: pd.DataFrame, config: ModelConfig, seed: int) -> FitResult:
    """A few prior draws of the model, wrapped as a fit whose "posterior" they are."""
    media = [config.media_column(c) for c in config.channel_names]
    spend = [s for _, s in config.exposure_channels.values()]
    columns = ["date", *media, *spend, *config.organic_names, *config.controls]
    columns += [*config.index_variables, "sales"]
    md = prepare_data(data[columns], config)
    model = build_model(md, config)
    names = [v.name for v in (*model.free_RVs, *model.deterministics)]
    prior = pm.sample_prior_predictive(
        draws=N_PRIOR_DRAWS, model=model, var_names=names, random_seed=seed
    )
    tree = xr.DataTree.from_dict({"posterior": prior["prior"].to_dataset()})
    return FitResult(tree, md.frame, config, md.scalers, {})


ADSTOCKS = ["geometric", "delayed", "none"]
SATURATIONS = ["logistic", "hill", "none"]
# every channel configured alike (one transform group per kind), geometric weights unnormalized
COMBINATIONS = {
    f"{a}-{s}": {
        ch: {
            "adstock": {"type": a, "l_max": 5, "normalize": a != "geometric"},
            "saturation": {"type": s},
        }
        for ch in ("tv", "search")
    }
    for a in ADSTOCKS
    for s in SATURATIONS
}
# types, windows and normalization differ across channels: several groups per kind
MIXED = {
    "tv": {"adstock": {"type": "geometric", "l_max": 6}, "saturation": {"type": "logistic"}},
    "search": {
        "adstock": {"type": "geometric", "l_max": 6, "normalize": False},
        "saturation": {"type": "hill"},
    },
    "radio": {"adstock": {"type": "delayed", "l_max": 8}, "saturation": {"type": "logistic"}},
    "web": {"adstock": {"type": "none"}, "saturation": {"type": "hill"}},
    "print": {"adstock": {"type": "geometric", "l_max": 4}, "saturation": {"type": "none"}},
}
CASES: dict[str, dict[str, Any]] = {**COMBINATIONS, "mixed": MIXED}


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return _data()


# ----------------------------------------------------------------- the reference, by hand


def _stacked(da: xr.DataArray) -> Any:
    values = da.transpose("chain", "draw", ...).to_numpy()
    return values.reshape(-1, *values.shape[2:])


def _draws(result: FitResult, var: str, dim: str | None = None, label: str | None = None) -> Any:
    da = result.posterior[var]
    if dim is not None:
        da = da.sel({dim: label})
    values = da.transpose("chain", "draw", ...).to_numpy()
    return values.reshape(-1, *values.shape[2:])


def _reference_baseline(result: FitResult) -> Any:
    """``(draw, date)``, outcome units, from the formulas in the model's documentation."""
    cfg, frame = result.config, result.frame
    dates = pd.DatetimeIndex(frame["date"])
    base = _draws(result, "intercept")[:, None] * np.ones(len(dates))
    if cfg.trend.enabled:
        t = (dates - dates[0]).days.to_numpy() / (dates[-1] - dates[0]).days
        base = base + _draws(result, "trend_slope")[:, None] * t
    years = (dates - pd.Timestamp("2000-01-01")).days.to_numpy() / 365.25
    order = cfg.seasonality.yearly_order
    for k in range(1, order + 1):
        gamma = _draws(result, "seasonality_coef")
        base = base + gamma[:, k - 1, None] * np.sin(2 * np.pi * k * years)
        base = base + gamma[:, order + k - 1, None] * np.cos(2 * np.pi * k * years)
    for c in cfg.controls:
        z = frame[c].to_numpy() / np.abs(frame[c]).max()
        base = base + _draws(result, "control_coef", "control", c)[:, None] * z
    for v in cfg.index_variables:
        levels = sorted(frame[v].unique())
        for level in levels[1:]:
            effect = _draws(result, f"{v}_effect", f"{v}_level", level)
            base = base + effect[:, None] * (frame[v].to_numpy() == level)
    return base * np.abs(frame[cfg.outcome.name]).max()


def _lag_weights(cc: Any, p: dict[str, Any]) -> Any:
    """``(draw, lag)`` adstock weights of one channel."""
    lags = np.arange(cc.adstock.l_max, dtype=float)[None, :]
    if cc.adstock.type == "geometric":
        w = p["adstock_alpha"][:, None] ** lags
    elif cc.adstock.type == "delayed":
        w = p["adstock_alpha"][:, None] ** ((lags - p["adstock_theta"][:, None]) ** 2)
    else:
        return np.ones((len(p["beta"]), 1))
    return w / w.sum(axis=1, keepdims=True) if cc.adstock.normalize else w


def _saturate(cc: Any, p: dict[str, Any], x: Any) -> Any:
    if cc.saturation.type == "logistic":
        e = np.exp(-p["saturation_lam"][:, None] * x)
        return (1 - e) / (1 + e)
    if cc.saturation.type == "hill":
        xs = x ** p["saturation_s"][:, None]
        return xs / (xs + p["saturation_k"][:, None] ** p["saturation_s"][:, None])
    return x


def _reference_media(result: FitResult, spend: Any, organic: bool = False) -> Any:
    """``(draw, time, channel)``, outcome units, one channel and one lag at a time."""
    cfg, frame = result.config, result.frame
    entries = cfg.organic_channels if organic else cfg.channels
    out = []
    for j, (ch, where) in enumerate(channel_parameters(cfg, organic).items()):
        cc = entries[ch]
        p = {name: _draws(result, var, dim, ch) for name, (var, dim) in where.items()}
        x = spend[:, j] / frame[ch].max()
        w = _lag_weights(cc, p)
        carried = np.zeros((w.shape[0], len(x)))
        for lag in range(w.shape[1]):
            carried[:, lag:] += w[:, lag, None] * x[None, : len(x) - lag]
        out.append(p["beta"][:, None] * _saturate(cc, p, carried))
    return np.stack(out, axis=-1) * np.abs(frame[cfg.outcome.name]).max()


# ----------------------------------------------------------------- the agreement


def _agree(got: Any, expected: Any, what: str, rtol: float = RTOL) -> None:
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.shape == expected.shape, what
    scale = max(float(np.abs(expected).max()), 1.0)
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=rtol * scale, err_msg=what)


def _check_agreement(result: FitResult, stored: float = RTOL) -> None:
    """Every path agrees; ``stored`` is the tolerance against the fit's stored draws."""
    frame = result.frame
    spend = frame[result.channels].to_numpy(dtype=np.float64)
    model_base = _draws(result, "baseline")
    model_media = _draws(result, "channel_contribution")

    reference_base = _reference_baseline(result)
    _agree(model_base, reference_base, "model baseline vs reference", stored)
    _agree(model_media, _reference_media(result, spend), "model contributions vs reference", stored)

    plan = plan_draws(result, frame, draws=None, history=True)
    _agree(plan.baseline, model_base, "plan_draws baseline vs model", stored)
    _agree(plan.contributions, model_media, "plan_draws contributions vs model", stored)
    if plan.organic is None:
        outcome = model_base + model_media.sum(axis=-1)
        _agree(plan.outcome, outcome, "plan_draws outcome vs model", stored)

    mp = MediaParameters.from_fit(result, media_units=True)
    _agree(media_contributions(mp, spend), model_media, "media_contributions vs model", stored)

    # the steady state is the time series' last period once every adstock window has filled
    level = spend.mean(axis=0) * np.linspace(0.5, 2.0, spend.shape[1])
    level[-1] = 0.0  # a channel without spend
    constant = np.tile(level, (3 * mp.window, 1))
    long_run = media_contributions(mp, constant)[:, -1, :]
    _agree(SteadyStateResponse(mp).draws(level), long_run, "steady state vs long constant spend")
    _agree(long_run, _reference_media(result, constant)[:, -1, :], "long constant vs reference")


@pytest.mark.parametrize("case", list(CASES))
def test_forward_pass_agrees_on_prior_draws(case: str, data: pd.DataFrame) -> None:
    result = _prior_fit(data, _config(CASES[case]), seed=len(case))
    assert result.posterior.sizes["draw"] == N_PRIOR_DRAWS
    _check_agreement(result)


@pytest.mark.slow
def test_forward_pass_agrees_on_a_sampled_fit() -> None:
    _, result = small_fit()
    _check_agreement(result, stored=STORED_RTOL)


def test_forward_pass_agrees_with_holiday_and_event_controls(data: pd.DataFrame) -> None:
    """Derived controls (holidays, event labels) are plain control terms for every consumer."""
    from mediamix.data.columns import prepare_frame

    labelled = data.assign(launch=np.where(np.arange(len(data)) % 26 == 5, "launch", "na"))
    config = _config(CASES["mixed"]).model_copy(
        update={
            "events": ["launch"],
            "holidays": parse_config(
                ModelConfig, {**_BASE, "holidays": {"country": "DE"}}
            ).holidays,
        }
    )
    frame, derived = prepare_frame(labelled, config)
    assert derived.controls == ["price", "launch_launch", "holiday_DE"]
    result = _prior_fit(frame, derived, seed=3)
    _check_agreement(result)
    # a plan without the derived columns gets them from its dates and labels: same draws
    plan = labelled.drop(columns="sales")
    got = plan_draws(result, plan, draws=None, history=True)
    _agree(got.baseline, _draws(result, "baseline"), "plan without derived controls vs model")


_BASE = {"outcome": {"name": "sales"}, "channels": ["tv"]}


def test_forward_pass_agrees_with_organic_channels(data: pd.DataFrame) -> None:
    """Organic media go through the same forward pass in the model, plans and the reference."""
    paid = {k: MIXED[k] for k in ("tv", "search", "radio")}
    organic = {k: MIXED[k] for k in ("web", "print")}
    config = _config(paid).model_copy(update={"organic_channels": _config(organic).channels})
    assert config.organic_names == ["web", "print"]
    result = _prior_fit(data, config, seed=5)
    assert result.scalers.organic_max == {c: float(data[c].max()) for c in ("web", "print")}
    _check_agreement(result)  # paid channels, baseline, plan contributions, steady state
    frame = result.frame
    volume = frame[config.organic_names].to_numpy(dtype=np.float64)
    model_organic = _draws(result, "organic_contribution")
    _agree(model_organic, _reference_media(result, volume, organic=True), "organic vs reference")
    plan = plan_draws(result, frame, draws=None, history=True)
    assert plan.organic is not None and plan.organic_channels == ["web", "print"]
    _agree(plan.organic, model_organic, "plan_draws organic vs model")
    media = _draws(result, "channel_contribution").sum(-1) + model_organic.sum(-1)
    _agree(plan.outcome, _draws(result, "baseline") + media, "plan_draws outcome with organic")
    mp = MediaParameters.from_fit(result, organic=True)
    _agree(media_contributions(mp, volume), model_organic, "organic media_contributions")


def test_forward_pass_agrees_with_an_exposure_channel(data: pd.DataFrame) -> None:
    """A channel modeled on impressions: the model, plans and the reference read the exposure;
    responses in currency are the same curve at the average cost per exposure."""
    rng = np.random.default_rng(0)
    cost = rng.uniform(0.5, 2.0, len(data))  # currency per impression, varying by week
    exposed = data.rename(columns={"radio": "radio_S"}).assign(radio_I=data["radio"] / cost)
    channels = {k: MIXED[k] for k in ("tv", "search")}
    channels["radio"] = {**MIXED["radio"], "exposure": "radio_I", "spend": "radio_S"}
    config = _config(channels)
    result = _prior_fit(exposed, config, seed=7)
    frame = result.frame
    np.testing.assert_array_equal(frame["radio"], exposed["radio_I"])  # the model's input
    cpe = exposed["radio_S"].sum() / exposed["radio_I"].sum()
    assert result.scalers.cost_per_exposure == {"radio": pytest.approx(cpe, rel=1e-12)}
    _check_agreement(result)
    # a plan gives the exposure column under its own name; the spend column may ride along
    plan = exposed.drop(columns=["sales", "web", "print"])
    _agree(
        plan_draws(result, plan, draws=None).contributions,
        _draws(result, "channel_contribution"),
        "plan with the exposure column vs model",
    )
    # in currency, spend s acts as exposure s / cpe
    level = np.array([300.0, 100.0, 50.0])
    in_media = SteadyStateResponse(MediaParameters.from_fit(result, media_units=True))
    in_spend = SteadyStateResponse(MediaParameters.from_fit(result))
    _agree(in_spend.draws(level), in_media.draws(level / np.array([1.0, 1.0, cpe])), "cpe map")


# ----------------------------------------------------------------- the geo model

GEO_POPULATION = {"north": 2_000_000.0, "south": 150_000.0, "east": 40_000.0}


def _geo_data(data: pd.DataFrame) -> pd.DataFrame:
    """Three geos of very different size from the national data: spend and sales scale with
    population (each geo's spend differently), one row per (date, geo), date-major."""
    media = ["tv", "search", "radio", "web", "print"]
    parts = []
    for k, (geo, pop) in enumerate(GEO_POPULATION.items()):
        part = data.copy()
        share = pop / 1e6 * (1.0 + 0.3 * k)
        part[media] = part[media] * share * (1.0 + 0.2 * np.cos(np.arange(len(part)) + k))[:, None]
        part["sales"] = part["sales"] * pop / 1e6
        parts.append(part.assign(geo=geo, population=pop))
    frame = pd.concat(parts).sort_values("date", kind="stable").reset_index(drop=True)
    return frame[["date", "geo", "population", *[c for c in data.columns if c != "date"]]]


def _reference_geo(result: FitResult) -> tuple[Any, Any]:
    """Baseline ``(draw, date, geo)`` and media ``(draw, date, geo, channel)`` by hand, per geo."""
    cfg, frame, sc = result.config, result.frame, result.scalers
    n_geo = len(sc.geos)
    pop = np.array([sc.population[g] for g in sc.geos])
    y_scale = np.abs(frame["sales"].to_numpy() / frame["population"].to_numpy()).max()
    base_rows = _reference_baseline(result) / np.abs(frame["sales"]).max()  # model units per row
    base = (
        base_rows.reshape(base_rows.shape[0], -1, n_geo)
        + _draws(result, "geo_intercept")[:, None, :]
    )
    per_capita = frame[result.channels].to_numpy() / frame["population"].to_numpy()[:, None]
    spend_max = per_capita.max(axis=0)
    media = np.zeros((base.shape[0], base.shape[1], n_geo, len(result.channels)))
    for j, (ch, where) in enumerate(channel_parameters(cfg).items()):
        p = {n: _draws(result, var, dim, ch) for n, (var, dim) in where.items() if n != "beta"}
        w = _lag_weights(cfg.channels[ch], {**p, "beta": _draws(result, "beta", "channel", ch)})
        for g in range(n_geo):
            x = per_capita[g::n_geo, j] / spend_max[j]
            carried = np.zeros((w.shape[0], len(x)))
            for lag in range(w.shape[1]):
                carried[:, lag:] += w[:, lag, None] * x[None, : len(x) - lag]
            beta = result.posterior["beta_geo"].sel(geo=sc.geos[g], channel=ch)
            beta = beta.transpose("chain", "draw").to_numpy().reshape(-1)
            media[:, :, g, j] = beta[:, None] * _saturate(cfg.channels[ch], p, carried)
    units = y_scale * pop
    return base * units, media * units[None, None, :, None]


def test_forward_pass_agrees_on_a_geo_model(data: pd.DataFrame) -> None:
    """The geo model's deterministics, a hand-written per-geo reference and ``media_geo`` on
    numpy draws agree; several transform groups per kind check the (geo, channel) columns."""
    from mediamix.model import forward
    from mediamix.model.builder import parameter_groups

    config = _config(MIXED).model_copy(
        update={
            "geo": parse_config(ModelConfig, {**_BASE, "geo": {"population": "population"}}).geo
        }
    )
    frame = _geo_data(data)
    md = prepare_data(frame, config)
    model = build_model(md, config)
    names = [v.name for v in (*model.free_RVs, *model.deterministics)]
    prior = pm.sample_prior_predictive(draws=8, model=model, var_names=names, random_seed=2)
    tree = xr.DataTree.from_dict({"posterior": prior["prior"].to_dataset()})
    result = FitResult(tree, md.frame, config, md.scalers, {})
    assert result.scalers.geos == list(GEO_POPULATION)
    # per-cell values are named variables, not stored draws: evaluated from the parameters
    assert "channel_contribution" not in result.posterior
    cells = {n: cell_draws(result, n) for n in ("baseline", "channel_contribution")}
    assert cells["channel_contribution"].dims[2:] == ("date", "geo", "channel")
    base, media = _reference_geo(result)
    _agree(_stacked(cells["baseline"]), base, "geo baseline vs reference")
    _agree(_stacked(cells["channel_contribution"]), media, "geo contributions vs reference")
    # the stored per-draw sums are the model's own sums of the cells
    _agree(_draws(result, "channel_contribution_national"), media.sum(2), "sum over geos")
    _agree(_draws(result, "channel_contribution_by_geo"), media.sum(1), "sum over dates")
    _agree(_draws(result, "baseline_by_geo"), base.sum(1), "baseline sum over dates")
    # the numpy side of the one forward pass, with a sample axis, as plans use it
    stages: list[list[forward.Group]] = [[], []]
    for g in parameter_groups(config):
        values = {p: _draws(result, var) for p, var in g.var_names.items()}
        columns = [config.channel_names.index(c) for c in g.channels]
        stages[g.kind == "saturation"].append(forward.Group(g.transform, columns, values))
    sc = result.scalers
    per_capita = md.frame[result.channels].to_numpy() / md.frame["population"].to_numpy()[:, None]
    cube = per_capita.reshape(-1, len(sc.geos), len(result.channels))
    spend_max = np.array([sc.spend_max[c] for c in result.channels])
    got = forward.media_geo(cube, spend_max, stages, _draws(result, "beta_geo"))
    pop = np.array([sc.population[g] for g in sc.geos])
    _agree(got * sc.y_scale * pop[None, None, :, None], media, "media_geo on draws vs reference")
