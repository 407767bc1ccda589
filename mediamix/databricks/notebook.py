"""Plumbing for the accelerator's notebooks: typed parameters, display, and small helpers.

The notebooks at the repository root (``01_MMM Data Gen.py``, ``02_MMM PyMC Example.py``) run
in two places with the same code:

- **on Databricks** (``dbutils`` in the notebook's globals): each parameter is a text widget
  (created with its default, so a job's parameters or a user's edits fill it in), and
  :meth:`Notebook.show` hands tables and figures to Databricks' ``display``;
- **as plain Python** (``python "02_MMM PyMC Example.py"`` from the repository root): each
  parameter comes from the environment variable ``MEDIAMIX_<NAME>`` (``MEDIAMIX_DRAWS=200``),
  else its default; tables are printed and figures saved as PNG files under
  ``$MEDIAMIX_OUTPUT_DIR`` (default ``out/notebooks``), one folder per notebook.

Parameters are frozen dataclasses whose field names are the widget names; an empty value means
"not set" for optional fields (``draws`` empty: the model config's value). :data:`NOTEBOOKS`
maps each notebook to its parameters, which is how ``RUNME.py`` builds the job's parameters.
At import time this module loads only the standard library and
:mod:`mediamix.lakehouse.names` (itself standard library only), so a notebook can read its
parameters before anything heavy is loaded.
"""

from __future__ import annotations

import dataclasses
import os
import re
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mediamix.databricks.display import format_number
from mediamix.errors import MediamixError
from mediamix.lakehouse.names import DEFAULT_CATALOG, DEFAULT_SCHEMA, TableName
from mediamix.scaleout.params import FitManyParams

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from mediamix.analysis.optimize import Allocation
    from mediamix.mlops.tracking import TrackedRun

__all__ = [
    "ENV_PREFIX",
    "NOTEBOOKS",
    "OUTPUT_DIR_ENV",
    "DataGenParams",
    "ModelParams",
    "Notebook",
    "ParameterError",
    "env_var",
    "job_parameters",
    "log_allocation",
    "mlflow_ui_command",
    "param_defaults",
    "read_params",
    "widget_names",
]

ENV_PREFIX = "MEDIAMIX_"
OUTPUT_DIR_ENV = "MEDIAMIX_OUTPUT_DIR"
DEFAULT_OUTPUT_DIR = "out/notebooks"
REPO_ROOT = Path(__file__).resolve().parents[2]


class ParameterError(MediamixError):
    """A notebook parameter whose value cannot be used (not a number, unknown, ...)."""


def _widget(label: str) -> dict[str, str]:
    return {"label": label}


# --------------------------------------------------------------------------- parameters


@dataclass(frozen=True)
class DataGenParams:
    """Parameters of ``01_MMM Data Gen``: where the tables go and what data to generate."""

    catalog: str = field(default=DEFAULT_CATALOG, metadata=_widget("Catalog of the tables"))
    schema: str = field(default=DEFAULT_SCHEMA, metadata=_widget("Schema of the tables"))
    generator_config: str = field(
        default="config/generator/basic_config.yaml",
        metadata=_widget("Generator config (path from the repo root)"),
    )
    data_seed: int | None = field(
        default=None, metadata=_widget("Seed of the synthetic data (empty: the config's)")
    )
    raw_path: str | None = field(
        default=None,
        metadata=_widget("Folder of raw feeds, e.g. /Volumes/main/mediamix/raw (empty: synthetic)"),
    )


