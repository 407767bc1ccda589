"""One small real fit shared by the analysis, optimizer and plot tests (fitted once per session)."""

from __future__ import annotations

import warnings
from functools import cache
from pathlib import Path

from mediamix.config.model import load_model_config
from mediamix.data.generator import Generator, SyntheticData
from mediamix.inference.diagnostics import ConvergenceWarning
from mediamix.inference.fit import FitResult, fit

REPO = Path(__file__).resolve().parents[1]
GEN_CONFIG = REPO / "config/generator/basic_config.yaml"
MODEL_CONFIG = REPO / "config/model/basic_config.yaml"


@cache
def small_fit() -> tuple[SyntheticData, FitResult]:
    """The shipped generator's data fitted with PyMC's NUTS, 2 chains x (200 tune + 200 draws)."""
    synthetic = Generator.from_config_file(GEN_CONFIG).generate()
    config = load_model_config(MODEL_CONFIG).with_sampler(
        sampler="pymc", draws=200, tune=200, chains=2
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # so few draws miss the ESS threshold
        result = fit(synthetic.data, config)
    return synthetic, result
