"""Markdown reports from the studies' raw results (the JSON files next to them).

Pure functions of the result mappings, so the tables can be tested without fitting anything.
"""

from __future__ import annotations

import math
from typing import Any

from bench.targets import cold_start_table, median_run, phase_table, targets_table

LIBRARY_NAMES = {"mediamix": "mediamix", "pymc-marketing": "PyMC-Marketing"}

HOW_MEASURED = """\
- **end to end**: from starting a fresh Python process of the library's environment to the
  return of its fit call: interpreter start, imports, reading the CSV, building the model,
  compilation, sampling and the library's own post-processing (mediamix's `fit` also draws the
  posterior predictive, computes the pointwise log-likelihood and its diagnostics, LOO
  included; PyMC-Marketing's `fit` computes its deterministics). Scoring the fit afterwards is
  not included.
- **cold / warm**: PyTensor keeps compiled code on disk. A cold fit starts with an empty cache
  (`PYTENSOR_FLAGS=base_compiledir=<empty dir>`, and an empty `NUMBA_CACHE_DIR`); the warm fit
  repeats it with the cache the cold fit left. Fits run one at a time.
- **imports**: from process start to the end of the runner's imports (the library, pandas,
  ArviZ). **fit call**: the library's fit call alone, inside the process. **sampling**: the
  sampler's own draw loop (the `sampling_time` both libraries record), tuning included; where the
  log-density is compiled lazily, on its first call inside the sampler, a cold fit's sampling
  time includes that compilation.
- **min bulk ESS**: the smallest bulk effective sample size over the channel parameters
  (adstock `alpha`, saturation `lam` and the channel coefficient, every channel);
  **ESS/s** divides it by the sampling time. **max R-hat**: over all free parameters.
- **ROAS error**: `|posterior mean ROAS - true ROAS| / true ROAS` per channel, ROAS being total
  contribution / total spend over the data window; the table gives the mean and the maximum
  over channels.
- **peak memory**: the fitting process's peak resident set size (`ru_maxrss`); compiler
  subprocesses are reported separately in the JSON (`peak_rss_children_mib`).
- **medians**: every cold-then-warm pair runs `--repeats` times (3 by default), each cold fit
  on a fresh empty cache; tables give the run with the median end-to-end time.
- **`mediamix fit` end to end**: the command line (`--no-tracking`) from process start to exit:
  the fit script's work plus saving `fit.nc` and `summary.json`. It runs with a compile cache
  root (`--compile-cache`, a Volume folder on Databricks): the cold command starts with empty
  caches and writes the archive (a job's **first run**), the warm one reuses its machine's
  local copy, and the **later run** starts on an empty machine (fresh local folders) and
  restores the cold run's archive, as every later Databricks job run does. **`make run`**: `RUNME.py
  --local` (generate, ingest, fit, track, register), its MLflow store and lakehouse in the
  work directory.
- **phases**: mediamix's own timers. *compiling* is the sampler's set-up (building the
  log-density functions and loading or compiling nutpie's callback), the sampler's time minus
  its draw loop; *diagnostics* is the fit call's remainder (R-hat, ESS, LOO).
- **dataset (d)** is public data with no known truth: ROAS is shown without an error, and the
  model follows PyMC-Marketing's documented example (adstock `l_max` 8, controls `event_1`,
  `event_2`, `t`, no separate trend), not the settings line above.
"""

STRUCTURE = """\
Both models: spend divided by its maximum per channel, the outcome by its maximum; normalized
geometric adstock with the same `l_max`, then logistic saturation `(1 - e^(-lam x)) /
(1 + e^(-lam x))` times a channel coefficient; an intercept; a linear trend over the window;
yearly Fourier seasonality of the same order; controls divided by their maximum absolute
value; Normal likelihood. With `priors: matched`, PyMC-Marketing is given mediamix's priors.
What could not be matched exactly:

- PyMC-Marketing has no trend term in `MMM`; the trend enters as one more control column
  (time scaled to [0, 1]), whose coefficient gets mediamix's trend prior.
- The Fourier terms use calendar time in mediamix (days since 2000-01-01 / 365.25) and the day
  of the year in PyMC-Marketing (`dayofyear / 365.25`): the same yearly basis, with a phase that
  differs by under a day from year to year.
- Each library samples with its own default sampler and settings (below).
"""


