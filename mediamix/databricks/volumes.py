"""The Unity Catalog Volumes of the job, created by RUNME when missing: raw feeds, compile cache.

Raw spend, outcome and controls files go to ``/Volumes/<catalog>/<schema>/<volume>/``
(``spend*``, ``outcome*``, ``controls*``: files or folders of CSV/Parquet); the
``01_MMM Data Gen`` notebook reads them when its ``raw_path`` widget names that folder. Creating
the Volume needs ``USE CATALOG`` on the catalog, and ``CREATE SCHEMA`` when the schema is
missing, ``CREATE VOLUME`` on the schema. The ``cache`` Volume keeps the compiled model between
job runs (``/Volumes/<catalog>/<schema>/cache/compile``, see
:mod:`mediamix.inference.compile_cache`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from mediamix.databricks.job_spec import JobError
from mediamix.inference.compile_key import AUTO, CACHE_VOLUME
from mediamix.lakehouse.names import volume_path

if TYPE_CHECKING:
    from databricks.sdk import WorkspaceClient

__all__ = [
    "DEFAULT_VOLUME",
    "VolumeRefusedError",
    "ensure_job_volumes",
    "ensure_volume",
    "volume_path",
]

DEFAULT_VOLUME = "raw"
_RAW_COMMENT = "mediamix raw feeds: spend*, outcome*, controls* (CSV or Parquet)"


class VolumeRefusedError(JobError):
    """The workspace did not let the Volume be created (no catalog, no permission)."""


def ensure_volume(
    w: WorkspaceClient, catalog: str, schema: str, volume: str, comment: str = _RAW_COMMENT
) -> tuple[str, bool]:
    """Make sure the managed Volume ``catalog.schema.volume`` exists, creating it if missing.

    The schema is created first when it is missing too; the catalog must exist.

    Parameters
    ----------
    w : databricks.sdk.WorkspaceClient
        An authenticated client.
    catalog, schema, volume : str
        Where the Volume lives and its name.
    comment : str
        What it holds, shown in Catalog Explorer (when this call creates it).

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
            comment=comment,
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


def ensure_job_volumes(
    w: WorkspaceClient, parameters: Mapping[str, str], raw_volume: str
) -> list[str]:
    """Create the Volumes the job uses when missing, in its catalog and schema.

    Parameters
    ----------
    w : databricks.sdk.WorkspaceClient
        An authenticated client.
    parameters : mapping
        The job's parameters: ``catalog``, ``schema`` and ``compile_cache``.
    raw_volume : str
        The raw feeds' Volume; empty for none.

    Returns
    -------
    list of str
        One line per Volume: its path and whether it was created. The compile cache's Volume
        (``cache``) is made only when ``compile_cache`` is ``auto``; a folder given instead is
        the user's to create.

    Raises
    ------
    VolumeRefusedError
        As :func:`ensure_volume`.
    """
    catalog, schema = parameters["catalog"], parameters["schema"]
    lines = []
    if raw_volume:
        path, made = ensure_volume(w, catalog, schema, raw_volume)
        state = "created" if made else "exists"
        lines.append(f"raw feeds volume: {path} ({state}; set raw_path to read feeds from it)")
    if parameters.get("compile_cache", "").strip() == AUTO:
        comment = "mediamix compile cache: the compiled model, kept between job runs"
        path, made = ensure_volume(w, catalog, schema, CACHE_VOLUME, comment=comment)
        state = "created" if made else "exists"
        lines.append(f"compile cache volume: {path} ({state}; the job's compiled model)")
    return lines
