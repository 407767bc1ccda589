"""Fit one benchmark dataset with PyMC-Marketing, in a fresh process of ``.venv-bench``.

``python -m bench.run_pymc_marketing SPEC.json OUT.json``. PyMC-Marketing's ``MMM`` is set up as
close to the mediamix model as the two allow:

- spend scaled by its maximum and the outcome by its maximum (PyMC-Marketing's default scaling,
  the same as mediamix's);
- ``GeometricAdstock(l_max)`` (normalized) and ``LogisticSaturation()``, adstock first;
- ``yearly_seasonality`` with the same number of Fourier modes;
- controls divided by their maximum absolute value, as mediamix does internally, and the linear
  trend as one more control column, time scaled to [0, 1] over the data window;
- with ``priors: matched`` (the default) every prior set to mediamix's, which the spec carries;
  with ``priors: default`` PyMC-Marketing's own.

The sampler is PyMC-Marketing's default (``pm.sample`` with no ``nuts_sampler``, which picks
nutpie when it is installed) with the spec's chains, draws, tuning steps and seed.
"""

from __future__ import annotations

import time

T_START = time.time()

import warnings  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import xarray as xr  # noqa: E402
from pymc_extras.prior import Prior  # noqa: E402
from pymc_marketing.mmm import MMM, GeometricAdstock, LogisticSaturation  # noqa: E402

from bench.metrics import (  # noqa: E402
    convergence,
    read_args,
    roas_vs_truth,
    sampler_settings,
    write_result,
)

TREND_COLUMN = "_trend"
CHANNEL_VARS = ["adstock_alpha", "saturation_lam", "saturation_beta"]


def _prior(spec: dict[str, Any], **kwargs: Any) -> Prior:
    """A ``Prior`` from ``{"dist": NAME, PARAM: value, ...}``."""
    params = {k: v for k, v in spec.items() if k != "dist"}
    return Prior(spec["dist"], **params, **kwargs)


def _vector_prior(specs: list[dict[str, Any]], dims: str) -> Prior:
    """One prior over ``dims`` whose parameters differ per element (one family for all)."""
    families = {s["dist"] for s in specs}
    if len(families) != 1:
        raise ValueError(f"one prior family is needed for all of {dims}, got {sorted(families)}")
    params: dict[str, Any] = {}
    for name in (k for k in specs[0] if k != "dist"):
        values = [float(s[name]) for s in specs]
        same = len(set(values)) == 1
        params[name] = values[0] if same else xr.DataArray(np.array(values), dims=dims)
    return Prior(specs[0]["dist"], **params, dims=dims)


def matched_model_config(priors: dict[str, Any], n_controls: int) -> dict[str, Prior]:
    """PyMC-Marketing's ``model_config`` with mediamix's priors.

    Parameters
    ----------
    priors : dict
        mediamix's priors as ``{"dist": ..., params}`` mappings: ``intercept``, ``sigma``,
        ``adstock_alpha``, ``saturation_lam``, ``beta``, ``seasonality``, ``control``, ``trend``.
    n_controls : int
        Number of control columns before the trend column.

    Returns
    -------
    dict
        The ``model_config`` mapping for ``MMM``.
    """
    controls = [priors["control"]] * n_controls + ([priors["trend"]] if priors["trend"] else [])
    config = {
        "intercept": _prior(priors["intercept"]),
        "likelihood": Prior("Normal", sigma=_prior(priors["sigma"]), dims="date"),
        "adstock_alpha": _prior(priors["adstock_alpha"], dims="channel"),
        "saturation_lam": _prior(priors["saturation_lam"], dims="channel"),
        "saturation_beta": _prior(priors["beta"], dims="channel"),
        "gamma_fourier": _prior(priors["seasonality"], dims="fourier_mode"),
    }
    if controls:
        config["gamma_control"] = _vector_prior(controls, dims="control")
    return config


def model_frame(frame: pd.DataFrame, spec: dict[str, Any]) -> tuple[pd.DataFrame, list[str]]:
    """The ``X`` frame for ``MMM.fit`` and its control columns (scaled controls, trend)."""
    X = frame[["date", *spec["channels"]]].copy()
    controls = []
    for c in spec["controls"]:
        peak = float(np.abs(frame[c]).max())
        X[c] = frame[c] / (peak if peak > 0 else 1.0)
        controls.append(c)
    if spec["trend"]:
        days = (frame["date"] - frame["date"].iloc[0]).dt.days
        X[TREND_COLUMN] = days / max(int(days.iloc[-1]), 1)
        controls.append(TREND_COLUMN)
    return X, controls


def main() -> None:
    """Run the fit the spec describes and write its result."""
    spec, out = read_args()
    t_imported = time.time()
    frame = pd.read_csv(spec["csv"], parse_dates=["date"])
    X, controls = model_frame(frame, spec)
    model_config = (
        matched_model_config(spec["priors"], len(spec["controls"]))
        if spec["prior_mode"] == "matched"
        else None
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t0 = time.time()
        mmm = MMM(
            date_column="date",
            channel_columns=spec["channels"],
            target_column=spec["outcome"],
            adstock=GeometricAdstock(l_max=spec["l_max"]),
            saturation=LogisticSaturation(),
            control_columns=controls or None,
            yearly_seasonality=spec["yearly_order"] or None,
            model_config=model_config,
        )
        idata = mmm.fit(
            X,
            frame[spec["outcome"]],
            chains=spec["chains"],
            draws=spec["draws"],
            tune=spec["tune"],
            random_seed=spec["seed"],
            progressbar=False,
        )
        t_fit = time.time()
    post = idata["posterior"].to_dataset()
    stats = idata["sample_stats"].to_dataset()
    sampling = float(post.attrs.get("sampling_time", float("nan")))
    free_vars = [rv.name for rv in mmm.model.free_RVs]
    target_scale = float(idata["constant_data"]["target_scale"].values)
    contributions = post["channel_contribution"].sum("date") * target_scale
    spend = {ch: float(frame[ch].sum()) for ch in spec["channels"]}
    record: dict[str, Any] = {
        "library": "pymc-marketing",
        "sampler": str(post.attrs.get("inference_library", "pymc")),
        "prior_mode": spec["prior_mode"],
        "sampler_settings": sampler_settings(stats),
        "import_s": t_imported - T_START,
        "fit_s": t_fit - t0,
        "sampling_s": sampling,
        "free_vars": free_vars,
        "channel_vars": CHANNEL_VARS,
        **convergence(post, stats, free_vars, CHANNEL_VARS, sampling),
        "roas": roas_vs_truth(contributions, spend, spec["true_roas"], spec["hdi_prob"]),
        "warnings": sorted({f"{w.category.__name__}: {w.message}" for w in caught}),
        "draws_total": int(post.sizes["chain"] * post.sizes["draw"]),
    }
    write_result(out, record, t_fit)


if __name__ == "__main__":
    main()
