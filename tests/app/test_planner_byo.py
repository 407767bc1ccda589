"""The planner opens a fit with organic and exposure channels (Robyn's data, its own columns)."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from mediamix.app.server import PlannerState, create_app
from mediamix.app.sources import FitCatalog
from mediamix.inference.fit import FitResult
from tests.byo_fit import robyn_fit

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, FitResult]]:
    result = robyn_fit()
    out = tmp_path_factory.mktemp("fits") / "robyn"
    result.save(out / "fit.nc")
    (out / "summary.json").write_text(json.dumps({"mlflow_run_id": None}) + "\n")
    state = PlannerState(FitCatalog([str(out)]), currency="$")
    state.open_default()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(state), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the planner did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}", result
    server.should_exit = True
    thread.join(timeout=30)


def _json(url: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method="POST" if data else "GET")
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_overview_shows_organic_fixed_and_exposure_budgets_in_currency(
    app_url: tuple[str, FitResult],
) -> None:
    url, result = app_url
    status, ov = _json(f"{url}/api/fits/dir-0")
    assert status == 200, ov
    # allocatable channels: the paid ones only; organic media are listed apart, fixed
    assert [c["name"] for c in ov["channels"]] == result.channels
    assert [o["name"] for o in ov["organic_channels"]] == ["newsletter"]
    newsletter = ov["organic_channels"][0]
    assert newsletter["fixed"] is True
    assert newsletter["volume"] == pytest.approx(result.frame["newsletter"].mean())
    assert 0 < newsletter["share"]["mean"] < 1
    assert "roas" not in newsletter
    # an exposure channel's spend and budget are currency (its spend column), not impressions
    spend = {c["name"]: c["spend"] for c in ov["channels"]}
    assert spend["facebook"] == pytest.approx(result.frame["facebook_S"].mean())
    assert spend["search"] == pytest.approx(result.frame["search_S"].mean())
    assert ov["exposure_channels"]["facebook"]["exposure"] == "facebook_I"
    assert ov["exposure_channels"]["facebook"]["cost_per_exposure"] == pytest.approx(
        result.frame["facebook_S"].sum() / result.frame["facebook"].sum()
    )
    rec = ov["recommendation"]
    assert set(rec["allocation"]) == set(result.channels)
    assert sum(rec["allocation"].values()) == pytest.approx(ov["current_budget"])
    assert ov["current_budget"] == pytest.approx(sum(spend.values()))


def test_optimize_allocates_paid_channels_and_refuses_organic_bounds(
    app_url: tuple[str, FitResult],
) -> None:
    url, result = app_url
    status, out = _json(
        f"{url}/api/fits/dir-0/optimize",
        {"budget": "80000", "bounds": {"facebook": {"min": "3000", "max": "4000"}}},
    )
    assert status == 200, out
    assert set(out["allocation"]) == set(result.channels)
    assert sum(out["allocation"].values()) == pytest.approx(80000)
    assert 3000 - 1e-6 <= out["allocation"]["facebook"] <= 4000 + 1e-6
    status, out = _json(
        f"{url}/api/fits/dir-0/optimize",
        {"budget": "80000", "bounds": {"newsletter": {"max": "10"}}},
    )
    assert status == 400
    assert "bounds name organic channel(s) ['newsletter']" in out["error"]
    assert (
        "allocatable channels are ['tv_S', 'ooh_S', 'print_S', 'facebook', 'search']"
        in out["error"]
    )


def test_report_opens_for_the_fit(app_url: tuple[str, FitResult]) -> None:
    url, _ = app_url
    with urllib.request.urlopen(f"{url}/api/fits/dir-0/report.html", timeout=120) as r:
        page = r.read().decode()
    assert r.status == 200 and "newsletter" in page and "facebook" in page


def test_page_script_renders_organic_and_exposure_rows() -> None:
    script = (Path(__file__).parents[2] / "mediamix/app/static/app.js").read_text()
    assert "ov.organic_channels" in script and "(organic, fixed)" in script
    assert "ov.exposure_channels" in script
