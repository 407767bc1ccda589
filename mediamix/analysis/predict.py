"""Predictions for a spend plan under every posterior draw.

A *spend plan* is a DataFrame with a ``date`` column, one spend column per channel (original
currency units) and, if the model has any, its controls and index variables. The outcome column
may be present and is ignored, so a modeling frame is itself a valid plan.

:func:`predict_plan` pushes the plan through the fitted model under every (or a thinned set of)
posterior draws with the numpy backend of the model's forward pass
(:mod:`mediamix.model.forward`)::

    outcome = y_scale * (intercept + trend + seasonality + controls + index effects
                         + sum_c beta_c * saturation_c(adstock_c(spend_c / spend_max_c)))

and returns the expected outcome's posterior mean and HDI band per date with each channel's
mean contribution. :func:`mediamix.model.builder.build_model` evaluates the same functions, so
predicting the training frame's own spend reproduces the model's
``baseline + channel_contribution.sum("channel")`` draw by draw.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import arviz_stats as azs
import numpy as np
import numpy.typing as npt
import pandas as pd
import xarray as xr

from mediamix.analysis.plan_example import example_plan
from mediamix.analysis.response import MediaParameters, draw_index, media_contributions
from mediamix.config.model import ModelConfig
from mediamix.data.columns import plan_controls
from mediamix.data.frames import DATE_DTYPE, PERIOD_DAYS, example_rows
from mediamix.errors import MediamixError
from mediamix.inference.fit import FitResult
from mediamix.model import forward
from mediamix.model.builder import fourier_features

__all__ = [
    "DEFAULT_DRAWS",
    "PlanDraws",
    "PlanError",
    "PlanRangeWarning",
    "accepted_columns",
    "example_plan",
    "plan_columns",
    "plan_draws",
    "predict_plan",
]

FloatArray = npt.NDArray[np.float64]

#: Posterior draws used per prediction unless told otherwise (evenly thinned).
DEFAULT_DRAWS = 500


class PlanError(MediamixError):
    """A spend plan the model cannot predict: wrong columns, bad spend or dates off the grid."""


class PlanRangeWarning(UserWarning):
    """A plan reaching far outside the training dates: its trend and seasonality extrapolate."""


def _warn_far_dates(result: FitResult, dates: pd.DatetimeIndex) -> None:
    """Warn when plan dates lie further from the training window than the window is long."""
    start, end = (pd.Timestamp(result.frame["date"].iloc[i]) for i in (0, -1))
    span = end - start
    far = (dates > end + span) | (dates < start - span)
    if far.any():
        warnings.warn(
            f"plan dates from {dates[far][0].date()} lie more than the training window's length "
            f"({span.days} days) outside it ({start.date()} to {end.date()}): the trend is "
            "extrapolated that far, so treat these predictions with caution",
            PlanRangeWarning,
            stacklevel=3,
        )


@dataclass(frozen=True)
class PlanDraws:
    """Posterior draws of a plan's outcome, in original outcome units.

    Attributes
    ----------
    dates : pandas.DatetimeIndex
        The plan's dates.
    channels : list of str
        Channel order of the last axis of ``contributions``.
    baseline : numpy.ndarray
        ``(sample, date)``: intercept, trend, seasonality, controls and index effects.
    contributions : numpy.ndarray
        ``(sample, date, channel)``: each channel's contribution.
    organic_channels : list of str
        Organic channel order of the last axis of ``organic`` (empty without organic media).
    organic : numpy.ndarray or None
        ``(sample, date, organic)``: each organic channel's contribution; None without any.
    """

    dates: pd.DatetimeIndex
    channels: list[str]
    baseline: FloatArray
    contributions: FloatArray
    organic_channels: list[str] = field(default_factory=list)
    organic: FloatArray | None = None

    @property
    def outcome(self) -> FloatArray:
        """Expected outcome per draw and date, ``(sample, date)``."""
        extra = [] if self.organic is None else [self.organic]
        return np.asarray(forward.mean(self.baseline, self.contributions, *extra))


def plan_columns(result: FitResult) -> list[str]:
    """The columns a plan for this fit needs: ``date``, channels, organic media, controls, index.

    Parameters
    ----------
    result : FitResult
        The fit.

    Returns
    -------
    list of str
        In the order the model signature lists them.
    """
    cfg = result.config
    media = [cfg.media_column(c) for c in cfg.channel_names]
    return ["date", *media, *cfg.organic_names, *cfg.controls, *cfg.index_variables]


def accepted_columns(result: FitResult) -> list[str]:
    """Every column a plan may hold: :func:`plan_columns`, and those it may carry but ignores.

    The ignored ones are the outcome, an exposure channel's spend column (its exposure drives the
    model) and the raw events column (its labels become the event controls); a geo fit's plan
    may also name its geo and population columns.

    Parameters
    ----------
    result : FitResult
        The fit.

    Returns
    -------
    list of str
        :func:`plan_columns` first.
    """
    cfg = result.config
    spend = [s for _, s in cfg.exposure_channels.values()]
    sc = result.scalers
    geo = [c for c in (sc.geo_column, cfg.geo.population if cfg.geo else None) if c]
    extra = [*cfg.channel_names, *geo, cfg.outcome.name, *cfg.events, *spend]
    needed = plan_columns(result)
    return [*needed, *(c for c in dict.fromkeys(extra) if c not in needed)]


def _check_columns(result: FitResult, plan: pd.DataFrame) -> None:
    cfg = result.config
    columns = [str(c) for c in plan.columns]
    if "date" not in columns:
        raise PlanError(f"the spend plan has no 'date' column; its columns are {columns}")
    missing = [
        cfg.media_column(c) for c in cfg.channel_names if _media_column(cfg, c, columns) is None
    ]
    if missing:
        raise PlanError(
            f"the spend plan is missing channel columns {missing}; the model's channels are "
            f"{cfg.channel_names} (give 0 for a channel with no spend; a channel modeled on "
            "an exposure metric takes its exposure column)"
        )
    missing = [c for c in cfg.organic_names if c not in columns]
    if missing:
        raise PlanError(
            f"the spend plan is missing organic media columns {missing}; the model's organic "
            f"channels are {cfg.organic_names} (give their planned volume, 0 for none)"
        )
    needed = [*cfg.controls, *cfg.index_variables]
    absent = [c for c in needed if c not in columns]
    if absent:
        raise PlanError(
            f"the spend plan is missing columns {absent} that the model's baseline uses"
        )
    allowed = accepted_columns(result)
    extra = [c for c in columns if c not in allowed]
    if extra:
        raise PlanError(
            f"the spend plan has unknown columns {extra}; the model's channels are "
            f"{cfg.channel_names}" + (f" and its controls {cfg.controls}" if cfg.controls else "")
        )
    if not len(plan):
        raise PlanError("the spend plan has no rows")


def _media_column(cfg: ModelConfig, channel: str, columns: list[str]) -> str | None:
    """A channel's media input column in a plan: its exposure column, else its own name."""
    found = [c for c in (cfg.media_column(channel), channel) if c in columns]
    return found[0] if found else None