def fmt(value: Any, digits: int = 1, percent: bool = False) -> str:
    """A number for a table cell; ``-`` for a missing or non-finite value."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    if isinstance(value, bool | str):
        return str(value)
    if percent:
        return f"{100 * value:.{digits}f}%"
    return f"{value:,.{digits}f}"


def _versions(versions: dict[str, str]) -> str:
    shown = {k: v for k, v in versions.items() if v != "-"}
    return ", ".join(f"{k} {v}" for k, v in shown.items()) or "-"


def machine_table(machine: dict[str, Any], labels: dict[str, str]) -> list[str]:
    """The machine description as a two-column table."""
    rows = [
        ("date", machine.get("date")),
        ("CPU", f"{machine.get('cpu_model')}, {machine.get('cpu_count')} logical cores"),
        ("memory", f"{fmt(machine.get('memory_gib'))} GiB"),
        ("platform", machine.get("platform")),
    ]
    start, end = machine.get("load_average"), machine.get("load_average_end")
    if start:
        load = ", ".join(fmt(x, 2) for x in start)
        if end:
            load += " (start); " + ", ".join(fmt(x, 2) for x in end) + " (end)"
        rows.append(("load average (1, 5, 15 min)", load))
    for env, versions in machine.get("versions", {}).items():
        rows.append((f"{labels.get(env, env)} environment", _versions(versions)))
    return ["| | |", "| --- | --- |", *(f"| {k} | {v} |" for k, v in rows)]


def sampler_lines(runs: list[dict[str, Any]]) -> list[str]:
    """One line per library: the sampler and the NUTS settings its fits recorded."""
    lines = []
    for library, name in LIBRARY_NAMES.items():
        rec = next((r for r in runs if r["library"] == library and r.get("ok")), None)
        if rec is None:
            continue
        st = rec.get("sampler_settings") or {}
        details = ", ".join(
            f"{label} {st[key]}"
            for key, label in (
                ("adaptation", "mass-matrix adaptation"),
                ("target_accept", "target_accept"),
                ("maxdepth", "max tree depth"),
            )
            if st.get(key) is not None
        )
        lines.append(f"- {name}: `{rec.get('sampler')}`" + (f" ({details})" if details else ""))
    return lines


def _run(runs: list[dict[str, Any]], dataset: str, library: str, cache: str) -> dict | None:
    """The median run (by end-to-end time) of a library on a dataset in one cache state."""
    return median_run(runs, dataset, library, cache)


def _e2e(rec: dict[str, Any] | None) -> float | None:
    return rec["end_to_end_s"] if rec and rec.get("ok") else None


def _speedup(ours: float | None, theirs: float | None) -> str:
    return f"{theirs / ours:.1f}x" if ours and theirs else "-"


def summary_table(results: dict[str, Any]) -> list[str]:
    """End-to-end times of every dataset and the speed-up of mediamix."""
    runs = results["runs"]
    lines = [
        "| dataset | weeks x channels | mediamix cold (s) | mediamix warm (s) "
        "| PyMC-Marketing cold (s) | PyMC-Marketing warm (s) | speed-up cold | speed-up warm |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for key, ds in results["datasets"].items():
        t = {
            (lib, c): _e2e(_run(runs, key, lib, c))
            for lib in ("mediamix", "pymc-marketing")
            for c in ("cold", "warm")
        }
        lines.append(
            f"| ({key}) | {ds['n_periods']} x {len(ds['channels'])} "
            f"| {fmt(t['mediamix', 'cold'])} | {fmt(t['mediamix', 'warm'])} "
            f"| {fmt(t['pymc-marketing', 'cold'])} | {fmt(t['pymc-marketing', 'warm'])} "
            f"| {_speedup(t['mediamix', 'cold'], t['pymc-marketing', 'cold'])} "
            f"| {_speedup(t['mediamix', 'warm'], t['pymc-marketing', 'warm'])} |"
        )
    return lines


def runs_table(runs: list[dict[str, Any]]) -> list[str]:
    """One row per fit of a dataset: times, convergence, ROAS error, memory."""
    lines = [
        "| library | cache | end to end (s) | imports (s) | fit call (s) | sampling (s) "
        "| min bulk ESS | ESS/s | max R-hat | divergences | ROAS error mean | ROAS error max "
        "| peak memory (MiB) |",
        "| --- | --- |" + " ---: |" * 11,
    ]
    for rec in runs:
        name = LIBRARY_NAMES.get(rec["library"], rec["library"])
        if not rec.get("ok"):
            lines.append(f"| {name} | {rec['cache']} | failed: {rec.get('error', '?')} |")
            continue
        roas = rec["roas"]
        lines.append(
            f"| {name} | {rec['cache']} | {fmt(rec['end_to_end_s'])} | {fmt(rec.get('import_s'))} "
            f"| {fmt(rec['fit_s'])} "
            f"| {fmt(rec['sampling_s'])} | {fmt(rec['ess_bulk_min_channel'], 0)} "
            f"| {fmt(rec['ess_bulk_min_channel_per_s'])} | {fmt(rec['r_hat_max'], 3)} "
            f"| {rec['divergences']} | {fmt(roas['rel_error_mean'], 1, True)} "
            f"| {fmt(roas['rel_error_max'], 1, True)} | {fmt(rec['peak_rss_mib'], 0)} |"
        )
    return lines


def _pick(runs: list[dict[str, Any]], dataset: str, library: str) -> dict | None:
    """The warm fit of a library on a dataset, else its cold one."""
    for cache in ("warm", "cold"):
        rec = _run(runs, dataset, library, cache)
        if rec and rec.get("ok"):
            return rec
    return None


def _roas_cell(rec: dict[str, Any] | None, channel: str) -> str:
    if rec is None:
        return "-"
    c = rec["roas"]["channels"][channel]
    return (
        f"{c['mean']:.2f} [{c['hdi_low']:.2f}, {c['hdi_high']:.2f}] "
        f"({fmt(c['rel_error'], 1, True)})"
    )


def roas_table(runs: list[dict[str, Any]], key: str, dataset: dict[str, Any]) -> list[str]:
    """Per-channel ROAS of both libraries against the truth."""
    ours, theirs = _pick(runs, key, "mediamix"), _pick(runs, key, "pymc-marketing")
    prob = next((r["roas"]["hdi_prob"] for r in (ours, theirs) if r), None)
    label = f"mean [{fmt(prob, 0, True)} HDI] (error)"
    lines = [
        f"| channel | true ROAS | mediamix: {label} | PyMC-Marketing: {label} |",
        "| --- | ---: | ---: | ---: |",
    ]
    for ch in dataset["channels"]:
        true = dataset["true_roas"].get(ch)
        shown = "unknown" if true is None else f"{true:.2f}"
        lines.append(f"| {ch} | {shown} | {_roas_cell(ours, ch)} | {_roas_cell(theirs, ch)} |")
    return lines


def settings_note(settings: dict[str, Any]) -> list[str]:
    """A warning line when the run used fewer draws than the benchmark's 4 x (1000 + 1000)."""
    full = (settings["chains"], settings["tune"], settings["draws"]) == (4, 1000, 1000)
    if full:
        return []
    return [
        f"**Reduced settings ({settings['chains']} chains x ({settings['tune']} tune + "
        f"{settings['draws']} draws)): a smoke run, not the benchmark's 4 x (1000 + 1000).**",
        "",
    ]


