"""The geo sections of the benchmark and recovery pages (pure functions of the raw results)."""

from __future__ import annotations

from typing import Any

from bench.report import fmt
from bench.sections import GEO_MEMORY, write_section

GEO_NAMES = {"mediamix": "mediamix (geo model)", "meridian": "Meridian"}

GEO_STRUCTURE = """\
Both libraries get the same long table (one row per week and geo: spend per channel, controls,
the outcome, population) and the same chains, warm-up and kept draws. What each model is:

- **mediamix**: spend and outcome per capita, spend scaled by each channel's national maximum
  of per-capita spend, the outcome by one scale; partially pooled geo intercepts; trend and
  yearly Fourier seasonality shared by all geos; channel coefficients `beta[geo, channel]`
  lognormal around the national `beta[channel]` (centred); geometric adstock and logistic
  saturation shared across geos; Normal likelihood; nutpie's NUTS.
- **Meridian** (its defaults unless stated): `kpi_type="revenue"` with the outcome as KPI, so
  its ROI is revenue per unit of spend, as mediamix's ROAS is; media = spend; population per
  geo (it too models per capita); geometric adstock with `max_lag = l_max`, Hill saturation,
  its ROI priors, geo-level media effects lognormal around national ones, its knots for the time
  effect (default in a geo model: one per week) and one residual sigma; TensorFlow
  Probability's windowed adaptive NUTS, warm-up split into `n_adapt` (80 %) and `n_burnin`.

Not matched: the saturation curve (logistic vs Hill), the priors (each library's own), the time
effect (trend + Fourier vs knots) and the samplers. The ROAS each reports is the same quantity:
a channel's total contribution (Meridian: incremental revenue with the channel's spend set to
zero) over its total spend, nationally and per geo; both fits are scored by the same code
(`bench/metrics.py`). **Geo HDI coverage** is the share of (geo, channel) pairs whose true geo
ROAS lies inside the fit's 94 % HDI (nominal 94 %). Meridian's time includes tracing and XLA
compilation, which it does in every process; mediamix's cold run includes PyTensor/numba
compilation into an empty cache, its warm run reuses it.
"""


def _ok(runs: list[dict[str, Any]], dataset: str, library: str) -> dict[str, Any] | None:
    """The library's first successful fit of a dataset (mediamix: the cold one)."""
    return next(
        (r for r in runs if r["dataset"] == dataset and r["library"] == library and r.get("ok")),
        None,
    )


def geo_runs_table(runs: list[dict[str, Any]]) -> list[str]:
    """One row per geo fit: times, convergence, national and geo accuracy, memory."""
    lines = [
        "| library | cache | end to end (s) | imports (s) | fit call (s) | sampling (s) "
        "| min bulk ESS | max R-hat | divergences | ROAS error mean | ROAS error max "
        "| national coverage | geo coverage | peak memory (MiB) |",
        "| --- | --- |" + " ---: |" * 12,
    ]
    for rec in runs:
        name = GEO_NAMES.get(rec["library"], rec["library"])
        if not rec.get("ok"):
            lines.append(f"| {name} | {rec['cache']} | failed: {rec.get('error', '?')} |")
            continue
        roas, geo = rec["roas"], rec.get("geo_roas", {})
        lines.append(
            f"| {name} | {rec['cache']} | {fmt(rec['end_to_end_s'])} | {fmt(rec.get('import_s'))} "
            f"| {fmt(rec['fit_s'])} | {fmt(rec['sampling_s'])} "
            f"| {fmt(rec['ess_bulk_min_channel'], 0)} | {fmt(rec['r_hat_max'], 3)} "
            f"| {rec['divergences']} | {fmt(roas['rel_error_mean'], 1, True)} "
            f"| {fmt(roas['rel_error_max'], 1, True)} | {fmt(roas.get('coverage'), 0, True)} "
            f"| {fmt(geo.get('coverage'), 0, True)} | {fmt(rec['peak_rss_mib'], 0)} |"
        )
    return lines


def _cell(rec: dict[str, Any] | None, channel: str) -> str:
    if rec is None:
        return "-"
    c = rec["roas"]["channels"][channel]
    return (
        f"{c['mean']:.2f} [{c['hdi_low']:.2f}, {c['hdi_high']:.2f}] "
        f"({fmt(c['rel_error'], 1, True)})"
    )


