"""Parameters of the ``03_MMM Fit Many`` notebook (widgets on Databricks, ``MEDIAMIX_*`` locally).

The notebook reads them with :func:`mediamix.databricks.notebook.read_params`, like the other
notebooks' parameters; the defaults match the other notebooks' where the names are shared.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mediamix.lakehouse.names import DEFAULT_CATALOG, DEFAULT_SCHEMA, TableName

__all__ = ["FitManyParams"]


def _widget(label: str) -> dict[str, str]:
    return {"label": label}


@dataclass(frozen=True)
class FitManyParams:
    """Parameters of ``03_MMM Fit Many``: the groups' data, the model, where results go."""

    catalog: str = field(default=DEFAULT_CATALOG, metadata=_widget("Catalog of the tables"))
    schema: str = field(default=DEFAULT_SCHEMA, metadata=_widget("Schema of the tables"))
    groups_table: str = field(
        default="mmm_groups", metadata=_widget("Table with every group's rows")
    )
    group_by: str = field(default="group", metadata=_widget("Column that names the groups"))
    synthetic_groups: int | None = field(
        default=40,
        metadata=_widget("Generate N synthetic groups into the table first (empty: use it)"),
    )
    generator_config: str = field(
        default="config/generator/basic_config.yaml",
        metadata=_widget("Generator config (path from the repo root)"),
    )
    model_config: str = field(
        default="config/model/basic_config.yaml",
        metadata=_widget("Model config (path from the repo root)"),
    )
    fit_many_dir: str | None = field(
        default=None,
        metadata=_widget("Output folder (empty: /Volumes/<catalog>/<schema>/fit_many)"),
    )
    experiment: str = field(
        default="mediamix",
        metadata=_widget("MLflow experiment (on Databricks a workspace path; else /Shared/NAME)"),
    )
    sampler: str | None = field(
        default=None, metadata=_widget("Sampler: nutpie, nutpie-native, pymc, numpyro, advi")
    )
    draws: int | None = field(default=None, metadata=_widget("Draws per chain (empty: config)"))
    tune: int | None = field(default=None, metadata=_widget("Tuning steps (empty: config)"))
    chains: int | None = field(default=None, metadata=_widget("Chains (empty: config)"))
    resume: str = field(
        default="no", metadata=_widget("yes: skip unchanged groups that succeeded before")
    )

    @property
    def groups_table_name(self) -> str:
        """The groups table's full name: ``catalog.schema.table``."""
        return str(TableName.parse(self.groups_table, catalog=self.catalog, schema=self.schema))

    @property
    def resume_flag(self) -> bool:
        """:attr:`resume` as a flag (``yes``, ``true`` or ``1``)."""
        return self.resume.strip().lower() in ("yes", "true", "1")

    def out_dir(self, on_databricks: bool) -> Path:
        """Where the per-group files go: a Volume on Databricks (every worker reads it)."""
        if self.fit_many_dir:
            return Path(self.fit_many_dir)
        if on_databricks:
            return Path("/Volumes") / self.catalog / self.schema / "fit_many"
        return Path("out") / "fit_many"
