"""A NUTS fit that diverges is sampled again at a higher target_accept, and says why."""

from __future__ import annotations

import warnings
from typing import Any

import pytest

from mediamix.analysis.summary import fit_summary
from mediamix.config.model import load_model_config
from mediamix.data.generator import Generator
from mediamix.inference import fit as fit_module
from mediamix.inference.diagnostics import ConvergenceWarning
from tests.shared_fit import GEN_CONFIG, MODEL_CONFIG


def _recording_sampler(monkeypatch: pytest.MonkeyPatch, diverge_first: bool) -> list[float]:
    """Wrap the real sampler: record each call's target_accept, fake divergences on the first."""
    real = fit_module.sample_posterior
    calls: list[float] = []

    def sample(model: Any, sampler: Any, **kwargs: Any) -> Any:
        calls.append(sampler.target_accept)
        idata = real(model, sampler, **kwargs)
        if diverge_first and len(calls) == 1:
            stats = idata["sample_stats"].to_dataset()
            stats["diverging"][0, :7] = True
            idata["sample_stats"] = type(idata)(stats)
        return idata

    monkeypatch.setattr(fit_module, "sample_posterior", sample)
    return calls


@pytest.mark.parametrize("diverge_first", [True, False])
def test_divergent_fit_is_escalated_once(
    diverge_first: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _recording_sampler(monkeypatch, diverge_first)
    data = Generator.from_config_file(GEN_CONFIG).generate().data
    config = load_model_config(MODEL_CONFIG).with_sampler(
        sampler="pymc", draws=60, tune=60, chains=2
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        result = fit_module.fit(data, config)
    diag = fit_summary(result)["diagnostics"]
    if diverge_first:
        assert calls == [0.95, 0.99]
        assert result.config.sampler.target_accept == 0.99 == diag["target_accept"]
        reason = "7 divergent transitions at target_accept 0.95; sampled again at 0.99"
        assert result.idata.attrs["target_accept_escalation"] == reason
        assert diag["target_accept_escalation"] == reason
    else:
        assert calls == [0.95]
        assert diag["target_accept_escalation"] is None


def test_escalation_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _recording_sampler(monkeypatch, diverge_first=True)
    data = Generator.from_config_file(GEN_CONFIG).generate().data
    config = load_model_config(MODEL_CONFIG).with_sampler(
        sampler="pymc", draws=60, tune=60, chains=2, max_target_accept=0.95
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        result = fit_module.fit(data, config)
    assert calls == [0.95]
    assert result.diagnostics().divergences == 7
