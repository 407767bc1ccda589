"""Putting tables back: each table written in a failed run returns to its earlier content.

Silver and gold move together (:mod:`mediamix.lakehouse.medallion`, and the MERGEs of
:mod:`mediamix.lakehouse.incremental`): when gold cannot be written, each silver table the run
changed is written again with its previous version's rows, a new commit that records why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from mediamix.lakehouse.backend import Backend, WriteResult
from mediamix.lakehouse.names import TableName
from mediamix.lakehouse.tables import write_table

__all__ = ["RESTORE_KEY", "restore_tables", "versions_before"]

#: Commit metadata key of a silver table put back after a failed gold write.
RESTORE_KEY = "mediamix.restored_to"


def versions_before(be: Backend, tables: Sequence[TableName]) -> dict[TableName, int | None]:
    """Each table's current version (``None`` where it does not exist yet)."""
    return {t: be.version(t) if be.exists(t) else None for t in tables}


def restore_tables(
    be: Backend,
    before: Mapping[TableName, int | None],
    written: Sequence[tuple[str, WriteResult]],
    reason: str,
) -> None:
    """Put each table written in this run back to its content at ``before`` (a new commit).

    The commit records :data:`RESTORE_KEY` = ``version N (reason)`` in the table's history.
    A table that did not exist before keeps what was written: there is nothing to go back to.
    """
    for _, w in written:
        version = before.get(w.table)
        if w.skipped or version is None:
            continue
        previous = be.read(w.table, version=version)
        meta = {RESTORE_KEY: f"version {version} ({reason})"}
        write_table(previous, w.table, replace_schema=True, metadata=meta, backend=be)
