"""Conventions every frame in the package follows: date dtypes, period lengths, row references.

The modeling frame, the lakehouse tables and a spend plan all store calendar dates as
:data:`DATE_DTYPE` and instants as :data:`TIMESTAMP_DTYPE`; a period is one day or one week
(:data:`PERIOD_DAYS`); and an error about some rows names them with :func:`example_rows`.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

__all__ = ["DATE_DTYPE", "PERIOD_DAYS", "TIMESTAMP_DTYPE", "Frequency", "example_rows"]

#: dtype of a calendar-date column (tz-naive, at midnight): Delta's ``date``
DATE_DTYPE: Literal["datetime64[us]"] = "datetime64[us]"
#: dtype of an instant (tz-aware, in UTC): Delta's ``timestamp``
TIMESTAMP_DTYPE: Literal["datetime64[us, UTC]"] = "datetime64[us, UTC]"

#: A modeling frame's period.
Frequency = Literal["daily", "weekly"]
#: Days in one period of each frequency.
PERIOD_DAYS: dict[str, int] = {"daily": 1, "weekly": 7}


def example_rows(mask: pd.Series | npt.ArrayLike, limit: int = 5) -> str:
    """Name the rows where ``mask`` holds, for an error message: ``rows 3, 7 (and 2 more)``.

    Parameters
    ----------
    mask : pandas.Series or array_like of bool
        One flag per row; positions (not index labels) are reported.
    limit : int, default 5
        Most row numbers to list; the rest are counted.

    Returns
    -------
    str
        ``rows`` followed by the first ``limit`` positions.
    """
    idx = np.flatnonzero(np.asarray(mask))
    shown = ", ".join(str(i) for i in idx[:limit])
    more = f" (and {len(idx) - limit} more)" if len(idx) > limit else ""
    return f"rows {shown}{more}"
