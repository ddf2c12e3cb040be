"""Azure AI Search query languages (simple, Lucene, OData) and the engine that runs them on the index."""

from __future__ import annotations

from huntvault.search.engine import SearchEngine, project
from huntvault.search.lucene import parse_lucene
from huntvault.search.odata import parse_filter, parse_orderby, parse_select
from huntvault.search.render import render_results
from huntvault.search.request import (
    DEFAULT_TOP,
    MAX_SKIP,
    MAX_TOP,
    SearchRequest,
    from_body,
    from_query,
    from_query_string,
)
from huntvault.search.service import SearchService
from huntvault.search.simple import parse_simple

__all__ = [
    "DEFAULT_TOP",
    "MAX_SKIP",
    "MAX_TOP",
    "SearchEngine",
    "SearchRequest",
    "SearchService",
    "from_body",
    "from_query",
    "from_query_string",
    "parse_filter",
    "parse_lucene",
    "parse_orderby",
    "parse_select",
    "parse_simple",
    "project",
    "render_results",
]
