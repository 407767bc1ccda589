"""The speed targets and where each second goes: tables of the speed report.

Every number is a median over the run's repeats (``--repeats``, 3 by default); a cold fit always
starts from empty compile caches in a fresh process.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

__all__ = ["cold_start_table", "median_run", "phase_table", "targets_table"]


def _ok(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if r.get("ok")]


def median_run(
    runs: list[dict[str, Any]], dataset: str, library: str, cache: str
) -> dict[str, Any] | None:
    """The successful run with the median end-to-end time (lower middle of an even count)."""
    found = _ok(
        [
            r
            for r in runs
            if (r.get("dataset"), r["library"], r["cache"]) == (dataset, library, cache)
        ]
    )
    if not found:
        return None
    found.sort(key=lambda r: r["end_to_end_s"])
    return found[(len(found) - 1) // 2]


def _median(records: list[dict[str, Any]], value: Callable[[dict[str, Any]], Any]) -> float | None:
    values = [v for v in (value(r) for r in _ok(records)) if v is not None]
    return float(statistics.median(values)) if values else None


def _cell(value: float | None, unit: str = "s", digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f} {unit}"


def _verdict(value: float | None, limit: float, at_least: bool = False) -> str:
    if value is None:
        return "not measured"
    met = value >= limit if at_least else value <= limit
    return "met" if met else "**missed**"


def _times(results: dict[str, Any], key: str, library: str, cache: str) -> list[dict[str, Any]]:
    return [
        r
        for r in results["runs"]
        if (r.get("dataset"), r["library"], r["cache"]) == (key, library, cache)
    ]


def _cli(results: dict[str, Any], key: str, cache: str) -> float | None:
    records = [r for r in results.get("cli_runs", {}).get(key, []) if r["cache"] == cache]
    return _median(records, lambda r: r["wall_s"])


def _row(what: str, target: str, ours: str, theirs: str, verdict: str) -> str:
    return f"| {what} | {target} | {ours} | {theirs} | {verdict} |"


def _single_rows(results: dict[str, Any]) -> list[str]:
    rows = []
    e2e, fit_s = (lambda r: r["end_to_end_s"]), (lambda r: r["fit_s"])
    if "a" in results["datasets"]:
        for cache, limit in (("warm", 5.0), ("cold", 20.0)):
            cli = _cli(results, "a", cache)
            theirs = _median(_times(results, "a", "pymc-marketing", cache), e2e)
            rows.append(
                _row(
                    f"(a) 3 ch x 209 wk, `mediamix fit` end to end, {cache}",
                    f"<= {limit:g} s",
                    _cell(cli),
                    _cell(theirs) + " (its fit script)",
                    _verdict(cli, limit),
                )
            )
        warm_fit = _median(_times(results, "a", "mediamix", "warm"), fit_s)
        theirs = _median(_times(results, "a", "pymc-marketing", "warm"), fit_s)
        rows.append(
            _row(
                "(a) fit call, warm",
                "<= 3 s",
                _cell(warm_fit),
                _cell(theirs),
                _verdict(warm_fit, 3),
            )
        )
        peak = _median(_times(results, "a", "mediamix", "warm"), lambda r: r.get("peak_rss_mib"))
        theirs = _median(
            _times(results, "a", "pymc-marketing", "warm"), lambda r: r.get("peak_rss_mib")
        )
        rows.append(
            _row(
                "(a) peak memory of the fitting process",
                "<= 500 MiB",
                _cell(peak, "MiB", 0),
                _cell(theirs, "MiB", 0),
                _verdict(peak, 500),
            )
        )
    if "b" in results["datasets"]:
        warm = _times(results, "b", "mediamix", "warm")
        t = _median(warm, e2e)
        converged = all(r.get("converged") for r in _ok(warm)) if _ok(warm) else None
        theirs = _median(_times(results, "b", "pymc-marketing", "warm"), e2e)
        verdict = _verdict(t, 12.0)
        if converged is False:
            verdict = "**missed** (not converged)"
        rows.append(
            _row(
                "(b) 10 ch x 156 wk end to end, warm, converged",
                "<= 12 s",
                _cell(t),
                _cell(theirs),
                verdict,
            )
        )
    return rows


def _speedup_rows(results: dict[str, Any]) -> list[str]:
    rows = []
    e2e = lambda r: r["end_to_end_s"]  # noqa: E731
    for key in results["datasets"]:
        for cache, limit in (("warm", 3.0), ("cold", 2.0)):
            ours = _median(_times(results, key, "mediamix", cache), e2e)
            theirs = _median(_times(results, key, "pymc-marketing", cache), e2e)
            ratio = theirs / ours if ours and theirs else None
            rows.append(
                _row(
                    f"({key}) speed-up over PyMC-Marketing, {cache}",
                    f">= {limit:g}x",
                    _cell(ours),
                    _cell(theirs),
                    f"{_cell(ratio, 'x')}: {_verdict(ratio, limit, at_least=True)}",
                )
            )
    return rows


def _make_run_rows(results: dict[str, Any]) -> list[str]:
    records = results.get("make_run")
    rows = []
    for cache, limit in (("warm", 15.0), ("cold", 40.0)):
        t = (
            None
            if not records
            else _median([r for r in records if r["cache"] == cache], lambda r: r["wall_s"])
        )
        rows.append(
            _row(f"`make run` ({cache})", f"<= {limit:g} s", _cell(t), "-", _verdict(t, limit))
        )
    return rows


def targets_table(results: dict[str, Any]) -> list[str]:
    """Every speed target with mediamix's and PyMC-Marketing's medians and whether it was met."""
    return [
        "| what | target | mediamix | PyMC-Marketing | verdict |",
        "| --- | --- | ---: | ---: | --- |",
        *_single_rows(results),
        *_speedup_rows(results),
        *_make_run_rows(results),
    ]


PHASES = (
    ("interpreter start, reading the CSV", None),
    ("imports", "import_s"),
    ("validating, building the model", "build_seconds"),
    ("compiling (sampler set-up)", None),
    ("sampling", "sampling_s"),
    ("deterministics, predictive, log-likelihood", "postprocess_seconds"),
    ("diagnostics (R-hat, ESS, LOO)", None),
)


def _phases(rec: dict[str, Any]) -> dict[str, float]:
    t = rec.get("timings", {})
    fit_s, e2e, imports = rec["fit_s"], rec["end_to_end_s"], rec.get("import_s", 0.0)
    sampling = rec.get("sampling_s") or 0.0
    return {
        "interpreter start, reading the CSV": e2e - imports - fit_s,
        "imports": imports,
        "validating, building the model": t.get("build_seconds", 0.0),
        "compiling (sampler set-up)": t.get("sample_seconds", 0.0) - sampling,
        "sampling": sampling,
        "deterministics, predictive, log-likelihood": t.get("postprocess_seconds", 0.0),
        "diagnostics (R-hat, ESS, LOO)": fit_s - t.get("fit_seconds", fit_s),
    }


def phase_table(results: dict[str, Any]) -> list[str]:
    """Where each second of mediamix's median fit goes, per dataset, cold and warm."""
    keys = list(results["datasets"])
    head = "| phase | " + " | ".join(f"({k}) cold | ({k}) warm" for k in keys) + " |"
    lines = [head, "| --- |" + " ---: |" * (2 * len(keys))]
    picked = {
        (k, c): median_run(results["runs"], k, "mediamix", c)
        for k in keys
        for c in ("cold", "warm")
    }
    split = {kc: _phases(rec) for kc, rec in picked.items() if rec is not None}
    for name, _ in PHASES:
        cells = [
            _cell(split[(k, c)][name]) if (k, c) in split else "-"
            for k in keys
            for c in ("cold", "warm")
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    totals = [
        _cell(picked[(k, c)]["end_to_end_s"]) if (k, c) in split else "-"
        for k in keys
        for c in ("cold", "warm")
    ]
    lines.append("| **end to end (fit script)** | " + " | ".join(totals) + " |")
    cli = [_cell(_cli(results, k, c)) for k in keys for c in ("cold", "warm")]
    lines.append(
        "| `mediamix fit` end to end (adds saving fit.nc, summary.json) | " + " | ".join(cli) + " |"
    )
    return lines


def cold_start_table(results: dict[str, Any]) -> list[str]:
    """``mediamix fit`` on a fresh machine: first run, later run (cache restored), and warm.

    The archive's size and the restore's time are medians of the later runs.
    """
    lines = [
        "| dataset | first run, cold (s) | later run, cache restored (s) | warm (s) "
        "| archive (MiB) | restore (s) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for key, records in results.get("cli_runs", {}).items():
        later = [r for r in records if r["cache"] == "later"]
        cells = [_cell(_cli(results, key, c)) for c in ("cold", "later", "warm")]
        archive = _median(later, lambda r: r.get("archive_mib"))
        restore = _median(later, lambda r: r.get("restore_s"))
        cells += [_cell(archive, "MiB"), _cell(restore, "s", 2)]
        lines.append(f"| ({key}) | " + " | ".join(cells) + " |")
    return lines
