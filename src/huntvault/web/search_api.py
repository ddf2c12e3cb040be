"""The Azure AI Search REST routes, in both URL forms (`/indexes/name/...` and the SDK's `/indexes('name')/...`)."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from huntvault.errors import SearchError
from huntvault.search import SearchRequest, SearchService, from_body, from_query
from huntvault.web.deps import AppContext, get_caller, get_context
from huntvault.web.policy import Access, access
from huntvault.web.responses import JsonResponse, dumps_bounded

router = APIRouter()
log = logging.getLogger("huntvault.web.search")
OrjsonResponse = JsonResponse


def _svc(request: Request) -> SearchService:
    return get_context(request).search


def _api_version(request: Request) -> str:
    return request.query_params.get("api-version", "2024-07-01")


# -- indexes ---------------------------------------------------------------------------------------


@router.get("/indexes")
@access(Access.ADMIN)
def list_indexes(request: Request) -> Response:
    svc = _svc(request)
    select = request.query_params.get("$select")
    defs = [svc.index_definition(n) for n in svc.index_names()]
    if select:
        wanted = [s.strip() for s in select.split(",")]
        defs = [{k: d.get(k) for k in wanted if k in d} for d in defs]
    return OrjsonResponse({"value": defs})


@access(Access.ADMIN)
def _index_definition(request: Request, name: str) -> Response:
    return OrjsonResponse(_svc(request).index_definition(name))


@access(Access.ADMIN)
def _index_stats(request: Request, name: str) -> Response:
    return OrjsonResponse(_svc(request).index_stats(name))


async def _definition_body(request: Request) -> Any:
    ctype = request.headers.get("content-type", "application/json")
    if "json" not in ctype:
        raise SearchError(
            f"Content-Type '{ctype[:100]}' is not supported; send application/json.",
            415,
            "UnsupportedMediaType",
        )
    raw = await request.body()
    try:
        return orjson.loads(raw) if raw.strip() else None
    except orjson.JSONDecodeError as exc:
        raise SearchError(f"The request body is not valid JSON: {exc}.", 400, "InvalidRequestBody") from None


def _flag(request: Request, name: str) -> None:
    """Azure's boolean query flags (`allowIndexDowntime`): true/false or a 400 naming it; no effect here
    (a changed definition never takes the index down: the old one answers until the rebuild is done)."""
    value = request.query_params.get(name)
    if value is not None and value.strip().lower() not in ("true", "false"):
        raise SearchError(
            f"Invalid value '{value[:100]}': 'true' or 'false' was expected.\r\nParameter name: {name}"
        )


def _saved(request: Request, definition: dict[str, Any], created: bool) -> Response:
    prefer = request.headers.get("prefer", "return=representation").lower()
    headers = {"ETag": str(definition.get("@odata.etag", ""))}
    if "return=minimal" in prefer:
        return Response(status_code=204, headers=headers)
    return OrjsonResponse(definition, status_code=201 if created else 200, headers=headers)


@access(Access.ADMIN)
async def _put_index(request: Request, name: str) -> Response:
    """Create or change an index definition (Azure's index JSON); a changed layout rebuilds in the background."""
    _flag(request, "allowIndexDowntime")
    body = await _definition_body(request)
    svc = _svc(request)
    definition, created = await run_in_threadpool(
        lambda: svc.put_index(
            name,
            body,
            if_match=request.headers.get("if-match"),
            if_none_match=request.headers.get("if-none-match"),
        )
    )
    return _saved(request, definition, created)


@access(Access.ADMIN)
async def _create_index(request: Request) -> Response:
    body = await _definition_body(request)
    name = body.get("name") if isinstance(body, dict) else None
    if not isinstance(name, str):
        raise SearchError("Invalid index definition: 'name' is required (a string).", 400)
    svc = _svc(request)
    definition, _ = await run_in_threadpool(lambda: svc.put_index(name, body, create_only=True))
    return OrjsonResponse(definition, status_code=201, headers={"ETag": str(definition["@odata.etag"])})


@access(Access.ADMIN)
async def _delete_index(request: Request, name: str) -> Response:
    svc = _svc(request)
    await run_in_threadpool(lambda: svc.delete_index(name, request.headers.get("if-match")))
    return Response(status_code=204)


for _path in ("/indexes/{name}", "/indexes('{name}')"):
    router.add_api_route(_path, _index_definition, methods=["GET"])
    router.add_api_route(_path, _put_index, methods=["PUT"])
    router.add_api_route(_path, _delete_index, methods=["DELETE"])
router.add_api_route("/indexes", _create_index, methods=["POST"])
for _path in ("/indexes/{name}/stats", "/indexes('{name}')/search.stats"):
    router.add_api_route(_path, _index_stats, methods=["GET"])


# -- documents -------------------------------------------------------------------------------------


def _next_link(request: Request, name: str, out: dict[str, Any], get_form: bool) -> None:
    nxt = out.get("@search.nextPageParameters")
    if nxt is None:
        return
    base = str(request.base_url).rstrip("/")
    if get_form:
        params = [
            (k, v) for k, v in request.query_params.multi_items() if k not in ("$skip", "$top", "api-key")
        ]
        params.append(("$skip", str(nxt["skip"])))
        if "top" in nxt:
            params.append(("$top", str(nxt["top"])))
        out["@odata.nextLink"] = f"{base}/indexes('{name}')/docs?{urlencode(params)}"
    else:
        out["@odata.nextLink"] = (
            f"{base}/indexes('{name}')/docs/search.post.search?api-version={_api_version(request)}"
        )


@access(Access.QUERY)
async def _search_get(request: Request, name: str) -> Response:
    req = from_query(request.query_params.multi_items())
    return await _run_search(request, name, req, get_form=True)


@access(Access.QUERY)
async def _search_post(request: Request, name: str) -> Response:
    ctype = request.headers.get("content-type", "application/json")
    if "json" not in ctype:
        raise SearchError(
            f"Content-Type '{ctype[:100]}' is not supported; send application/json.",
            415,
            "UnsupportedMediaType",
        )
    raw = await request.body()
    try:
        body = orjson.loads(raw) if raw.strip() else {}
    except orjson.JSONDecodeError as exc:
        raise SearchError(f"The request body is not valid JSON: {exc}.", 400, "InvalidRequestBody") from None
    req: SearchRequest = from_body(body)
    return await _run_search(request, name, req, get_form=False)


async def _run_search(request: Request, name: str, req: SearchRequest, get_form: bool) -> Response:
    """Run the search on a search worker (never on the event loop), within the per-key cap and the time budget."""
    ctx: AppContext = get_context(request)
    limit = ctx.config.server.max_response_bytes

    def work() -> bytes:
        try:
            out = ctx.search.search(name, req)
        except (ValueError, OverflowError, RecursionError, MemoryError) as exc:
            log.warning("search on %s could not be run: %r", name, exc)
            raise SearchError(
                f"The search could not be run ({type(exc).__name__}); simplify the query."
            ) from None
        _next_link(request, name, out, get_form)
        return dumps_bounded(out, limit, "search")

    budget = ctx.config.server.search_timeout_seconds
    try:
        body = await ctx.searches.run(get_caller(request).key_id, work, budget)
    except TimeoutError:
        raise SearchError(
            f"The search did not finish within {budget:g} s (setting server.search_timeout_seconds); "
            "narrow the query.",
            400,
            "QueryTimeout",
        ) from None
    return JsonResponse(body)


@access(Access.QUERY)
def _count(request: Request, name: str) -> Response:
    return PlainTextResponse(str(_svc(request).count(name)))


@access(Access.QUERY)
def _lookup(request: Request, name: str, key: str) -> Response:
    if len(key) >= 2 and key.startswith("'") and key.endswith("'"):
        key = key[1:-1].replace("''", "'")
    return OrjsonResponse(_svc(request).lookup(name, key, request.query_params.get("$select")))


@access(Access.QUERY)
def _lookup_paren(request: Request, name: str, key: str) -> Response:
    return _lookup(request, name, key.replace("''", "'"))


@access(Access.ADMIN)
def _index_docs(request: Request, name: str) -> Response:
    raise SearchError(
        "Documents come from the huntvault archive; the index is read-only through the API (ingest the export instead).",
        405,
        "OperationNotAllowed",
    )


for _idx in ("/indexes/{name}", "/indexes('{name}')"):
    router.add_api_route(_idx + "/docs/$count", _count, methods=["GET"])
    router.add_api_route(_idx + "/docs/search.post.search", _search_post, methods=["POST"])
    router.add_api_route(_idx + "/docs/search", _search_post, methods=["POST"])
    router.add_api_route(_idx + "/docs/search.index", _index_docs, methods=["POST"])
    router.add_api_route(_idx + "/docs/index", _index_docs, methods=["POST"])
    router.add_api_route(_idx + "/docs", _search_get, methods=["GET"])
    router.add_api_route(_idx + "/docs('{key:path}')", _lookup_paren, methods=["GET"])
    router.add_api_route(_idx + "/docs/{key:path}", _lookup, methods=["GET"])


# -- indexers --------------------------------------------------------------------------------------


@router.get("/indexers")
@access(Access.ADMIN)
def list_indexers(request: Request) -> Response:
    return OrjsonResponse({"value": _svc(request).indexers()})


@access(Access.ADMIN)
def _indexer(request: Request, name: str) -> Response:
    return OrjsonResponse(_svc(request).indexer(name))


@access(Access.ADMIN)
def _indexer_status(request: Request, name: str) -> Response:
    return OrjsonResponse(_svc(request).indexer_status(name))


@access(Access.ADMIN)
def _indexer_run(request: Request, name: str) -> Response:
    _svc(request).run_indexer(name)
    return Response(status_code=202)


for _path in ("/indexers/{name}", "/indexers('{name}')"):
    router.add_api_route(_path, _indexer, methods=["GET"])
router.add_api_route("/indexers/{name}/status", _indexer_status, methods=["GET"])
router.add_api_route("/indexers('{name}')/search.status", _indexer_status, methods=["GET"])
router.add_api_route("/indexers/{name}/run", _indexer_run, methods=["POST"])
router.add_api_route("/indexers('{name}')/search.run", _indexer_run, methods=["POST"])
