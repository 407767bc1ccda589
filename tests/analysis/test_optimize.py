from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shared_fit import GEN_CONFIG, small_fit

from mediamix.analysis import metrics as analysis
from mediamix.analysis.constraints import BudgetError, resolve_bounds
from mediamix.analysis.optimize import allocate, budget_frontier, optimize_budget
from mediamix.analysis.response import MediaParameters, SteadyStateResponse
from mediamix.cli import main
from mediamix.data.generator import Generator, SyntheticData
from mediamix.errors import MediamixError
from mediamix.inference.fit import FitResult

CHANNELS = ["adwords", "facebook", "linkedin"]


@pytest.fixture(scope="module")
def truth() -> tuple[Generator, SyntheticData, SteadyStateResponse]:
    gen = Generator.from_config_file(GEN_CONFIG)
    syn = gen.generate()
    return gen, syn, SteadyStateResponse(MediaParameters.from_truth(syn.truth))


@pytest.fixture(scope="module")
def fitted() -> tuple[SyntheticData, FitResult]:
    return small_fit()


def _true_tables(gen: Generator, syn: SyntheticData, step: float, n: int) -> np.ndarray:
    """True steady-state response per channel at spend 0, step, ..., n * step (generator code)."""
    rows = []
    for ch in gen.channels:
        grid = np.arange(n + 1) * step
        constant = np.tile(grid, (3 * ch.window, 1))  # (time, grid point): constant spend
        effect = ch.effect(constant, syn.truth.params[ch.name]["spend_max"])[-1]
        rows.append(effect * syn.truth.meta["scale"])
    return np.array(rows)


def _brute_force(
    tables: np.ndarray, step: float, lower: np.ndarray, upper: np.ndarray
) -> tuple[np.ndarray, float]:
    """Best split of n steps over three channels on the grid, within the bounds."""
    n = tables.shape[1] - 1
    a = np.arange(n + 1)[:, None]
    b = np.arange(n + 1)[None, :]
    c = n - a - b
    spend = [a * step, b * step, np.clip(c, 0, n) * step]
    ok = c >= 0
    for j in range(3):
        ok &= (spend[j] >= lower[j] - 1e-9) & (spend[j] <= upper[j] + 1e-9)
    total = tables[0][a] + tables[1][b] + tables[2][np.clip(c, 0, n)]
    total = np.where(ok, total, -np.inf)
    i, k = np.unravel_index(np.argmax(total), total.shape)
    return np.array([i, k, n - i - k]) * step, float(total[i, k])


@pytest.mark.parametrize(
    ("budget", "bounds"),
    [
        (30_000.0, None),
        (100_000.0, None),
        (250_000.0, None),
        (100_000.0, {"adwords": (None, "20000"), "linkedin": ("50000", None)}),
        (150_000.0, {"facebook": ("60000", "70000")}),
    ],
)
def test_matches_brute_force_on_the_true_curves(
    truth: tuple[Generator, SyntheticData, SteadyStateResponse],
    budget: float,
    bounds: dict[str, tuple[str | None, str | None]] | None,
) -> None:
    gen, syn, response = truth
    n = 2000
    lower, upper = resolve_bounds(bounds, CHANNELS, np.zeros(3), budget)
    x = allocate(response, budget, lower, upper)
    best_x, best = _brute_force(_true_tables(gen, syn, budget / n, n), budget / n, lower, upper)
    # the optimum's value under the generator's own response, not the optimizer's
    got = _true_tables_at(gen, syn, x)
    assert got >= best * (1 - 0.005)
    assert got >= best - 1e-6 * best  # in fact no worse than the grid at all
    assert np.abs(x - best_x).max() <= 0.005 * budget
    assert x.sum() == pytest.approx(budget, rel=1e-12)
    assert (x >= lower - 1e-9).all() and (x <= upper + 1e-9).all()


def _true_tables_at(gen: Generator, syn: SyntheticData, spend: np.ndarray) -> float:
    total = 0.0
    for j, ch in enumerate(gen.channels):
        constant = np.full(3 * ch.window, spend[j])
        total += ch.effect(constant, syn.truth.params[ch.name]["spend_max"])[-1]
    return total * syn.truth.meta["scale"]


