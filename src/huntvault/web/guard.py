"""The ASGI guard in front of every route: Host allow-list (no-auth), URL length, access policy, body size.

It runs before any route reads the body: a request without the right key is answered 401/403 from its
headers alone, and a body is counted while it streams in (chunked too), refused with 413 past the limit.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.datastructures import Headers, QueryParams
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from huntvault.errors import SearchError
from huntvault.web.deps import CALLER_SCOPE_KEY
from huntvault.web.policy import KeyRing, loopback_host_header, route_access
from huntvault.web.responses import azure_error, search_error_response

MAX_URL_BYTES = 8 * 1024


class BodyTooLarge(HTTPException):
    """Raised from `receive` once the body passes the limit; answered 413 by the app's handler."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            413, f"The request body is larger than {limit} bytes (setting server.max_request_bytes)."
        )


class Guard:
    """Pure ASGI middleware (no buffering, so the route still streams its body and sees disconnects)."""

    def __init__(self, app: ASGIApp, routes: Sequence[BaseRoute], keys: KeyRing, max_body: int) -> None:
        self.app = app
        self.routes = routes
        self.keys = keys
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        refusal = self._refuse(scope, headers)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, self._counting(receive), send)

    def _refuse(self, scope: Scope, headers: Headers) -> Response | None:
        if self.keys.no_auth and not loopback_host_header(headers.get("host")):
            return azure_error(
                403,
                "This server runs without api-keys (--no-auth) and answers only to the Host names "
                "localhost, 127.0.0.1 and [::1].",
                "Forbidden",
            )
        url_bytes = len(scope.get("raw_path", b"")) + len(scope.get("query_string", b"")) + 1
        if url_bytes > MAX_URL_BYTES:
            return azure_error(
                414, f"The request URL is longer than {MAX_URL_BYTES} bytes; use POST for long queries."
            )
        route, partial = self._route(scope)
        if route is None:  # default deny: only the routes in the policy list are reachable
            path = scope.get("path", "")[:200]
            if partial:
                return azure_error(405, f"The method {scope['method']} is not supported on '{path}'.")
            return azure_error(404, f"The resource '{path}' was not found.")
        level = route_access(route)
        if level is None:
            return azure_error(403, "This route has no access policy and is refused.", "Forbidden")
        try:
            scope[CALLER_SCOPE_KEY] = self.keys.allow(
                level, scope["method"], headers, QueryParams(scope.get("query_string", b""))
            )
        except SearchError as exc:
            return search_error_response(exc)
        length = headers.get("content-length")
        if length is not None and length.isascii() and length.isdigit() and int(length) > self.max_body:
            return azure_error(
                413,
                f"The request body is larger than {self.max_body} bytes (setting server.max_request_bytes).",
                "RequestEntityTooLarge",
            )
        return None

    def _route(self, scope: Scope) -> tuple[BaseRoute | None, bool]:
        """The route that will answer, and whether some route matched the path but not the method."""
        partial = False
        for route in self.routes:
            match, _ = route.matches(scope)
            if match is Match.FULL:
                return route, partial
            partial = partial or match is Match.PARTIAL
        return None, partial

    def _counting(self, receive: Receive) -> Receive:
        seen = 0
        limit = self.max_body

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        return counted
