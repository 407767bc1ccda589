"""A geo model's fit window: the same dates in every geo, each geo's warm-up spend carried over."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from mediamix.config.base import parse_config
from mediamix.config.model import ModelConfig
from mediamix.data.validation import DataValidationError
from mediamix.model import forward, registry
from mediamix.model.builder import build_model, prepare_data
from tests.shared_geo_fit import GEOS, WEEKS, geo_config, geo_frame

L_MAX = 3  # the shared geo config's adstock window
START = str(WEEKS[10].date())


def _config(**window: str) -> ModelConfig:
    raw = geo_config().model_dump(mode="json", exclude_unset=True)
    return parse_config(ModelConfig, {**raw, "window": window})


def test_window_keeps_its_dates_in_every_geo_and_the_warmup_before_it() -> None:
    frame = geo_frame()
    md = prepare_data(frame, _config(start=START, end=str(WEEKS[25].date())))
    assert md.frame["date"].nunique() == 16 and len(md.frame) == 16 * len(GEOS)
    assert md.scalers.start_date == START and md.scalers.geos == list(GEOS)
    warm = md.scalers.warmup_frame()
    assert list(warm.columns) == ["date", "geo", "tv", "search"]
    assert list(warm["date"].unique()) == list(WEEKS[10 - (L_MAX - 1) : 10])
    expected = frame[frame["date"].isin(WEEKS[8:10])].reset_index(drop=True)
    np.testing.assert_array_equal(warm["tv"], expected["tv"])
    assert list(warm["geo"]) == list(expected["geo"])
    # per capita scales come from the window's rows only
    inside = frame[frame["date"].isin(WEEKS[10:26])]
    assert md.scalers.spend_max["tv"] == pytest.approx((inside["tv"] / inside["population"]).max())


def _values(model: Any, names: list[str]) -> dict[str, np.ndarray]:
    outs = model.replace_rvs_by_values([model[n] for n in names])  # functions of the point
    fn = model.compile_fn(outs, inputs=model.value_vars, on_unused_input="ignore")
    point = model.initial_point(random_seed=7)
    point = {k: v + 0.05 * np.arange(v.size).reshape(v.shape) for k, v in point.items()}
    return dict(zip(names, fn(point), strict=True))


def test_each_geos_warmup_spend_carries_over_into_the_window() -> None:
    frame = geo_frame()
    first = frame["date"] == WEEKS[10]
    frame.loc[first & (frame["geo"] == "south"), "tv"] = 0.0  # all of it carries over
    cfg = _config(start=START)
    md = prepare_data(frame, cfg)
    model = build_model(md, cfg)
    names = ["adstock_alpha", "saturation_lam", "beta_geo", "y_scale", "channel_contribution"]
    v = _values(model, names)
    pop = np.array(list(GEOS.values()))
    cube = (
        np.stack([frame[frame["geo"] == g][["tv", "search"]].to_numpy() for g in GEOS], axis=1)
        / pop[None, :, None]
    )
    spend_max = np.array([md.scalers.spend_max[c] for c in ("tv", "search")])
    stages = [
        [
            forward.Group(
                registry.build("adstock", "geometric", {"l_max": L_MAX}),
                [0, 1],
                {"alpha": v["adstock_alpha"]},
            )
        ],
        [
            forward.Group(
                registry.build("saturation", "logistic", {}), [0, 1], {"lam": v["saturation_lam"]}
            )
        ],
    ]
    full = np.asarray(forward.media_geo(cube[8:], spend_max, stages, v["beta_geo"]))
    expected = full[L_MAX - 1 :] * v["y_scale"] * pop[None, :, None]
    got = v["channel_contribution"]
    np.testing.assert_allclose(got, expected, rtol=1e-10)
    south = list(GEOS).index("south")
    assert got[0, south, 0] > 0  # no spend that week, carry-over from the warm-up only
    cold = np.asarray(forward.media_geo(cube[10:], spend_max, stages, v["beta_geo"]))
    assert cold[0, south, 0] == 0.0


def test_windows_that_cannot_be_fitted_are_refused() -> None:
    with pytest.raises(DataValidationError, match=r"window.start 2022-01-03 is outside the data"):
        prepare_data(geo_frame(), _config(start="2022-01-03"))
    with pytest.raises(DataValidationError, match=r"holds 3 rows; this model needs at least"):
        prepare_data(geo_frame(), _config(start=str(WEEKS[27].date())))


def test_a_window_without_spend_on_a_channel_is_refused_naming_the_window() -> None:
    frame = geo_frame()
    frame.loc[frame["date"] >= WEEKS[10], "search"] = 0.0
    with pytest.raises(DataValidationError, match=r"window 2023-03-13 to None: .*search"):
        prepare_data(frame, _config(start=START))


def test_plans_after_a_windowed_fit_read_the_warmup_as_history() -> None:
    from mediamix.analysis.geo_plan import _history
    from mediamix.inference.fit import FitResult

    frame = geo_frame()
    cfg = _config(start=START)
    md = prepare_data(frame, cfg)
    result = FitResult(None, md.frame, cfg, md.scalers, {})  # type: ignore[arg-type]
    dates = pd.DatetimeIndex([WEEKS[10]])
    history = _history(result, dates, list(GEOS), 2)
    expected = np.stack(
        [
            frame[(frame["geo"] == g) & frame["date"].isin(WEEKS[8:10])]["tv"].to_numpy()
            for g in GEOS
        ],
        axis=1,
    )
    np.testing.assert_allclose(history[:, :, 0], expected)