@st.composite
def budgets_and_bounds(draw: st.DrawFn) -> tuple[float, np.ndarray, np.ndarray]:
    budget = draw(st.floats(1_000.0, 500_000.0))
    lows = np.array([draw(st.floats(0.0, 1.0)) for _ in range(3)])
    widths = np.array([draw(st.floats(0.0, 1.0)) for _ in range(3)])
    # minimums take at most the whole budget; the maximums reach at least it
    lower = budget * lows / max(lows.sum(), 1.0) * draw(st.floats(0.0, 1.0))
    upper = lower + widths * budget
    short = budget - upper.sum()
    if short > 0:
        upper = upper + short / 3 + 1e-6 * budget
    return budget, lower, np.minimum(upper, budget)


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(case=budgets_and_bounds(), seed=st.integers(0, 2**32 - 1))
def test_allocation_sums_to_budget_within_bounds_and_beats_any_feasible_point(
    truth: tuple[Generator, SyntheticData, SteadyStateResponse],
    case: tuple[float, np.ndarray, np.ndarray],
    seed: int,
) -> None:
    _, _, response = truth
    budget, lower, upper = case
    lower, upper = resolve_bounds(
        {ch: (float(lo), float(hi)) for ch, lo, hi in zip(CHANNELS, lower, upper, strict=True)},
        CHANNELS,
        np.zeros(3),
        budget,
    )
    x = allocate(response, budget, lower, upper)
    assert abs(x.sum() - budget) <= 1e-9 * budget
    assert (x >= lower).all() and (x <= upper).all()
    # the true curves are concave: no feasible point may do better than the optimum
    rng = np.random.default_rng(seed)
    other = lower + rng.dirichlet(np.ones(3)) * (budget - lower.sum())
    if (other <= upper).all():
        assert response.total(x)[0] >= response.total(other)[0] * (1 - 1e-9)


def test_objective_gradient_is_exact(rng: np.random.Generator) -> None:
    syn = Generator.from_config_file(GEN_CONFIG).generate()
    base = MediaParameters.from_truth(syn.truth)
    # 300 "draws" scattered around the truth
    values = {
        k: np.repeat(v, 300, axis=0) * rng.uniform(0.8, 1.2, (300, 3))
        for k, v in base.values.items()
    }
    values["adstock_alpha"] = np.clip(values["adstock_alpha"], 0, 0.99)
    mp = MediaParameters(base.channels, base.transforms, values, base.spend_max, base.y_scale)
    response = SteadyStateResponse(mp)
    spend = np.array([20_000.0, 40_000.0, 60_000.0])
    totals = response.draws(spend).sum(axis=1)
    for kind, k in (("mean", 0.0), ("risk-aware", 1.5)):
        f = response.objective(kind, k)  # type: ignore[arg-type]
        value, grad = f(spend)
        expected = totals.mean() - k * totals.std() if kind == "risk-aware" else totals.mean()
        assert value == pytest.approx(expected, rel=1e-9)
        for j in range(3):
            h = np.zeros(3)
            h[j] = 1.0
            numeric = (f(spend + h)[0] - f(spend - h)[0]) / 2.0
            assert grad[j] == pytest.approx(numeric, rel=1e-5)
    with pytest.raises(MediamixError, match="objective must be"):
        response.objective("median")  # type: ignore[arg-type]


def test_risk_aware_prefers_the_certain_channel() -> None:
    # two identical channels in expectation; the second is uncertain across draws
    rng = np.random.default_rng(0)
    n = 400
    beta = np.column_stack([np.full(n, 1.0), rng.lognormal(-0.125, 0.5, n)])
    beta[:, 1] *= 1.0 / beta[:, 1].mean()
    values = {
        "adstock_alpha": np.full((n, 2), 0.3),
        "adstock_theta": np.full((n, 2), np.nan),
        "saturation_lam": np.full((n, 2), 2.0),
        "saturation_k": np.full((n, 2), np.nan),
        "saturation_s": np.full((n, 2), np.nan),
        "beta": beta,
    }
    base = MediaParameters.from_truth(Generator.from_config_file(GEN_CONFIG).generate().truth)
    mp = MediaParameters(
        ("sure", "risky"), base.transforms[:2], values, np.array([100.0, 100.0]), 1000.0
    )
    response = SteadyStateResponse(mp)
    lower, upper = resolve_bounds(None, ["sure", "risky"], np.zeros(2), 100.0)
    neutral = allocate(response, 100.0, lower, upper)
    careful = allocate(response, 100.0, lower, upper, objective="risk-aware", risk_aversion=2.0)
    assert neutral == pytest.approx([50.0, 50.0], abs=0.5)
    assert careful[0] > neutral[0] + 10


def test_fixed_channels(truth: tuple[Generator, SyntheticData, SteadyStateResponse]) -> None:
    _, _, response = truth
    lower, upper = resolve_bounds(
        {"adwords": (1000, 1000), "facebook": (2000, 2000)}, CHANNELS, np.zeros(3), 10_000.0
    )
    np.testing.assert_allclose(allocate(response, 10_000.0, lower, upper), [1000, 2000, 7000])


# ---------------------------------------------------------------- on a real fit


@pytest.mark.slow
@pytest.mark.parametrize(
    "bounds",
    [None, {"*": ("-30%", "+30%")}, {"adwords": ("-10%", "+5%"), "linkedin": ("-50%", None)}],
)
def test_reallocating_the_same_total_never_lowers_the_expected_outcome(
    fitted: tuple[SyntheticData, FitResult], bounds: dict[str, tuple[str | None, str | None]]
) -> None:
    _, result = fitted
    current = analysis.current_spend(result)
    allocation = optimize_budget(result, float(current.sum()), bounds=bounds)
    assert allocation.expected_outcome.mean >= allocation.current_outcome.mean - 1e-9
    assert allocation.allocation.sum() == pytest.approx(current.sum(), rel=1e-12)
    assert (allocation.allocation >= allocation.lower - 1e-9).all()
    assert (allocation.allocation <= allocation.upper + 1e-9).all()
    # independently: the posterior mean outcome of both plans from the compiled draws
    response = SteadyStateResponse(MediaParameters.from_fit(result))
    new = response.total(allocation.allocation.to_numpy()).mean()
    old = response.total(current.to_numpy()).mean()
    assert new == pytest.approx(allocation.expected_outcome.mean, rel=1e-12)
    assert old == pytest.approx(allocation.current_outcome.mean, rel=1e-12)


