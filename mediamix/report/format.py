"""Numbers as people read them: thousands separators, currency, outcome units, "per week".

Every figure in the report and the planner goes through these helpers, so a ROAS reads the same
everywhere (``2.41 sales per $1``) and an amount always has its unit and period.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

__all__ = ["Units", "fmt_amount", "fmt_number", "fmt_percent", "period_of"]


def period_of(dates: pd.Series) -> str:
    """The period of a modeling frame's dates: ``"week"``, ``"day"`` or ``"period"``.

    The median gap is used, so one missing date does not change the answer.
    """
    values = pd.to_datetime(pd.Series(dates)).sort_values().to_numpy()
    if len(values) < 2:
        return "period"
    days = float(np.median(np.diff(values)) / np.timedelta64(1, "D"))
    return {1.0: "day", 7.0: "week"}.get(round(days, 3), "period")


def fmt_number(value: float, digits: int = 0) -> str:
    """``1234567.8`` -> ``"1,234,568"``; NaN or infinity -> ``"n/a"``."""
    if value is None or not math.isfinite(float(value)):
        return "n/a"
    return f"{float(value):,.{digits}f}"


def fmt_amount(value: float, currency: str = "", digits: int = 0) -> str:
    """An amount of money with its currency in front: ``"$12,345"``, ``"-$1,200"``."""
    text = fmt_number(abs(float(value)) if value is not None else float("nan"), digits)
    if text == "n/a":
        return text
    return f"{'-' if float(value) < 0 else ''}{currency}{text}"


def fmt_percent(value: float, digits: int = 1) -> str:
    """A fraction as a percentage: ``0.1234`` -> ``"12.3 %"``."""
    if value is None or not math.isfinite(float(value)):
        return "n/a"
    return f"{100 * float(value):.{digits}f} %"


class Units:
    """The units of one fit: currency, outcome name and period, with formatting helpers.

    Parameters
    ----------
    outcome : str
        The outcome column (``sales``).
    period : str
        ``week``, ``day`` or ``period`` (see :func:`period_of`).
    currency : str, default ""
        Put in front of amounts of money (``$``, ``€``); none by default.
    """

    def __init__(self, outcome: str, period: str, currency: str = "") -> None:
        self.outcome = outcome
        self.period = period
        self.currency = currency

    @property
    def per_period(self) -> str:
        """``"per week"``."""
        return f"per {self.period}"

    @property
    def roas_unit(self) -> str:
        """What a ROAS is measured in: ``"sales per $1"`` (``"sales per 1 spent"`` without)."""
        spent = f"{self.currency}1" if self.currency else "1 spent"
        return f"{self.outcome} per {spent}"

    def money(self, value: float, digits: int = 0) -> str:
        """An amount of money: ``"$12,345"``."""
        return fmt_amount(value, self.currency, digits)

    def outcome_amount(self, value: float, digits: int = 0) -> str:
        """An amount of outcome with its name: ``"12,345 sales"``."""
        return f"{fmt_number(value, digits)} {self.outcome}"

    def to_dict(self) -> dict[str, str]:
        """JSON for the planner's front end."""
        return {"outcome": self.outcome, "period": self.period, "currency": self.currency}
