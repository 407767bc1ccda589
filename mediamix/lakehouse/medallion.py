"""Medallion pipeline: raw feeds -> bronze -> silver (+ quarantine) -> gold ``mmm_gold``.

- **bronze**: each feed as received (every value a string) plus ``source``, ``source_row`` and
  ``ingested_at``. Column names are normalized (``Paid Search`` -> ``paid_search``).
- **silver**: typed, validated, deduplicated rows. Rows that break a rule go to
  ``mmm_quarantine`` with the rule, the column and the reason; by default any reject fails the
  run after bronze and the quarantine are written (silver and gold keep their versions).
- **gold**: ``mmm_gold``, one row per period on a complete date grid: ``date``, one spend column
  per channel (zero where no spend), controls, the outcome. Geo data (feeds with a ``geo``
  column) gives one row per date and geo, partitioned by geo (:mod:`mediamix.lakehouse.geo`).

Each step reads the previous layer's tables and overwrites its own; a write whose content equals
the table's current version is skipped, so re-running on the same input is idempotent and
creates no versions. :func:`ingest` computes every layer in memory before it writes any:

- data no model can use (fewer than :data:`MIN_PERIODS` periods, or a constant outcome) is
  refused before any table changes;
- silver and gold move together or not at all: gold is built (and its grid rules checked)
  before silver is written, and if writing gold still fails, each silver table written in the
  run is put back to its previous content (a commit recorded with the reason).

Feeds: ``lakehouse.feeds``; row rules: ``lakehouse.quality``; grid rules: ``lakehouse.gold``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from mediamix.data.frames import TIMESTAMP_DTYPE, Frequency
from mediamix.errors import MediamixError
from mediamix.lakehouse.backend import Backend, WriteResult, frame_fingerprint
from mediamix.lakehouse.feeds import (
    FEEDS,
    Feed,
    empty_feed,
    read_feed,
    synthetic_feeds,
    synthetic_frequency,
)
from mediamix.lakehouse.geo import build_any_gold, gold_partitions
from mediamix.lakehouse.gold import MIN_PERIODS, check_modelable
from mediamix.lakehouse.names import TableName
from mediamix.lakehouse.quality import (
    DataQualityError,
    Issue,
    empty_rejects,
    normalize_name,
    summarize,
    validate_controls,
    validate_outcome,
    validate_spend,
)
from mediamix.lakehouse.restore import RESTORE_KEY, restore_tables, versions_before
from mediamix.lakehouse.tables import get_backend, read_table, resolve_backend, write_table

if TYPE_CHECKING:
    from mediamix.data.generator import SyntheticData
    from mediamix.data.geo_generator import GeoSyntheticData

__all__ = [
    "MIN_PERIODS",
    "RESTORE_KEY",
    "TABLES",
    "IngestReport",
    "bronze_step",
    "check_modelable",
    "gold_step",
    "ingest",
    "ingest_synthetic",
    "restore_tables",
    "silver_step",
    "table_name",
    "versions_before",
]

TABLES: dict[str, str] = {
    "bronze_spend": "mmm_bronze_spend",
    "bronze_outcome": "mmm_bronze_outcome",
    "bronze_controls": "mmm_bronze_controls",
    "quarantine": "mmm_quarantine",
    "silver_spend": "mmm_silver_spend",
    "silver_outcome": "mmm_silver_outcome",
    "silver_controls": "mmm_silver_controls",
    "gold": "mmm_gold",
}


def table_name(key: str, catalog: str | None = None, schema: str | None = None) -> TableName:
    """The full name of a pipeline table: ``table_name("gold")`` is ``main.mediamix.mmm_gold``."""
    if key not in TABLES:
        raise MediamixError(f"unknown pipeline table {key!r}; known: {sorted(TABLES)}")
    return TableName.parse(TABLES[key], catalog=catalog, schema=schema)


@dataclass
class IngestReport:
    """What a pipeline run wrote: ``(layer, WriteResult)`` pairs, rejects, issues and notes."""

    writes: list[tuple[str, WriteResult]] = field(default_factory=list)
    quarantined: int = 0
    issues: list[Issue] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def result(self, key: str) -> WriteResult:
        """The write of one pipeline table, by key (``gold``) or table name (``mmm_gold``)."""
        short = TABLES.get(key, key)
        for _, res in self.writes:
            if res.table.table == short:
                return res
        raise KeyError(f"{key} was not written in this run")

    def format(self, issues: bool = True) -> str:
        """A table of what was written, then the rejects (unless ``issues`` is false) and notes."""
        width = max([len(str(r.table)) for _, r in self.writes] + [5])
        lines = [f"{'layer':<11}{'table':<{width + 2}}{'version':>8}{'rows':>9}"]
        for layer, r in self.writes:
            version = "-" if r.version is None else str(r.version)
            tail = "  (unchanged, not rewritten)" if r.skipped else ""
            lines.append(f"{layer:<11}{r.table!s:<{width + 2}}{version:>8}{r.rows:>9}{tail}")
        lines.append(f"quarantined rows: {self.quarantined}")
        lines += [f"  - {issue.format()}" for issue in self.issues if issues]
        lines += [f"note: {note}" for note in self.notes]
        return "\n".join(lines)


# --------------------------------------------------------------------------- steps


def bronze_step(
    feeds: Mapping[str, Feed],
    *,
    catalog: str | None = None,
    schema: str | None = None,
    backend: Backend | None = None,
    ingested_at: dt.datetime | None = None,
) -> list[tuple[str, WriteResult]]:
    """Write each feed as received to its bronze table, with ingestion metadata.

    Parameters
    ----------
    feeds : mapping
        ``spend`` and ``outcome`` (required) and ``controls`` (optional: without it the
        controls table holds no rows, so gold has no controls).
    catalog, schema : str, optional
        Where the tables live (defaults ``main.mediamix``).
    backend : Backend, optional
        Defaults to :func:`~mediamix.lakehouse.tables.get_backend`.
    ingested_at : datetime, optional
        The ingestion time (UTC); defaults to now. It does not count as content: bronze
        written again from the same feeds is skipped.

    Returns
    -------
    list
        ``("bronze", WriteResult)`` per table.
    """
    be = backend or get_backend()
    return _write_bronze(_bronze_frames(feeds, ingested_at), catalog, schema, be)


def _bronze_frames(
    feeds: Mapping[str, Feed], ingested_at: dt.datetime | None = None
) -> dict[str, pd.DataFrame]:
    """Each feed's bronze rows: as received, plus ``source``, ``source_row``, ``ingested_at``."""
    stamp = pd.Timestamp(ingested_at or dt.datetime.now(dt.UTC))
    stamp = (stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp).tz_convert("UTC")
    out = {}
    for kind in FEEDS:
        if kind not in feeds and kind != "controls":
            raise MediamixError(f"the {kind} feed is required")
        feed = feeds.get(kind) or empty_feed(kind)
        out[kind] = feed.frame.assign(
            source=feed.source,
            source_row=pd.Series(range(1, len(feed.frame) + 1), dtype="int64"),
            ingested_at=pd.Series(stamp, index=feed.frame.index, dtype=TIMESTAMP_DTYPE),
        )
    return out