@pytest.mark.slow
def test_allocation_report(fitted: tuple[SyntheticData, FitResult]) -> None:
    _, result = fitted
    current = analysis.current_spend(result)
    allocation = optimize_budget(result, float(current.sum()), objective="risk-aware")
    report = allocation.to_dict()
    assert set(report) >= {
        "allocation",
        "current",
        "expected_outcome",
        "current_outcome",
        "lift",
        "p_lift_positive",
    }
    assert set(report["allocation"]) == set(CHANNELS)
    assert set(report["expected_outcome"]) == {"mean", "hdi_low", "hdi_high"}
    assert 0.0 <= report["p_lift_positive"] <= 1.0
    assert report["lift"]["mean"] == pytest.approx(
        report["expected_outcome"]["mean"] - report["current_outcome"]["mean"]
    )
    json.dumps(report)  # plain JSON types only
    table = allocation.table()
    assert list(table.index) == CHANNELS
    with pytest.raises(BudgetError, match="objective must be"):
        optimize_budget(result, 1000.0, objective="best")  # type: ignore[arg-type]
    with pytest.raises(BudgetError, match="risk_aversion"):
        optimize_budget(result, 1000.0, objective="risk-aware", risk_aversion=-1.0)


@pytest.mark.slow
def test_budget_frontier(fitted: tuple[SyntheticData, FitResult]) -> None:
    _, result = fitted
    total = float(analysis.current_spend(result).sum())
    budgets = [0.5 * total, total, 1.5 * total, 2.0 * total]
    frontier = budget_frontier(result, budgets, bounds={"*": (None, "+150%")}, draws=200)
    table = frontier.table()
    assert list(table.index) == budgets
    assert (np.diff(table["expected_outcome"]) > 0).all()
    for a in frontier.allocations:
        assert a.allocation.sum() == pytest.approx(a.budget, rel=1e-12)
    spend = table[[f"spend_{c}" for c in CHANNELS]].to_numpy()
    assert (np.diff(spend, axis=0) >= -1e-6 * total).all()  # no channel shrinks as budgets grow
    with pytest.raises(BudgetError, match="budget must be"):
        budget_frontier(result, [1000.0, -1.0])
    with pytest.raises(BudgetError, match="non-empty"):
        budget_frontier(result, [])


@pytest.mark.slow
def test_cli_optimize(
    fitted: tuple[SyntheticData, FitResult], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, result = fitted
    result.save(tmp_path / "fit" / "fit.nc")
    out = tmp_path / "allocation.json"
    current = analysis.current_spend(result)
    args = ["optimize", "--fit", str(tmp_path / "fit"), "--budget", f"{current.sum():.2f}"]
    args += ["--bounds", "adwords=-30%:+30%", "linkedin=10000:", "--out", str(out)]
    assert main(args) == 0
    report = json.loads(out.read_text())
    assert set(report["allocation"]) == set(CHANNELS)
    assert report["current"] == pytest.approx(current.to_dict())
    low, high = report["bounds"]["adwords"]
    assert low == pytest.approx(0.7 * current["adwords"])
    assert low - 1e-6 <= report["allocation"]["adwords"] <= high + 1e-6
    assert report["allocation"]["linkedin"] >= 10000 - 1e-6
    assert report["expected_outcome"]["mean"] >= report["current_outcome"]["mean"]
    assert "P(lift > 0)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--budget", "lots"], "budget must be a number"),
        (["--budget", "0"], "budget must be a finite number > 0"),
        (["--budget", "100", "--bounds", "adwords"], "CHANNEL=MIN:MAX"),
    ],
)
def test_cli_optimize_refuses_bad_input_before_reading_the_fit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    # the fit does not exist: the input error must come first
    assert main(["optimize", "--fit", str(tmp_path / "missing"), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err


@pytest.mark.slow
def test_cli_optimize_refuses_bounds_that_cannot_hold(
    fitted: tuple[SyntheticData, FitResult], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, result = fitted
    result.save(tmp_path / "fit.nc")
    base = ["optimize", "--fit", str(tmp_path / "fit.nc"), "--budget", "1000"]
    cases = {
        "unknown channel(s) ['tv']": ["tv=1:2"],
        "minimums add up to 1,200.00": ["adwords=600:", "facebook=600:"],
        "min 600.00 > max 500.00": ["adwords=600:500"],
    }
    for message, bounds in cases.items():
        assert main([*base, "--bounds", *bounds]) == 2
        assert message in capsys.readouterr().err
