"""The planner's HTTP API: scenarios checked with the CLI's messages, fits only by their ids."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from conftest import LiveApp

from mediamix.analysis.constraints import BudgetError, check_budget, parse_bounds
from mediamix.app.planner import parse_scenario
from mediamix.inference.fit import FitResult


def _optimize(app: LiveApp, body: Any) -> tuple[int, Any]:
    return app.json("/api/fits/dir-0/optimize", body)


def test_page_and_fits(live_app: LiveApp, fit_dir: Path) -> None:
    status, headers, page = live_app.request("/")
    assert status == 200 and b"Budget planner" in page
    assert "script-src 'self'" in headers["content-security-policy"]
    assert live_app.json("/api/fits") == (
        200,
        {"fits": [{"id": "dir-0", "label": str(fit_dir)}], "default": "dir-0"},
    )


def test_overview_holds_the_views(live_app: LiveApp, fit_result: FitResult) -> None:
    status, ov = live_app.json("/api/fits/dir-0")
    assert status == 200
    assert [c["name"] for c in ov["channels"]] == fit_result.channels
    outcome = fit_result.config.outcome.name
    assert ov["units"] == {"outcome": outcome, "period": "week", "currency": "$"}
    assert ov["verdict"]["level"] in {"good", "caution", "bad"}
    rec = ov["recommendation"]
    assert sum(rec["allocation"].values()) == pytest.approx(ov["current_budget"])


def test_optimize_respects_budget_lock_and_bounds(live_app: LiveApp) -> None:
    current = live_app.state.planner("dir-0").views.recommendation.current
    first, second = current.index[:2]
    body = {
        "budget": "100000",
        "objective": "risk-aware",
        "risk_aversion": 0.5,
        "bounds": {first: {"lock": True}, second: {"min": "", "max": "5000"}},
    }
    status, out = _optimize(live_app, body)
    assert status == 200, out
    assert sum(out["allocation"].values()) == pytest.approx(100000)
    assert out["allocation"][first] == pytest.approx(current[first])
    assert out["allocation"][second] <= 5000 + 1e-6
    assert out["objective"] == "risk-aware" and 0 <= out["p_lift_positive"] <= 1
    assert {c["channel"] for c in out["channels"]} == set(current.index)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"budget": "abc"}, "budget must be a number > 0, got 'abc'"),
        ({"budget": "-5"}, "budget must be a finite number > 0, got '-5'"),
        ({"budget": 1e5, "bounds": {"tv": {"max": "10"}}}, "bounds name unknown channel(s) ['tv']"),
        ({"budget": 1e5, "bounds": {"*": {"min": "30%"}}}, "a relative bound needs a sign"),
        ({"budget": 1e5, "objective": "max"}, "objective must be one of ['mean', 'risk-aware']"),
        ({"budget": 1e5, "risk_aversion": "-1"}, "risk_aversion must be a finite number >= 0"),
        ({"budget": 1e5, "extra": 1}, "unknown scenario field(s) ['extra']"),
        ([1, 2], "the scenario must be a JSON object"),
    ],
)
def test_bad_scenarios_answer_400_with_the_cli_message(
    live_app: LiveApp, body: Any, message: str
) -> None:
    status, out = _optimize(live_app, body)
    assert status == 400
    assert message in out["error"]


def test_same_messages_as_the_cli() -> None:
    # the server turns a form into the CLI's CHANNEL=MIN:MAX texts, so the rules are one
    with pytest.raises(BudgetError) as cli:
        check_budget("abc")
    with pytest.raises(BudgetError) as app:
        parse_scenario({"budget": "abc"}, __import__("pandas").Series(dtype=float))
    assert str(app.value) == str(cli.value)
    assert parse_bounds(["tv=-30%:+30%"]) == {"tv": ("-30%", "+30%")}


@pytest.mark.parametrize(
    "fit_id", ["..%2F..%2Fetc%2Fpasswd", "dir-0%2F..%2F..", "dir-7", "model-x-1", "%00", "x" * 400]
)
def test_only_configured_fits_can_be_opened(live_app: LiveApp, fit_id: str) -> None:
    status, out = live_app.json(f"/api/fits/{fit_id}")
    assert status == 404
    # a fit id that is no route is the router's 404, an unknown one names where to look
    assert "/api/fits" in out["error"]


def test_body_size_and_json_are_checked(live_app: LiveApp) -> None:
    status, _, body = live_app.request("/api/fits/dir-0/optimize", raw=b"{" + b" " * 70_000 + b"}")
    assert status == 413 and b"request body over" in body
    status, _, body = live_app.request("/api/fits/dir-0/optimize", raw=b"not json")
    assert status == 400 and b"must be JSON" in body


def test_concurrent_scenarios_do_not_interfere(live_app: LiveApp) -> None:
    budgets = [60000, 90000, 120000, 150000]
    answers: dict[int, Any] = {}

    def run(b: int) -> None:
        answers[b] = _optimize(live_app, {"budget": b})[1]

    threads = [threading.Thread(target=run, args=(b,)) for b in budgets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for b in budgets:
        assert answers[b]["budget"] == b
        assert sum(answers[b]["allocation"].values()) == pytest.approx(b)


def test_report_route_serves_the_report(live_app: LiveApp) -> None:
    status, headers, body = live_app.request("/api/fits/dir-0/report.html")
    assert status == 200 and b'id="recommendation"' in body
    assert headers["content-security-policy"].startswith("default-src 'none'")
    assert headers["x-content-type-options"] == "nosniff"
