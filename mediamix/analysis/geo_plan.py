"""Predictions for a spend plan of a geo fit: per geo and national, under every posterior draw.

A geo plan is the long form of a plan (:mod:`mediamix.analysis.predict`): one row per date and
geo, with the fit's geo column (``geo`` by default), one spend column per channel and the
model's controls and index variables. The plan may cover some of the fit's geos; each one it
names must have the same consecutive dates. A geo the fit does not know is a
:class:`~mediamix.analysis.predict.PlanError` naming it and listing the known geos.

A plan *without* the geo column is a national plan: each channel's spend is split across the
fit's geos at their historical shares of that channel's spend (the shares the optimizer uses,
:class:`~mediamix.analysis.geo_response.GeoParameters`), and its controls and index
variables apply to every geo. So a national plan predicts what the same national spend would
do if it kept its usual geographic mix.

The media terms are :func:`mediamix.model.forward.media_geo` (via
:func:`~mediamix.analysis.geo_response.geo_media_contributions`) and the baseline is
:func:`mediamix.model.forward.baseline` over the (date, geo) rows, as in the model.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt
import pandas as pd

from mediamix.analysis.geo_response import (
    GeoParameters,
    geo_media_contributions,
    geo_shares,
    is_geo_fit,
)
from mediamix.analysis.predict import (
    DEFAULT_DRAWS,
    PlanDraws,
    PlanError,
    _baseline,
    _check_columns,
    _media_inputs,
    _numeric,
    _plan_dates,
    _prediction_frame,
    _warn_far_dates,
)
from mediamix.analysis.response import MediaParameters, draw_index
from mediamix.data.columns import plan_controls
from mediamix.data.frames import DATE_DTYPE, PERIOD_DAYS
from mediamix.inference.fit import FitResult

__all__ = [
    "NATIONAL",
    "GeoPlanDraws",
    "example_geo_plan",
    "geo_plan_draws",
    "predict_geo_plan",
    "split_national_plan",
]

FloatArray = npt.NDArray[np.float64]
#: The ``geo`` of the rows that add up every geo of a prediction.
NATIONAL = "national"


@dataclass(frozen=True)
class GeoPlanDraws(PlanDraws):
    """Posterior draws of a geo plan's outcome, original outcome units.

    The fields of :class:`~mediamix.analysis.predict.PlanDraws`, with a ``geo`` axis after the
    date axis: ``baseline`` is ``(sample, date, geo)``, ``contributions`` ``(sample, date,
    geo, channel)`` and ``organic`` ``(sample, date, geo, organic)``; so :attr:`outcome` is
    ``(sample, date, geo)``.

    Attributes
    ----------
    geos : list of str
        The plan's geos, in the fit's order (keyword only).
    """

    geos: list[str] = field(kw_only=True)

    def geo(self, geo: str | None = None) -> PlanDraws:
        """The draws of one geo, or of all geos summed (``None``), as national draws are."""
        organic = self.organic
        if geo is None:
            base, contrib = self.baseline.sum(axis=2), self.contributions.sum(axis=2)
            organic = None if organic is None else organic.sum(axis=2)
        else:
            j = self.geos.index(geo)
            base, contrib = self.baseline[:, :, j], self.contributions[:, :, j, :]
            organic = None if organic is None else organic[:, :, j, :]
        names = list(self.organic_channels)
        return PlanDraws(self.dates, self.channels, base, contrib, names, organic)


def split_national_plan(result: FitResult, plan: pd.DataFrame) -> pd.DataFrame:
    """A national plan as a geo plan: spend split at each channel's historical geo shares.

    Organic media volume is split the same way, at each organic channel's historical shares.

    Parameters
    ----------
    result : FitResult
        A geo fit.
    plan : pandas.DataFrame
        A plan without the geo column.

    Returns
    -------
    pandas.DataFrame
        One row per date and geo (date-major, geos in the fit's order); each channel's (and
        organic channel's) media column is the national value times the geo's share, every
        other column is copied.
    """
    column = str(result.scalers.geo_column)
    gp = GeoParameters.from_fit(result, draws=1)
    geos = list(gp.geos)
    long = plan.loc[plan.index.repeat(len(geos))].reset_index(drop=True)
    long.insert(1 if "date" in long.columns else 0, column, geos * len(plan))
    codes = np.tile(np.arange(len(geos)), len(plan))
    cfg = result.config
    shares = {
        name: gp.share[:, j]
        for j, channel in enumerate(result.channels)
        for name in {cfg.media_column(channel), channel}
    }
    if cfg.organic_names:
        shares |= dict(zip(cfg.organic_names, _organic_shares(result, gp).T, strict=True))
    for name, share in shares.items():
        if name in long.columns:
            values = pd.to_numeric(long[name], errors="coerce").to_numpy(np.float64)
            long[name] = values * share[codes]
    return long


def _organic_shares(result: FitResult, gp: GeoParameters) -> FloatArray:
    """Each organic channel's historical share of its volume by geo ``(geo, organic)``."""
    names, column = result.config.organic_names, str(result.scalers.geo_column)
    frame = result.frame.assign(_geo=result.frame[column].astype(str))
    totals = frame.groupby("_geo")[names].sum().reindex(list(gp.geos)).fillna(0.0)
    return geo_shares(totals.to_numpy(dtype=np.float64), gp.population)


def _geo_rows(result: FitResult, plan: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The plan's rows sorted by date then geo (fit order), and its geos; checks the geo column."""
    column, known = str(result.scalers.geo_column), [str(g) for g in result.scalers.geos]
    raw = plan[column]
    missing = raw.isna().to_numpy() | raw.astype(str).str.strip().eq("").to_numpy()
    if missing.any():
        numbers = [int(i) + 1 for i in np.flatnonzero(missing)[:3]]  # 1-based, as in a file
        raise PlanError(f"column {column!r}: rows {numbers} have no geo; every row needs one")
    names = raw.astype(str).str.strip()
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise PlanError(
            f"column {column!r}: unknown geo(s) {unknown}; the model's geos are {known}"
        )
    geos = [g for g in known if g in set(names)]
    rows = plan.assign(**{column: names, "_order": names.map(geos.index)})
    dates = pd.to_datetime(rows["date"], errors="coerce")
    rows = rows.assign(_date=dates).sort_values(["_date", "_order"], kind="stable")
    twice = rows.duplicated(["_date", column])
    if twice.any():
        first = rows[twice].iloc[0]
        raise PlanError(
            f"the plan has more than one row for date {first['date']} and geo {first[column]!r}"
        )
    per_geo = rows.groupby(column, sort=False)["_date"].apply(lambda d: tuple(d))
    odd = [g for g in geos if per_geo[g] != per_geo[geos[0]]]
    if odd:
        raise PlanError(
            f"geos {odd} do not have the same dates as geo {geos[0]!r}; every geo in a plan "
            "needs the same dates"
        )
    return rows.drop(columns=["_order", "_date"]).reset_index(drop=True), geos


def _history(
    result: FitResult,
    dates: pd.DatetimeIndex,
    geos: list[str],
    lag: int,
    names: list[str] | None = None,
) -> FloatArray:
    """Training media inputs ``(lag, geo, column)`` before ``dates[0]``; 0 outside the data.

    ``names`` are the columns (default: the paid channels).

    The fit window's warm-up periods (before its first date) count as training periods.
    """
    step = pd.Timedelta(days=PERIOD_DAYS[result.scalers.frequency])
    before = pd.DatetimeIndex([dates[0] - step * k for k in range(lag, 0, -1)]).astype(DATE_DTYPE)
    column = str(result.scalers.geo_column)
    names = list(result.channels) if names is None else names
    frame = result.frame
    if result.scalers.warmup:
        frame = pd.concat([result.scalers.warmup_frame(), frame], ignore_index=True)
    out = []
    for geo in geos:
        rows = frame[frame[column].astype(str) == geo].set_index("date")[names]
        rows.index = pd.DatetimeIndex(rows.index).astype(DATE_DTYPE)
        out.append(rows.reindex(before).fillna(0.0).to_numpy(dtype=np.float64))
    return np.stack(out, axis=1)


def geo_plan_draws(
    result: FitResult,
    plan: pd.DataFrame,
    *,
    draws: int | None = DEFAULT_DRAWS,
    history: bool = True,
) -> GeoPlanDraws:
    """Posterior draws of a geo plan's baseline and contributions per geo.

    Parameters are those of :func:`~mediamix.analysis.predict.plan_draws`; ``plan`` is long
    (with the fit's geo column) or national (split by :func:`split_national_plan`). With
    ``history``, each geo's own training spend carries over into the plan.

    Raises
    ------
    PlanError
        As :func:`~mediamix.analysis.predict.plan_draws`, and for rows without a geo, geos
        the fit does not know, a (date, geo) given twice, or geos on different dates.
    """
    if not isinstance(plan, pd.DataFrame):
        raise PlanError(f"the spend plan must be a pandas DataFrame, got {type(plan).__name__}")
    if not is_geo_fit(result):
        raise PlanError("this fit has no geos; predict its plans with predict_plan")
    column = str(result.scalers.geo_column)
    if column not in plan.columns:
        plan = split_national_plan(result, plan)
    population = result.config.geo.population if result.config.geo else None
    plan = plan.drop(columns=[c for c in (population,) if c and c in plan.columns])
    rows, geos = _geo_rows(result, plan)
    step = PERIOD_DAYS[result.scalers.frequency]
    rows = plan_controls(rows, result.config, step)
    _check_columns(result, rows.drop(columns=column))
    first = rows[rows[column] == geos[0]].reset_index(drop=True)
    dates = _plan_dates(result, first)
    spend = _media_inputs(result, rows).reshape(len(dates), len(geos), -1)
    gp = GeoParameters.from_fit(result, draws, media_units=True).subset(geos)
    lag = gp.media.window - 1 if history else 0
    if lag:
        spend = np.concatenate([_history(result, dates, geos, lag), spend], axis=0)
    contributions = geo_media_contributions(gp, spend)[:, lag:]
    post = result.posterior
    idx = draw_index(post.sizes["chain"] * post.sizes["draw"], draws)
    row_dates = pd.DatetimeIndex(np.repeat(dates.to_numpy(), len(geos)))
    base = _baseline(result, rows, row_dates, idx, geos).reshape(len(idx), len(dates), -1)
    baseline = base * gp.population[None, None, :]
    names = result.config.organic_names
    organic = _organic(result, rows, dates, gp, draws, history) if names else None
    channels = list(result.channels)
    return GeoPlanDraws(dates, channels, baseline, contributions, names, organic, geos=geos)


def _organic(
    result: FitResult,
    rows: pd.DataFrame,
    dates: pd.DatetimeIndex,
    paid: GeoParameters,
    draws: int | None,
    history: bool,
) -> FloatArray:
    """Organic contributions ``(sample, date, geo, organic)``, outcome units.

    Each geo's volume per capita goes through the national organic effect, as in the model,
    carried over from its training volume when ``history``. ``paid`` gives the plan's geos
    and their populations.
    """
    names, geos = result.config.organic_names, list(paid.geos)
    volume = np.column_stack([_numeric(rows, c, "organic media") for c in names])
    volume = volume.reshape(len(dates), len(geos), len(names))
    params = MediaParameters.from_fit(result, draws=draws, organic=True)
    beta = np.repeat(params.values["beta"][:, None, :], len(geos), axis=1)
    gp = replace(paid, media=params, beta=beta, share=_organic_shares(result, paid))
    lag = params.window - 1 if history else 0
    if lag:
        volume = np.concatenate([_history(result, dates, geos, lag, names), volume], axis=0)
    return geo_media_contributions(gp, volume)[:, lag:]


def predict_geo_plan(
    result: FitResult,
    plan: pd.DataFrame,
    *,
    draws: int | None = DEFAULT_DRAWS,
    hdi_prob: float | None = None,
    history: bool = True,
) -> pd.DataFrame:
    """Predict a geo fit's plan: national rows, then each geo's rows.

    Parameters are those of :func:`~mediamix.analysis.predict.predict_plan`.

    Returns
    -------
    pandas.DataFrame
        ``date``, ``geo`` and the columns of
        :func:`~mediamix.analysis.predict.predict_plan`. The rows whose ``geo`` is
        :data:`NATIONAL` (``"national"``) add up the plan's geos, each with its own HDI; then
        every geo's rows, geos in the fit's order, dates ascending.

    Raises
    ------
    PlanError
        See :func:`geo_plan_draws`.
    """
    prob = result.config.hdi_prob if hdi_prob is None else float(hdi_prob)
    if not 0 < prob < 1:
        raise PlanError(f"hdi_prob must be in (0, 1), got {hdi_prob}")
    gd = geo_plan_draws(result, plan, draws=draws, history=history)
    _warn_far_dates(result, gd.dates)
    frames = []
    for geo in [None, *gd.geos]:
        frame = _prediction_frame(gd.geo(geo), prob)
        frame.insert(1, "geo", NATIONAL if geo is None else geo)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def example_geo_plan(result: FitResult, periods: int = 4) -> pd.DataFrame:
    """A long plan for the ``periods`` periods after the training window, every geo.

    Each geo and channel spends its mean over the last 13 training periods (organic media: its
    mean volume); controls and index variables keep each geo's last training value.
    """
    frame, column = result.frame, str(result.scalers.geo_column)
    step = pd.Timedelta(days=PERIOD_DAYS[result.scalers.frequency])
    last = pd.Timestamp(frame["date"].iloc[-1])
    dates = [last + step * (k + 1) for k in range(periods)]
    rows = []
    for date in dates:
        for geo in result.scalers.geos:
            recent = frame[frame[column].astype(str) == str(geo)].tail(13)
            row: dict[str, object] = {"date": date, column: str(geo)}
            for ch in result.channels:
                row[result.config.media_column(ch)] = float(round(recent[ch].mean(), 2))
            for name in result.config.organic_names:
                row[name] = float(round(recent[name].mean(), 2))
            for c in [*result.config.controls, *result.config.index_variables]:
                row[c] = recent[c].iloc[-1]
            rows.append(row)
    out = pd.DataFrame(rows)
    out["date"] = pd.DatetimeIndex(out["date"]).astype(DATE_DTYPE)
    return out
