"""A plan for the periods right after a fit's data, at recent spend: the served model's example."""

from __future__ import annotations

import pandas as pd

from mediamix.data.frames import DATE_DTYPE, PERIOD_DAYS
from mediamix.inference.fit import FitResult

__all__ = ["example_plan"]


def example_plan(result: FitResult, periods: int = 4) -> pd.DataFrame:
    """A plan for the ``periods`` periods after the training window, at recent spend levels.

    Each channel spends its mean over the last 13 training periods; controls and index
    variables keep their last training value. Used as the MLflow model's input example.

    Parameters
    ----------
    result : FitResult
        The fit.
    periods : int, default 4
        Number of periods.

    Returns
    -------
    pandas.DataFrame
        Columns :func:`plan_columns`.
    """
    frame = result.frame
    step = pd.Timedelta(days=PERIOD_DAYS[result.scalers.frequency])
    last = pd.Timestamp(frame["date"].iloc[-1])
    dates = pd.DatetimeIndex([last + step * (k + 1) for k in range(periods)]).astype(DATE_DTYPE)
    plan = pd.DataFrame({"date": dates})
    recent = frame.tail(13)
    for ch in result.channels:
        plan[result.config.media_column(ch)] = float(round(recent[ch].mean(), 2))
    for ch in result.config.organic_names:
        plan[ch] = float(round(recent[ch].mean(), 2))
    for c in [*result.config.controls, *result.config.index_variables]:
        plan[c] = frame[c].iloc[-1]
    return plan
