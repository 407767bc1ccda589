"""Checks on a geo-level (long) modeling frame: one row per (date, geo).

Every geo gets the national checks of :mod:`mediamix.data.validation` on its own rows (errors
name the geo, the column and the rows of the frame as given), plus the checks only a long frame
needs: a geo column with values, more than one geo, no repeated (date, geo), every geo on the
same date grid, and a population that is positive and constant within each geo. A channel with
no spend at all in one geo is allowed (with a :class:`GeoDataWarning`): the geo still informs
the baseline and the other channels.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from mediamix.data.frames import example_rows
from mediamix.data.validation import DataValidationError, validate_frame

__all__ = ["GeoDataWarning", "geo_names", "validate_geo_frame"]

_ROWS = re.compile(r"rows ([0-9]+(?:, [0-9]+)*)")


class GeoDataWarning(UserWarning):
    """A geo frame the model can fit, with something the user should know (a silent channel)."""


def geo_names(frame: pd.DataFrame, column: str) -> list[str]:
    """The geos of a long frame, in the order they first appear.

    Raises
    ------
    DataValidationError
        If the column is missing, has missing or empty values, or names a single geo.
    """
    if column not in frame.columns:
        raise DataValidationError(
            f"no geo column {column!r}; columns are {list(frame.columns)}. A geo model needs "
            "one row per (date, geo) with the geo's name in that column (model config geo.column)"
        )
    values = frame[column]
    missing = (values.isna() | (values.astype(str).str.strip() == "")).to_numpy()
    if missing.all():
        raise DataValidationError(f"geo column {column!r} is empty: every row needs a geo name")
    if missing.any():
        raise DataValidationError(
            f"geo column {column!r}: {example_rows(missing)} have no geo name; every row needs one"
        )
    names = list(dict.fromkeys(values.astype(str)))
    if len(names) == 1:
        raise DataValidationError(
            f"geo column {column!r} holds a single geo ({names[0]!r}): a geo model needs at least "
            "two geos. Fit a national model instead: remove `geo:` from the model config and "
            f"the {column!r} column from the data"
        )
    return names


def _check_pairs(frame: pd.DataFrame, dates: pd.Series, geo: pd.Series) -> None:
    dup = pd.DataFrame({"d": dates, "g": geo}).duplicated(keep=False).to_numpy()
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        raise DataValidationError(
            f"columns 'date' and {geo.name!r}: {example_rows(dup)} repeat a (date, geo) pair "
            f"({dates.iloc[i].date()}, {geo.iloc[i]!r}); the frame needs one row per date and geo"
        )


def _check_grid(dates: pd.Series, geo: pd.Series, names: Sequence[str]) -> None:
    """Every geo has a row on every date any geo has."""
    grid = pd.DatetimeIndex(sorted(dates.unique()))
    for g in names:
        own = pd.DatetimeIndex(dates[geo == g].unique())
        gap = grid.difference(own)
        if len(gap):
            raise DataValidationError(
                f"geo {g!r} has no rows for {len(gap)} of the {len(grid)} dates the other geos "
                f"have (e.g. {gap[0].date()}); every geo needs the same date grid (a zero-spend "
                "period is a row of zeros, not a missing row)"
            )


def _population(frame: pd.DataFrame, column: str, geo: pd.Series) -> dict[str, float]:
    """One positive population per geo, from a column constant within each geo."""
    if column not in frame.columns:
        raise DataValidationError(
            f"no population column {column!r} (model config geo.population); columns are "
            f"{list(frame.columns)}"
        )
    values = pd.to_numeric(frame[column], errors="coerce")
    bad = values.isna().to_numpy()
    if bad.any():
        geos = sorted(set(geo[bad]))
        raise DataValidationError(
            f"population column {column!r}: {example_rows(bad)} are missing or not numbers "
            f"(geos {geos}); every geo needs its population"
        )
    low = (values <= 0).to_numpy()
    if low.any():
        raise DataValidationError(
            f"population column {column!r}: {example_rows(low)} are <= 0 (geo "
            f"{geo[low].iloc[0]!r}: {values[low].iloc[0]:g}); a population must be > 0"
        )
    spread = values.groupby(geo, sort=False).agg(["min", "max"])
    varying = spread.index[spread["min"] != spread["max"]].tolist()
    if varying:
        rows = geo.isin(varying[:1]).to_numpy()
        raise DataValidationError(
            f"population column {column!r} varies over time within geos {varying} (e.g. "
            f"{varying[0]!r}, {example_rows(rows)}); give each geo one constant population"
        )
    return {str(g): float(v) for g, v in spread["min"].items()}


def _in_frame_rows(message: str, positions: np.ndarray) -> str:
    """Rewrite ``rows 0, 3`` of one geo's rows as the positions in the whole frame."""

    def mapped(match: re.Match[str]) -> str:
        return "rows " + ", ".join(str(positions[int(i)]) for i in match.group(1).split(", "))

    return _ROWS.sub(mapped, message)


