"""A short real fit of the shipped public dataset with its own config (fitted once per session).

Robyn's weekly data as published: its own column names, an exposure channel beside its spend,
an organic channel, an events column and a holiday calendar. The sampler is the config's default
(nutpie, with the automatic escalation on divergences), only with short chains.
"""

from __future__ import annotations

import warnings
from functools import cache
from pathlib import Path

from mediamix.config.model import load_model_config
from mediamix.data.public.datasets import load
from mediamix.inference.diagnostics import ConvergenceWarning
from mediamix.inference.fit import FitResult, fit

REPO = Path(__file__).resolve().parents[1]
ROBYN_CONFIG = REPO / "config/model/robyn_weekly.yaml"


@cache
def robyn_fit() -> FitResult:
    """``robyn_weekly``, ``config/model/robyn_weekly.yaml``, 2 chains x (300 tune + 200 draws)."""
    config = load_model_config(ROBYN_CONFIG).with_sampler(draws=200, tune=300, chains=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # so few draws may miss the ESS bar
        return fit(load("robyn_weekly"), config)
