"""Load the public datasets shipped in this folder: see the package docstring for each one."""

from __future__ import annotations

from importlib import resources

import pandas as pd

from mediamix.errors import MediamixError

__all__ = ["DATASETS", "load", "path"]

#: Dataset name -> (file, one line of attribution).
DATASETS: dict[str, tuple[str, str]] = {
    "robyn_weekly": (
        "robyn_weekly.csv",
        "Robyn dt_simulated_weekly, (c) Meta Platforms, Inc. and affiliates, MIT licence",
    ),
}


def path(name: str) -> str:
    """The installed file of dataset ``name`` (for a CLI ``--data`` argument).

    Raises
    ------
    MediamixError
        If ``name`` is not one of :data:`DATASETS`.
    """
    if name not in DATASETS:
        raise MediamixError(f"no public dataset {name!r}; available: {sorted(DATASETS)}")
    return str(resources.files("mediamix.data.public").joinpath(DATASETS[name][0]))


def load(name: str) -> pd.DataFrame:
    """Load public dataset ``name`` as it was published (its own column names, dates as text).

    Parameters
    ----------
    name : str
        One of :data:`DATASETS` (``robyn_weekly``).

    Returns
    -------
    pandas.DataFrame
        The CSV's columns and rows; the ``events`` label ``na`` stays text.

    Raises
    ------
    MediamixError
        If ``name`` is not one of :data:`DATASETS`.
    """
    # keep_default_na=False: "na" is an event label here, not a missing value
    return pd.read_csv(path(name), keep_default_na=False)
