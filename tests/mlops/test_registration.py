"""Registration follows convergence: a fit that did not converge is logged, not registered."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from mediamix.mlops.tracking import tracked_run
from tests.shared_fit import small_fit


@pytest.mark.parametrize("anyway", [False, True])
def test_unconverged_fit_is_registered_only_when_asked(anyway: bool, tmp_path: Path) -> None:
    _, result = small_fit()  # 2 x 200 draws: below the ESS threshold
    assert not result.diagnostics().converged
    store = f"sqlite:///{tmp_path}/mlflow.db"
    with tracked_run(result.config, tracking_uri=store, experiment="registration") as run:
        summary = run.log_fit(result, register_as="gated", figures=False, register_anyway=anyway)
    client = MlflowClient(store, registry_uri=store)
    tags = client.get_run(run.run_id).data.tags
    versions = client.search_model_versions("name='gated'")
    assert run.model_uri  # the model is logged either way
    if anyway:
        assert [v.run_id for v in versions] == [run.run_id]
        assert run.registration_skipped is None
        assert summary["registration"] == "registered as 'gated'"
    else:
        assert not versions and run.registered_model is None
        for said in (summary["registration"], tags["mediamix.registration"]):
            assert said.startswith("not registered as 'gated': the fit did not converge")
            assert "min bulk ESS" in said and "--register-anyway" in said
