"""The web layer's one JSON response class and Azure's error shapes (search and hunt)."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import JSONResponse

from huntvault.errors import KqlError, SearchError


class JsonResponse(JSONResponse):
    """JSON rendered by orjson (datetimes ISO 8601, NaN as null); bytes passed in are sent as they are."""

    def render(self, content: Any) -> bytes:
        if isinstance(content, bytes):
            return content
        return orjson.dumps(content)


def azure_error(
    status: int, message: str, code: str = "", headers: dict[str, str] | None = None
) -> JsonResponse:
    """Azure's error body: {"error": {"code", "message", "details"}}."""
    return JsonResponse(
        {"error": {"code": code, "message": message, "details": []}}, status_code=status, headers=headers
    )


def search_error_response(exc: SearchError) -> JsonResponse:
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else None
    code = "" if exc.code == "InvalidRequestParameter" else exc.code
    return azure_error(exc.status, exc.message, code, headers)


def kql_error_response(exc: KqlError) -> JsonResponse:
    """Azure's error shape plus where the culprit is (`line`/`column`, 1-based; 0 when unknown)."""
    return JsonResponse(
        {
            "error": {
                "code": type(exc).__name__,
                "message": exc.message,
                "line": exc.line,
                "column": exc.column,
                "details": [],
            }
        },
        status_code=400,
    )


def dumps_bounded(content: Any, limit: int, what: str) -> bytes:
    """`content` as JSON bytes, or a 400 naming the bound when it is larger than `limit` bytes."""
    try:
        body = orjson.dumps(content)
    except (TypeError, OverflowError) as exc:
        raise SearchError(f"The {what} result cannot be sent as JSON: {exc}.") from None
    if len(body) > limit:
        raise SearchError(
            f"The {what} response would be {len(body)} bytes, more than the {limit} allowed "
            "(setting server.max_response_bytes); ask for fewer rows or fields.",
            400,
            "ResponseTooLarge",
        )
    return body
