"""How a calibrated fit agrees with its lift tests: the ``calibration`` section of a summary.

For each lift test the fit was calibrated with (:mod:`mediamix.model.calibration`): the measured
lift and its standard error, the posterior of the predicted lift (mean and HDI), and the z-score
``(measured - predicted mean) / sqrt(lift_se**2 + predicted sd**2)``. A test with ``|z| > 4``
after fitting disagrees with the rest of the data (or its measurement is off) and is reported as
a warning.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mediamix.analysis.metrics import interval
from mediamix.inference.fit import FitResult
from mediamix.model.calibration import LIFT_DIM

__all__ = ["Z_WARNING", "calibration_summary"]

#: A test whose |z-score| after fitting exceeds this is reported as a warning.
Z_WARNING = 4.0


def calibration_summary(result: FitResult) -> dict[str, Any] | None:
    """The lift tests of a calibrated fit, each against its posterior predicted lift.

    Parameters
    ----------
    result : FitResult
        A fit; one without lift tests gives None.

    Returns
    -------
    dict or None
        ``{"tests": [{"channel", "start_date", "end_date", "spend_delta", "lift", "lift_se",
        "predicted": {"mean", "hdi_low", "hdi_high"}, "z"}], "warnings": [str, ...]}``; a geo
        model's tests also have ``"geo"`` (its geos, separated by ``;``).
    """
    records = result.config.calibration.tests
    post = result.posterior
    if not records or "lift_test_predicted" not in post:
        return None
    predicted = post["lift_test_predicted"].stack(sample=("chain", "draw"))
    tests, warnings = [], []
    for i, rec in enumerate(records):
        draws = predicted.isel({LIFT_DIM: i}).to_numpy()
        spread = float(np.hypot(rec.lift_se, draws.std()))
        z = (rec.lift - float(draws.mean())) / spread
        tests.append(
            {
                **rec.model_dump(exclude_none=True),
                "predicted": interval(draws, result.config.hdi_prob).to_dict(),
                "z": z,
            }
        )
        if abs(z) > Z_WARNING:
            where = f" in {rec.geo}" if rec.geo else ""
            warnings.append(
                f"lift test {i + 1} ({rec.channel}{where} {rec.start_date}..{rec.end_date}): "
                "measured "
                f"lift {rec.lift:g} is {z:+.1f} standard errors from the fit's prediction "
                f"{float(draws.mean()):g}; the test disagrees with the rest of the data or its "
                "measurement is off"
            )
    return {"tests": tests, "warnings": warnings}
