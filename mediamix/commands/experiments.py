"""``mediamix simulate-lift`` and ``mediamix plan-experiments``: lift tests, simulated and planned.

``simulate-lift`` writes one lift-test row (appended with ``--append``) computed from a
generator's ground truth, and with ``--data-out`` the data with the test's change applied (the
modeling data must include the change; see :mod:`mediamix.analysis.experiments`), with
``--truth-out`` the truth of those data. On geo data (a geo generator's truth) the test runs in
the geos ``--geos`` names or ``--test-geos`` draws (:mod:`mediamix.analysis.geo_experiments`).
``plan-experiments`` ranks channels by how much a test would narrow their ROAS HDI
(:mod:`mediamix.analysis.experiment_plan`). Every output is written to a temporary file and
renamed, after every check has passed.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pandas as pd

from mediamix.commands.paths import check_output_file
from mediamix.errors import MediamixError

__all__ = ["add_experiment_parsers", "run_plan_experiments", "run_simulate_lift"]


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def _read_truth(path: str) -> dict[str, Any]:
    try:
        truth = json.loads(Path(path).read_text())
    except OSError as exc:
        raise MediamixError(f"--truth {path}: cannot read: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise MediamixError(f"--truth {path}: not JSON: {exc}") from None
    if not isinstance(truth, dict):
        raise MediamixError(f"--truth {path}: not a generator truth (a JSON object)")
    return truth


def _rows(out: Path, row: dict[str, Any], append: bool) -> pd.DataFrame:
    """The lift-test table to write: the new row, after the file's rows with ``--append``."""
    from mediamix.data.lift_tests import read_lift_tests

    new = pd.DataFrame([row])
    if append and out.is_file():
        old = read_lift_tests(out)
        old["start_date"] = old["start_date"].dt.strftime("%Y-%m-%d")
        old["end_date"] = old["end_date"].dt.strftime("%Y-%m-%d")
        new = pd.concat([old, new], ignore_index=True)
    return new


def run_simulate_lift(args: argparse.Namespace) -> int:
    """Run ``mediamix simulate-lift``."""
    from mediamix.analysis.experiments import simulate_lift
    from mediamix.data.lift_tests import validate_lift_table
    from mediamix.lakehouse.tables import load_modeling_frame

    outputs = {"--out": args.out, "--data-out": args.data_out, "--truth-out": args.truth_out}
    for flag, path in outputs.items():
        if path:
            check_output_file(Path(path), flag)
    truth = _read_truth(args.truth)
    data = load_modeling_frame(args.data)
    test = (args.channel, args.start, args.weeks, args.spend_change / 100.0)
    options: dict[str, Any] = {"se_fraction": args.se_fraction, "seed": args.seed}
    if "geos" in truth:
        from mediamix.analysis.geo_experiments import simulate_geo_lift

        geos = None if args.geos is None else [g.strip() for g in args.geos.split(",")]
        sim = simulate_geo_lift(truth, data, *test, geos=geos, test_geos=args.test_geos, **options)
    elif args.geos is not None or args.test_geos is not None:
        raise MediamixError(
            "--geos/--test-geos: the truth is national (no geos); they are for geo data"
        )
    else:
        sim = simulate_lift(truth, data, *test, **options)
    out = Path(args.out)
    table = _rows(out, sim.row, args.append)
    validate_lift_table(table, str(out))  # a duplicate test is refused before anything is written
    _write(out, table.to_csv(index=False, float_format="%.10g"))
    r = sim.row
    where = f" in {r['geo']}" if r.get("geo") else ""
    print(
        f"wrote {out}: {r['channel']}{where} {r['start_date']}..{r['end_date']} spend_delta "
        f"{r['spend_delta']:,.2f}, true lift {sim.true_lift:,.2f}, measured {r['lift']:,.2f} "
        f"+- {r['lift_se']:,.2f}"
    )
    if args.data_out:
        _write(Path(args.data_out), sim.data.to_csv(index=False, date_format="%Y-%m-%d"))
        print(f"wrote {args.data_out}: the data with the test's change applied{where}")
    if args.truth_out:
        _write(Path(args.truth_out), json.dumps(sim.truth, indent=2) + "\n")
        roas = sim.truth["channels"][r["channel"]]["roas"]
        print(f"wrote {args.truth_out}: true ROAS of {r['channel']} now {roas:.4f}")
    return 0


