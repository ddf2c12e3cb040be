"""The browser UI: page routes, packaged static files, the session probe, and the UI's deep links."""

from __future__ import annotations

import html
from pathlib import Path
from string import Template
from urllib.parse import quote, urlencode

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from starlette.routing import Mount

from huntvault.web.deps import CallerDep, Context
from huntvault.web.policy import Access, Role, access, mark

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
TEMPLATES_DIR = HERE / "templates"

#: page slug -> (title, JS module under static/)
PAGES: dict[str, tuple[str, str]] = {
    "search": ("Search explorer", "search.js"),
    "hunt": ("Hunting", "hunt.js"),
    "device": ("Device timeline", "device.js"),
    "status": ("Status", "status.js"),
    "alerts": ("Alerts", "alerts.js"),
    "rules": ("Rules", "rules.js"),
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
@access(Access.PUBLIC)
def root() -> Response:
    return RedirectResponse("/ui/search", status_code=307)


@router.get("/ui", include_in_schema=False)
@access(Access.PUBLIC)
def ui_root() -> Response:
    return RedirectResponse("/ui/search", status_code=307)


@router.get("/ui/{page}", include_in_schema=False)
@access(Access.PUBLIC)
def page(page: str) -> Response:
    if page not in PAGES:
        return RedirectResponse("/ui/search", status_code=307)
    return HTMLResponse(
        _render_page(page), headers={"Content-Security-Policy": _CSP, "Cache-Control": "no-store"}
    )


class Health(BaseModel):
    status: str


@router.get("/health")
@access(Access.PUBLIC)
async def health() -> Health:
    """Liveness for load balancers and probes: answered on the event loop, never behind a search or hunt."""
    return Health(status="ok")


class Session(BaseModel):
    """What the UI asks first: whether a key is needed, the caller's role, the index names and their tables."""

    auth: bool
    role: str
    indexes: list[str]
    tables: dict[str, str]  # index name -> table name (the alias the search API accepts)


@router.get("/api/session")
@access(Access.QUERY)
def session(ctx: Context, caller: CallerDep) -> Session:
    """Whether a key is needed, the caller's role, the index names and each index's table name (the alias
    the search API accepts for it), 401/403 like every API."""
    role = "admin" if caller.role is Role.ADMIN else "query"
    tables = ctx.search.index_tables()
    return Session(auth=not ctx.keys.no_auth, role=role, indexes=sorted(tables), tables=tables)


def static_mount() -> Mount:
    """The packaged JS/CSS/sample files under /ui/static (public: they hold no data)."""
    return Mount("/ui/static", app=mark(StaticFiles(directory=STATIC_DIR), Access.PUBLIC), name="ui-static")


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
