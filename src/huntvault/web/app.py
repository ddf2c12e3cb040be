"""FastAPI app factory: api-key auth, Azure-shaped errors, request bounds; routers for each API."""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from huntvault.config import Config
from huntvault.errors import HuntvaultError, SearchError
from huntvault.search import SearchService

MAX_URL_BYTES = 8 * 1024
READ_ONLY = "read-only"
ADMIN = "admin"


def azure_error(status: int, message: str, code: str = "") -> JSONResponse:
    """Azure's error body: {"error": {"code", "message", "details"}}."""
    return JSONResponse({"error": {"code": code, "message": message, "details": []}}, status_code=status)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class KeyRing:
    """Admin keys (read-write) and query keys (read-only docs access); compared in constant time."""

    def __init__(self, admin: list[str], query: list[str], no_auth: bool = False) -> None:
        self.admin = [k for k in admin if k]
        self.query = [k for k in query if k]
        self.no_auth = no_auth

    @staticmethod
    def _match(key: str, keys: list[str]) -> bool:
        return any(hmac.compare_digest(key.encode(), k.encode()) for k in keys)

    def role(self, request: Request) -> str | None:
        """`admin`, `read-only`, or raise: 401 without credentials, 403 for a wrong key."""
        if self.no_auth:
            return ADMIN
        header = request.headers.get("api-key")
        if header is not None:
            if self._match(header, self.admin):
                return ADMIN
            if self._match(header, self.query):
                return READ_ONLY
            raise SearchError(
                "Authorization failed: the api-key is not valid for this service.", 403, "Forbidden"
            )
        from_query = request.query_params.get("api-key")
        if from_query is not None:
            # only a query key may travel in the URL, and only on GET
            if request.method == "GET" and self._match(from_query, self.query):
                return READ_ONLY
            raise SearchError(
                "Authorization failed: only a query key may be passed as ?api-key=, on GET.", 403, "Forbidden"
            )
        if request.headers.get("authorization"):
            raise SearchError(
                "Authorization failed: bearer tokens are not accepted; use the api-key header.",
                403,
                "Forbidden",
            )
        raise SearchError("Authentication required: send the api-key header.", 401, "Unauthorized")


def require(request: Request, role: str = READ_ONLY) -> None:
    """Check the caller's key; admin-only operations answer 403 to a query key."""
    keys: KeyRing = request.app.state.keys
    got = keys.role(request)
    if role == ADMIN and got != ADMIN:
        raise SearchError("Authorization failed: this operation requires an admin api-key.", 403, "Forbidden")


def create_app(
    config: Config,
    archive_dir: str | Path | None = None,
    service: SearchService | None = None,
    start_indexer: bool = False,
) -> FastAPI:
    """The huntvault web app. Keys come from config.server (HUNTVAULT_ADMIN_KEY / HUNTVAULT_QUERY_KEY)."""
    server = config.server
    # secrets are read by config.load (HUNTVAULT_* variables) and nowhere else
    admin_key = server.admin_key
    query_keys = server.query_key
    no_auth = server.no_auth and _loopback(server.host)
    if not no_auth and not admin_key:
        raise HuntvaultError(
            "no admin key: set HUNTVAULT_ADMIN_KEY (or server.no_auth = true on a loopback host)"
        )
    svc = service if service is not None else SearchService(config, archive_dir)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        if start_indexer:
            svc.start()
        try:
            yield
        finally:
            svc.stop()

    app = FastAPI(title="huntvault", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.search = svc
    app.state.keys = KeyRing([admin_key], [k.strip() for k in query_keys.split(",")], no_auth)
    app.state.max_request_bytes = server.max_request_bytes

    @app.middleware("http")
    async def bounds(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        raw_url = request.url.path + ("?" + request.url.query if request.url.query else "")
        if len(raw_url.encode()) > MAX_URL_BYTES:
            return azure_error(
                414, f"The request URL is longer than {MAX_URL_BYTES} bytes; use POST for long queries."
            )
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > app.state.max_request_bytes:
            return azure_error(
                413,
                f"The request body is larger than {app.state.max_request_bytes} bytes.",
                "RequestEntityTooLarge",
            )
        return await call_next(request)

    @app.exception_handler(SearchError)
    async def on_search_error(request: Request, exc: SearchError) -> JSONResponse:
        return azure_error(exc.status, exc.message, "" if exc.code == "InvalidRequestParameter" else exc.code)

    @app.exception_handler(HuntvaultError)
    async def on_error(request: Request, exc: HuntvaultError) -> JSONResponse:
        return azure_error(400, str(exc))

    @app.exception_handler(RequestValidationError)
    async def on_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = "/".join(str(p) for p in first.get("loc", []))
        return azure_error(400, f"The request is invalid: {first.get('msg', 'bad input')} ({where}).")

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = {
            404: f"The resource '{request.url.path}' was not found.",
            405: f"The method {request.method} is not supported on '{request.url.path}'.",
        }.get(exc.status_code, str(exc.detail))
        return azure_error(exc.status_code, message)

    from huntvault.web.search_api import router as search_router

    app.include_router(search_router)
    from huntvault.web.ui import include_ui  # UI pages + hunt/status/alerts APIs (docs/ui.md)

    include_ui(app, config, archive_dir)
    return app
