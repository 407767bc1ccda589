from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import matplotlib
import pytest
from matplotlib.figure import Figure
from shared_fit import small_fit

from mediamix.analysis import plots
from mediamix.analysis.metrics import current_spend
from mediamix.analysis.optimize import Allocation, optimize_budget
from mediamix.errors import MediamixError
from mediamix.inference.fit import FitResult

matplotlib.use("Agg")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def result() -> FitResult:
    return small_fit()[1]


@pytest.fixture(scope="module")
def allocation(result: FitResult) -> Allocation:
    budget = float(current_spend(result).sum())
    return optimize_budget(result, budget, bounds={"*": ("-30%", "+30%")}, draws=200)


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=50)
    data = buf.getvalue()
    assert data.startswith(b"\x89PNG") and len(data) > 2000
    return data


def _has_content(ax: Any) -> bool:
    return bool(ax.lines or ax.collections or ax.patches)


SINGLE: dict[str, Callable[..., Figure]] = {
    "fit": lambda r, a, ax: plots.plot_fit(r, ax=ax),
    "contributions": lambda r, a, ax: plots.plot_contributions(r, ax=ax),
    "roas": lambda r, a, ax: plots.plot_roas(r, ax=ax),
    "response_curves": lambda r, a, ax: plots.plot_response_curves(r, ax=ax),
    "budget": lambda r, a, ax: plots.plot_budget(a, ax=ax),
    "prior_posterior": lambda r, a, ax: plots.plot_prior_posterior(
        r, ax=ax, parameters=["beta"], n_prior=200
    ),
    "trace": lambda r, a, ax: plots.plot_trace(r, ax=ax, parameters=["adstock_alpha"]),
}


@pytest.mark.parametrize("name", list(SINGLE))
def test_renders_on_its_own_figure(name: str, result: FitResult, allocation: Allocation) -> None:
    fig = SINGLE[name](result, allocation, None)
    assert isinstance(fig, Figure)
    assert all(_has_content(ax) for ax in fig.axes)
    _png(fig)


@pytest.mark.parametrize("name", list(SINGLE))
def test_draws_into_given_axes(name: str, result: FitResult, allocation: Allocation) -> None:
    fig = Figure()
    ax = fig.add_subplot()
    assert not _has_content(ax)
    assert SINGLE[name](result, allocation, ax) is fig
    assert _has_content(ax)
    assert len(fig.axes) == 1
    _png(fig)


def test_parameter_panels(result: FitResult) -> None:
    fig = plots.plot_prior_posterior(result, n_prior=200)
    assert [ax.get_title().split(":")[0] for ax in fig.axes] == [
        "adstock_alpha",
        "saturation_lam",
        "beta",
    ]
    # one prior (filled + outline) and one posterior histogram per channel
    assert len(fig.axes[2].patches) == 3 * 3
    trace = plots.plot_trace(result)
    assert len(trace.axes) == 3
    n_chains = result.posterior.sizes["chain"]
    assert len(trace.axes[0].lines) == 3 * n_chains
    two = Figure().subplots(1, 2)
    plots.plot_trace(result, ax=list(two), parameters=["beta", "saturation_lam"])
    with pytest.raises(MediamixError, match="one axes per parameter"):
        plots.plot_trace(result, ax=list(two))
    with pytest.raises(MediamixError, match="parameters must be among"):
        plots.plot_prior_posterior(result, parameters=["gamma"])


def test_plots_show_the_numbers(result: FitResult, allocation: Allocation) -> None:
    fig = plots.plot_budget(allocation)
    title = fig.axes[0].get_title()
    assert f"{allocation.expected_outcome.mean:,.0f}" in title
    assert f"{allocation.p_lift_positive:.2f}" in title
    heights = [p.get_height() for p in fig.axes[0].patches]
    assert heights[:3] == pytest.approx(list(allocation.current))
    assert heights[3:6] == pytest.approx(list(allocation.allocation))
    roas = plots.plot_roas(result, marginal=False)
    assert [t.get_text() for t in roas.axes[0].get_yticklabels()] == result.channels


def test_figures_for_fit(result: FitResult, allocation: Allocation) -> None:
    figures = plots.figures_for_fit(result)
    assert list(figures) == [
        "fit",
        "contributions",
        "roas",
        "response_curves",
        "prior_posterior",
        "trace",
    ]
    with_budget = plots.figures_for_fit(result, allocation)
    assert list(with_budget) == [*figures, "budget"]
    for fig in with_budget.values():
        assert isinstance(fig, Figure)
        _png(fig)