@dataclass(frozen=True)
class ModelParams:
    """Parameters of ``02_MMM PyMC Example``: data, model, sampler, tracking and budget."""

    catalog: str = field(default=DEFAULT_CATALOG, metadata=_widget("Catalog of the tables"))
    schema: str = field(default=DEFAULT_SCHEMA, metadata=_widget("Schema of the tables"))
    gold_table: str = field(default="mmm_gold", metadata=_widget("Gold table to model"))
    model_config: str = field(
        default="config/model/basic_config.yaml",
        metadata=_widget("Model config (path from the repo root)"),
    )
    experiment: str = field(
        default="mediamix",
        metadata=_widget("MLflow experiment (on Databricks a workspace path; else /Shared/NAME)"),
    )
    registered_model: str = field(
        default="mmm",
        metadata=_widget("Registered model name (catalog.schema.NAME in Unity Catalog)"),
    )
    sampler: str | None = field(
        default=None, metadata=_widget("Sampler: nutpie, nutpie-native, pymc, numpyro, advi")
    )
    draws: int | None = field(default=None, metadata=_widget("Draws per chain (empty: config)"))
    tune: int | None = field(default=None, metadata=_widget("Tuning steps (empty: config)"))
    chains: int | None = field(default=None, metadata=_widget("Chains (empty: config)"))
    sampler_seed: int | None = field(default=None, metadata=_widget("Sampler seed (empty: config)"))
    budget: float | None = field(
        default=None, metadata=_widget("Budget per period (empty: current total spend)")
    )
    bounds: str = field(
        default="*=-30%:+30%",
        metadata=_widget("Budget bounds, CHANNEL=MIN:MAX separated by spaces"),
    )
    calibration_weeks: int | None = field(
        default=None,
        metadata=_widget("Weeks of a simulated lift test to calibrate with (empty: skip)"),
    )
    compile_cache: str = field(
        default="auto",
        metadata=_widget(
            "Compile cache folder kept between runs (auto: /Volumes/<catalog>/<schema>/cache/"
            "compile on Databricks, none elsewhere; empty: none)"
        ),
    )

    @property
    def gold_table_name(self) -> str:
        """The gold table's full name: ``catalog.schema.table`` (missing parts from widgets)."""
        return str(TableName.parse(self.gold_table, catalog=self.catalog, schema=self.schema))

    @property
    def registered_model_name(self) -> str | None:
        """The name to register under, or ``None`` (no registration) when the widget is empty.

        :func:`mediamix.mlops.target.registered_model_name` with the parts the widget leaves
        out taken from the ``catalog`` and ``schema`` widgets: ``catalog.schema.name`` in
        Unity Catalog, the name as given elsewhere.
        """
        if not self.registered_model.strip():
            return None
        from mediamix.mlops.target import registered_model_name

        return registered_model_name(
            self.registered_model, catalog=self.catalog, schema=self.schema
        )

    @property
    def compile_cache_root(self) -> Path | None:
        """The compile cache's folder, or None for none.

        :func:`mediamix.inference.compile_key.resolve_root` with :attr:`catalog` and
        :attr:`schema`: ``auto`` is their ``cache`` Volume on Databricks.
        """
        from mediamix.inference.compile_key import resolve_root

        return resolve_root(self.compile_cache, catalog=self.catalog, schema=self.schema)

    @property
    def bounds_list(self) -> list[str]:
        """:attr:`bounds` split into ``CHANNEL=MIN:MAX`` items (commas or spaces)."""
        return [b for b in re.split(r"[,\s]+", self.bounds.strip()) if b]


#: Notebook (file name without ``.py``) -> its parameters; ``RUNME.py`` builds the job from it.
NOTEBOOKS: dict[str, type[Any]] = {
    "01_MMM Data Gen": DataGenParams,
    "02_MMM PyMC Example": ModelParams,
    "03_MMM Fit Many": FitManyParams,
}


def env_var(name: str) -> str:
    """The environment variable of a parameter: ``draws`` -> ``MEDIAMIX_DRAWS``."""
    return ENV_PREFIX + name.upper()


def widget_names(cls: type[Any]) -> list[str]:
    """The widget (parameter) names of a parameters class, in order."""
    return [f.name for f in dataclasses.fields(cls)]


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def param_defaults(cls: type[Any]) -> dict[str, str]:
    """Defaults of a parameters class as widget text (``None`` as ``""``)."""
    return {f.name: _text(f.default) for f in dataclasses.fields(cls)}