def _geo_cell(rec: dict[str, Any] | None, channel: str) -> str:
    if rec is None or "geo_roas" not in rec:
        return "-"
    c = rec["geo_roas"]["channels"][channel]
    return f"{fmt(c['coverage'], 0, True)} ({fmt(c['rel_error_median'], 1, True)})"


def geo_roas_table(runs: list[dict[str, Any]], key: str, ds: dict[str, Any]) -> list[str]:
    """National ROAS per channel of both libraries, and their per-geo coverage."""
    ours, theirs = _ok(runs, key, "mediamix"), _ok(runs, key, "meridian")
    lines = [
        "| channel | true ROAS | mediamix: mean [94% HDI] (error) | Meridian: mean [94% HDI] "
        "(error) | mediamix geo coverage (median geo error) | Meridian geo coverage (median "
        "geo error) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for ch, true in ds["true_roas"].items():
        lines.append(
            f"| {ch} | {true:.2f} | {_cell(ours, ch)} | {_cell(theirs, ch)} "
            f"| {_geo_cell(ours, ch)} | {_geo_cell(theirs, ch)} |"
        )
    return lines


def ratio_lines(runs: list[dict[str, Any]], key: str) -> list[str]:
    """Meridian's end-to-end time over mediamix's, cold and warm."""
    meridian = _ok(runs, key, "meridian")
    out = []
    for cache in ("cold", "warm"):
        ours = next(
            (
                r
                for r in runs
                if (r["dataset"], r["library"], r["cache"]) == (key, "mediamix", cache)
                and r.get("ok")
            ),
            None,
        )
        if ours and meridian:
            ratio = meridian["end_to_end_s"] / ours["end_to_end_s"]
            out.append(
                f"- Meridian / mediamix ({cache}) end-to-end: "
                f"{fmt(meridian['end_to_end_s'])} s / {fmt(ours['end_to_end_s'])} s = "
                f"**{ratio:.1f}x**"
            )
    return out or ["- no ratio: a library's fit is missing or failed"]


def memory_table(projection: list[dict[str, Any]]) -> list[str]:
    """The measured peak memory and its projection to the target shape."""
    if not projection:
        return ["No successful fit recorded its result arrays: no projection."]
    t = projection[0]["target_shape"]
    lines = [
        f"Projected to {t['geo']} geos x {t['date']} weeks x {t['channel']} channels and "
        f"{t['draws']} draws from the largest measured fit: its result arrays (posterior, "
        "predictive draws, log-likelihood, sample statistics) scaled along their geo, week, "
        "channel and draw dims, plus the rest of its peak resident memory (interpreter, "
        "compiled code, the sampler's working memory), fitted as a line in geos x weeks x "
        "channels where the library was measured at two sizes, else carried over. "
        "Arithmetic from measurements, not a measurement at that size.",
        "",
        "| library | cache | measured (geos x weeks x channels, draws) | peak (MiB) "
        "| result arrays (MiB) | rest (MiB) | arrays at target (MiB) | rest at target (MiB) "
        "| projected peak (MiB) | rest projected |",
        "| --- | --- | --- |" + " ---: |" * 6 + " --- |",
    ]
    for p in projection:
        m = p["measured_shape"]
        lines.append(
            f"| {GEO_NAMES.get(p['library'], p['library'])} | {p['cache']} "
            f"| {m['geo']} x {m['date']} x {m['channel']}, {m['draws']} "
            f"| {fmt(p['peak_rss_mib'], 0)} | {fmt(p['arrays_mib'], 0)} | {fmt(p['rest_mib'], 0)} "
            f"| {fmt(p['arrays_target_mib'], 0)} | {fmt(p['rest_target_mib'], 0)} "
            f"| {fmt(p['projected_peak_mib'], 0)} | {p['rest_model']} |"
        )
    return lines


def render_geo_speed(geo: dict[str, Any]) -> list[str]:
    """The geo section of ``docs/benchmarks.md``."""
    s = geo["settings"]
    knots = s.get("meridian_knots")
    out = [
        "## Geo benchmark: mediamix's geo model and Google Meridian",
        "",
        f"{s['chains']} chains x ({s['tune']} warm-up + {s['draws']} draws) for both; "
        f"adstock window {s['l_max']}; Meridian's knots: "
        f"{knots if knots is not None else 'its default'}.",
        "",
        GEO_STRUCTURE,
    ]
    for key, ds in geo["datasets"].items():
        runs = [r for r in geo["runs"] if r["dataset"] == key]
        controls = ", ".join(ds["controls"]) or "none"
        out += [
            f"### Geo dataset ({key}): {ds['title']}",
            "",
            f"{ds['n_geos']} geos x {ds['n_periods']} weeks x {len(ds['channels'])} channels, "
            f"controls: {controls}; drawn by mediamix's geo generator from `{ds['config']}`.",
            "",
            *ratio_lines(runs, key),
            "",
            *geo_runs_table(runs),
            "",
            "National ROAS per channel, and per-geo HDI coverage of each channel over all geos:",
            "",
            *geo_roas_table(runs, key, ds),
            "",
        ]
    out += ["### Memory at 200 geos", "", *memory_table(geo.get("memory_projection", [])), ""]
    return out


def render_geo_recovery(key: str, sm: dict[str, Any]) -> list[str]:
    """Per-geo coverage lines of one geo dataset in ``docs/recovery.md``."""
    g = sm["geo"]
    out = [
        f"Per-geo ROAS over {sm['n_fits']} fits x {g['n_geos']} geos: HDI coverage "
        f"{fmt(g['coverage'], 1, True)} against the nominal {fmt(g['hdi_prob'], 0, True)} "
        f"(per fit from {fmt(g['coverage_min_fit'], 0, True)} to "
        f"{fmt(g['coverage_max_fit'], 0, True)}); median relative error of the geo ROAS "
        f"{fmt(g['rel_error_median'], 1, True)}.",
        "",
        "| channel | geo HDI coverage | nominal | median geo error |",
        "| --- | ---: | ---: | ---: |",
    ]
    for ch, c in g["channels"].items():
        out.append(
            f"| {ch} | {fmt(c['coverage'], 1, True)} | {fmt(g['hdi_prob'], 0, True)} "
            f"| {fmt(c['rel_error_median'], 1, True)} |"
        )
    out.append("")
    return out


#: The markers around the geo memory section in ``docs/benchmarks.md``.
MEMORY_BEGIN, MEMORY_END = GEO_MEMORY

_PHASE_NAMES = {
    "imports": "imports",
    "data": "generate the data",
    "fit": "fit (between its steps)",
    "fit:build": "fit: build the model",
    "fit:sampling": "fit: sampling (nutpie)",
    "fit:deterministics": "fit: deterministics (per-draw sums, per-cell means)",
    "fit:predictive": "fit: posterior predictive + log-likelihood",
    "fit:compact": "fit: round to float32 precision",
    "fit:diagnostics": "fit: diagnostics (R-hat, ESS, LOO)",
    "summary": "summary.json",
    "save": "save fit.nc",
    "load": "load fit.nc",
    "summary_loaded": "summary of the loaded fit",
    "summary_loaded:diagnostics": "loaded fit: diagnostics again (R-hat, ESS, LOO)",
    "figures": "figures of the loaded fit",
    "figures:build": "figures: the model rebuilt for prior draws",
    "between": "between phases",
}


def write_memory_section(doc_text: str, section: str) -> str:
    """``doc_text`` with the geo memory section replaced (or appended)."""
    return write_section(doc_text, section, GEO_MEMORY)


def _phase_rows(projection: dict[str, Any], replays: list[int]) -> list[str]:
    head = "| phase | peak, sampled fit (MiB) | " + " | ".join(
        f"replay at {d:,} draws (MiB)" for d in replays
    )
    lines = [
        head + " | MiB per 1,000 draws | slope from | projected (MiB) |",
        "| --- | ---: |" + " ---: |" * len(replays) + " ---: | --- | ---: |",
    ]
    for row in projection["phases"]:
        if row["phase"] in ("between", "fit:build") and row["slope_mib_per_draw"] == 0:
            continue
        replay = [fmt(row["replay_peaks_mib"].get(str(d)), 0) for d in replays]
        lines.append(
            f"| {_PHASE_NAMES.get(row['phase'], row['phase'])} | {fmt(row['peak_mib'], 0)} | "
            + " | ".join(replay)
            + f" | {fmt(1000 * row['slope_mib_per_draw'], 1)} | {row['slope_from']} "
            f"| {fmt(row['projected_mib'], 0)} |"
        )
    return lines


def _stored_rows(projection: dict[str, Any], top: int = 6) -> list[str]:
    per_draw = sorted(projection["stored_per_draw_bytes"].items(), key=lambda kv: -kv[1])
    target = projection["target_draws"]
    lines = [
        f"| array held per draw | bytes per draw | at {target:,} draws (MiB) |",
        "| --- | ---: | ---: |",
    ]
    for name, size in per_draw[:top]:
        lines.append(f"| `{name}` | {fmt(size, 0)} | {fmt(size * target / 2**20, 0)} |")
    rest = sum(size for _, size in per_draw[top:])
    if rest:
        lines.append(
            f"| {len(per_draw) - top} others | {fmt(rest, 0)} | {fmt(rest * target / 2**20, 0)} |"
        )
    return lines


def render_geo_memory(results: dict[str, Any], command: str, raw: str) -> str:
    """The geo memory section of ``docs/benchmarks.md`` (between :data:`MEMORY_BEGIN`/END)."""
    s, p, m = results["settings"], results["projection"], results.get("machine", {})
    sample = results["runs"][0]
    replays = sorted({r["draws_total"] for r in results["runs"][1:]})
    n, target = p["sampled_draws"], p["target_draws"]
    peak = p["projected_peak_mib"]
    top = next(r for r in p["phases"] if r["phase"] == p["projected_peak_phase"])
    lines = [
        MEMORY_BEGIN,
        f"## Geo memory: {s['geos']} geos x {s['weeks']} weeks x {s['channels']} channels",
        "",
        f"Generated by `{command}` (raw results: `{raw}`); data from `{s['generator_config']}`.",
        f"A real fit with nutpie, {s['chains']} chains x ({s['tune']} warm-up + {s['draws']} "
        f"draws) = {n} draws, then its summary, `fit.nc`, loading it back, the loaded fit's "
        "summary and figures, each in a fresh process; then the same steps on those draws "
        f"repeated {', '.join(f'{k}x' for k in s['repeats'])} (no sampling: what follows "
        "sampling depends on the number of draws, not their values). Peak resident memory per "
        "phase, sampled every 10 ms. "
        f"Machine: {m.get('cpu_count', '?')} cores, load average at the end "
        f"{m.get('load_average_end', '?')} (shared: times are under load).",
        "",
        f"**Projected peak at {target:,} draws ({target // 1000} chains x 1,000): "
        f"{fmt(peak / 1024, 2)} GiB**, in *{_PHASE_NAMES.get(top['phase'], top['phase'])}*: "
        f"{fmt(top['peak_mib'], 0)} MiB at {n} draws + {fmt(1000 * top['slope_mib_per_draw'], 1)} "
        f"MiB per 1,000 draws x {(target - n) / 1000:,.1f} thousand more draws; the budget is "
        f"{s['budget_mib'] // 1024} GiB. Measured peak of the sampled fit: "
        f"{fmt(sample['peak_rss_mib'], 0)} MiB.",
        "",
        *_phase_rows(p, replays),
        "",
        "Projected = the sampled fit's peak + slope x (draws at the target - draws sampled); "
        "the slope is a line through the replays' peaks (sampling: the bytes per draw of the "
        "trace nutpie keeps, the sampled variables and statistics).",
        "",
        f"What the fit holds per draw (all arrays: {fmt(p['stored_at_target_mib'], 0)} MiB at "
        f"{target:,} draws); `fit.nc` stores the derived arrays as float32: "
        f"{fmt(sample['fit_nc_mib'], 0)} MiB at {n} draws, "
        f"{fmt(1000 * p['fit_nc_per_draw_mb'], 1)} MiB per 1,000 draws, "
        f"{fmt(p['fit_nc_at_target_mb'], 0)} MiB projected at {target:,}.",
        "",
        *_stored_rows(p),
        "",
        MEMORY_END,
        "",
    ]
    return "\n".join(lines)
