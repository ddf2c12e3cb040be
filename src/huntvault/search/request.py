"""Search request parameters from a GET query string, a POST body or the portal's query-string form."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from huntvault.errors import SearchError

DEFAULT_TOP = 50
MAX_TOP = 1000
MAX_SKIP = 100_000
MAX_SEARCH_CHARS = 100_000
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1

#: POST body key -> GET query-string name
POST_TO_GET: dict[str, str] = {
    "search": "search",
    "searchMode": "searchMode",
    "queryType": "queryType",
    "searchFields": "searchFields",
    "select": "$select",
    "filter": "$filter",
    "orderby": "$orderby",
    "top": "$top",
    "skip": "$skip",
    "count": "$count",
    "facets": "facet",
    "highlight": "highlight",
    "highlightPreTag": "highlightPreTag",
    "highlightPostTag": "highlightPostTag",
    "minimumCoverage": "minimumCoverage",
    "scoringProfile": "scoringProfile",
    "scoringParameters": "scoringParameter",
    "scoringStatistics": "scoringStatistics",
    "sessionId": "sessionId",
}
GET_TO_POST = {v: k for k, v in POST_TO_GET.items()}
IGNORED_GET = {"api-version", "api-key"}
LIST_PARAMETERS = {"facets", "scoringParameters"}  # repeatable in a GET query string


@dataclass
class SearchRequest:
    """One search, normalised: every list split and trimmed, numbers parsed, limits checked."""

    search: str | None = None
    search_mode: str = "any"
    query_type: str = "simple"
    search_fields: list[str] = field(default_factory=list)
    select: str | None = None
    filter: str | None = None
    orderby: str | None = None
    top: int | None = None
    skip: int = 0
    count: bool = False
    facets: list[str] = field(default_factory=list)
    highlight: list[str] = field(default_factory=list)
    highlight_pre: str = "<em>"
    highlight_post: str = "</em>"
    minimum_coverage: float | None = None

    def to_body(self) -> dict[str, Any]:
        """The request as a POST body (used for @search.nextPageParameters)."""
        body: dict[str, Any] = {}
        if self.count:
            body["count"] = True
        if self.facets:
            body["facets"] = list(self.facets)
        if self.filter is not None:
            body["filter"] = self.filter
        if self.highlight:
            body["highlight"] = ",".join(self.highlight)
            body["highlightPostTag"] = self.highlight_post
            body["highlightPreTag"] = self.highlight_pre
        if self.minimum_coverage is not None:
            body["minimumCoverage"] = self.minimum_coverage
        if self.orderby is not None:
            body["orderby"] = self.orderby
        body["queryType"] = self.query_type
        if self.search is not None:
            body["search"] = self.search
        if self.search_fields:
            body["searchFields"] = ",".join(self.search_fields)
        body["searchMode"] = self.search_mode
        if self.select is not None:
            body["select"] = self.select
        body["skip"] = self.skip
        if self.top is not None:
            body["top"] = self.top
        return body


def _bad(message: str, parameter: str, code: str = "InvalidRequestParameter") -> SearchError:
    return SearchError(f"{message}\r\nParameter name: {parameter}", 400, code)


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _int(value: Any, parameter: str) -> int:
    """An Edm.Int32 parameter: a whole number (1e2 in JSON is 100) within Int32's range, else Azure's 400."""
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, float) and math.isfinite(value) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and _digits(value.strip().lstrip("+-")) and len(value.strip()) <= 20:
        number = int(value.strip())
    if number is None:
        shown = str(value)[:100]
        raise _bad(f"Invalid value '{shown}': an integer was expected.", parameter)
    if not INT32_MIN <= number <= INT32_MAX:
        raise _bad(
            f"Value must be between {INT32_MIN} and {INT32_MAX}.", parameter, "ParameterValueOutOfRange"
        )
    return number


def _bool(value: Any, parameter: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "false"):
        return text == "true"
    raise _bad(f"Invalid value '{value}': 'true' or 'false' was expected.", parameter)


def _list(value: Any, parameter: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        items = [str(v) for v in value]
    elif isinstance(value, str):
        items = value.split(",")
    else:
        raise _bad(f"Invalid value '{value}': a comma-separated string was expected.", parameter)
    return [i.strip() for i in items if i.strip()]


def _str(value: Any, parameter: str) -> str:
    if not isinstance(value, str):
        raise _bad(f"Invalid value '{value}': a string was expected.", parameter)
    return value


def _finish(req: SearchRequest, raw_top: Any, raw_skip: Any) -> SearchRequest:
    if raw_top is not None:
        req.top = _int(raw_top, "$top")
        if req.top < 0:
            raise _bad("Value must be greater than or equal to 0.", "$top", "ParameterValueOutOfRange")
    if raw_skip is not None:
        req.skip = _int(raw_skip, "$skip")
    if not 0 <= req.skip <= MAX_SKIP:
        raise _bad(f"Value must be between 0 and {MAX_SKIP}.", "$skip", "ParameterValueOutOfRange")
    if req.search_mode not in ("any", "all"):
        raise _bad(f"Invalid value '{req.search_mode}': 'any' or 'all' was expected.", "searchMode")
    if req.query_type == "semantic":
        raise _bad("Semantic ranking is not available on this service; use 'simple' or 'full'.", "queryType")
    if req.query_type not in ("simple", "full"):
        raise _bad(f"Invalid value '{req.query_type}': 'simple' or 'full' was expected.", "queryType")
    if req.search is not None and len(req.search) > MAX_SEARCH_CHARS:
        raise _bad(f"The search text is longer than {MAX_SEARCH_CHARS} characters.", "search")
    if req.minimum_coverage is not None and not 0 <= req.minimum_coverage <= 100:
        raise _bad("Value must be between 0 and 100.", "minimumCoverage", "ParameterValueOutOfRange")
    return req


def from_body(body: Any) -> SearchRequest:
    """A POST body (`docs/search` or `docs/search.post.search`); unknown keys are a 400 as on Azure."""
    if not isinstance(body, dict):
        raise SearchError("The request body must be a JSON object.", 400, "InvalidRequestBody")
    for key in body:
        if key not in POST_TO_GET:
            raise SearchError(
                f"The parameter '{key}' in the request payload is not a valid parameter for the operation 'search'.",
                400,
                "InvalidRequestParameter",
            )
    if body.get("scoringProfile"):
        raise _bad(
            f"The scoring profile '{body['scoringProfile']}' does not exist in the index.", "scoringProfile"
        )
    req = SearchRequest()
    if body.get("search") is not None:
        req.search = _str(body["search"], "search")
    req.search_mode = _str(body.get("searchMode") or "any", "searchMode")
    req.query_type = _str(body.get("queryType") or "simple", "queryType")
    req.search_fields = _list(body.get("searchFields"), "searchFields")
    if body.get("select") is not None:
        req.select = ",".join(_list(body["select"], "$select")) or "*"
    if body.get("filter") is not None:
        req.filter = _str(body["filter"], "$filter")
    if body.get("orderby") is not None:
        req.orderby = ",".join(_list(body["orderby"], "$orderby"))
    if body.get("count") is not None:
        req.count = _bool(body["count"], "$count")
    facets = body.get("facets")
    if facets is not None:
        if not isinstance(facets, list) or not all(isinstance(f, str) for f in facets):
            raise _bad("'facets' must be an array of strings.", "facets")
        req.facets = list(facets)
    req.highlight = _list(body.get("highlight"), "highlight")
    _tags(req, body.get("highlightPreTag"), body.get("highlightPostTag"))
    if body.get("minimumCoverage") is not None:
        try:
            if isinstance(body["minimumCoverage"], bool):
                raise TypeError
            req.minimum_coverage = float(body["minimumCoverage"])
        except (TypeError, ValueError, OverflowError):
            raise _bad(
                f"Invalid value '{body['minimumCoverage']}': a number was expected.", "minimumCoverage"
            ) from None
    return _finish(req, body.get("top"), body.get("skip"))


def _tags(req: SearchRequest, pre: Any, post: Any) -> None:
    if (pre is None) != (post is None):
        raise _bad("highlightPreTag and highlightPostTag must be set together.", "highlightPreTag")
    if pre is not None:
        req.highlight_pre = _str(pre, "highlightPreTag")
        req.highlight_post = _str(post, "highlightPostTag")


def from_query(params: Iterable[tuple[str, str]]) -> SearchRequest:
    """GET `/docs?search=..&$select=..` parameters (facet may repeat), read as the equivalent POST body."""
    body: dict[str, Any] = {}
    for name, value in params:
        if name in IGNORED_GET:
            continue
        key = GET_TO_POST.get(name)
        if key is None:
            if name.startswith("$"):
                raise _bad(f"The query parameter '{name}' is not supported for the operation 'search'.", name)
            continue  # Azure ignores parameters it does not know
        if key in LIST_PARAMETERS:
            body.setdefault(key, []).append(value)
        else:
            body[key] = value
    return from_body(body)


def from_query_string(text: str) -> SearchRequest:
    """The portal's form, e.g. `search=pf3tern&$select=properties/EventTime,properties/ComputerName`."""
    text = text.lstrip("?")
    if "=" not in text:  # a bare search text
        return from_query([("search", text)])
    return from_query(parse_qsl(text, keep_blank_values=True))