def job_parameters(
    env: Mapping[str, str] | None = None, notebooks: Iterable[str] | None = None
) -> dict[str, str]:
    """The notebooks' parameters with their values as text, for a job that runs them.

    Parameters
    ----------
    env : mapping, optional
        Environment to read ``MEDIAMIX_<NAME>`` overrides from; ``os.environ`` by default.
    notebooks : iterable of str, optional
        Which notebooks of :data:`NOTEBOOKS` the job runs; all of them by default.

    Returns
    -------
    dict
        ``{name: value}`` in notebook order; a name shared by notebooks appears once.

    Raises
    ------
    ParameterError
        If two notebooks give the same parameter different defaults.
    """
    env = os.environ if env is None else env
    out: dict[str, str] = {}
    for notebook in NOTEBOOKS if notebooks is None else notebooks:
        cls = NOTEBOOKS[notebook]
        for name, default in param_defaults(cls).items():
            value = env.get(env_var(name), default)
            if name in out and param_defaults(cls)[name] != default:
                raise ParameterError(f"{notebook}: parameter {name!r} has a different default")
            out.setdefault(name, value)
    return out


def _convert(cls: type[Any], name: str, raw: str, source: str) -> Any:
    kind = typing.get_type_hints(cls)[name]
    args = typing.get_args(kind)
    optional = isinstance(kind, types.UnionType) and type(None) in args
    base = next((a for a in args if a is not type(None)), str) if optional else kind
    text = raw.strip()
    if optional and text == "":
        return None
    try:
        return base(text) if base in (int, float) else raw
    except ValueError:
        what = "a whole number" if base is int else "a number"
        empty = " or empty" if optional else ""
        raise ParameterError(
            f"parameter {name!r} ({source}) must be {what}{empty}, got {raw!r}"
        ) from None


def read_params[P](cls: type[P], dbutils: Any = None, env: Mapping[str, str] | None = None) -> P:
    """Read a notebook's parameters from widgets (Databricks) or the environment.

    Parameters
    ----------
    cls : type
        :class:`DataGenParams` or :class:`ModelParams`.
    dbutils : object, optional
        Databricks' ``dbutils``: each parameter becomes a text widget with its default and is
        read back from it. Without it, ``MEDIAMIX_<NAME>`` or the default is used.
    env : mapping, optional
        Environment (``os.environ`` by default).

    Returns
    -------
    instance of ``cls``

    Raises
    ------
    ParameterError
        If a value does not parse (``draws=ten``).
    """
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        default = _text(f.default)
        if dbutils is not None:
            dbutils.widgets.text(f.name, default, f.metadata.get("label", f.name))
            raw, source = str(dbutils.widgets.get(f.name)), f"widget {f.name}"
        else:
            raw, source = env.get(env_var(f.name), default), env_var(f.name)
        values[f.name] = _convert(cls, f.name, raw, source)
    return cls(**values)


# --------------------------------------------------------------------------- the notebook


class Notebook:
    """One notebook's context: where it runs, its parameters, and how it shows results.

    Parameters
    ----------
    name : str
        A short name; local figures go to ``$MEDIAMIX_OUTPUT_DIR/<name>/``.
    namespace : mapping, optional
        The notebook's ``globals()``: ``dbutils`` and ``display`` are taken from it on
        Databricks.
    """

    def __init__(self, name: str, namespace: Mapping[str, Any] | None = None) -> None:
        ns = namespace or {}
        self.name = name
        self.dbutils = ns.get("dbutils")
        self._display = ns.get("display") if self.dbutils is not None else None
        root = os.environ.get(OUTPUT_DIR_ENV) or DEFAULT_OUTPUT_DIR
        self.output_dir = Path(root).expanduser() / name

    @property
    def on_databricks(self) -> bool:
        """Whether the notebook runs in Databricks (``dbutils`` present)."""
        return self.dbutils is not None

    def params[P](self, cls: type[P]) -> P:
        """Read the parameters (see :func:`read_params`) and print them."""
        params = read_params(cls, self.dbutils)
        where = "widgets" if self.on_databricks else f"{ENV_PREFIX}* environment or defaults"
        print(f"{self.name}: parameters from {where}")
        for key, value in dataclasses.asdict(params).items():  # type: ignore[call-overload]
            print(f"  {key:<18} {_text(value) or '(empty)'}")
        return params

    def path(self, relative: str | Path) -> Path:
        """A file named relative to the repository root, found from any working directory."""
        path = Path(relative).expanduser()
        if path.is_absolute() or path.exists():
            return path
        candidate = REPO_ROOT / path
        return candidate if candidate.exists() else path

    def show(self, obj: Any, name: str | None = None, rows: int = 30) -> None:
        """Display a table or figure: inline on Databricks; printed or saved as PNG locally.

        Parameters
        ----------
        obj : DataFrame, Series, Figure or any object
            What to show.
        name : str, optional
            A title, and the figure's file name locally (``<output_dir>/<name>.png``).
        rows : int, default 30
            Rows of a table to print locally.
        """
        from matplotlib.figure import Figure

        if isinstance(obj, Figure):
            self._show_figure(obj, name or "figure")
            return
        if name:
            print(f"\n== {name} ==")
        import pandas as pd

        if self._display is not None:
            self._display(_displayable(obj) if isinstance(obj, pd.DataFrame | pd.Series) else obj)
            return
        if isinstance(obj, pd.DataFrame | pd.Series):
            with pd.option_context(
                "display.width",
                140,
                "display.max_columns",
                30,
                "display.float_format",
                format_number,
            ):
                print(obj.to_string(max_rows=rows))
        else:
            print(obj)

    def _show_figure(self, fig: Figure, name: str) -> None:
        import matplotlib.pyplot as plt

        try:
            if self._display is not None:
                self._display(fig)
                return
            self.output_dir.mkdir(parents=True, exist_ok=True)
            path = self.output_dir / f"{re.sub(r'[^\w.-]+', '_', name)}.png"
            fig.savefig(path, dpi=100, bbox_inches="tight")
            print(f"figure {name}: {path}")
        finally:
            plt.close(fig)


