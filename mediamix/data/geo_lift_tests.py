"""Lift tests matched to a geo model's data: each test's geos and its spend change per geo.

A geo model's lift test names the geo it ran in (the ``geo`` column), or several geos separated
by ``;`` (``north;south``) for one test whose ``lift``, ``lift_se`` and ``spend_delta`` are
totals over those geos. Several rows naming one geo each are separate tests, each with its own
measurement. ``spend_delta`` is spread evenly over the test's periods and split across its geos
in proportion to each geo's observed spend of the channel over the test's window. That is exact
for the usual design, a change of every test geo's spend by the same fraction: the observed
spend is then ``(1 + change)`` times the spend without the test in every geo. When the test geos
have no spend of the channel at all in the window (a complete go-dark), it is split by their
spend of the channel over the rest of the data instead.

Checks, each naming the row and the field: every test names a geo and every geo is a geo of the
data (the error lists them), the channel has spend in the test geos somewhere in the data, and
in every test geo and period the spend without the test (the observed spend minus the geo's
share of the change per period) is not negative: an increase larger than a geo's observed spend
is refused. A go-dark test's spend without it is the observed spend plus the cut, never
negative. The national checks (:func:`mediamix.data.lift_tests.validate_lift_table`,
:func:`mediamix.data.lift_tests.match_lift_tests`) come first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from mediamix.data.lift_tests import (
    GEO_COLUMN,
    GEO_SEPARATOR,
    LiftTestError,
    LiftTests,
    geo_names_of,
    match_lift_tests,
    validate_lift_table,
)

__all__ = ["GeoLiftTests", "geo_lift_tests_for_data"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
_LISTED = 12  # geos named in an error before "... (N in all)"


@dataclass(frozen=True)
class GeoLiftTests:
    """Geo lift tests matched to the data: the tests, and one entry per (test, geo) pair.

    Attributes
    ----------
    tests : LiftTests
        One entry per test (row), as for a national model; labels end with the test's geos.
    pair_test : numpy.ndarray
        ``(pair,)``: the test of each (test, geo) pair, tests in order, each test's geos in
        the order the row lists them.
    pair_geo : numpy.ndarray
        ``(pair,)``: the pair's geo, as a position on the model's geo axis.
    pair_delta : numpy.ndarray
        ``(pair,)``: the pair's share of its test's ``spend_delta`` (currency, total over the
        window); a test's shares add up to its ``spend_delta``.
    """

    tests: LiftTests
    pair_test: IntArray
    pair_geo: IntArray
    pair_delta: FloatArray

    def __len__(self) -> int:
        return len(self.tests)

    def pair_delta_per_period(self) -> FloatArray:
        """Each pair's spend change per period of its test's window, currency."""
        t = self.tests
        return self.pair_delta / (t.end - t.start + 1)[self.pair_test]


def _listing(geos: Sequence[str]) -> str:
    shown = ", ".join(repr(g) for g in geos[:_LISTED])
    return f"[{shown}]" if len(geos) <= _LISTED else f"[{shown}, ...] ({len(geos)} in all)"


def _test_geos(table: pd.DataFrame, geos: Sequence[str], source: str) -> list[list[str]]:
    """Each row's geos, every one a geo of the data."""
    values = table[GEO_COLUMN] if GEO_COLUMN in table.columns else [None] * len(table)
    out = []
    for row, value in enumerate(values, start=1):
        names = geo_names_of(value)
        where = f"{source}: row {row}, {GEO_COLUMN}"
        if not names:
            raise LiftTestError(
                f"{where}: missing; a geo model's lift test names the geo it ran in (several "
                f"separated by {GEO_SEPARATOR!r}), one of {_listing(geos)}"
            )
        unknown = [g for g in names if g not in geos]
        if unknown:
            raise LiftTestError(
                f"{where}: {unknown[0]!r} is not a geo of the data; the geos are {_listing(geos)}"
            )
        out.append(names)
    return out


def _shares(tests: LiftTests, i: int, spend: FloatArray, geos: IntArray, source: str) -> Any:
    """How test ``i``'s change splits over its geos: by observed spend in the window."""
    c, rows = tests.channel[i], slice(tests.start[i], tests.end[i] + 1)
    window = spend[rows, geos, c].sum(axis=0)
    if window.sum() > 0:
        return window / window.sum()
    rest = spend[:, geos, c].sum(axis=0) - window  # a complete go-dark: spend elsewhere
    if rest.sum() > 0:
        return rest / rest.sum()
    raise LiftTestError(
        f"{source}: row {i + 1}, {GEO_COLUMN}: the channel of the test has no spend in its geos "
        "in any period of the data; a test there changed nothing the model can see"
    )


def _check_spend(found: GeoLiftTests, spend: FloatArray, geos: Sequence[str], source: str) -> None:
    """In every test geo and period, the spend without the test is not negative."""
    tests = found.tests
    for p, per_period in enumerate(found.pair_delta_per_period()):
        i, g = int(found.pair_test[p]), int(found.pair_geo[p])
        window = spend[tests.start[i] : tests.end[i] + 1, g, tests.channel[i]]
        if np.any(window - per_period < -1e-9 * max(1.0, abs(per_period))):
            share = found.pair_delta[p] / tests.spend_delta[i]
            raise LiftTestError(
                f"{source}: row {i + 1}, spend_delta: {tests.spend_delta[i]:g} gives geo "
                f"{geos[g]!r} {found.pair_delta[p]:g} ({share:.0%}, its share of the test geos' "
                f"observed spend) over {len(window)} periods, {per_period:g} per period, more "
                f"than its observed spend ({window.min():g} in its lowest period, "
                f"{window.sum():g} in all) of the window, which already includes the test's "
                "change; the spend without the test (observed minus the change) cannot be negative"
            )


def geo_lift_tests_for_data(
    table: pd.DataFrame,
    dates: Sequence[Any] | pd.Series | pd.DatetimeIndex,
    geos: Sequence[str],
    spend: FloatArray,
    channels: Sequence[str],
    source: str = "lift tests",
) -> GeoLiftTests:
    """Match a lift-test table to a geo model's data (see the module docstring).

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`~mediamix.data.lift_tests.validate_lift_table`, with a ``geo`` column.
    dates : sequence of dates
        The data's dates, sorted, each once.
    geos : sequence of str
        The data's geos, in the order of the geo axis of ``spend``.
    spend : numpy.ndarray
        Observed spend (currency, the test's change included), ``(date, geo, channel)``.
    channels : sequence of str
        The modeled channels, in the order of the channel axis of ``spend``.
    source : str
        Where the table came from, for error messages.

    Returns
    -------
    GeoLiftTests

    Raises
    ------
    LiftTestError
        Naming the row and field: any national check, a missing or unknown geo, a channel
        without spend in the test geos, a spend without the test below zero in some geo.
    """
    table = validate_lift_table(table, source)
    geos = list(geos)
    test_geos = _test_geos(table, geos, source)
    tests = match_lift_tests(table, dates, channels, source)
    spend = np.asarray(spend, dtype=np.float64)
    pair_test = np.repeat(np.arange(len(tests)), [len(g) for g in test_geos]).astype(np.intp)
    pair_geo = np.array([geos.index(g) for names in test_geos for g in names], dtype=np.intp)
    shares = np.concatenate(
        [_shares(tests, i, spend, pair_geo[pair_test == i], source) for i in range(len(tests))]
    )
    found = GeoLiftTests(tests, pair_test, pair_geo, tests.spend_delta[pair_test] * shares)
    _check_spend(found, spend, geos, source)
    return found
