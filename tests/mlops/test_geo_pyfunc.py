"""A geo fit as an MLflow pyfunc: logged to a real store, loaded back, plans per geo in."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow.exceptions import MlflowException
from shared_geo_fit import prior_geo_fit

from mediamix.analysis.geo_plan import NATIONAL, example_geo_plan, predict_geo_plan
from mediamix.mlops.pyfunc import log_model, model_signature


@pytest.mark.slow
def test_the_served_geo_model_predicts_per_geo_and_refuses_unknown_geos(tmp_path: Path) -> None:
    result = prior_geo_fit()
    signature = model_signature(result)
    inputs = {c.name: c for c in signature.inputs.inputs}
    assert inputs["geo"].required is False
    assert signature.outputs.input_names()[:2] == ["date", "geo"]
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    mlflow.set_experiment("geo")
    with mlflow.start_run():
        info = log_model(result, draws=20)
    model = mlflow.pyfunc.load_model(info.model_uri)
    plan = example_geo_plan(result, periods=2)
    got = model.predict(plan)
    assert (got.pop("warning") == "").all()
    want = predict_geo_plan(result, plan, draws=20)
    pd.testing.assert_frame_equal(got, want, check_dtype=False, rtol=1e-12)
    # a national plan (no geo column) is split at the historical shares
    national = plan.groupby("date", as_index=False)[["tv", "search"]].sum().assign(price=1.5)
    out = model.predict(national)
    assert out["geo"].iloc[0] == NATIONAL and set(out["geo"]) == {NATIONAL, *result.scalers.geos}
    bad = plan.assign(geo=plan["geo"].replace("north", "atlantis"))
    with pytest.raises(MlflowException, match="unknown geo") as info_err:
        model.predict(bad)
    assert info_err.value.error_code == "INVALID_PARAMETER_VALUE"
    assert "'north', 'south', 'east'" in str(info_err.value)