def _write_bronze(
    frames: Mapping[str, pd.DataFrame], catalog: str | None, schema: str | None, be: Backend
) -> list[tuple[str, WriteResult]]:
    out = []
    for kind, rows in frames.items():
        fingerprint = frame_fingerprint(rows, exclude=("ingested_at",))
        name = table_name(f"bronze_{kind}", catalog, schema)
        res = write_table(rows, name, replace_schema=True, fingerprint=fingerprint, backend=be)
        out.append(("bronze", res))
    return out


def _quarantine_order(rejects: pd.DataFrame) -> pd.DataFrame:
    order = {kind: i for i, kind in enumerate(FEEDS)}
    keyed = rejects.assign(_feed=rejects["feed"].map(order))
    keyed = keyed.sort_values(["_feed", "source_row", "rule", "column"], kind="stable")
    return keyed.drop(columns="_feed").reset_index(drop=True)


def silver_step(
    *,
    channels: Sequence[str] | None = None,
    allow_rejects: bool = False,
    catalog: str | None = None,
    schema: str | None = None,
    backend: Backend | None = None,
    report: IngestReport | None = None,
) -> IngestReport:
    """Validate the bronze tables into silver; rejects go to the quarantine table.

    Parameters
    ----------
    channels : sequence of str, optional
        Expected channels; spend rows for any other channel are rejected (``channel_unknown``).
    allow_rejects : bool
        Write silver from the rows that passed even if some were rejected. By default any
        reject raises after the quarantine is written, and silver keeps its current version.
    catalog, schema, backend
        As in :func:`bronze_step`.
    report : IngestReport, optional
        A report to add to (a new one by default).

    Returns
    -------
    IngestReport
        With the quarantine and silver writes and the rejects summarized as issues.

    Raises
    ------
    DataQualityError
        If a row was rejected and ``allow_rejects`` is false.
    """
    be = backend or get_backend()
    report = report if report is not None else IngestReport()
    bronze = {k: read_table(table_name(f"bronze_{k}", catalog, schema), backend=be) for k in FEEDS}
    silver, rejects = _validate(bronze, channels, report)
    _write_quarantine(rejects, allow_rejects, catalog, schema, be, report)
    report.writes += _write_silver(silver, catalog, schema, be)
    return report