def render_speed(
    results: dict[str, Any], command: str, raw_path: str = "docs/benchmarks.json"
) -> str:
    """The ``docs/benchmarks.md`` page for a speed study's results.

    Parameters
    ----------
    results : dict
        What :func:`bench.harness.speed_study` returned, plus ``machine``.
    command : str
        The command that produced it, quoted in the page.
    raw_path : str
        Where the raw results were written, named in the page.

    Returns
    -------
    str
        Markdown.
    """
    from bench.report_geo import render_geo_speed

    s = results["settings"]
    labels = {
        "mediamix": "mediamix",
        "pymc-marketing": "PyMC-Marketing",
        "google-meridian": "Meridian",
    }
    out = [
        "# Benchmarks: mediamix, PyMC-Marketing and Google Meridian",
        "",
        f"Generated by `{command}`; every number below comes from that run (raw numbers in "
        f"`{raw_path}`). Rerun it to update this page rather than editing it.",
        "",
        *settings_note(s),
        "## Machine",
        "",
        *machine_table(results["machine"], labels),
        "",
    ]
    if results["datasets"]:
        out += national_speed(results)
    if "geo" in results:
        out += render_geo_speed(results["geo"])
    out += ["## How it is measured", "", HOW_MEASURED]
    return "\n".join(out)