def _media_inputs(result: FitResult, plan: pd.DataFrame) -> FloatArray:
    """The plan's media input per channel ``(date, channel)``: spend, or exposure."""
    cfg, columns = result.config, [str(c) for c in plan.columns]
    roles = {c: "exposure" if c in cfg.exposure_channels else "spend" for c in result.channels}
    return np.column_stack(
        [_numeric(plan, str(_media_column(cfg, c, columns)), roles[c]) for c in roles]
    )


def _plan_dates(result: FitResult, plan: pd.DataFrame) -> pd.DatetimeIndex:
    raw = plan["date"]
    parsed = pd.to_datetime(raw, errors="coerce")
    bad = parsed.isna().to_numpy()
    if bad.any():
        raise PlanError(
            f"column 'date': {example_rows(bad)} are not dates (e.g. {raw[bad].iloc[0]!r}); "
            "use ISO dates such as 2023-01-02"
        )
    dates = pd.DatetimeIndex(parsed)
    if dates.tz is not None:
        dates = dates.tz_convert(None)
    if (dates != dates.normalize()).any():
        raise PlanError("column 'date': dates must be calendar dates (midnight), not times of day")
    freq = result.scalers.frequency
    step = PERIOD_DAYS[freq]
    steps = np.diff(dates.to_numpy().astype("datetime64[D]").astype(np.int64))
    if len(dates) > 1 and (steps != step).any():
        i = int(np.flatnonzero(steps != step)[0])
        raise PlanError(
            f"column 'date': the plan must be consecutive {freq} periods ({step} day(s) apart) "
            f"in increasing order; {dates[i].date()} is followed by {dates[i + 1].date()}"
        )
    start = pd.Timestamp(result.scalers.start_date)
    offset = (dates[0] - start).days % step
    if offset:
        raise PlanError(
            f"column 'date': {dates[0].date()} is not on the model's {freq} grid, which "
            f"runs from {start.date()} in steps of {step} days"
        )
    return pd.DatetimeIndex(dates.astype(DATE_DTYPE))


