"""``python -m bench.app``: how fast the budget planner answers on a 10-channel fit.

Fits benchmark dataset (b) (10 channels, 156 weeks) once, with the speed study's settings
(nutpie, 4 chains x 1000 draws by default), under ``--work-dir`` and reuses that fit afterwards.
Then it opens the fit in the planner (load, compile, the report's views), serves it on a loopback
port and measures:

- re-optimisation: ``POST /api/fits/<id>/optimize`` for several budgets, bounds and both
  objectives (wall time of the HTTP round trip);
- page load: headless Chromium from navigation to the rendered allocation, and the browser's
  own click-to-rendered time of *Optimise* (skipped when /usr/bin/chromium is missing).

Example::

    .venv/bin/python -m bench.app --draws 1000 --json out/bench/app.json
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench.datasets import DATASETS, FitSettings, model_config_dict

CHROMIUM = Path("/usr/bin/chromium")


def ensure_fit(work_dir: Path, settings: FitSettings) -> Path:
    """The 10-channel fit under ``work_dir`` (fitted on first use)."""
    from mediamix.config.model import ModelConfig
    from mediamix.data.generator import Generator
    from mediamix.inference.fit import fit

    key = f"b_{settings.chains}x{settings.draws}"
    out = work_dir / key
    if not (out / "fit.nc").is_file():
        ds = DATASETS["b"]
        data = Generator(ds.config()).generate()
        config = ModelConfig.model_validate(model_config_dict(ds.config(), settings))
        started = time.perf_counter()
        fit(data.data, config).save(out / "fit.nc")
        print(f"fitted {key} in {time.perf_counter() - started:.0f} s", flush=True)
    return out


def _post(url: str, body: dict[str, Any]) -> float:
    req = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    started = time.perf_counter()
    with urllib.request.urlopen(req, timeout=120) as r:
        r.read()
    return time.perf_counter() - started


def time_api(url: str, overview: dict[str, Any]) -> list[float]:
    """Seconds per re-optimisation over a few scenarios."""
    names = [c["name"] for c in overview["channels"]]
    now = overview["current_budget"]
    out = []
    for k, factor in enumerate([0.8, 0.9, 1.0, 1.1, 1.2, 1.0]):
        bounds = {"*": {"min": "-50%", "max": "+50%"}, names[0]: {"lock": True}}
        body = {
            "budget": now * factor,
            "bounds": bounds,
            "objective": "risk-aware" if k % 2 else "mean",
        }
        out.append(_post(f"{url}/api/fits/dir-0/optimize", body))
    return out


def time_browser(url: str) -> dict[str, list[float]] | None:
    """Page load to rendered allocation, and Optimise click to rendered answer, in Chromium."""
    if not CHROMIUM.is_file():
        print(f"no {CHROMIUM}: browser timings skipped")
        return None
    from playwright.sync_api import sync_playwright

    loads, clicks = [], []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        page = browser.new_page()
        for _ in range(3):
            started = time.perf_counter()
            page.goto(url + "/")
            page.wait_for_selector("#allocation-table tr[data-channel]")
            loads.append(time.perf_counter() - started)
        budget = float(page.input_value("#budget"))
        for factor in (0.9, 1.0, 1.1):
            page.fill("#budget", f"{budget * factor:.0f}")
            started = time.perf_counter()
            page.click("#optimize")
            page.wait_for_selector("#optimize:enabled")
            clicks.append(time.perf_counter() - started)
        browser.close()
    return {"page_load_s": loads, "browser_optimise_s": clicks}


def _serve(fit_dir: Path) -> tuple[str, float, Any]:
    import uvicorn

    from mediamix.app.server import PlannerState, create_app
    from mediamix.app.sources import FitCatalog

    started = time.perf_counter()
    state = PlannerState(FitCatalog([str(fit_dir)]))
    state.open_default()
    opened = time.perf_counter() - started
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(state), log_level="warning"))
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{sock.getsockname()[1]}", opened, server


def main(argv: list[str] | None = None) -> int:
    """Fit (once), serve, measure, print; optionally write the numbers as JSON."""
    p = argparse.ArgumentParser(prog="python -m bench.app", description=__doc__.split("\n")[0])
    p.add_argument("--chains", type=int, default=4)
    p.add_argument("--draws", type=int, default=1000)
    p.add_argument("--tune", type=int, default=1000)
    p.add_argument("--work-dir", default="out/bench/app")
    p.add_argument("--json", default=None, help="write the timings here")
    args = p.parse_args(argv)
    settings = FitSettings(chains=args.chains, draws=args.draws, tune=args.tune)
    fit_dir = ensure_fit(Path(args.work_dir), settings)
    url, opened, server = _serve(fit_dir)
    with urllib.request.urlopen(f"{url}/api/fits/dir-0", timeout=60) as r:
        overview = json.loads(r.read())
    result: dict[str, Any] = {
        "channels": len(overview["channels"]),
        "draws": args.chains * args.draws,
        "open_fit_s": opened,
        "optimise_api_s": time_api(url, overview),
    }
    result.update(time_browser(url) or {})
    server.should_exit = True
    for key, value in result.items():
        shown = (
            f"median {statistics.median(value):.3f} (max {max(value):.3f})"
            if isinstance(value, list)
            else value
        )
        print(f"{key:<20} {shown}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