def national_speed(results: dict[str, Any]) -> list[str]:
    """The national datasets' sections: settings, summary, one section per dataset."""
    s = results["settings"]
    out = [
        "## Settings",
        "",
        f"{s['chains']} chains x ({s['tune']} tune + {s['draws']} draws), sampler seed "
        f"{s['seed']}; geometric adstock with `l_max` {s['l_max']}, logistic saturation, yearly "
        f"seasonality of order {s['yearly_order']}, linear trend {'on' if s['trend'] else 'off'}. "
        f"PyMC-Marketing's priors: `{s['prior_mode']}`.",
        "",
        STRUCTURE,
        "Samplers, as the fits recorded them:",
        "",
        *sampler_lines(results["runs"]),
        "",
        "## Targets",
        "",
        f"Medians of {s.get('repeats', 1)} run(s) each; cold = empty compile caches, fresh "
        "process.",
        "",
        *targets_table(results),
        "",
        "## Summary: end-to-end wall time",
        "",
        *summary_table(results),
        "",
        "Speed-up: PyMC-Marketing's end-to-end time divided by mediamix's, same cache state.",
        "",
        "## Where each second goes (mediamix, median fit)",
        "",
        *phase_table(results),
        "",
        "## Cold starts: first run and later runs (`mediamix fit --compile-cache`)",
        "",
        *cold_start_table(results),
        "",
    ]
    for key, ds in results["datasets"].items():
        runs = [r for r in results["runs"] if r["dataset"] == key]
        controls = ", ".join(ds["controls"]) or "none"
        origin = f"data seed {ds['seed']}" if ds.get("seed") is not None else "public data"
        structure = (
            f"; `l_max` {ds['l_max']}, trend {'on' if ds['trend'] else 'off'}"
            if "l_max" in ds
            else ""
        )
        out += [
            f"## Dataset ({key}): {ds['title']}",
            "",
            f"{ds['n_periods']} weeks, {len(ds['channels'])} channels, controls: {controls}; "
            f"{origin}{structure}.",
            "",
            *runs_table(runs),
            "",
            "ROAS per channel (each library's warm fit, or its cold one where there is no warm):",
            "",
            *roas_table(runs, key, ds),
            "",
        ]
    return out