def _numeric(plan: pd.DataFrame, column: str, role: str) -> FloatArray:
    raw = plan[column]
    values = pd.to_numeric(raw, errors="coerce")
    unparseable = (values.isna() & raw.notna()).to_numpy()
    if unparseable.any():
        raise PlanError(
            f"{role} column {column!r}: {example_rows(unparseable)} are not numbers "
            f"(e.g. {raw[unparseable].iloc[0]!r})"
        )
    arr = values.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(arr)
    if bad.any():
        raise PlanError(
            f"{role} column {column!r}: {example_rows(bad)} are missing, NaN or infinite"
        )
    if role in ("spend", "exposure", "organic media") and (arr < 0).any():
        neg = arr < 0
        raise PlanError(
            f"{role} column {column!r}: {example_rows(neg)} are negative (e.g. {arr[neg][0]}); "
            f"{role} must be >= 0"
        )
    return arr


def _history(
    result: FitResult, dates: pd.DatetimeIndex, length: int, columns: list[str] | None = None
) -> FloatArray:
    """Training spend (or ``columns``), the ``length`` periods before ``dates[0]``; 0 if none.

    The fit window's warm-up periods (before its first date) count as training periods.
    """
    step = pd.Timedelta(days=PERIOD_DAYS[result.scalers.frequency])
    before = pd.DatetimeIndex([dates[0] - step * k for k in range(length, 0, -1)])
    names = list(result.channels) if columns is None else columns
    warmup = result.scalers.warmup_frame()
    known = pd.concat([warmup, result.frame[["date", *names]]]) if len(warmup) else result.frame
    train = known.set_index("date")[names]
    train.index = pd.DatetimeIndex(train.index).astype(DATE_DTYPE)
    return train.reindex(before.astype(DATE_DTYPE)).fillna(0.0).to_numpy(dtype=np.float64)


def _draws_of(
    post: xr.Dataset,
    var: str,
    idx: npt.NDArray[np.intp],
    dim: str | None = None,
    labels: list[str] | None = None,
) -> FloatArray:
    """A posterior variable as ``(sample, ...)``, selected draws only."""
    da = post[var]
    if dim is not None and labels is not None:
        da = da.sel({dim: labels})
    da = da.transpose("chain", "draw", ...)
    values = np.asarray(da.values, dtype=np.float64)
    return values.reshape(-1, *values.shape[2:])[idx]


def _index_codes(result: FitResult, plan: pd.DataFrame) -> dict[str, npt.NDArray[np.intp]]:
    """Level codes per index variable, 0 for the reference (first) level."""
    codes = {}
    for c in result.config.index_variables:
        levels = result.scalers.index_levels[c]
        values = plan[c].astype(str).to_numpy()
        unknown = sorted(set(values) - set(levels))
        if unknown:
            raise PlanError(
                f"index column {c!r}: levels {unknown} were not in the training data; "
                f"allowed levels are {levels}"
            )
        codes[c] = np.array([levels.index(v) for v in values], dtype=np.intp)
    return codes