def _displayable(obj: pd.DataFrame | pd.Series) -> pd.DataFrame:
    """A table Databricks' ``display`` shows whole: the index as columns, mixed values as text."""
    import pandas as pd

    df = obj.to_frame() if isinstance(obj, pd.Series) else obj
    if not isinstance(df.index, pd.RangeIndex):
        df = df.reset_index()
    mixed = [c for c in df.columns if df[c].dtype == object]
    return df.astype(dict.fromkeys(mixed, str)) if mixed else df


# --------------------------------------------------------------------------- helpers


def mlflow_ui_command(run: TrackedRun, port: int = 5000) -> str:
    """The command that opens the MLflow UI on a local run's store, with this interpreter's MLflow.

    Parameters
    ----------
    run : TrackedRun
        A run in a local store (SQLite or directory).
    port : int, default 5000
        The UI's port.

    Returns
    -------
    str
        ``.venv/bin/mlflow ui --backend-store-uri sqlite:///... --port 5000`` (the ``mlflow``
        script next to the running interpreter, relative to the working directory when inside
        it), or, for a remote store, what to open.
    """
    # the target already names the mlflow script to run (this interpreter's when not on PATH)
    command = run.ui_command
    return f"{command} --port {port}" if run.target.is_local else command


def log_allocation(run: TrackedRun, allocation: Allocation) -> None:
    """Add a budget allocation to the tracked run of its fit, while that run is still open.

    Logs ``optimizer/allocation.json``, the budget figure, and the metrics
    ``optimizer/budget``, ``optimizer/lift_mean``, ``optimizer/lift_hdi_low``,
    ``optimizer/lift_hdi_high`` and ``optimizer/p_lift_positive``.

    Parameters
    ----------
    run : TrackedRun
        The run of the fit the allocation came from, kept open
        (``fit_tracked(..., keep_open=True)``); end it afterwards with ``run.end()``.
    allocation : Allocation
        From :func:`mediamix.analysis.optimize.optimize_budget`.

    Raises
    ------
    TrackingError
        If the run has ended already: a finished run is not reopened.
    """
    from mediamix.analysis.plots import plot_budget

    lift = allocation.lift
    run.log_extras(
        metrics={
            "optimizer/budget": allocation.budget,
            "optimizer/lift_mean": lift.mean,
            "optimizer/lift_hdi_low": lift.hdi_low,
            "optimizer/lift_hdi_high": lift.hdi_high,
            "optimizer/p_lift_positive": allocation.p_lift_positive,
        },
        artifacts={"optimizer/allocation.json": allocation.to_dict()},
        figures={"figures/budget.png": plot_budget(allocation)},
    )
