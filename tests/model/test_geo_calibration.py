"""Geo lift tests in the likelihood and ROAS priors of the geo model, against hand computations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from shared_geo_fit import GEOS, WEEKS, geo_config, geo_frame

from mediamix.config.base import parse_config
from mediamix.config.model import ModelConfig
from mediamix.data.lift_tests import LiftTestError
from mediamix.model.builder import build_model
from mediamix.model.calibration import resolve_calibration

L_MAX = 3  # geo_config's adstock window


def _tests(**changes: object) -> pd.DataFrame:
    rows: dict[str, list[object]] = {
        "channel": ["tv", "search", "tv"],
        "start_date": [WEEKS[0], WEEKS[10], WEEKS[20]],  # the first starts on the first date
        "end_date": [WEEKS[3], WEEKS[15], WEEKS[20]],
        "spend_delta": [-900.0, 300.0, -50.0],
        "lift": [-50.0, 20.0, -3.0],
        "lift_se": [5.0, 4.0, 1.0],
        "geo": ["north", "south; east", "east"],
    }
    for key, (row, value) in changes.items():  # type: ignore[misc]
        rows[key][row] = value
    return pd.DataFrame(rows)


def _by_hand(x: np.ndarray, alpha: float, lam: float, beta: float, x_max: float) -> np.ndarray:
    """beta * logistic(normalized geometric adstock(x / x_max)), written out with loops."""
    w = alpha ** np.arange(L_MAX)
    w = w / w.sum()
    z = x / x_max
    ad = np.array([sum(w[j] * z[t - j] for j in range(L_MAX) if t - j >= 0) for t in range(len(z))])
    return beta * (1 - np.exp(-lam * ad)) / (1 + np.exp(-lam * ad))


def _point_values(model, names: list[str]):  # type: ignore[no-untyped-def]
    point = model.initial_point(random_seed=7)
    point = {k: v + 0.1 * np.arange(v.size).reshape(v.shape) for k, v in point.items()}
    fn = model.compile_fn(
        [model[n] for n in names], inputs=model.value_vars, on_unused_input="ignore"
    )
    return fn(point)


def test_predicted_geo_lift_matches_a_hand_computation() -> None:
    frame, tests = geo_frame(), _tests()
    model = build_model(frame, resolve_calibration(geo_config(), tests))
    names = ["lift_test_predicted", "beta_geo", "adstock_alpha", "saturation_lam", "y_scale"]
    pred, beta_geo, alpha, lam, y_scale = _point_values(model, names)
    geos, channels = list(GEOS), ["tv", "search"]
    per_capita = {c: frame[c] / frame["population"] for c in channels}
    x_max = {c: per_capita[c].max() for c in channels}
    dates = pd.Series(WEEKS)
    for i, row in tests.iterrows():
        c = channels.index(row["channel"])
        test_geos = [g.strip() for g in row["geo"].split(";")]
        rows = ((dates >= row["start_date"]) & (dates <= row["end_date"])).to_numpy()
        spend = {g: frame.loc[frame["geo"] == g, row["channel"]].to_numpy() for g in test_geos}
        observed = np.array([spend[g][rows].sum() for g in test_geos])
        expected = 0.0
        for g, share in zip(test_geos, observed / observed.sum(), strict=True):
            pop, k = GEOS[g], geos.index(g)
            without = spend[g] - rows * row["spend_delta"] * share / rows.sum()
            args = (alpha[c], lam[c], beta_geo[k, c], x_max[row["channel"]])
            f = _by_hand(spend[g] / pop, *args)
            h = _by_hand(without / pop, *args)
            expected += y_scale * pop * (f - h)[rows].sum()
        assert pred[i] == pytest.approx(expected, rel=1e-9)
        assert abs(expected) > 0
    assert tuple(model.coords["lift_test"]) == (
        f"tv {WEEKS[0].date()}..{WEEKS[3].date()} north",
        f"search {WEEKS[10].date()}..{WEEKS[15].date()} south;east",
        f"tv {WEEKS[20].date()}..{WEEKS[20].date()} east",
    )
    observed = model["lift_test_observed"]
    assert observed.owner is not None and model.rvs_to_values[observed] is not None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"geo": (1, "south;west")}, "row 2, geo: 'west' is not a geo of the data; the geos are"),
        ({"geo": (0, "")}, "row 1, geo: missing; a geo model's lift test names the geo"),
        ({"geo": (2, "east;east")}, "row 3, geo: 'east;east' lists ['east'] more than once"),
        ({"geo": (2, "east;")}, "row 3, geo: 'east;' has an empty geo name"),
        ({"channel": (0, "radio")}, "row 1, channel: 'radio' is not a modeled channel"),
        ({"start_date": (1, "2020-01-06")}, "row 2, start_date: 2020-01-06 is outside the data"),
        ({"lift_se": (2, 0.0)}, "row 3, lift_se: 0.0 must be > 0"),
        # an increase of 5000 in east alone over one week: more than east's observed spend
        ({"spend_delta": (2, 5000.0)}, "row 3, spend_delta: 5000 gives geo 'east' 5000 (100%"),
    ],
)
def test_bad_geo_tests_name_the_row_and_field(changes: dict, message: str) -> None:
    with pytest.raises(LiftTestError) as err:
        build_model(geo_frame(), resolve_calibration(geo_config(), _tests(**changes)))
    assert message in str(err.value)


def test_a_geo_test_list_in_another_order_is_the_same_test() -> None:
    tests = pd.concat([_tests(), _tests().iloc[[1]].assign(geo="east;south")], ignore_index=True)
    with pytest.raises(LiftTestError, match=r"row 4, channel: the test of 'search' in 'east;sou"):
        resolve_calibration(geo_config(), tests)


def test_a_go_dark_test_is_valid_however_large_and_splits_by_spend() -> None:
    from mediamix.data.geo_lift_tests import geo_lift_tests_for_data
    from mediamix.data.lift_tests import validate_lift_table

    frame = geo_frame()
    spend = frame[["tv", "search"]].to_numpy().reshape(len(WEEKS), len(GEOS), 2).copy()
    table = validate_lift_table(_tests(spend_delta=(1, -1e6)))
    found = geo_lift_tests_for_data(table, WEEKS, list(GEOS), spend, ["tv", "search"])
    window = spend[10:16, [1, 2], 1].sum(axis=0)  # south and east, search, weeks 10..15
    np.testing.assert_allclose(found.pair_delta[1:3], -1e6 * window / window.sum())
    assert found.pair_test.tolist() == [0, 1, 1, 2] and found.pair_geo.tolist() == [0, 1, 2, 2]
    # a complete go-dark (no spend left in the window) splits by the spend outside it
    spend[10:16, [1, 2], 1] = 0.0
    found = geo_lift_tests_for_data(table, WEEKS, list(GEOS), spend, ["tv", "search"])
    rest = spend[:, [1, 2], 1].sum(axis=0)
    np.testing.assert_allclose(found.pair_delta[1:3], -1e6 * rest / rest.sum())
    spend[:, [1, 2], 1] = 0.0
    with pytest.raises(LiftTestError, match="row 2, geo: the channel of the test has no spend"):
        geo_lift_tests_for_data(table, WEEKS, list(GEOS), spend, ["tv", "search"])


def test_a_national_model_still_refuses_a_geo() -> None:
    national = parse_config(
        ModelConfig,
        {**geo_config().model_dump(mode="json", exclude={"geo"}, exclude_none=True)},
    )
    frame = geo_frame().query("geo == 'north'").drop(columns=["geo", "population"])
    with pytest.raises(LiftTestError, match="row 1, geo: 'north' given, but the model is national"):
        build_model(frame.reset_index(drop=True), resolve_calibration(national, _tests()))


def test_one_geo_test_compiles_for_nutpie() -> None:
    from mediamix.inference.nutpie_callback import c_callback_model

    # one test: a length-1 dim must not put its length (an integer) into nutpie's float buffer
    model = build_model(geo_frame(), resolve_calibration(geo_config(), _tests().iloc[[1]]))
    assert c_callback_model(model) is not None
