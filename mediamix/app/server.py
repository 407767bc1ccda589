"""The planner's web server: a FastAPI app over a :class:`~mediamix.app.sources.FitCatalog`.

Routes (all JSON except the page, its static files and the report):

- ``GET /``: the page (``static/index.html``, vanilla JavaScript, no build step);
- ``GET /api/fits``: the fits of the configured sources, and which one opens first;
- ``GET /api/fits/{id}``: a fit's overview (headline, curves, recommendation, verdict);
- ``POST /api/fits/{id}/optimize``: optimise a scenario sent as JSON;
- ``GET /api/fits/{id}/report.html``: the fit's one-page HTML report.

Bad input answers 400 (404 for an unknown fit) with ``{"error": message}``, the message the
command line prints for the same mistake. Responses forbid framing, sniffing and any script or
connection outside the app itself.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from mediamix.app.planner import Planner
from mediamix.app.sources import FitCatalog, SourceError
from mediamix.errors import MediamixError

__all__ = ["PlannerState", "create_app", "serve"]

log = logging.getLogger(__name__)

_CSP_PAGE = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
# the report is one file with inline CSS and data: images, and runs no script at all
_CSP_REPORT = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'none'"
_MAX_BODY = 64_000  # bytes: a scenario is a few hundred


class PlannerState:
    """The fits opened so far (a few, least recently used dropped first) and how to open more.

    Parameters
    ----------
    catalog : FitCatalog
        The configured sources.
    currency : str, default ""
        Currency symbol for amounts.
    keep : int, default 4
        How many opened fits to keep in memory.
    """

    def __init__(self, catalog: FitCatalog, *, currency: str = "", keep: int = 4) -> None:
        self.catalog = catalog
        self.currency = currency
        self.keep = keep
        self._open: OrderedDict[str, Planner] = OrderedDict()
        self._lock = threading.Lock()
        self.default_id: str | None = None

    def planner(self, fit_id: str) -> Planner:
        """The planner of a fit, opened (loaded, compiled) on first use.

        Raises
        ------
        SourceError
            If the id is not one of the catalog's.
        """
        with self._lock:
            if fit_id in self._open:
                self._open.move_to_end(fit_id)
                return self._open[fit_id]
            entry = self.catalog.find(fit_id)
            planner = Planner(
                self.catalog.load(entry),
                entry.label,
                data_source=self.catalog.data_source(entry),
                currency=self.currency,
            )
            self._open[fit_id] = planner
            while len(self._open) > self.keep:
                self._open.popitem(last=False)
            return planner

    def open_default(self) -> Planner:
        """Open the first fit of the catalog, so the first page load does not wait for it."""
        entries = self.catalog.entries()
        self.default_id = entries[0].id
        return self.planner(self.default_id)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _headers_middleware(app: FastAPI) -> None:
    @app.middleware("http")
    async def _secure(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > _MAX_BODY):
            return _error(413, f"request body over {_MAX_BODY} bytes")
        response = await call_next(request)
        report = request.url.path.endswith("/report.html")
        response.headers["Content-Security-Policy"] = _CSP_REPORT if report else _CSP_PAGE
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response


def _add_api(app: FastAPI, state: PlannerState) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, f"{exc.detail}: {request.method} {request.url.path}")

    @app.exception_handler(SourceError)
    async def _unknown_fit(request: Request, exc: SourceError) -> JSONResponse:
        return _error(404, str(exc))

    @app.exception_handler(MediamixError)
    async def _bad_input(request: Request, exc: MediamixError) -> JSONResponse:
        return _error(400, str(exc))

    @app.get("/api/fits")
    def fits() -> dict[str, Any]:
        entries = [{"id": e.id, "label": e.label} for e in state.catalog.entries()]
        return {"fits": entries, "default": state.default_id or entries[0]["id"]}

    @app.get("/api/fits/{fit_id}")
    def overview(fit_id: str) -> JSONResponse:
        planner = state.planner(fit_id)
        return JSONResponse({"id": fit_id, **planner.overview})

    @app.post("/api/fits/{fit_id}/optimize")
    async def optimize(fit_id: str, request: Request) -> JSONResponse:
        try:
            payload = await request.json()
        except ValueError:
            return _error(400, "the scenario must be JSON: {budget, bounds, objective}")
        planner = state.planner(fit_id)
        from starlette.concurrency import run_in_threadpool

        return JSONResponse(await run_in_threadpool(planner.optimize, payload))

    @app.get("/api/fits/{fit_id}/report.html")
    def report(fit_id: str) -> HTMLResponse:
        return HTMLResponse(state.planner(fit_id).report())


def create_app(state: PlannerState) -> FastAPI:
    """The planner app over ``state`` (see the module docstring for its routes)."""
    app = FastAPI(title="mediamix planner", docs_url=None, redoc_url=None, openapi_url=None)
    static = resources.files("mediamix.app") / "static"
    _headers_middleware(app)
    _add_api(app, state)

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(str(static / "index.html"), media_type="text/html")

    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    return app


def serve(
    sources: list[str],
    *,
    host: str = "127.0.0.1",
    port: int = 8050,
    tracking_uri: str | None = None,
    registry_uri: str | None = None,
    currency: str = "",
) -> None:
    """Open the first fit, then serve the planner until interrupted.

    Parameters
    ----------
    sources : list of str
        ``--fit`` values (see :mod:`mediamix.app.sources`).
    host : str, default "127.0.0.1"
        Interface to bind; loopback only unless another is asked for.
    port : int, default 8050
        TCP port.
    tracking_uri, registry_uri : str, optional
        MLflow stores for ``models:/`` and ``runs:/`` sources.
    currency : str, default ""
        Currency symbol for amounts.
    """
    import time

    import uvicorn

    started = time.perf_counter()
    catalog = FitCatalog(sources, tracking_uri=tracking_uri, registry_uri=registry_uri)
    state = PlannerState(catalog, currency=currency)
    planner = state.open_default()
    print(f"opened {planner.label} in {time.perf_counter() - started:.1f} s", flush=True)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    print(f"planner on http://{shown}:{port}  (Ctrl+C stops it)", flush=True)
    uvicorn.run(create_app(state), host=host, port=port, log_level="warning")