def run_plan_experiments(args: argparse.Namespace) -> int:
    """Run ``mediamix plan-experiments``."""
    from mediamix.analysis.experiment_plan import plan_experiments
    from mediamix.inference.fit import load_fit

    check_output_file(Path(args.out), "--out")
    fit_path = Path(args.fit)
    result = load_fit(fit_path / "fit.nc" if fit_path.is_dir() else fit_path)
    plan = plan_experiments(
        result,
        budget_fraction=args.budget_fraction,
        weeks=args.weeks,
        starts=args.starts,
        se_fraction=args.se_fraction,
        draws=args.draws,
        seed=args.seed,
        geos=[g.strip() for g in args.geos.split(",")] if args.geos else None,
    )
    if plan and "geo" in plan[0]:
        geos = plan[0]["geo"].split(";")
        print(f"test geos ({len(geos)}; the others are controls): {', '.join(geos)}")
    print(f"{'channel':<14} {'test':<24} {'spend change':>13} {'ROAS HDI now':>13} {'after':>8}")
    for p in plan:
        print(
            f"{p['channel']:<14} {p['start_date'] + '..' + p['end_date']:<24} "
            f"{p['spend_change']:>+13.0%} {p['roas_hdi_width_now']:>13.4f} "
            f"{p['roas_hdi_width_expected']:>8.4f}  (ESS {p['ess']:.0f} of {p['draws']})"
        )
    _write(Path(args.out), json.dumps(plan, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


def add_experiment_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``simulate-lift`` and ``plan-experiments``."""
    sim = sub.add_parser("simulate-lift", help="simulate a lift test from a generator's truth")
    sim.add_argument("--truth", required=True, help="truth.json written by `mediamix generate`")
    sim.add_argument("--data", required=True, help="the data CSV the truth describes")
    sim.add_argument("--channel", required=True, help="the tested channel")
    sim.add_argument("--start", required=True, help="first date of the test (a date of the data)")
    sim.add_argument("--weeks", required=True, type=int, help="periods the test lasts")
    sim.add_argument(
        "--spend-change", required=True, type=float, metavar="PCT", help="-80 cuts spend by 80 %%"
    )
    sim.add_argument("--se-fraction", type=float, default=0.1, help="lift_se / |true lift|")
    sim.add_argument("--seed", type=int, default=None, help="seed of the noise (and geo draw)")
    sim.add_argument("--geos", default=None, help="geo data: the test geos, G1,G2")
    sim.add_argument(
        "--test-geos", type=int, default=None, metavar="N", help="geo data: draw N test geos"
    )
    sim.add_argument("--out", required=True, help="lift-test CSV to write")
    sim.add_argument("--append", action="store_true", help="add the row to an existing --out")
    sim.add_argument("--data-out", default=None, help="CSV of the data with the change applied")
    sim.add_argument("--truth-out", default=None, help="truth.json of the changed data")
    sim.set_defaults(handler=run_simulate_lift)
    plan = sub.add_parser("plan-experiments", help="rank lift tests by the ROAS HDI they narrow")
    plan.add_argument("--fit", required=True, help="directory written by `mediamix fit`")
    plan.add_argument(
        "--budget-fraction", type=float, default=0.8, help="spend change, fraction of spend"
    )
    plan.add_argument("--weeks", type=int, default=8, help="test length in periods")
    plan.add_argument("--starts", type=int, default=4, help="candidate start dates per channel")
    plan.add_argument(
        "--se-fraction", type=float, default=None, help="lift_se / |lift| (default: noise)"
    )
    plan.add_argument("--draws", type=int, default=1000, help="posterior draws used")
    plan.add_argument("--seed", type=int, default=0)
    plan.add_argument(
        "--geos", default=None, help="geo fits: the test geos, G1,G2 (default: half, by size)"
    )
    plan.add_argument("--out", required=True, help="plan.json to write")
    plan.set_defaults(handler=run_plan_experiments)
