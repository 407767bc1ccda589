"""A user's own table as the modeling frame: its date column, event labels, holidays, extras.

:func:`prepare_frame` reads a frame the way the model config describes it, so a CSV does not
have to be rewritten first:

- ``date_column`` (default ``date``) is renamed to ``date``, parsed with ``date_format`` when
  one is given (ISO dates otherwise);
- each ``events`` column holds labels (``na``, ``none`` or empty: no event) and becomes one 0/1
  indicator control per label, named ``<column>_<label>``;
- ``holidays: {country: US}`` becomes one 0/1 control, ``holiday_US``, set in every period that
  contains a public holiday of that calendar (the ``holidays`` package);
- a channel given as ``{exposure: facebook_I, spend: facebook_S}`` gets its exposure column
  copied to a column named after the channel (the model's media input); the spend column is
  kept for ROAS and the optimizer;
- columns the config does not name are dropped, listed once in an :class:`UnusedColumnsWarning`.

The derived controls are appended to the config's ``controls``, so they enter the model through
the control term of :mod:`mediamix.model.forward` like any other control, in the fit, in plan
predictions and in everything else computed from a fit. :func:`plan_controls` derives them for
a spend plan that does not carry them.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

import numpy as np
import pandas as pd

from mediamix.config.model import ModelConfig
from mediamix.data.frames import example_rows
from mediamix.data.validation import DataValidationError

__all__ = ["NO_EVENT", "UnusedColumnsWarning", "exposure_inputs", "plan_controls", "prepare_frame"]

#: Labels of an events column that mean "no event" (compared case-insensitively).
NO_EVENT = frozenset({"", "na", "n/a", "nan", "none", "null", "-"})


class UnusedColumnsWarning(UserWarning):
    """Columns of the data that the model config does not name; they are ignored."""


def _slug(label: str) -> str:
    return re.sub(r"[^0-9A-Za-z]+", "_", label).strip("_") or "event"


def _parse_dates(frame: pd.DataFrame, config: ModelConfig) -> pd.DataFrame:
    """Rename ``date_column`` to ``date`` and parse it with ``date_format`` (ISO by default)."""
    column = config.date_column
    if column != "date" and column in frame.columns:
        frame = frame.rename(columns={column: "date"})
    elif "date" not in frame.columns:
        raise DataValidationError(
            f"no date column {column!r}; columns are {list(frame.columns)}. Set date_column in "
            "the model config to the column that holds the dates"
        )
    raw = frame["date"]
    if pd.api.types.is_datetime64_any_dtype(raw):
        return frame
    fmt = config.date_format or "ISO8601"
    parsed = pd.to_datetime(raw.astype("string").str.strip(), format=fmt, errors="coerce")
    bad = parsed.isna().to_numpy()
    if bad.any():
        raise DataValidationError(
            f"column {column!r}: {example_rows(bad)} do not match the date format "
            f"{config.date_format or 'ISO (2021-03-01)'} (e.g. {raw[bad].iloc[0]!r}); set "
            "date_format in the model config, e.g. '%d/%m/%Y'"
        )
    return frame.assign(date=parsed)


def _event_indicators(frame: pd.DataFrame, column: str) -> dict[str, np.ndarray]:
    """One 0/1 indicator per label of an events column, named ``<column>_<label>``."""
    if column not in frame.columns:
        raise DataValidationError(
            f"events column {column!r} is missing; columns are {list(frame.columns)}"
        )
    labels = frame[column].astype("string").fillna("").str.strip()
    out: dict[str, np.ndarray] = {}
    for label in sorted(set(labels) - {x for x in set(labels) if x.lower() in NO_EVENT}):
        name = f"{column}_{_slug(label)}"
        out[name] = np.maximum(out.get(name, 0.0), (labels == label).to_numpy(dtype=np.float64))
    return out


def _holiday_indicator(
    dates: pd.Series, config: ModelConfig, step: int | None = None
) -> np.ndarray:
    """1.0 in every period (``[date, date + step)``) that contains a public holiday."""
    import holidays

    assert config.holidays is not None
    days = pd.DatetimeIndex(dates).normalize()
    if step is None:  # the data's own spacing; a single row counts as a week
        gaps = np.diff(days.values).astype("timedelta64[D]").astype(int)
        step = int(np.median(gaps)) if len(gaps) else 7
    years = range(days.min().year - 1, days.max().year + 2)
    calendar = holidays.country_holidays(
        config.holidays.country, subdiv=config.holidays.subdivision, years=years
    )
    hits = pd.DatetimeIndex(sorted(calendar)).normalize()
    # a holiday counts for the period that starts on or before it, within the period's length
    pos = np.searchsorted(days.values, hits.values, side="right") - 1
    lag = (hits.values - days.values[np.clip(pos, 0, None)]).astype("timedelta64[D]").astype(int)
    ok = (pos >= 0) & (lag < max(step, 1))
    out = np.zeros(len(days))
    out[pos[ok]] = 1.0
    return out


def _derived_controls(frame: pd.DataFrame, config: ModelConfig) -> dict[str, np.ndarray]:
    derived: dict[str, np.ndarray] = {}
    for column in config.events:
        done = [c for c in config.controls if c.startswith(f"{column}_") and c in frame.columns]
        if column not in frame.columns and done:
            continue  # a frame prepared before (a fold of a validation): indicators are there
        derived |= _event_indicators(frame, column)
    if config.holidays is not None:
        derived[config.holidays.column] = _holiday_indicator(frame["date"], config)
    return derived


def prepare_frame(frame: pd.DataFrame, config: ModelConfig) -> tuple[pd.DataFrame, ModelConfig]:
    """Turn a user's table into the modeling frame that ``config`` describes.

    Parameters
    ----------
    frame : pandas.DataFrame
        The data as read: its own date column and format, event label columns, extra columns.
    config : ModelConfig
        The model config (``date_column``, ``date_format``, ``events``, ``holidays``).

    Returns
    -------
    tuple of (pandas.DataFrame, ModelConfig)
        The frame with ``date``, the named columns and the derived controls, and the config
        with the derived controls added to ``controls`` (unchanged when there are none).

    Raises
    ------
    DataValidationError
        If the date column is missing or a date does not parse (rows named), or an events
        column is missing.

    Warns
    -----
    UnusedColumnsWarning
        Once, listing the columns that the config does not name (they are dropped).
    """
    if not isinstance(frame, pd.DataFrame):
        raise DataValidationError(f"expected a pandas DataFrame, got {type(frame).__name__}")
    frame = _parse_dates(frame, config)
    frame = exposure_inputs(frame, config)
    derived = _derived_controls(frame, config)
    if derived:
        frame = frame.assign(**derived)
        added = [c for c in derived if c not in config.controls]
        config = config.model_copy(update={"controls": [*config.controls, *added]})
    spend = [s for _, s in config.exposure_channels.values()]
    named = ["date", *config.channel_names, *spend, *config.organic_names, *config.controls]
    named += config.index_variables
    if config.geo is not None:  # a geo model's long frame: its geo and population columns
        named[1:1] = [config.geo.column] + (
            [config.geo.population] if config.geo.population else []
        )
    named.append(config.outcome.name)
    exposures = [e for e, _ in config.exposure_channels.values()]
    unused = [c for c in frame.columns if c not in {*named, *config.events, *exposures}]
    if unused:
        warnings.warn(
            f"ignoring columns the model config does not name: {unused}",
            UnusedColumnsWarning,
            stacklevel=2,
        )
    return frame[[c for c in named if c in frame.columns]], config


def column_roles(config: ModelConfig) -> dict[str, Any]:
    """What each column of a modeling frame is, as the frame validators take it.

    Returns
    -------
    dict
        Keyword arguments of :func:`mediamix.data.validation.validate_frame` (and of the geo
        validator): ``channels``, ``organic``, ``exposure``, ``spend``, ``outcome``, ``controls``,
        ``index_variables``.
    """
    exposed = config.exposure_channels
    return {
        "channels": config.channel_names,
        "organic": config.organic_names,
        "exposure": {c: e for c, (e, _) in exposed.items()},
        "spend": [s for _, s in exposed.values()],
        "outcome": config.outcome.name,
        "controls": config.controls,
        "index_variables": config.index_variables,
    }


def exposure_inputs(frame: pd.DataFrame, config: ModelConfig, what: str = "data") -> pd.DataFrame:
    """Copy each exposure channel's exposure column to the channel's name, its media input.

    A frame that already holds the channel's column (prepared before) is left as it is.

    Raises
    ------
    DataValidationError
        If an exposure column is missing (the channel and the column named).
    """
    copies = {}
    for channel, (exposure, _) in config.exposure_channels.items():
        if exposure in frame.columns:
            copies[channel] = frame[exposure]
        elif channel not in frame.columns:
            raise DataValidationError(
                f"channels.{channel}: exposure column {exposure!r} is missing from the {what}; "
                f"columns are {list(frame.columns)}"
            )
    return frame.assign(**copies) if copies else frame


def plan_controls(plan: pd.DataFrame, config: ModelConfig, step: int) -> pd.DataFrame:
    """Add the derived controls a spend plan lacks: holidays from its dates, events from labels.

    A plan may carry the indicator columns themselves, or the raw events column (labels the fit
    never saw count as no event), or neither: then no event happens in the plan's periods, and
    the holiday control comes from its dates. ``step`` is the model's
    period length in days.
    """
    if not (config.events or config.holidays) or "date" not in plan.columns:
        return plan
    missing = [c for c in config.controls if c not in plan.columns]
    if not missing:
        return plan
    dates = pd.to_datetime(plan["date"], errors="coerce")
    if dates.isna().any():
        return plan  # predict_plan names the bad dates
    out = plan.copy()
    if config.holidays is not None and config.holidays.column in missing:
        out[config.holidays.column] = _holiday_indicator(dates, config, step)
    for column in config.events:
        found = _event_indicators(plan, column) if column in plan.columns else {}
        for name in missing:
            if name.startswith(f"{column}_") and name not in out.columns:
                out[name] = found.get(name, np.zeros(len(plan)))
    return out
