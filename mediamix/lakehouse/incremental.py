"""Incremental ingest: a delivery of new or corrected periods MERGEd into bronze, silver, gold.

A delivery holds only what is new (next weeks) or restated (a corrected past week). Instead
of overwriting whole tables (:func:`~mediamix.lakehouse.medallion.ingest`),
:func:`ingest_increment`

- appends the delivery to bronze as received (each delivery once: its content hash is
  recorded, so sending it again appends nothing);
- upserts silver by key (``date, channel`` for spend, ``date`` for the outcome and controls)
  and gold by ``date`` with a Delta MERGE (delta-rs ``DeltaTable.merge`` locally, ``MERGE
  INTO`` on Spark), only the rows that are new or whose values changed;
- records in each MERGE commit which periods were added (:data:`ADDED_KEY`) and restated
  (:data:`RESTATED_KEY`) and why (:data:`REASON_KEY`), readable with ``table_history``.

Everything is computed before anything is written: a delivery with rejected rows, a gold grid
problem or data no model can use changes no table, and if the gold MERGE fails the silver
tables merged in the run are put back (as in :func:`~mediamix.lakehouse.medallion.ingest`).
Re-running a delivery changes nothing and creates no versions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from mediamix.data.frames import Frequency
from mediamix.lakehouse.backend import (
    FINGERPRINT_KEY,
    Backend,
    WriteMode,
    WriteResult,
    frame_fingerprint,
)
from mediamix.lakehouse.feeds import FEEDS, read_feed
from mediamix.lakehouse.geo import gold_partitions, with_geo
from mediamix.lakehouse.gold import check_modelable
from mediamix.lakehouse.medallion import (
    IngestReport,
    _bronze_frames,
    _gold,
    _validate,
    restore_tables,
    table_name,
    versions_before,
)
from mediamix.lakehouse.names import LakeError, TableName
from mediamix.lakehouse.quality import META_COLUMNS, DataQualityError
from mediamix.lakehouse.tables import resolve_backend, write_table

__all__ = [
    "ADDED_KEY",
    "DELIVERY_KEY",
    "KEYS",
    "REASON_KEY",
    "RESTATED_KEY",
    "Changes",
    "diff_rows",
    "ingest_increment",
    "upsert",
]

#: Commit metadata: why the commit was made, and the keys it added and restated.
REASON_KEY = "mediamix.reason"
ADDED_KEY = "mediamix.added"
RESTATED_KEY = "mediamix.restated"
#: Commit metadata of a bronze append: the delivery's content hash.
DELIVERY_KEY = "mediamix.delivery"
#: The key columns of each silver table (gold's is ``date``); geo data adds ``geo`` to each.
KEYS: dict[str, list[str]] = {
    "spend": ["date", "channel"],
    "outcome": ["date"],
    "controls": ["date"],
}
_MAX_LISTED = 50  # keys listed in commit metadata; the count is always complete


@dataclass(frozen=True)
class Changes:
    """What a delivery changes in one table: the rows to merge, and their keys as text."""

    rows: pd.DataFrame
    added: list[str]
    restated: list[str]

    @property
    def empty(self) -> bool:
        """Whether nothing is new or changed."""
        return not self.added and not self.restated


def _key_text(frame: pd.DataFrame, keys: Sequence[str]) -> list[str]:
    parts = []
    for k in keys:
        col = frame[k]
        is_date = pd.api.types.is_datetime64_any_dtype(col.dtype)
        parts.append(col.dt.strftime("%Y-%m-%d") if is_date else col.astype(str))
    if not parts:
        return []
    joined = parts[0]
    for part in parts[1:]:
        joined = joined + "/" + part
    return [str(v) for v in joined]


def diff_rows(current: pd.DataFrame, incoming: pd.DataFrame, keys: Sequence[str]) -> Changes:
    """The rows of ``incoming`` that are new (by ``keys``) or carry different values.

    Values are compared on every column but the keys and the lineage columns (``source``,
    ``source_row``, ``ingested_at``): the same numbers delivered again from another file are
    no change.

    Raises
    ------
    LakeError
        If the two frames do not have the same columns.
    """
    if set(current.columns) != set(incoming.columns):
        raise LakeError(
            f"the delivery's columns {sorted(incoming.columns)} differ from the table's "
            f"{sorted(current.columns)}; reload everything with ingest to change columns"
        )
    values = [c for c in incoming.columns if c not in keys and c not in META_COLUMNS]
    old = current[[*keys, *values]].rename(columns={c: f"{c}__old" for c in values})
    joined = incoming.merge(old, on=list(keys), how="left", indicator=True)
    new = (joined["_merge"] == "left_only").to_numpy()
    changed = pd.Series(False, index=joined.index)
    for c in values:
        a, b = joined[c], joined[f"{c}__old"]
        changed |= ~((a == b) | (a.isna() & b.isna()))
    changed_arr = changed.to_numpy() & ~new
    rows = incoming[new | changed_arr].reset_index(drop=True)
    return Changes(rows, _key_text(incoming[new], keys), _key_text(incoming[changed_arr], keys))


def upsert(current: pd.DataFrame, rows: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """``current`` with ``rows`` replacing the rows of the same keys and added otherwise."""
    if rows.empty:
        return current.reset_index(drop=True)
    marked = current.merge(rows[list(keys)], on=list(keys), how="left", indicator=True)
    kept = current[(marked["_merge"] == "left_only").to_numpy()]
    merged = pd.concat([kept, rows[list(current.columns)]], ignore_index=True)
    return merged.sort_values(list(keys), kind="stable").reset_index(drop=True)


def _metadata(changes: Changes, reason: str, full: pd.DataFrame) -> dict[str, str]:
    def listed(keys: list[str]) -> str:
        more = len(keys) - _MAX_LISTED
        return ",".join(keys[:_MAX_LISTED]) + (f",... ({more} more)" if more > 0 else "")

    meta = {REASON_KEY: reason, FINGERPRINT_KEY: frame_fingerprint(full)}
    if changes.added:
        meta[ADDED_KEY] = listed(changes.added)
    if changes.restated:
        meta[RESTATED_KEY] = listed(changes.restated)
    return meta


def _merge(
    be: Backend,
    table: TableName,
    changes: Changes,
    full: pd.DataFrame,
    keys: Sequence[str],
    reason: str,
) -> WriteResult:
    """MERGE the changes into ``table`` (created from ``full`` if missing); skip if none."""
    if changes.empty and be.exists(table):
        return WriteResult(table, be.version(table), 0, skipped=True)
    meta = _metadata(changes, reason, full)
    if not be.exists(table):
        return write_table(full, table, replace_schema=True, metadata=meta, backend=be)
    version = be.merge(changes.rows, table, keys=list(keys), metadata=meta)
    return WriteResult(table, version, len(changes.rows))


def _current(be: Backend, table: TableName, like: pd.DataFrame) -> pd.DataFrame:
    return be.read(table) if be.exists(table) else like.iloc[0:0]


def _append_bronze(
    bronze: Mapping[str, pd.DataFrame],
    catalog: str | None,
    schema: str | None,
    be: Backend,
) -> list[tuple[str, WriteResult]]:
    """Append each non-empty delivery to its bronze table, unless it was appended before."""
    out = []
    for kind, rows in bronze.items():
        name = table_name(f"bronze_{kind}", catalog, schema)
        if rows.empty:
            continue
        fp = frame_fingerprint(rows, exclude=("ingested_at", "source"))
        if be.exists(name) and any(h.metadata.get(DELIVERY_KEY) == fp for h in be.history(name)):
            out.append(("bronze", WriteResult(name, be.version(name), 0, skipped=True)))
            continue
        mode: WriteMode = "append" if be.exists(name) else "overwrite"
        meta = {DELIVERY_KEY: fp}
        out.append(("bronze", write_table(rows, name, mode=mode, metadata=meta, backend=be)))
    return out


def _default_reason(changes: Mapping[str, Changes], sources: str) -> str:
    restated = sum(len(c.restated) for c in changes.values())
    added = sum(len(c.added) for c in changes.values())
    verb = f"restated {restated} and added {added}" if restated else f"added {added}"
    return f"{verb} row(s) from {sources}"


def ingest_increment(
    spend: str | Path | pd.DataFrame,
    outcome: str | Path | pd.DataFrame,
    controls: str | Path | pd.DataFrame | None = None,
    *,
    reason: str | None = None,
    channels: Sequence[str] | None = None,
    frequency: Frequency = "weekly",
    catalog: str | None = None,
    schema: str | None = None,
    backend: Backend | None = None,
    lakehouse: str | Path | None = None,
) -> IngestReport:
    """MERGE a delivery of new or restated periods into bronze, silver and gold.

    Parameters
    ----------
    spend, outcome, controls
        The delivery, as for :func:`~mediamix.lakehouse.medallion.ingest` (files, folders,
        globs, tables or frames); only the periods that are new or corrected.
    reason : str, optional
        Why (for a restatement: "supplier corrected week 2024-01-15"); recorded in each
        commit's :data:`REASON_KEY`. By default, what was added and restated, and from where.
    channels, frequency, catalog, schema, backend, lakehouse
        As in :func:`~mediamix.lakehouse.medallion.ingest`.

    Returns
    -------
    IngestReport
        The merges (``rows``: rows merged; ``skipped`` when nothing changed) and notes that
        list the restated periods.

    Raises
    ------
    DataQualityError
        If a delivered row is rejected, gold's grid breaks or gold would be unusable; no
        table is changed. ``LakeError`` if the delivery's columns differ from the tables'.
    """
    be = resolve_backend(backend, lakehouse)
    given = {"spend": spend, "outcome": outcome, "controls": controls}
    feeds = {k: read_feed(k, v, backend=be) for k, v in given.items() if v is not None}
    report = IngestReport()
    bronze = _bronze_frames(feeds)
    delivery, _ = _validate(bronze, channels, report)
    if report.issues:
        raise DataQualityError("silver", report.issues, "the delivery was refused; no change")
    silver = {k: table_name(f"silver_{k}", catalog, schema) for k in FEEDS}
    changes, merged = _diff_silver(be, silver, delivery, set(feeds))
    gold = _gold(merged, frequency, channels, report)
    check_modelable(gold)
    why = reason or _default_reason(changes, ", ".join(f.source for f in feeds.values()))
    report.writes += _append_bronze({k: bronze[k] for k in feeds}, catalog, schema, be)
    _merge_together(
        be, silver, changes, merged, gold, why, table_name("gold", catalog, schema), report
    )
    return report


def _diff_silver(
    be: Backend,
    silver: Mapping[str, TableName],
    delivery: Mapping[str, pd.DataFrame],
    delivered: set[str],
) -> tuple[dict[str, Changes], dict[str, pd.DataFrame]]:
    """Per feed: what the delivery changes in silver, and silver once merged."""
    changes, merged = {}, {}
    for kind in FEEDS:
        current = _current(be, silver[kind], delivery[kind])
        incoming = delivery[kind] if kind in delivered else current.iloc[0:0]
        keys = with_geo(KEYS[kind], current, incoming)
        changes[kind] = diff_rows(current, incoming, keys)
        merged[kind] = upsert(current, changes[kind].rows, keys)
    return changes, merged


def _merge_together(
    be: Backend,
    silver: Mapping[str, TableName],
    changes: Mapping[str, Changes],
    merged: Mapping[str, pd.DataFrame],
    gold: pd.DataFrame,
    why: str,
    gold_name: TableName,
    report: IngestReport,
) -> None:
    """MERGE silver, then gold; if gold fails, put back the silver tables merged."""
    before = versions_before(be, list(silver.values()))
    written = [
        ("silver", _merge(be, silver[k], changes[k], merged[k], with_geo(KEYS[k], merged[k]), why))
        for k in FEEDS
    ]
    try:
        current, keys = _current(be, gold_name, gold), with_geo(["date"], gold)
        if list(current.columns) == list(gold.columns):
            res = _merge(be, gold_name, diff_rows(current, gold, keys), gold, keys, why)
        else:  # a new channel or control: gold's columns change, so it is rewritten whole
            meta = {REASON_KEY: f"{why}; columns changed"}
            by = gold_partitions(gold)
            res = write_table(
                gold, gold_name, replace_schema=True, metadata=meta, partition_by=by, backend=be
            )
    except Exception as exc:
        restore_tables(be, before, written, f"gold merge failed: {type(exc).__name__}")
        raise
    report.writes += [*written, ("gold", res)]
    restated = [k for c in changes.values() for k in c.restated]
    if restated:
        report.notes.append(f"restated {len(restated)} row(s): {', '.join(restated[:10])} ({why})")
