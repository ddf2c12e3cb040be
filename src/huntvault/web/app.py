"""FastAPI app factory: builds all app state once, the guard (auth, bounds), Azure-shaped errors, the routers."""

from __future__ import annotations

import copy
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute

from huntvault.config import Config
from huntvault.errors import ConfigError, HuntvaultError, KqlError, SearchError
from huntvault.search import SearchService
from huntvault.web.alerts_api import router as alerts_router
from huntvault.web.catalog_api import router as catalog_router
from huntvault.web.deps import AppContext
from huntvault.web.detect_api import router as detect_router
from huntvault.web.guard import Guard
from huntvault.web.hunt_api import router as hunt_router
from huntvault.web.policy import KeyRing, is_loopback
from huntvault.web.responses import azure_error, kql_error_response, search_error_response
from huntvault.web.search_api import router as search_router
from huntvault.web.status_api import router as status_router
from huntvault.web.ui import router as ui_router
from huntvault.web.ui import static_mount
from huntvault.web.workers import HuntRegistry, KeyLimiter, Lane, WorkerPool

log = logging.getLogger("huntvault.web")
ROUTERS = (search_router, ui_router, hunt_router, catalog_router, status_router, alerts_router, detect_router)


def _keys(config: Config) -> KeyRing:
    server = config.server
    if server.no_auth and not is_loopback(server.host):
        raise ConfigError(
            "server.no_auth",
            f"--no-auth is allowed only on a loopback host (127.0.0.1, ::1, localhost), not {server.host!r}; "
            "set HUNTVAULT_ADMIN_KEY instead",
        )
    if not server.no_auth and not server.admin_key:
        raise HuntvaultError(
            "no admin key: set HUNTVAULT_ADMIN_KEY (or server.no_auth = true on a loopback host)"
        )
    return KeyRing([server.admin_key], [k.strip() for k in server.query_key.split(",")], server.no_auth)


def build_context(
    config: Config, archive_dir: str | Path | None = None, service: SearchService | None = None
) -> AppContext:
    """The app's state from a private copy of `config` (later changes to the caller's copy do not leak in)."""
    config = copy.deepcopy(config)
    server = config.server
    keys = _keys(config)
    searches = Lane(
        WorkerPool("search", server.search_workers),
        KeyLimiter(
            "searches", server.max_concurrent_searches_per_key, "server.max_concurrent_searches_per_key"
        ),
    )
    hunts = Lane(
        WorkerPool("hunt", server.hunt_workers),
        KeyLimiter("hunts", server.max_concurrent_hunts_per_key, "server.max_concurrent_hunts_per_key"),
    )
    return AppContext(
        config=config,
        archive_dir=Path(archive_dir) if archive_dir is not None else Path(config.archive.path),
        search=service if service is not None else SearchService(config, archive_dir),
        keys=keys,
        searches=searches,
        hunts=hunts,
        running_hunts=HuntRegistry(),
    )


def create_app(
    config: Config,
    archive_dir: str | Path | None = None,
    service: SearchService | None = None,
    start_indexer: bool = False,
) -> FastAPI:
    """The huntvault web app. Keys come from config.server (HUNTVAULT_ADMIN_KEY / HUNTVAULT_QUERY_KEY)."""
    ctx = build_context(config, archive_dir, service)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if start_indexer:
            ctx.search.start()
        try:
            yield
        finally:
            ctx.running_hunts.cancel_all()
            ctx.search.stop()
            ctx.searches.pool.close()
            ctx.hunts.pool.close()

    app = FastAPI(title="huntvault", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.ctx = ctx
    static = static_mount()
    app.state.policed_routes = policed = [route for router in ROUTERS for route in router.routes] + [static]
    app.add_middleware(Guard, routes=policed, keys=ctx.keys, max_body=ctx.config.server.max_request_bytes)

    @app.exception_handler(SearchError)
    async def on_search_error(request: Request, exc: SearchError) -> Response:
        return search_error_response(exc)

    @app.exception_handler(KqlError)
    async def on_kql_error(request: Request, exc: KqlError) -> Response:
        return kql_error_response(exc)

    @app.exception_handler(HuntvaultError)
    async def on_error(request: Request, exc: HuntvaultError) -> Response:
        return azure_error(400, str(exc))

    @app.exception_handler(RequestValidationError)
    async def on_validation(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = "/".join(str(p) for p in first.get("loc", []))
        return azure_error(400, f"The request is invalid: {first.get('msg', 'bad input')} ({where}).")

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> Response:
        message = {
            404: f"The resource '{request.url.path}' was not found.",
            405: f"The method {request.method} is not supported on '{request.url.path}'.",
        }.get(exc.status_code, str(exc.detail))
        code = "RequestEntityTooLarge" if exc.status_code == 413 else ""
        return azure_error(exc.status_code, message, code)

    for router in ROUTERS:
        app.include_router(router)
    app.router.routes.append(static)
    return app


def policed_routes(app: FastAPI) -> list[BaseRoute]:
    """The routes the guard knows, each with its access level (a route missing here is unreachable)."""
    routes: list[BaseRoute] = app.state.policed_routes
    return list(routes)
