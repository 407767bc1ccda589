"""The planner and the report in a real browser: Debian's headless Chromium, driven by Playwright.

The app runs on a loopback port over a small fit; the test loads the page, changes the budget and
a bound, runs the optimizer and reads the allocation the page rendered, saves and compares
scenarios, downloads one as CSV, and fails on any console error. The report written by
``mediamix report`` is then opened from disk in the same browser with every network request
refused. Screenshots of both go to ``docs/`` (``app.png``, ``report.png``).
"""

from __future__ import annotations

import csv
import io
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import LiveApp

from mediamix.cli import main
from mediamix.report.html import SECTIONS

CHROMIUM = Path("/usr/bin/chromium")
DOCS = Path(__file__).resolve().parents[2] / "docs"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.is_file(),
    reason="needs Debian's chromium at /usr/bin/chromium (apt-get install -y chromium; "
    ".ci/run installs it)",
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        # CI runs as root, where Chromium's sandbox cannot start
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield b
        b.close()


def _watch(page: Any) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))
    return errors


def _rendered_allocation(page: Any) -> dict[str, dict[str, float]]:
    rows = page.locator("#allocation-table tr[data-channel]")
    out = {}
    for i in range(rows.count()):
        row = rows.nth(i)
        out[row.get_attribute("data-channel")] = {
            "plan": float(row.get_attribute("data-plan")),
            "max": float(row.get_attribute("data-max")),
            "text": row.locator("td").nth(2).inner_text(),
        }
    return out


def _optimise(page: Any) -> None:
    page.click("#optimize")  # the button is disabled until the answer is rendered
    page.wait_for_selector("#optimize:enabled")


def test_plan_a_scenario_in_chromium(live_app: LiveApp, browser: Any, tmp_path: Path) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 1000}, accept_downloads=True)
    errors = _watch(page)
    page.goto(live_app.url + "/")
    page.wait_for_selector("#allocation-table tr[data-channel]")
    channels = [c["name"] for c in live_app.json("/api/fits/dir-0")[1]["channels"]]
    assert page.locator("#headline-table tr").count() == len(channels) + 1
    assert page.locator("#verdict").is_visible()

    # a new budget and a cap on the first channel, then the optimizer
    first = channels[0]
    page.fill("#budget", "100000")
    page.fill(f'input[name="{first}-min"]', "")
    page.fill(f'input[name="{first}-max"]', "5000")
    _optimise(page)
    assert page.locator("#error").is_hidden(), page.locator("#error").inner_text()
    shown = _rendered_allocation(page)
    assert set(shown) == set(channels)
    assert sum(r["plan"] for r in shown.values()) == pytest.approx(100000)
    assert shown[first]["plan"] <= 5000 + 1e-6 and shown[first]["max"] == 5000
    # what the page shows is what the server's optimizer answers for the same scenario
    body = page.evaluate("scenarioRequest()")
    expected = live_app.json("/api/fits/dir-0/optimize", body)[1]["allocation"]
    for ch, row in shown.items():
        assert row["plan"] == pytest.approx(expected[ch], rel=1e-6)
        assert row["text"] == f"${expected[ch]:,.0f}"
    assert page.locator("#cards .card").count() == 3
    assert page.locator("#curves svg").count() == len(channels)

    # save it, try a second scenario and compare the two side by side
    page.fill("#scenario-name", "Cap first channel")
    page.click("#save")
    page.fill("#budget", "120000")
    page.check(f'input[name="{channels[1]}-lock"]')
    _optimise(page)
    assert page.locator("#error").is_hidden(), page.locator("#error").inner_text()
    assert page.locator("#result-title").inner_text() == "Allocation of $120,000 per week"
    page.click("#save")
    header = page.locator("#compare-table tr").first.inner_text()
    assert "Cap first channel" in header and "Scenario 2" in header
    assert "$120,000" in page.locator("#compare-table").inner_text()

    with page.expect_download() as download:
        page.click("#download-csv")
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert [r["channel"] for r in rows] == channels
    assert sum(float(r["plan_spend"]) for r in rows) == pytest.approx(120000)
    page.screenshot(path=str(tmp_path / "app.png"), full_page=True)
    assert errors == [], errors

    # bad input shows the CLI's message (the browser logs the 400 answer as a console error)
    page.fill("#budget", "lots")
    _optimise(page)
    assert page.locator("#error").inner_text() == "budget must be a number > 0, got 'lots'"
    assert len(errors) == 1 and "status of 400" in errors[0], errors
    DOCS.mkdir(exist_ok=True)
    shutil.copyfile(tmp_path / "app.png", DOCS / "app.png")
    page.close()


def test_report_opens_offline_with_every_section(
    fit_dir: Path, browser: Any, tmp_path: Path
) -> None:
    report = tmp_path / "report.html"
    assert main(["report", "--fit", str(fit_dir), "--out", str(report), "--currency", "$"]) == 0
    page = browser.new_page(viewport={"width": 1200, "height": 1400})
    errors = _watch(page)
    fetched: list[str] = []

    def refuse(route: Any) -> None:  # the report must need nothing but itself
        if not route.request.url.startswith(("file:", "data:")):
            fetched.append(route.request.url)
        route.abort() if fetched and fetched[-1] == route.request.url else route.continue_()

    page.route("**/*", refuse)
    page.goto(report.as_uri())
    ids = page.eval_on_selector_all("main > section", "s => s.map(e => e.id)")
    assert ids == list(SECTIONS)
    for sid, heading in SECTIONS.items():
        assert page.locator(f"#{sid} h2").inner_text() == heading
    images = page.locator("img.chart")
    assert images.count() == 5
    for i in range(images.count()):  # every chart decoded: a broken image has no width
        assert page.evaluate("img => img.naturalWidth", images.nth(i).element_handle()) > 0
    assert "P(lift > 0)" in page.locator("#recommendation").inner_text()
    assert page.locator("#diagnostics .verdict").inner_text().strip()
    assert fetched == [] and errors == [], (fetched, errors)
    page.screenshot(
        path=str(DOCS / "report.png"), clip={"x": 0, "y": 0, "width": 1200, "height": 1400}
    )
    page.close()
