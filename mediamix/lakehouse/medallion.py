"""Medallion pipeline: raw feeds -> bronze -> silver (+ quarantine) -> gold ``mmm_gold``.

- **bronze**: each feed as received (every value a string) plus ``source``, ``source_row`` and
  ``ingested_at``. Column names are normalized (``Paid Search`` -> ``paid_search``).
- **silver**: typed, validated, deduplicated rows. Rows that break a rule go to
  ``mmm_quarantine`` with the rule, the column and the reason; by default any reject fails the
  run after bronze and the quarantine are written (silver and gold keep their versions).
- **gold**: ``mmm_gold``, one row per period on a complete date grid: ``date``, one spend column
  per channel (zero where no spend), controls, the outcome.

Each step reads the previous layer's tables and overwrites its own; a write whose content equals
the table's current version is skipped, so re-running on the same input is idempotent and
creates no versions. A failing step writes nothing to the tables it would have replaced. The
feeds are read by :mod:`mediamix.lakehouse.feeds`, silver's row rules are in
:mod:`mediamix.lakehouse.quality` and gold's grid rules in :mod:`mediamix.lakehouse.gold`.
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
from mediamix.lakehouse.feeds import FEEDS, Feed, empty_feed, read_feed, synthetic_feeds
from mediamix.lakehouse.gold import build_gold
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
from mediamix.lakehouse.tables import get_backend, read_table, resolve_backend, write_table

if TYPE_CHECKING:
    from mediamix.data.generator import SyntheticData

__all__ = [
    "TABLES",
    "IngestReport",
    "bronze_step",
    "gold_step",
    "ingest",
    "ingest_synthetic",
    "silver_step",
    "table_name",
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
    stamp = pd.Timestamp(ingested_at or dt.datetime.now(dt.UTC))
    stamp = (stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp).tz_convert("UTC")
    out = []
    for kind in FEEDS:
        if kind not in feeds and kind != "controls":
            raise MediamixError(f"the {kind} feed is required")
        feed = feeds.get(kind) or empty_feed(kind)
        rows = feed.frame.assign(
            source=feed.source,
            source_row=pd.Series(range(1, len(feed.frame) + 1), dtype="int64"),
            ingested_at=pd.Series(stamp, index=feed.frame.index, dtype=TIMESTAMP_DTYPE),
        )
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
    expected = None if channels is None else [normalize_name(c) for c in channels]
    spend, spend_rej, spend_dupes = validate_spend(bronze["spend"], expected)
    outcome, outcome_rej, outcome_dupes = validate_outcome(bronze["outcome"])
    controls, controls_rej, controls_dupes = validate_controls(bronze["controls"])
    frames = [f for f in (spend_rej, outcome_rej, controls_rej) if len(f)]
    rejects = _quarantine_order(pd.concat(frames) if frames else empty_rejects())
    quarantine = table_name("quarantine", catalog, schema)
    report.writes.append(("quarantine", write_table(rejects, quarantine, backend=be)))
    report.quarantined = int(rejects[["feed", "source_row"]].drop_duplicates().shape[0])
    report.issues = summarize(rejects)
    dupes = spend_dupes + outcome_dupes + controls_dupes
    if dupes:
        report.notes.append(f"collapsed {dupes} exact duplicate row(s)")
    if report.issues and not allow_rejects:
        note = f"{report.quarantined} row(s) rejected, see table {quarantine}"
        raise DataQualityError("silver", report.issues, note)
    for kind, frame in (("spend", spend), ("outcome", outcome), ("controls", controls)):
        name = table_name(f"silver_{kind}", catalog, schema)
        report.writes.append(("silver", write_table(frame, name, replace_schema=True, backend=be)))
    return report


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
    silver = {
        k: read_table(table_name(f"silver_{k}", catalog, schema), backend=be).sort_values(
            ["source", "source_row"], kind="stable"
        )
        for k in FEEDS
    }
    expected = None if channels is None else [normalize_name(c) for c in channels]
    gold, notes = build_gold(
        silver["spend"],
        silver["outcome"],
        silver["controls"],
        frequency=frequency,
        channels=expected,
    )
    name = table_name("gold", catalog, schema)
    report.writes.append(("gold", write_table(gold, name, replace_schema=True, backend=be)))
    report.notes += notes
    return report


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
    """Run bronze -> silver -> gold on raw feeds (CSV paths, table names or frames).

    Parameters
    ----------
    spend, outcome : str, Path or pandas.DataFrame
        Long spend ``date, channel, spend`` and outcome ``date, <outcome>``.
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
    report = IngestReport()
    report.writes += bronze_step(feeds, catalog=catalog, schema=schema, backend=backend)
    try:
        silver_step(
            channels=channels,
            allow_rejects=allow_rejects,
            catalog=catalog,
            schema=schema,
            backend=backend,
            report=report,
        )
        gold_step(
            frequency=frequency,
            channels=channels,
            catalog=catalog,
            schema=schema,
            backend=backend,
            report=report,
        )
    except DataQualityError as exc:
        exc.report = report
        raise
    return report


def ingest_synthetic(
    data: SyntheticData,
    *,
    catalog: str | None = None,
    schema: str | None = None,
    backend: Backend | None = None,
    lakehouse: str | Path | None = None,
) -> IngestReport:
    """Push generator output through bronze -> silver -> gold, like any other data.

    Parameters
    ----------
    data : SyntheticData
        From :meth:`~mediamix.data.generator.Generator.generate`.
    catalog, schema, backend, lakehouse
        As in :func:`ingest`.

    Returns
    -------
    IngestReport
        The gold table equals ``data.data`` (same columns, dates and values).
    """
    be = resolve_backend(backend, lakehouse)
    feeds = synthetic_feeds(data)
    frequency: Frequency = "daily" if data.truth.meta.get("frequency") == "daily" else "weekly"
    channels = list(data.truth.contributions.columns)
    return _run(feeds, channels, frequency, False, catalog, schema, be)
