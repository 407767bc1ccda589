"""The Unity Catalog Volume that holds the raw feeds, created by RUNME when missing.

Raw spend, outcome and controls files go to ``/Volumes/<catalog>/<schema>/<volume>/``
(``spend*``, ``outcome*``, ``controls*``: files or folders of CSV/Parquet); the
``01_MMM Data Gen`` notebook reads them when its ``raw_path`` widget names that folder. Creating
the Volume needs ``USE CATALOG`` on the catalog, and ``CREATE SCHEMA`` when the schema is
missing, ``CREATE VOLUME`` on the schema.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mediamix.databricks.job_spec import JobError

if TYPE_CHECKING:
    from databricks.sdk import WorkspaceClient

__all__ = ["DEFAULT_VOLUME", "VolumeRefusedError", "ensure_volume", "volume_path"]

DEFAULT_VOLUME = "raw"


class VolumeRefusedError(JobError):
    """The workspace did not let the Volume be created (no catalog, no permission)."""


def volume_path(catalog: str, schema: str, volume: str) -> str:
    """The Volume's folder as Databricks mounts it: ``/Volumes/<catalog>/<schema>/<volume>``."""
    return f"/Volumes/{catalog}/{schema}/{volume}"


def ensure_volume(w: WorkspaceClient, catalog: str, schema: str, volume: str) -> tuple[str, bool]:
    """Make sure the managed Volume ``catalog.schema.volume`` exists, creating it if missing.

    The schema is created first when it is missing too; the catalog must exist.

    Parameters
    ----------
    w : databricks.sdk.WorkspaceClient
        An authenticated client.
    catalog, schema, volume : str
        Where the Volume lives and its name.

    Returns
    -------
    tuple of (str, bool)
        The Volume's path (:func:`volume_path`) and whether this call created it.

    Raises
    ------
    VolumeRefusedError
        If the catalog does not exist or creating is not allowed, with what was missing.
    """
    from databricks.sdk.errors import NotFound, PermissionDenied
    from databricks.sdk.service.catalog import VolumeType

    full = f"{catalog}.{schema}.{volume}"
    try:
        w.volumes.read(full)
        return volume_path(catalog, schema, volume), False
    except NotFound:
        pass
    try:
        try:
            w.schemas.get(f"{catalog}.{schema}")
        except NotFound:
            w.schemas.create(name=schema, catalog_name=catalog, comment="mediamix tables")
        w.volumes.create(
            catalog_name=catalog,
            schema_name=schema,
            name=volume,
            volume_type=VolumeType.MANAGED,
            comment="mediamix raw feeds: spend*, outcome*, controls* (CSV or Parquet)",
        )
    except NotFound as exc:
        raise VolumeRefusedError(
            f"cannot create Volume {full}: {exc}. The catalog {catalog!r} must exist "
            "(choose another with --catalog)"
        ) from None
    except PermissionDenied as exc:
        raise VolumeRefusedError(
            f"cannot create Volume {full}: {exc}. It needs USE CATALOG on {catalog!r}, "
            f"CREATE SCHEMA there if {schema!r} is missing, and CREATE VOLUME on the schema"
        ) from None
    return volume_path(catalog, schema, volume), True
