"""Who may call what: the access level of every route, the key ring, and the caller a request authenticates as.

Every route states its access level once, with `@access(...)` on its endpoint (or `mark()` on a mounted
app); `web/guard.py` enforces it for every request before the body is read. A route without a level is
refused (and tests/test_security_policy.py fails), so a new route cannot be exposed by accident.
docs/security.md has the table.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from starlette.routing import BaseRoute, Mount, Route

from huntvault.errors import SearchError


class Access(enum.Enum):
    """What a route needs: nothing (pages, static files), the query key (or admin), or the admin key."""

    PUBLIC = "public"
    QUERY = "query"
    ADMIN = "admin"


class Role(enum.Enum):
    ADMIN = "admin"
    QUERY = "query"
    ANONYMOUS = "anonymous"  # only for PUBLIC routes


@dataclass(frozen=True)
class Caller:
    """Who sent a request: the role and a short id of the key (per-key limits; never the key itself)."""

    role: Role
    key_id: str


ATTRIBUTE = "__huntvault_access__"
F = TypeVar("F", bound=Callable[..., Any])


def access(level: Access) -> Callable[[F], F]:
    """Decorator stating an endpoint's access level."""

    def mark_endpoint(fn: F) -> F:
        setattr(fn, ATTRIBUTE, level)
        return fn

    return mark_endpoint


def mark(app: Any, level: Access) -> Any:
    """State the access level of a mounted ASGI app (static files)."""
    setattr(app, ATTRIBUTE, level)
    return app


def route_access(route: BaseRoute) -> Access | None:
    """The level a route states, or None (refused) when it states none."""
    if isinstance(route, Route):
        return getattr(route.endpoint, ATTRIBUTE, None)
    if isinstance(route, Mount):
        return getattr(route.app, ATTRIBUTE, None)
    return None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


#: Host header names a no-auth server answers to (with any port): loopback names only, so a web page
#: reached through a rebinding DNS name cannot drive the API
LOOPBACK_HOST_NAMES = ("localhost", "127.0.0.1", "[::1]")


def loopback_host_header(value: str | None) -> bool:
    """True for `localhost`, `127.0.0.1` or `[::1]`, each with an optional numeric port."""
    if not value:
        return False
    text = value.lower()
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            return False
        name, rest = text[: end + 1], text[end + 1 :]
    else:
        name, colon, port = text.partition(":")
        rest = colon + port
    if rest and not (rest.startswith(":") and rest[1:].isascii() and rest[1:].isdigit()):
        return False
    return name in LOOPBACK_HOST_NAMES


def _key_id(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:12]


class KeyRing:
    """Admin keys (everything) and query keys (read-only: documents, hunts, status); constant-time compare."""

    def __init__(self, admin: list[str], query: list[str], no_auth: bool = False) -> None:
        self.admin = [k for k in admin if k]
        self.query = [k for k in query if k]
        self.no_auth = no_auth

    @staticmethod
    def _match(key: str, keys: list[str]) -> bool:
        return any(hmac.compare_digest(key.encode(), k.encode()) for k in keys)

    def authenticate(self, method: str, headers: Mapping[str, str], query: Mapping[str, str]) -> Caller:
        """The caller, or raise: 401 without credentials, 403 for a wrong key. Reads no body."""
        if self.no_auth:
            return Caller(Role.ADMIN, "no-auth")
        header = headers.get("api-key")
        if header is not None:
            if self._match(header, self.admin):
                return Caller(Role.ADMIN, _key_id(header))
            if self._match(header, self.query):
                return Caller(Role.QUERY, _key_id(header))
            raise SearchError(
                "Authorization failed: the api-key is not valid for this service.", 403, "Forbidden"
            )
        from_query = query.get("api-key")
        if from_query is not None:
            # only a query key may travel in the URL, and only on GET
            if method == "GET" and self._match(from_query, self.query):
                return Caller(Role.QUERY, _key_id(from_query))
            raise SearchError(
                "Authorization failed: only a query key may be passed as ?api-key=, on GET.", 403, "Forbidden"
            )
        if headers.get("authorization"):
            raise SearchError(
                "Authorization failed: bearer tokens are not accepted; use the api-key header.",
                403,
                "Forbidden",
            )
        raise SearchError("Authentication required: send the api-key header.", 401, "Unauthorized")

    def allow(
        self, level: Access, method: str, headers: Mapping[str, str], query: Mapping[str, str]
    ) -> Caller:
        """The caller if `level` admits it; 401/403 otherwise."""
        if level is Access.PUBLIC:
            return Caller(Role.ANONYMOUS, "anonymous")
        caller = self.authenticate(method, headers, query)
        if level is Access.ADMIN and caller.role is not Role.ADMIN:
            raise SearchError(
                "Authorization failed: this operation requires an admin api-key.", 403, "Forbidden"
            )
        return caller
