"""Geo-level data through the pipeline: one gold table of (date, geo) rows.

A feed may carry a ``geo`` column (long data: one row per date and geo, and per channel for
spend); the outcome feed may then carry a ``population`` column, constant within a geo. Silver's
row rules (:mod:`mediamix.lakehouse.quality`) reject rows without a geo and key duplicates by
geo. Gold is built per geo with the grid rules of :mod:`mediamix.lakehouse.gold`, each problem
naming its geo, and every geo must cover the same date grid. Controls without a geo column are
national: each geo gets the same values. The result is ONE modeling-ready table,
``date, geo, <spend...>, <controls...>, <outcome>[, population]``, sorted by date then geo,
partitioned by geo (:func:`gold_partitions`). Feeds without a geo column build national gold,
exactly as before.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from mediamix.data.frames import Frequency
from mediamix.lakehouse.gold import build_gold
from mediamix.lakehouse.quality import (
    GEO_COLUMN,
    MAX_EXAMPLES,
    META_COLUMNS,
    POPULATION_COLUMN,
    DataQualityError,
    Issue,
)

__all__ = ["build_any_gold", "gold_partitions", "is_geo_frame", "with_geo"]


def is_geo_frame(frame: pd.DataFrame) -> bool:
    """Whether a frame (a feed, silver or gold table) has the geo column."""
    return GEO_COLUMN in frame.columns


def gold_partitions(gold: pd.DataFrame) -> list[str]:
    """The columns gold is partitioned by: ``["geo"]`` for geo data, none for national data."""
    return [GEO_COLUMN] if is_geo_frame(gold) else []


def with_geo(keys: Sequence[str], *frames: pd.DataFrame) -> list[str]:
    """Row keys of a table: ``keys`` with ``geo`` after ``date`` when a frame has a geo column."""
    out = list(keys)
    if any(is_geo_frame(f) for f in frames) and GEO_COLUMN not in out:
        out.insert(out.index("date") + 1 if "date" in out else 0, GEO_COLUMN)
    return out


def _values(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c not in ("date", GEO_COLUMN, *META_COLUMNS)]


def _shown(names: Sequence[str]) -> tuple[str, ...]:
    return tuple(str(n) for n in list(names)[:MAX_EXAMPLES])


def _feed_issues(
    spend: pd.DataFrame, outcome: pd.DataFrame, controls: pd.DataFrame
) -> tuple[list[str], list[Issue]]:
    """The geos (from the outcome, sorted) and the problems of geos between feeds."""
    if not is_geo_frame(outcome) or not is_geo_frame(spend):
        has, lacks = ("spend", "outcome") if is_geo_frame(spend) else ("outcome", "spend")
        reason = (
            f"the {has} feed has a {GEO_COLUMN!r} column but the {lacks} feed has none; "
            "give both feeds a geo column (or neither, for national data)"
        )
        return [], [Issue("geo_mismatch", GEO_COLUMN, reason, 1, ())]
    geos = sorted(outcome[GEO_COLUMN].unique().tolist())
    issues = []
    feeds = {"spend": spend}
    if is_geo_frame(controls) and _values(controls):
        feeds["controls"] = controls
    for kind, frame in feeds.items():
        extra = sorted(set(frame[GEO_COLUMN]) - set(geos))
        if extra:
            reason = f"{kind} rows for geos that have no outcome rows (known geos: {geos})"
            issues.append(Issue("geo_mismatch", GEO_COLUMN, reason, len(extra), _shown(extra)))
    absent = sorted(set(geos) - set(spend[GEO_COLUMN]))
    if absent:
        reason = "geos with outcome rows but no spend rows"
        issues.append(Issue("geo_mismatch", GEO_COLUMN, reason, len(absent), _shown(absent)))
    return geos, issues


def _population(outcome: pd.DataFrame, geos: Sequence[str]) -> tuple[pd.Series, list[Issue]]:
    """One population per geo; a geo whose rows disagree is a ``geo_mismatch``."""
    per_geo = outcome.groupby(GEO_COLUMN)[POPULATION_COLUMN]
    counts = per_geo.nunique(dropna=True)
    bad = [g for g in geos if counts.get(g, 0) != 1]
    issues = []
    if bad:
        reason = "population must be one positive number per geo; these geos have several or none"
        issues.append(Issue("geo_mismatch", POPULATION_COLUMN, reason, len(bad), _shown(bad)))
    return per_geo.first(), issues


def _one_geo(
    geo: str,
    feeds: Mapping[str, pd.DataFrame],
    frequency: Frequency,
    channels: Sequence[str],
) -> tuple[pd.DataFrame | None, list[str], list[Issue]]:
    """Gold rows of one geo, or the grid problems that stop it (each naming the geo)."""
    parts = {}
    for kind, frame in feeds.items():
        rows = frame[frame[GEO_COLUMN] == geo] if is_geo_frame(frame) else frame
        parts[kind] = rows.drop(columns=[GEO_COLUMN, POPULATION_COLUMN], errors="ignore")
    try:
        gold, notes = build_gold(
            parts["spend"],
            parts["outcome"],
            parts["controls"],
            frequency=frequency,
            channels=channels,
        )
    except DataQualityError as exc:
        named = [
            Issue(i.rule, i.column, f"geo {geo!r}: {i.reason}", i.count, i.examples, i.unit)
            for i in exc.issues
        ]
        return None, [], named
    return gold, notes, []


def _grid_issues(golds: Mapping[str, pd.DataFrame]) -> list[Issue]:
    """Every geo must cover the same dates as the first geo."""
    first_geo, first = next(iter(golds.items()))
    dates = pd.DatetimeIndex(first["date"])
    odd = [g for g, f in golds.items() if not pd.DatetimeIndex(f["date"]).equals(dates)]
    if not odd:
        return []
    span = f"{dates[0].date()} .. {dates[-1].date()}, {len(dates)} periods"
    reason = f"geos whose date grid differs from geo {first_geo!r} ({span}); every geo needs it"
    return [Issue("geo_mismatch", "date", reason, len(odd), _shown(odd), "geos")]


def _channels(spend: pd.DataFrame, channels: Sequence[str] | None) -> list[str]:
    # one channel order for every geo: the expected channels, else all present, sorted
    return list(channels) if channels is not None else sorted(spend["channel"].unique().tolist())


def build_any_gold(
    spend: pd.DataFrame,
    outcome: pd.DataFrame,
    controls: pd.DataFrame,
    *,
    frequency: Frequency = "weekly",
    channels: Sequence[str] | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """Build gold from silver: national gold, or one long table of every geo.

    Parameters
    ----------
    spend, outcome, controls : pandas.DataFrame
        Silver rows, as for :func:`~mediamix.lakehouse.gold.build_gold`; with a ``geo`` column
        in spend and outcome (and optionally controls, and ``population`` in outcome) the data is
        per geo.
    frequency, channels
        As for :func:`~mediamix.lakehouse.gold.build_gold`, applied to every geo.

    Returns
    -------
    gold : pandas.DataFrame
        National: as :func:`~mediamix.lakehouse.gold.build_gold`. Geo: ``date, geo``, one
        spend column per channel, controls, the outcome and ``population`` (when given), sorted
        by date then geo.
    notes : list of str
        What was aggregated or trimmed (once, not per geo).

    Raises
    ------
    DataQualityError
        The grid rules per geo (each reason starts with ``geo '<name>'``), and ``geo_mismatch``
        for geos that differ between feeds, geos on different date grids, or a population that
        is not one number per geo.
    """
    if not any(is_geo_frame(f) for f in (spend, outcome)):
        return build_gold(spend, outcome, controls, frequency=frequency, channels=channels)
    geos, issues = _feed_issues(spend, outcome, controls)
    population = None
    if geos and POPULATION_COLUMN in outcome.columns:
        population, more = _population(outcome, geos)
        issues += more
    if issues:
        raise DataQualityError("gold", issues)
    feeds = {"spend": spend, "outcome": outcome, "controls": controls}
    order = _channels(spend, channels)
    golds: dict[str, pd.DataFrame] = {}
    notes: list[str] = []
    for geo in geos:
        gold, geo_notes, geo_issues = _one_geo(geo, feeds, frequency, order)
        issues += geo_issues
        notes += [n for n in geo_notes if n not in notes]
        if gold is not None:
            golds[geo] = gold
    if not issues:
        issues = _grid_issues(golds)
    if issues:
        raise DataQualityError("gold", issues)
    return _stack(golds, population), notes


def _stack(golds: Mapping[str, pd.DataFrame], population: pd.Series | None) -> pd.DataFrame:
    """One long frame: ``geo`` after ``date``, ``population`` after the outcome."""
    frames = []
    for geo, gold in golds.items():
        frame = gold.copy()
        frame.insert(1, GEO_COLUMN, geo)
        if population is not None:
            frame[POPULATION_COLUMN] = float(population[geo])
        frames.append(frame)
    long = pd.concat(frames, ignore_index=True)
    long[GEO_COLUMN] = long[GEO_COLUMN].astype("str")
    return long.sort_values(["date", GEO_COLUMN], kind="stable").reset_index(drop=True)