def render_recovery(
    results: dict[str, Any], command: str, raw_path: str = "docs/recovery.json"
) -> str:
    """The ``docs/recovery.md`` page for a recovery study's results.

    Parameters
    ----------
    results : dict
        What :func:`bench.recovery.recovery_study` returned, plus ``machine``.
    command : str
        The command that produced it, quoted in the page.
    raw_path : str
        Where the raw results were written, named in the page.

    Returns
    -------
    str
        Markdown.
    """
    from bench.report_geo import render_geo_recovery

    s = results["settings"]
    seeds = results["seeds"]
    geo_seeds = results.get("geo_seeds") or seeds
    geo_keys = [k for k, sm in results["summary"].items() if "geo" in sm]
    national_note = (
        f"Each national dataset is drawn with {len(seeds)} data seeds ({seeds[0]} to "
        f"{seeds[-1]}): new spend, controls and noise each time, the same true response "
        "parameters. "
        if len(geo_keys) < len(results["summary"])
        else ""
    )
    geo_note = (
        [
            f"Geo datasets ({', '.join(geo_keys)}) are drawn with {len(geo_seeds)} data seeds "
            f"({geo_seeds[0]} to {geo_seeds[-1]}): new spend, noise, geo spend shares and geo "
            "effects around the same national response parameters each time. They are fitted "
            f"with the geo model (centred geo effects, a {_spread_prior()} prior on each "
            "channel's spread of log effects across geos: `bench/geo_bench.py`); their national "
            "ROAS is the sum over geos, and each geo's ROAS is also scored against its own truth.",
            "",
        ]
        if geo_keys
        else []
    )
    out = [
        "# Recovery study: mediamix's ROAS against the truth",
        "",
        f"Generated by `{command}`; every number below comes from that run (raw numbers in "
        f"`{raw_path}`). Rerun it to update this page rather than editing it.",
        "",
        *settings_note(s),
        f"{national_note}Each draw is "
        f"fitted with mediamix ({s['sampler']}, {s['chains']} chains x ({s['tune']} tune + "
        f"{s['draws']} draws), sampler seed {s['seed']}). **Coverage** is the share of "
        "(fit, channel) pairs whose true ROAS lies inside the posterior HDI at the fit's "
        "`hdi_prob`; **relative error** is `|posterior mean ROAS - true ROAS| / true ROAS`.",
        "",
        *geo_note,
        *_stopped_note(results),
        *_resumed_note(results),
        *(
            []
            if geo_keys
            else [
                "The 40-geo dataset has a page of its own, `docs/recovery_geo.md` (`make "
                "recovery` writes both).",
                "",
            ]
        ),
        "## Machine",
        "",
        *machine_table(results["machine"], {"mediamix": "mediamix"}),
        "",
        "## Summary",
        "",
        "| dataset | fits | failed | converged | HDI prob | coverage | error mean | p10 | p25 "
        "| median | p75 | p90 | max | mean fit time (s) |",
        "| --- |" + " ---: |" * 13,
    ]
    for key, sm in results["summary"].items():
        e = sm["rel_error"]
        cells = [e["mean"], e["p10"], e["p25"], e["p50"], e["p75"], e["p90"], e["max"]]
        out.append(
            f"| ({key}) | {sm['n_fits']} | {sm.get('n_failed', 0)} | {sm['n_converged']} "
            f"| {fmt(sm['hdi_prob'], 0, True)} "
            f"| {fmt(sm['coverage'], 0, True)} | "
            + " | ".join(fmt(c, 1, True) for c in cells)
            + f" | {fmt(sm['fit_s_mean'])} |"
        )
    out.append("")
    for key, sm in results["summary"].items():
        out += [
            f"## Dataset ({key}): {sm['title']}",
            "",
            "| channel | true ROAS (range over seeds) | coverage | median error | p90 error |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        for ch, c in sm["channels"].items():
            out.append(
                f"| {ch} | {c['true_roas_min']:.2f} to {c['true_roas_max']:.2f} "
                f"| {fmt(c['coverage'], 0, True)} | {fmt(c['rel_error_median'], 1, True)} "
                f"| {fmt(c['rel_error_p90'], 1, True)} |"
            )
        out.append("")
        if "geo" in sm:
            out += render_geo_recovery(key, sm)
    return "\n".join(out)


def _spread_prior() -> str:
    from bench.geo_bench import GEO_SPREAD_PRIOR

    p = GEO_SPREAD_PRIOR
    return f"{p['dist']}({p['alpha']:g}, {p['beta']:g})"


def _resumed_note(results: dict[str, Any]) -> list[str]:
    """Which fits came from an earlier run (``--resume``), and when and how it ran."""
    resumed = results.get("resumed")
    if not resumed or not resumed.get("fits"):
        return []
    machine = resumed.get("machine") or {}
    load = machine.get("load_average")
    when = f" on {machine['date']}" if machine.get("date") else ""
    loaded = f", load average {', '.join(f'{x:.2f}' for x in load)}" if load else ""
    command = f" (`{resumed['command']}`)" if resumed.get("command") else ""
    return [
        f"{resumed['fits']} of the fits were kept from an earlier run of the same settings"
        f"{command}, started{when}{loaded}; this run (`--resume`) fitted the others. The "
        "machine table describes this run.",
        "",
    ]


def _stopped_note(results: dict[str, Any]) -> list[str]:
    """A warning line when the study stopped before all its planned fits ran."""
    planned = results.get("planned_fits")
    done = len(results["fits"])
    if planned is None or done >= planned:
        return []
    return [
        f"**This run stopped after {done} of its {planned} planned fits** (rendered from its "
        "partial results with `--from-partial`); the tables below cover those fits only.",
        "",
    ]
