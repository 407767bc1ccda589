"""The fit window: rows inside it only, carry-over from the warm-up rows before it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from mediamix.config.base import ConfigError, parse_config
from mediamix.config.model import ModelConfig
from mediamix.data.validation import DataValidationError
from mediamix.model import forward, registry
from mediamix.model.builder import build_model, prepare_data

L_MAX = 6


@pytest.fixture
def data(rng: np.random.Generator) -> pd.DataFrame:
    n = 80
    return pd.DataFrame(
        {
            "date": pd.date_range("2021-01-04", periods=n, freq="7D"),
            "tv": rng.uniform(100, 1000, n),
            "newsletter": rng.uniform(0, 50, n),
            "sales": rng.uniform(900, 1100, n),
        }
    )


def _config(**window: str) -> ModelConfig:
    media = {"adstock": {"l_max": L_MAX}}
    return parse_config(
        ModelConfig,
        {
            "outcome": {"name": "sales"},
            "channels": {"tv": media},
            "organic_channels": {"newsletter": media},
            "window": window,
        },
    )


def test_window_keeps_its_rows_and_the_warmup_rows_before_it(data: pd.DataFrame) -> None:
    md = prepare_data(data, _config(start="2021-05-03", end="2022-03-28"))
    inside = (data["date"] >= "2021-05-03") & (data["date"] <= "2022-03-28")
    assert md.dates.equals(pd.DatetimeIndex(data.loc[inside, "date"]).astype(md.dates.dtype))
    np.testing.assert_array_equal(md.y, data.loc[inside, "sales"])
    assert (md.scalers.start_date, md.scalers.end_date) == ("2021-05-03", "2022-03-28")
    assert md.scalers.spend_max == {"tv": float(data.loc[inside, "tv"].max())}
    first = int(np.flatnonzero(inside)[0])  # row 17
    before = data.iloc[first - (L_MAX - 1) : first]
    np.testing.assert_array_equal(md.warmup()[:, 0], before["tv"])
    np.testing.assert_array_equal(md.warmup(organic=True)[:, 0], before["newsletter"])
    warm = md.scalers.warmup_frame()
    assert list(warm["date"]) == list(before["date"])
    # a window at the data's start has no rows before it to warm up with
    assert prepare_data(data, _config(end="2021-12-27")).warmup().shape == (0, 1)
    assert len(prepare_data(data, _config(start="2021-01-18")).warmup()) == 2


def _model_values(model: Any, names: list[str]) -> dict[str, np.ndarray]:
    outs = [model[n] for n in names]
    fn = model.compile_fn(outs, inputs=model.value_vars, on_unused_input="ignore")
    return dict(zip(names, fn(model.initial_point(random_seed=7)), strict=True))


def _expected(spend: np.ndarray, scale: float, alpha: Any, lam: Any, beta: Any) -> np.ndarray:
    """The media term computed directly with the forward pass (numpy), one channel."""
    stages = [
        [
            forward.Group(
                registry.build("adstock", "geometric", {"l_max": L_MAX}), [0], {"alpha": alpha}
            )
        ],
        [forward.Group(registry.build("saturation", "logistic", {}), [0], {"lam": lam})],
    ]
    return np.asarray(forward.media(spend[:, None], np.array([scale]), stages, beta))[:, 0]


def test_warmup_spend_carries_over_into_the_first_window_weeks(data: pd.DataFrame) -> None:
    cfg = _config(start="2021-05-03")
    first = 17
    data.loc[first, "tv"] = 0.0  # the window's first week spends nothing: all of it carries over
    md = prepare_data(data, cfg)
    model = build_model(md, cfg)
    names = ["adstock_alpha", "saturation_lam", "beta", "channel_contribution", "y_scale"]
    v = _model_values(model, names)
    y_scale, scale = float(v["y_scale"]), md.scalers.spend_max["tv"]
    params = (v["adstock_alpha"], v["saturation_lam"], v["beta"])
    tv = data["tv"].to_numpy()
    with_warmup = _expected(tv[first - (L_MAX - 1) :], scale, *params)[L_MAX - 1 :] * y_scale
    without = _expected(tv[first:], scale, *params) * y_scale
    got = v["channel_contribution"][:, 0]
    np.testing.assert_allclose(got, with_warmup, rtol=1e-10)
    # the warm-up adds carry-over to the first l_max - 1 weeks only, and never takes any away
    # (>= past the first week: a saturated curve can round a small carry-over away)
    assert (got[: L_MAX - 1] >= without[: L_MAX - 1]).all()
    assert got[: L_MAX - 1].sum() > without[: L_MAX - 1].sum()
    assert without[0] == 0.0 and got[0] > 0.0
    np.testing.assert_allclose(got[L_MAX - 1 :], without[L_MAX - 1 :], rtol=1e-10)
    # the same holds for organic media
    o = _model_values(
        model,
        ["organic_adstock_alpha", "organic_saturation_lam", "organic_beta", "organic_contribution"],
    )
    organic = _expected(
        data["newsletter"].to_numpy()[first - (L_MAX - 1) :],
        md.scalers.organic_max["newsletter"],
        o["organic_adstock_alpha"],
        o["organic_saturation_lam"],
        o["organic_beta"],
    )
    np.testing.assert_allclose(o["organic_contribution"][:, 0], organic[L_MAX - 1 :] * y_scale)


def test_rows_outside_the_window_do_not_enter_the_likelihood(data: pd.DataFrame) -> None:
    cfg = _config(start="2021-05-03", end="2022-03-28")
    model = build_model(prepare_data(data, cfg), cfg)
    point = model.initial_point(random_seed=7)
    logp = model.compile_logp()(point)
    # changing the outcome outside the window changes nothing; inside it, the likelihood moves
    outside = data.assign(sales=np.where(data["date"] < "2021-05-03", 1e6, data["sales"]))
    outside.loc[outside["date"] > "2022-03-28", "sales"] = -5.0
    again = build_model(prepare_data(outside, cfg), cfg)
    assert again.compile_logp()(point) == pytest.approx(logp, rel=1e-12)
    inside = data.assign(sales=np.where(data["date"] == "2021-06-07", 5000.0, data["sales"]))
    assert build_model(prepare_data(inside, cfg), cfg).compile_logp()(point) != pytest.approx(logp)
    assert len(model.coords["date"]) == len(model["y"].eval()) == 48


@pytest.mark.parametrize(
    ("window", "message"),
    [
        (
            {"start": "2019-01-07"},
            r"window.start 2019-01-07 is outside the data, which runs from 2021-01-04 to "
            "2022-07-11",
        ),
        ({"end": "2023-01-02"}, r"window.end 2023-01-02 is outside the data"),
        (
            {"start": "2021-05-05"},
            r"window.start 2021-05-05 is not one of the data's dates, which run from 2021-01-04 "
            "to 2022-07-11 every 7 day",
        ),
        (
            {"start": "2022-05-02"},
            r"window 2022-05-02 to 2022-07-11 holds 11 rows; this model needs at least",
        ),
    ],
)
def test_bad_windows_name_the_key_and_the_allowed_range(
    data: pd.DataFrame, window: dict[str, str], message: str
) -> None:
    with pytest.raises(DataValidationError, match=message):
        prepare_data(data, _config(**window))


def test_window_end_before_start_and_command_line_overrides() -> None:
    with pytest.raises(ConfigError, match=r"window: end 2021-01-04 is before start 2021-05-03"):
        _config(start="2021-05-03", end="2021-01-04")
    cfg = _config(start="2021-05-03").with_window(end="2022-01-03")
    assert (str(cfg.window.start), str(cfg.window.end)) == ("2021-05-03", "2022-01-03")
    assert str(cfg.with_window(start="2021-02-01").window.start) == "2021-02-01"
    with pytest.raises(ConfigError, match=r"(?s)--start/--end.*end 2021-01-04 is before start"):
        cfg.with_window(end="2021-01-04")


def test_a_channel_with_no_spend_inside_the_window_is_refused(data: pd.DataFrame) -> None:
    quiet = data.assign(tv=np.where(data["date"] >= "2022-01-03", 0.0, data["tv"]))
    with pytest.raises(
        DataValidationError, match=r"window 2022-01-03 to 2022-07-11: spend column 'tv' is zero"
    ):
        prepare_data(quiet, _config(start="2022-01-03"))
