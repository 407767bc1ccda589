"""Unity Catalog style names: tables ``catalog.schema.table``, Volume paths, the lakehouse's error.

Only the standard library is imported here, so code that just names tables (notebook
parameters, the registered model's name) does not load pandas or a table backend.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mediamix.errors import MediamixError

__all__ = [
    "DEFAULT_CATALOG",
    "DEFAULT_SCHEMA",
    "LakeError",
    "TableName",
    "is_identifier",
    "volume_path",
]

DEFAULT_CATALOG = "main"
DEFAULT_SCHEMA = "mediamix"

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class LakeError(MediamixError):
    """A table that does not exist, a bad table name, or data that does not fit a table."""


def volume_path(catalog: str, schema: str, volume: str) -> str:
    """A Volume's folder as Databricks mounts it: ``/Volumes/<catalog>/<schema>/<volume>``."""
    return f"/Volumes/{catalog}/{schema}/{volume}"


def is_identifier(part: str) -> bool:
    """Whether ``part`` is a valid catalog, schema or table name (letters, digits, ``_``)."""
    return bool(_IDENT.match(part))


@dataclass(frozen=True, order=True)
class TableName:
    """A Unity Catalog style three-part table name ``catalog.schema.table`` (lower case)."""

    catalog: str
    schema: str
    table: str

    @classmethod
    def parse(
        cls, name: str | TableName, *, catalog: str | None = None, schema: str | None = None
    ) -> TableName:
        """Parse ``table``, ``schema.table`` or ``catalog.schema.table``.

        Parameters
        ----------
        name : str or TableName
            The name; missing parts come from ``catalog`` and ``schema``.
        catalog, schema : str, optional
            Defaults for missing parts (``main`` and ``mediamix`` when not given).

        Returns
        -------
        TableName
            The full name, lower-cased as Unity Catalog stores it.

        Raises
        ------
        LakeError
            If a part is not letters, digits and underscores (not starting with a digit).
        """
        if isinstance(name, TableName):
            return name
        parts = str(name).strip().split(".")
        if len(parts) > 3:
            raise LakeError(f"invalid table name {name!r}: use table, schema.table or c.s.table")
        parts = [catalog or DEFAULT_CATALOG, schema or DEFAULT_SCHEMA][: 3 - len(parts)] + parts
        for part in parts:
            if not is_identifier(part):
                raise LakeError(
                    f"invalid table name {name!r}: {part!r} must be letters, digits and "
                    "underscores, not starting with a digit (catalog.schema.table)"
                )
        return cls(*(p.lower() for p in parts))

    def __str__(self) -> str:
        return f"{self.catalog}.{self.schema}.{self.table}"