def _validate_geos(
    frame: pd.DataFrame, geo: pd.Series, names: Sequence[str], drop: list[str], checks: Any
) -> list[pd.DataFrame]:
    """The national checks on each geo's rows (in date order); errors name geo and rows."""
    order = np.argsort(pd.to_datetime(frame["date"]).to_numpy(), kind="stable")
    out = []
    for g in names:
        positions = order[(geo.to_numpy() == g)[order]]
        rows = frame.iloc[positions].drop(columns=drop).reset_index(drop=True)
        try:
            out.append(validate_frame(rows, all_zero_ok=True, **checks))
        except DataValidationError as exc:
            raise DataValidationError(f"geo {g!r}: {_in_frame_rows(str(exc), positions)}") from None
    return out


def _warn_silent(clean: list[pd.DataFrame], names: Sequence[str], media: Sequence[str]) -> None:
    silent = [
        (g, c) for g, part in zip(names, clean, strict=True) for c in media if not part[c].any()
    ]
    for c in media:
        if len([1 for _, ch in silent if ch == c]) == len(names):
            raise DataValidationError(
                f"spend column {c!r} is zero in every period of every geo: its effect cannot be "
                "estimated; drop the channel from the config"
            )
    if silent:
        listed = ", ".join(f"{g!r}/{c!r}" for g, c in silent[:5])
        more = f" (and {len(silent) - 5} more)" if len(silent) > 5 else ""
        warnings.warn(
            f"zero spend in every period for geo/channel {listed}{more}: those geos say nothing "
            "about that channel's effect, which follows the other geos (partial pooling)",
            GeoDataWarning,
            stacklevel=4,
        )


def _assemble(
    clean: list[pd.DataFrame],
    names: Sequence[str],
    geo_column: str,
    population: str | None,
    pop: dict[str, float],
) -> pd.DataFrame:
    """The geos' checked rows as one frame: date-major, geos in ``names`` order, geo second."""
    parts = []
    for i, (g, part) in enumerate(zip(names, clean, strict=True)):
        part[geo_column], part["_code"] = g, i
        parts.append(part)
    out = pd.concat(parts, ignore_index=True).sort_values(["date", "_code"], kind="stable")
    out = out.drop(columns="_code").reset_index(drop=True)
    if population:
        out[population] = out[geo_column].map(pop).astype(np.float64)
    first = ["date", geo_column] + ([population] if population else [])
    return out[first + [c for c in out.columns if c not in first]]


def validate_geo_frame(
    frame: pd.DataFrame,
    *,
    geo_column: str,
    population: str | None = None,
    **checks: Any,
) -> tuple[pd.DataFrame, list[str], dict[str, float]]:
    """Validate a long (date, geo) modeling frame.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per (date, geo): ``date``, the geo column, an optional population column and
        the columns :func:`~mediamix.data.validation.validate_frame` expects.
    geo_column : str
        The column naming each row's geo.
    population : str, optional
        The column holding each geo's population (constant within a geo, > 0). Without it,
        every geo has population 1.
    **checks
        ``channels``, ``outcome``, ``controls``, ``min_rows``... as ``validate_frame`` takes
        them; ``min_rows`` counts dates per geo.

    Returns
    -------
    tuple
        The typed frame sorted by date then geo (geos in their order of first appearance) with
        the geo column second, the geo names in that order, and the population per geo.

    Raises
    ------
    DataValidationError
        Naming the first problem: the geo, the column, rows of ``frame`` and what is allowed.

    Warns
    -----
    GeoDataWarning
        When a channel has zero spend in every period of some (not all) geos.
    """
    if not isinstance(frame, pd.DataFrame):
        raise DataValidationError(f"expected a pandas DataFrame, got {type(frame).__name__}")
    names = geo_names(frame, geo_column)
    geo = frame[geo_column].astype(str).reset_index(drop=True).rename(geo_column)
    frame = frame.reset_index(drop=True)
    dates = pd.to_datetime(frame["date"], errors="coerce") if "date" in frame else None
    if dates is not None and not dates.isna().any():
        _check_pairs(frame, dates, geo)
        _check_grid(dates, geo, names)
    pop = _population(frame, population, geo) if population else dict.fromkeys(names, 1.0)
    drop = [geo_column] + ([population] if population else [])
    clean = _validate_geos(frame, geo, names, drop, checks)
    media = [*checks.get("channels", ()), *checks.get("organic", ())]
    _warn_silent(clean, names, media)
    return _assemble(clean, names, geo_column, population, pop), names, pop