def _validate(
    bronze: Mapping[str, pd.DataFrame], channels: Sequence[str] | None, report: IngestReport
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """Silver's typed rows per feed and the rejects; the rejects are summarized in ``report``."""
    expected = None if channels is None else [normalize_name(c) for c in channels]
    spend, spend_rej, spend_dupes = validate_spend(bronze["spend"], expected)
    outcome, outcome_rej, outcome_dupes = validate_outcome(bronze["outcome"])
    controls, controls_rej, controls_dupes = validate_controls(bronze["controls"])
    frames = [f for f in (spend_rej, outcome_rej, controls_rej) if len(f)]
    rejects = _quarantine_order(pd.concat(frames) if frames else empty_rejects())
    report.quarantined = int(rejects[["feed", "source_row"]].drop_duplicates().shape[0])
    report.issues = summarize(rejects)
    dupes = spend_dupes + outcome_dupes + controls_dupes
    if dupes:
        report.notes.append(f"collapsed {dupes} exact duplicate row(s)")
    return {"spend": spend, "outcome": outcome, "controls": controls}, rejects


def _write_quarantine(
    rejects: pd.DataFrame,
    allow_rejects: bool,
    catalog: str | None,
    schema: str | None,
    be: Backend,
    report: IngestReport,
) -> None:
    """Write the quarantine table; raise if rows were rejected and that is not allowed."""
    quarantine = table_name("quarantine", catalog, schema)
    report.writes.append(("quarantine", write_table(rejects, quarantine, backend=be)))
    if report.issues and not allow_rejects:
        note = f"{report.quarantined} row(s) rejected, see table {quarantine}"
        raise DataQualityError("silver", report.issues, note)


def _write_silver(
    silver: Mapping[str, pd.DataFrame], catalog: str | None, schema: str | None, be: Backend
) -> list[tuple[str, WriteResult]]:
    out = []
    for kind in FEEDS:
        name = table_name(f"silver_{kind}", catalog, schema)
        out.append(("silver", write_table(silver[kind], name, replace_schema=True, backend=be)))
    return out


def gold_step(
    *,
    frequency: Frequency = "weekly",
    channels: Sequence[str] | None = None,
    catalog: str | None = None,
    schema: str | None = None,
    backend: Backend | None = None,
    report: IngestReport | None = None,
) -> IngestReport:
    """Build ``mmm_gold`` from the silver tables on a complete date grid.

    Parameters
    ----------
    frequency : {"weekly", "daily"}
        The grid; daily data is aggregated to weeks when ``weekly``.
    channels : sequence of str, optional
        Expected channels, in column order (default: those present, sorted).
    catalog, schema, backend, report
        As in :func:`silver_step`.

    Returns
    -------
    IngestReport
        With the gold write.

    Raises
    ------
    DataQualityError
        For grid problems (gaps, mixed frequencies, missing channels); gold is not written.
    """
    be = backend or get_backend()
    report = report if report is not None else IngestReport()
    silver = {k: read_table(table_name(f"silver_{k}", catalog, schema), backend=be) for k in FEEDS}
    gold = _gold(silver, frequency, channels, report)
    report.writes.append(("gold", _write_gold(gold, catalog, schema, be)))
    return report


def _write_gold(
    gold: pd.DataFrame, catalog: str | None, schema: str | None, be: Backend
) -> WriteResult:
    """Write gold (partitioned by geo for geo data)."""
    name, by = table_name("gold", catalog, schema), gold_partitions(gold)
    return write_table(gold, name, replace_schema=True, partition_by=by, backend=be)


def _gold(
    silver: Mapping[str, pd.DataFrame],
    frequency: Frequency,
    channels: Sequence[str] | None,
    report: IngestReport,
) -> pd.DataFrame:
    """The gold frame from silver's rows (in feed order); its notes go to ``report``."""
    ordered = {k: f.sort_values(["source", "source_row"], kind="stable") for k, f in silver.items()}
    expected = None if channels is None else [normalize_name(c) for c in channels]
    feeds = [ordered[k] for k in FEEDS]  # spend, outcome, controls
    gold, notes = build_any_gold(*feeds, frequency=frequency, channels=expected)
    report.notes += notes
    return gold


def ingest(
    spend: str | Path | pd.DataFrame,
    outcome: str | Path | pd.DataFrame,
    controls: str | Path | pd.DataFrame | None = None,
    *,
    channels: Sequence[str] | None = None,
    frequency: Frequency = "weekly",
    allow_rejects: bool = False,
    catalog: str | None = None,
    schema: str | None = None,
    backend: Backend | None = None,
    lakehouse: str | Path | None = None,
) -> IngestReport:
    """Run bronze -> silver -> gold on raw feeds (files, folders, globs, tables or frames).

    Parameters
    ----------
    spend, outcome : str, Path or pandas.DataFrame
        Long spend ``date, channel, spend`` and outcome ``date, <outcome>``: CSV/Parquet
        files, folders or globs, local or on a Volume (see :func:`read_feed`), or tables.
    controls : str, Path or pandas.DataFrame, optional
        Wide controls ``date, <control...>``.
    channels : sequence of str, optional
        Expected channels; without it, the channels present.
    frequency : {"weekly", "daily"}
        The gold grid.
    allow_rejects : bool
        Go on with the rows that passed when some were rejected (they stay in quarantine).
    catalog, schema : str, optional
        Defaults ``main`` and ``mediamix``.
    backend, lakehouse
        As in :func:`~mediamix.lakehouse.tables.read_table`.

    Returns
    -------
    IngestReport
        Tables written (or skipped as unchanged), versions, rows and quarantined rows.

    Raises
    ------
    DataQualityError
        Naming rule, column and example rows; ``exc.report`` holds what was written.
    """
    be = resolve_backend(backend, lakehouse)
    given = {"spend": spend, "outcome": outcome, "controls": controls}
    feeds = {k: read_feed(k, v, backend=be) for k, v in given.items() if v is not None}
    return _run(feeds, channels, frequency, allow_rejects, catalog, schema, be)


def _run(
    feeds: Mapping[str, Feed],
    channels: Sequence[str] | None,
    frequency: Frequency,
    allow_rejects: bool,
    catalog: str | None,
    schema: str | None,
    backend: Backend,
) -> IngestReport:
    """Compute bronze, silver and gold in memory, then write them (see the module's notes)."""
    report = IngestReport()
    bronze = _bronze_frames(feeds)
    silver, rejects = _validate(bronze, channels, report)
    gold: pd.DataFrame | None = None
    gold_error: DataQualityError | None = None
    if not report.issues or allow_rejects:
        try:
            gold = _gold(silver, frequency, channels, report)
        except DataQualityError as exc:  # a grid problem: bronze and quarantine still recorded
            gold_error = exc
        if gold is not None:
            check_modelable(gold)
    try:
        report.writes += _write_bronze(bronze, catalog, schema, backend)
        _write_quarantine(rejects, allow_rejects, catalog, schema, backend, report)
        if gold_error is not None:
            raise gold_error
        assert gold is not None  # either gold was built or an error was raised above
        _write_together(silver, gold, catalog, schema, backend, report)
    except DataQualityError as exc:
        exc.report = report
        raise
    return report


def _write_together(
    silver: Mapping[str, pd.DataFrame],
    gold: pd.DataFrame,
    catalog: str | None,
    schema: str | None,
    be: Backend,
    report: IngestReport,
) -> None:
    """Write silver, then gold; if gold fails, put back each silver table this run changed."""
    before = versions_before(be, [table_name(f"silver_{k}", catalog, schema) for k in FEEDS])
    written = _write_silver(silver, catalog, schema, be)
    try:
        res = _write_gold(gold, catalog, schema, be)
    except Exception as exc:
        restore_tables(be, before, written, f"gold write failed: {type(exc).__name__}")
        raise
    report.writes += [*written, ("gold", res)]


def ingest_synthetic(
    data: SyntheticData | GeoSyntheticData,
    *,
    catalog: str | None = None,
    schema: str | None = None,
    backend: Backend | None = None,
    lakehouse: str | Path | None = None,
) -> IngestReport:
    """Push generator output through bronze -> silver -> gold, like any other data.

    Parameters
    ----------
    data : SyntheticData or GeoSyntheticData
        From :meth:`~mediamix.data.generator.Generator.generate` or ``generate_geos``.
    catalog, schema, backend, lakehouse
        As in :func:`ingest`.

    Returns
    -------
    IngestReport
        The gold table equals ``data.data`` (same columns, dates and values).
    """
    be = resolve_backend(backend, lakehouse)
    feeds = synthetic_feeds(data)
    frequency = synthetic_frequency(data)
    channels = list(dict.fromkeys(feeds["spend"].frame["channel"]))  # in the data's order
    return _run(feeds, channels, frequency, False, catalog, schema, be)
