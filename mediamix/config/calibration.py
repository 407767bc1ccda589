"""Config sections for calibrating a model with experiments: lift tests and ROAS priors.

``calibration: {lift_tests: PATH}`` in the model config (or ``mediamix fit --lift-tests PATH``)
adds each lift test of the CSV file (or lakehouse table) at ``PATH`` to the likelihood; when a
fit starts, the tests are read and kept in ``calibration.tests``, so a saved fit carries the
tests it was calibrated with. A channel's ``prior: {roas: {dist: LogNormal, mu: 0.5, sigma:
0.3}}`` (``mediamix.config.model.ChannelPriorConfig``) puts its prior on the channel's ROAS over
the data window instead of on ``beta`` (see :mod:`mediamix.model.calibration`).
"""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from mediamix.config.base import StrictModel

__all__ = ["CalibrationConfig", "LiftTestRecord"]


class LiftTestRecord(StrictModel):
    """One lift test as kept in a fit's config (the table's columns; ISO date strings)."""

    channel: str = Field(min_length=1)
    start_date: str
    end_date: str
    spend_delta: float
    lift: float
    lift_se: float
    geo: str | None = None


class CalibrationConfig(StrictModel):
    """Lift tests for the likelihood: ``lift_tests`` (a CSV path or table name) or ``tests``.

    ``tests`` holds the tests themselves once read (a fit stores them there, so it never needs
    the file again); give one of the two.
    """

    lift_tests: str | None = Field(default=None, min_length=1)
    tests: list[LiftTestRecord] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.lift_tests is not None and self.tests:
            raise ValueError("give lift_tests (a file or table) or tests (the rows), not both")
        return self