def _baseline(
    result: FitResult,
    plan: pd.DataFrame,
    dates: pd.DatetimeIndex,
    idx: npt.NDArray[np.intp],
    geos: list[str] | None = None,
) -> FloatArray:
    """Baseline ``(sample, row)`` times y_scale; (date, geo) rows of ``geos`` add geo_intercept."""
    cfg, sc, post = result.config, result.scalers, result.posterior
    params = {"intercept": _draws_of(post, "intercept", idx)}
    data: dict[str, FloatArray] = {}
    if geos:
        params["geo_intercept"] = _draws_of(post, "geo_intercept", idx, "geo", geos)
        data["geo_codes"] = np.tile(np.arange(len(geos)), len(dates) // len(geos))
    if cfg.trend.enabled:
        data["trend_time"] = sc.trend(dates)
        params["trend_slope"] = _draws_of(post, "trend_slope", idx)
    if cfg.seasonality.yearly_order:
        data["fourier"] = fourier_features(dates, cfg.seasonality.yearly_order)
        params["seasonality_coef"] = _draws_of(post, "seasonality_coef", idx)
    if cfg.controls:
        data["control_scale"] = np.array([sc.control_scale[c] for c in cfg.controls])
        data["controls"] = np.column_stack([_numeric(plan, c, "control") for c in cfg.controls])
        params["control_coef"] = _draws_of(post, "control_coef", idx, "control", cfg.controls)
    codes = _index_codes(result, plan)
    for c in codes:
        levels = sc.index_levels[c][1:]
        params[f"{c}_effect"] = _draws_of(post, f"{c}_effect", idx, f"{c}_level", levels)
    inputs = forward.BaselineInputs(len(dates), **data, index_codes=codes)
    return np.asarray(forward.baseline(inputs, params).total) * sc.y_scale


def plan_draws(
    result: FitResult,
    plan: pd.DataFrame,
    *,
    draws: int | None = DEFAULT_DRAWS,
    history: bool = True,
) -> PlanDraws:
    """Posterior draws of the outcome and contributions for a spend plan.

    Carry-over makes a period's outcome depend on earlier spend. With ``history`` (the default),
    the ``l_max - 1`` periods before the plan's first date take the fit's own training spend
    wherever those dates fall inside the training window (a plan that continues right after
    the training window carries over its last periods' spend); other periods count as zero
    spend. A geo fit's plans go to :func:`mediamix.analysis.geo_plan.predict_geo_plan`.

    Parameters
    ----------
    result : FitResult
        The fit.
    plan : pandas.DataFrame
        ``date``, one spend column per channel, the model's controls and index variables; the
        outcome column may be present and is ignored. Dates must be consecutive periods on the
        model's frequency grid (the training dates' weekday for weekly data).
    draws : int or None, default 500
        Posterior draws to use, evenly thinned across chains; ``None`` uses every draw.
    history : bool, default True
        Carry over training spend from before the plan (see above); False: zero before it.

    Returns
    -------
    PlanDraws
        Baseline ``(sample, date)`` and contributions ``(sample, date, channel)``.

    Raises
    ------
    PlanError
        For a plan with missing or unknown columns, non-numeric, missing or negative spend,
        unparseable dates, or dates that are not consecutive periods on the model's grid.
    """
    if not isinstance(plan, pd.DataFrame):
        raise PlanError(f"the spend plan must be a pandas DataFrame, got {type(plan).__name__}")
    if result.scalers.geo_column:
        raise PlanError("a geo fit: use mediamix.analysis.geo_plan.predict_geo_plan for its plans")
    plan = plan_controls(plan, result.config, PERIOD_DAYS[result.scalers.frequency])
    _check_columns(result, plan)
    dates = _plan_dates(result, plan)
    spend = _media_inputs(result, plan)
    post = result.posterior
    idx = draw_index(post.sizes["chain"] * post.sizes["draw"], draws)
    media = MediaParameters.from_fit(result, draws=draws, media_units=True)
    lag = media.window - 1
    if history and lag:
        spend = np.concatenate([_history(result, dates, lag), spend], axis=0)
    else:
        lag = 0
    contributions = media_contributions(media, spend)[:, lag:, :]
    baseline = _baseline(result, plan, dates, idx)
    names = result.config.organic_names
    organic = _organic(result, plan, dates, draws, history) if names else None
    return PlanDraws(dates, list(result.channels), baseline, contributions, names, organic)


def _organic(
    result: FitResult, plan: pd.DataFrame, dates: pd.DatetimeIndex, draws: int | None, history: bool
) -> FloatArray:
    """Organic media contributions ``(sample, date, organic)``, carried over like spend."""
    names = result.config.organic_names
    volume = np.column_stack([_numeric(plan, c, "organic media") for c in names])
    params = MediaParameters.from_fit(result, draws=draws, organic=True)
    lag = params.window - 1 if history else 0
    if lag:
        volume = np.concatenate([_history(result, dates, lag, names), volume], axis=0)
    return media_contributions(params, volume)[:, lag:, :]


def predict_plan(
    result: FitResult,
    plan: pd.DataFrame,
    *,
    draws: int | None = DEFAULT_DRAWS,
    hdi_prob: float | None = None,
    history: bool = True,
) -> pd.DataFrame:
    """Predict the outcome of a spend plan with credible bands and per-channel contributions.

    Parameters
    ----------
    result : FitResult
        The fit.
    plan : pandas.DataFrame
        ``date``, one spend column per channel (original currency units), one column per
        organic channel (its planned volume, finite and >= 0), and the model's controls and
        index variables if it has any. See :func:`plan_draws` for how spend
        before the plan is carried over.
    draws : int or None, default 500
        Posterior draws to use (evenly thinned); ``None`` uses all of them.
    hdi_prob : float, optional
        Probability mass of the band; default the config's ``hdi_prob``.
    history : bool, default True
        Carry over the training spend that precedes the plan (see :func:`plan_draws`).

    Returns
    -------
    pandas.DataFrame
        One row per plan date: ``date``, ``prediction_mean``, ``prediction_hdi_low``,
        ``prediction_hdi_high`` (the expected outcome's HDI, without observation noise),
        ``baseline`` (its mean) and ``contribution_<channel>`` (each channel's mean
        contribution, organic channels included), all in original outcome units.

    Raises
    ------
    PlanError
        If the plan does not fit the model (see :func:`plan_draws`) or ``hdi_prob`` is not
        in (0, 1).

    Warns
    -----
    PlanRangeWarning
        If plan dates lie further outside the training window than the window is long.
    """
    prob = result.config.hdi_prob if hdi_prob is None else float(hdi_prob)
    if not 0 < prob < 1:
        raise PlanError(f"hdi_prob must be in (0, 1), got {hdi_prob}")
    pd_ = plan_draws(result, plan, draws=draws, history=history)
    _warn_far_dates(result, pd_.dates)
    return _prediction_frame(pd_, prob)


def _prediction_frame(pd_: PlanDraws, prob: float) -> pd.DataFrame:
    """Means, the HDI band of the expected outcome and mean contributions, one row per date."""
    total = pd_.outcome
    band = azs.hdi(xr.DataArray(total[None], dims=("chain", "draw", "date")), prob=prob)
    out = pd.DataFrame(
        {
            "date": pd_.dates.to_numpy(),
            "prediction_mean": total.mean(axis=0),
            "prediction_hdi_low": np.asarray(band.sel(ci_bound="lower").values),
            "prediction_hdi_high": np.asarray(band.sel(ci_bound="upper").values),
            "baseline": pd_.baseline.mean(axis=0),
        }
    )
    means = pd_.contributions.mean(axis=0)
    for j, ch in enumerate(pd_.channels):
        out[f"contribution_{ch}"] = means[:, j]
    if pd_.organic is not None:
        for j, ch in enumerate(pd_.organic_channels):
            out[f"contribution_{ch}"] = pd_.organic[:, :, j].mean(axis=0)
    return out
