"""The browser UI: page routes, packaged static files, the session probe, and a background server for the demo."""

from __future__ import annotations

import html
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from huntvault.config import Config
from huntvault.errors import HuntvaultError
from huntvault.web.app import ADMIN, require

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
TEMPLATES_DIR = HERE / "templates"

#: page slug -> (title, JS module under static/)
PAGES: dict[str, tuple[str, str]] = {
    "search": ("Search explorer", "search.js"),
    "hunt": ("Hunting", "hunt.js"),
    "status": ("Status", "status.js"),
    "alerts": ("Alerts", "alerts.js"),
}

router = APIRouter()

#: Served pages carry no data (every figure comes from the key-protected APIs), so they load without a
#: key; a strict CSP keeps the browser from fetching anything outside this server.
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


def _render_page(slug: str) -> str:
    title, script = PAGES[slug]
    shell = Template((TEMPLATES_DIR / "shell.html").read_text(encoding="utf-8"))
    body = (TEMPLATES_DIR / f"{slug}.html").read_text(encoding="utf-8")
    current = ' aria-current="page"'
    nav = "\n".join(
        f'<a href="/ui/{name}"{current if name == slug else ""}>{html.escape(t)}</a>'
        for name, (t, _) in PAGES.items()
    )
    return shell.substitute(title=html.escape(title), page=slug, nav=nav, body=body, script=script)


@router.get("/", include_in_schema=False)
def root() -> Response:
    return RedirectResponse("/ui/search", status_code=307)


@router.get("/ui", include_in_schema=False)
def ui_root() -> Response:
    return RedirectResponse("/ui/search", status_code=307)


@router.get("/ui/{page}", include_in_schema=False)
def page(page: str) -> Response:
    if page not in PAGES:
        return RedirectResponse("/ui/search", status_code=307)
    return HTMLResponse(
        _render_page(page), headers={"Content-Security-Policy": _CSP, "Cache-Control": "no-store"}
    )


@router.get("/api/session")
def session(request: Request) -> Response:
    """Whether a key is needed, the caller's role, the index names and each index's table name (the alias the
    search API accepts for it), 401/403 like every API."""
    require(request)
    keys = request.app.state.keys
    role = keys.role(request)
    tables = request.app.state.search.index_tables()
    return JSONResponse(
        {
            "auth": not keys.no_auth,
            "role": "admin" if role == ADMIN else "query",
            "indexes": sorted(tables),
            "tables": tables,
        }
    )


def include_ui(app: FastAPI, config: Config, archive_dir: str | Path | None) -> None:
    """Add the UI pages, the hunt/status/alerts APIs and the static files to the app."""
    from huntvault.web.alerts_api import router as alerts_router
    from huntvault.web.hunt_api import router as hunt_router
    from huntvault.web.status_api import router as status_router

    app.state.config = config
    app.state.archive_dir = Path(archive_dir) if archive_dir is not None else Path(config.archive.path)
    app.include_router(router)
    app.include_router(hunt_router)
    app.include_router(status_router)
    app.include_router(alerts_router)
    app.mount("/ui/static", StaticFiles(directory=STATIC_DIR), name="ui-static")


def page_urls(base_url: str) -> dict[str, str]:
    """The UI's page addresses under `base_url` (e.g. http://127.0.0.1:8080), for banners and the demo."""
    base = base_url.rstrip("/")
    return {title: f"{base}/ui/{slug}" for slug, (title, _) in PAGES.items()}


def hunt_url(base_url: str, query: str, run: bool = True) -> str:
    """A Hunting page link that opens with `query` in the editor (and runs it)."""
    params = {"q": query, **({"run": "1"} if run else {})}
    return f"{base_url.rstrip('/')}/ui/hunt#{urlencode(params, quote_via=quote)}"


def search_url(base_url: str, index: str, querystring: str) -> str:
    """A Search explorer link that opens `index` with the portal-style `querystring` and runs it."""
    return (
        f"{base_url.rstrip('/')}/ui/search#{urlencode({'index': index, 'q': querystring}, quote_via=quote)}"
    )


@dataclass
class BackgroundServer:
    """`huntvault serve` in a thread of the current process (the demo's UI); `stop()` shuts it down cleanly."""

    url: str
    server: Any
    thread: threading.Thread

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)


def start_background_server(
    config: Config,
    archive_dir: str | Path | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    no_auth: bool = False,
    start_indexer: bool = True,
    ready_timeout: float = 60.0,
) -> BackgroundServer:
    """Start uvicorn with the full app (search API, hunt/status/alerts APIs, UI) and wait until it listens.

    `no_auth` is honoured only on a loopback host (create_app enforces it); otherwise the keys come from
    HUNTVAULT_ADMIN_KEY / HUNTVAULT_QUERY_KEY as for `huntvault serve`.
    """
    import uvicorn

    from huntvault.web.app import create_app

    config.server.host = host
    config.server.port = port
    config.server.no_auth = no_auth
    app = create_app(config, archive_dir=archive_dir, start_indexer=start_indexer)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="huntvault-ui", daemon=True)
    thread.start()
    deadline = time.monotonic() + ready_timeout
    while not server.started:
        if not thread.is_alive():
            raise HuntvaultError(f"the web server on {host}:{port} did not start (port in use?)")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise HuntvaultError(f"the web server on {host}:{port} did not start within {ready_timeout:g} s")
        time.sleep(0.05)
    return BackgroundServer(f"http://{host}:{port}", server, thread)
