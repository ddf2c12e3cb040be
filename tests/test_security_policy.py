"""Security in process: the access policy of every route (against docs/security.md), keys never readable,
the Host allow-list, the body limit, the per-key cap, and every search bound as a 400 naming it."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pyarrow as pa
import pytest
from fastapi.testclient import TestClient
from starlette.routing import BaseRoute

from huntvault.config import Config
from huntvault.index import IndexStore
from huntvault.web import create_app
from huntvault.web.app import policed_routes
from huntvault.web.deps import AppContext
from huntvault.web.policy import route_access
from tests.support.search import (
    ADMIN_KEY,
    INDEX,
    QUERY_KEY,
    SearchEnv,
    crafted_table,
    generate_table,
    write_archive,
)

DOCS = Path(__file__).resolve().parents[1] / "docs" / "security.md"
SECRETS = {
    "HUNTVAULT_ADMIN_KEY": ADMIN_KEY,
    "HUNTVAULT_QUERY_KEY": QUERY_KEY,
    "HUNTVAULT_LA_SHARED_KEY": "la-shared-key-secret-7731",
    "HUNTVAULT_DEFENDER_CLIENT_SECRET": "defender-secret-9912",
}
NETWORK_INDEX = "insights-logs-advancedhunting-devicenetworkevents"


def _config(root: Path, **server: Any) -> Config:
    cfg = Config()
    cfg.index.path = str(root / "index")
    cfg.server.admin_key = ADMIN_KEY
    cfg.server.query_key = QUERY_KEY
    cfg.forward.defender.client_secret = SECRETS["HUNTVAULT_DEFENDER_CLIENT_SECRET"]
    for key, value in server.items():
        setattr(cfg.server, key, value)
    return cfg


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SearchEnv]:
    root = tmp_path_factory.mktemp("security")
    data = crafted_table()
    write_archive(root / "archive", "DeviceProcessEvents", data)
    with TestClient(create_app(_config(root), archive_dir=root / "archive")) as client:
        yield SearchEnv(client, data, root / "archive", root / "index")


def error_of(resp: httpx.Response) -> str:
    return str(resp.json()["error"]["message"])


# -- roles ----------------------------------------------------------------------------------------


def _docs_table() -> dict[tuple[str, str], str]:
    rows = re.findall(r"^\| ([A-Z, ]+) \| `([^`]+)` \| (admin|query|public) \|$", DOCS.read_text(), re.M)
    return {(method, path): level for methods, path, level in rows for method in methods.split(", ")}


def _methods(route: BaseRoute) -> list[str]:
    return sorted(getattr(route, "methods", None) or ["GET"])


def _all_routes(routes: list[BaseRoute]) -> Iterator[BaseRoute]:
    """Every route the app serves, included routers opened up (FastAPI wraps them)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _all_routes(list(inner.routes))
        else:
            yield route


def test_every_route_has_a_policy_and_it_is_the_documented_one(env: SearchEnv) -> None:
    app = env.client.app
    policed = policed_routes(app)
    served = list(_all_routes(list(app.router.routes)))
    assert {id(r) for r in served} == {id(r) for r in policed}, "a served route is missing from the guard"
    enforced = {}
    for route in policed:
        level = route_access(route)
        assert level is not None, f"{getattr(route, 'path', route)} states no access level"
        for method in _methods(route):
            enforced[(method, route.path)] = level.value  # type: ignore[attr-defined]
    assert enforced == _docs_table()


def _concrete(path: str) -> str:
    return (
        path.replace("{name}", INDEX)
        .replace("{key:path}", "nope")
        .replace("{page}", "hunt")
        .replace("/ui/static", "/ui/static/app.css")
    )


def _call(client: TestClient, method: str, path: str, key: str | None) -> httpx.Response:
    if method == "DELETE":  # the module's index must survive: delete one that does not exist (404)
        path = path.replace(INDEX, "insights-logs-advancedhunting-none")
    headers = {"api-key": key} if key else {}
    body = {"query": "print 1"} if path == "/api/hunt" else {}
    return client.request(method, path, headers=headers, json=body if method == "POST" else None)


@pytest.mark.parametrize(("method", "path", "level"), [(m, p, lv) for (m, p), lv in _docs_table().items()])
def test_each_route_enforces_its_level(env: SearchEnv, method: str, path: str, level: str) -> None:
    url = _concrete(path)
    anonymous = _call(env.client, method, url, None)
    wrong = _call(env.client, method, url, "not-a-key")
    query = _call(env.client, method, url, QUERY_KEY)
    admin = _call(env.client, method, url, ADMIN_KEY)
    if level == "public":
        assert anonymous.status_code not in (401, 403) and wrong.status_code not in (401, 403)
    else:
        assert anonymous.status_code == 401 and wrong.status_code == 403
    assert (query.status_code == 403) == (level == "admin")
    assert admin.status_code not in (401, 403) and admin.status_code < 500
    assert query.status_code < 500 and anonymous.status_code < 500


def test_an_unlisted_path_is_a_404_from_the_guard(env: SearchEnv) -> None:
    resp = env.client.get("/openapi.json", headers={"api-key": ADMIN_KEY})
    assert resp.status_code == 404 and "was not found" in error_of(resp)
    assert env.client.delete("/api/hunt", headers={"api-key": ADMIN_KEY}).status_code == 405


def test_no_answer_ever_contains_a_key_or_secret(tmp_path: Path) -> None:
    write_archive(tmp_path / "archive", "DeviceProcessEvents", crafted_table(30))
    cfg = _config(tmp_path)
    sink = cfg.forward.sinks
    from huntvault.config import SinkConfig

    sink.append(SinkConfig(name="la", kind="data-collector", shared_key=SECRETS["HUNTVAULT_LA_SHARED_KEY"]))
    with TestClient(create_app(cfg, archive_dir=tmp_path / "archive")) as client:
        bodies = []
        for (method, path), _ in _docs_table().items():
            for key in (ADMIN_KEY, QUERY_KEY):
                bodies.append(_call(client, method, _concrete(path), key).text)
        hunts = ["print s = tostring(1)", "DeviceProcessEvents | take 3", "print x = 'HUNTVAULT_ADMIN_KEY'"]
        bodies += [_call_hunt(client, q) for q in hunts]
    for body in bodies:
        for name, secret in SECRETS.items():
            assert secret not in body, f"{name} leaked"


def _call_hunt(client: TestClient, query: str) -> str:
    return client.post("/api/hunt", json={"query": query}, headers={"api-key": ADMIN_KEY}).text


# -- no-auth and the Host allow-list ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("127.0.0.1:8080", True),
        ("localhost", True),
        ("LOCALHOST:1", True),
        ("[::1]:8080", True),
        ("rebind.attacker.example", False),
        ("127.0.0.1.nip.io:8080", False),
        ("localhost:80x", False),
        ("", False),
    ],
)
def test_no_auth_answers_only_loopback_host_names(env: SearchEnv, host: str, allowed: bool) -> None:
    cfg = _config(env.archive.parent, no_auth=True)
    with TestClient(create_app(cfg, archive_dir=env.archive)) as client:
        resp = client.post("/api/hunt", json={"query": "print 1"}, headers={"host": host})
        assert (resp.status_code == 200) == allowed, resp.text
        if not allowed:
            assert resp.status_code == 403 and "[::1]" in error_of(resp)


def test_keys_mode_has_no_host_allow_list(env: SearchEnv) -> None:
    resp = env.client.get("/api/session", headers={"api-key": QUERY_KEY, "host": "search.contoso.example"})
    assert resp.status_code == 200


def test_config_is_copied_not_shared(env: SearchEnv) -> None:
    cfg = _config(env.archive.parent)
    app = create_app(cfg, archive_dir=env.archive)
    cfg.server.admin_key = "changed-afterwards"
    ctx: AppContext = app.state.ctx
    assert ctx.config.server.admin_key == ADMIN_KEY and ctx.config is not cfg


# -- bodies ---------------------------------------------------------------------------------------


def _chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        sent += size
        yield b"x" * size


def test_chunked_body_is_counted_while_it_streams(env: SearchEnv) -> None:
    transport = httpx.ASGITransport(app=env.client.app)

    async def send(key: str) -> httpx.Response:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:

            async def body() -> Any:
                for chunk in _chunks(5 * 1024 * 1024):
                    yield chunk

            return await client.post(
                f"/indexes/{INDEX}/docs/search",
                content=body(),
                headers={"content-type": "application/json", **({"api-key": key} if key else {})},
            )

    too_large = asyncio.run(send(QUERY_KEY))
    assert too_large.status_code == 413 and "server.max_request_bytes" in error_of(too_large)
    assert asyncio.run(send("")).status_code == 401


def test_declared_length_over_the_limit_is_413_before_reading(env: SearchEnv) -> None:
    resp = env.client.post(
        "/api/hunt",
        content=b"{}",
        headers={"api-key": QUERY_KEY, "content-length": str(10**9), "content-type": "application/json"},
    )
    assert resp.status_code == 413


# -- per-key concurrency ----------------------------------------------------------------------------


def test_concurrent_hunts_past_the_cap_get_429_with_retry_after(env: SearchEnv) -> None:
    app = create_app(_config(env.archive.parent, max_concurrent_hunts_per_key=1), archive_dir=env.archive)
    ctx: AppContext = app.state.ctx
    slow = "range x from 1 to 4000000000 step 1 | summarize count() by x % 1000003 | count"

    async def scenario() -> tuple[httpx.Response, httpx.Response, httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", timeout=120
        ) as client:

            def hunt(query: str, key: str) -> Any:
                return client.post("/api/hunt", json={"query": query}, headers={"api-key": key})

            first = asyncio.ensure_future(hunt(slow, QUERY_KEY))
            while ctx.running_hunts.running() == 0:
                await asyncio.sleep(0.01)
            busy = await hunt("print 1", QUERY_KEY)
            other_key = await hunt("print 1", ADMIN_KEY)
            ctx.running_hunts.cancel_all()  # what a shutdown does: the slow hunt stops
            return busy, other_key, await first

    busy, other_key, first = asyncio.run(scenario())
    assert busy.status_code == 429 and busy.headers["retry-after"] == "1"
    assert "server.max_concurrent_hunts_per_key" in error_of(busy)
    assert other_key.status_code == 200
    assert first.status_code == 400 and first.json()["error"]["code"] == "KqlCancelledError"


# -- search bounds: each a 400 naming the bound ------------------------------------------------------


def _both(env: SearchEnv, **params: Any) -> list[httpx.Response]:
    """The same search as GET (query string) and POST (JSON body)."""
    get = env.get(f"/indexes/{INDEX}/docs", key=QUERY_KEY, **{"api-version": "2024-07-01", **params})
    body = {
        {"$top": "top", "$skip": "skip", "$filter": "filter", "facet": "facets"}.get(k, k): v
        for k, v in params.items()
    }
    if "facets" in body:
        body["facets"] = [body["facets"]]
    post = env.post(body, key=QUERY_KEY)
    return [get, post]


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"$top": "1e20"}, "$top"),
        ({"$top": "99999999999999999999"}, "$top"),
        ({"$top": "-1"}, "$top"),
        ({"$top": "nan"}, "$top"),
        ({"$top": "inf"}, "$top"),
        ({"$top": "2.5"}, "$top"),
        ({"$skip": "1e300"}, "$skip"),
        ({"$skip": "100001"}, "$skip"),
        ({"facet": "properties/FileSize,count:100000000000000000000"}, "count must be at most"),
        ({"facet": "properties/FileSize,count:1e20"}, "count must be a non-negative integer"),
        ({"facet": "properties/FileSize,interval:0.5"}, "whole number"),
        ({"facet": "properties/FileSize,interval:nan"}, "interval must be a positive number"),
        ({"facet": "properties/FileSize,interval:inf"}, "interval must be a positive number"),
        ({"facet": "properties/FileSize,interval:1e-300"}, "whole number"),
        ({"facet": "properties/FileSize,interval:1"}, "more than 10000 buckets"),
        ({"facet": "properties/FileSize,count:²"}, "count must be a non-negative integer"),
    ],
)
def test_numeric_parameters_out_of_range_are_400_naming_them(
    env: SearchEnv, params: dict[str, str], named: str
) -> None:
    for resp in _both(env, search="*", **params):
        assert resp.status_code == 400, resp.text
        assert named in error_of(resp), error_of(resp)


def test_json_numbers_that_are_not_int32_are_400(env: SearchEnv) -> None:
    for top in (1e20, 1e300, 2**31, -(2**40), 1.5, True, "12"):
        resp = env.post({"search": "*", "top": top}, key=QUERY_KEY)
        assert resp.status_code == (200 if top == "12" else 400), (top, resp.text)
    assert env.post({"search": "*", "top": 2.0}, key=QUERY_KEY).status_code == 200


def test_float_interval_on_a_real_field_still_works(env: SearchEnv) -> None:
    resp = _both(env, search="*", facet="properties/FileSize,interval:10000000", **{"$top": "0"})
    for r in resp:
        assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    ("search", "query_type", "bound"),
    [
        (" ".join(f"term{i}x~2" for i in range(1000)), "full", "search.max_clauses"),
        (" ".join(f"term{i}x~1" for i in range(21)), "full", "search.max_clauses"),
        ("/(.*a){20}/", "full", "search.max_regex_unbounded"),
        ("/.*a.*b.*c.*d.*e/", "full", "search.max_regex_unbounded"),
        ("/[a-z]{1,2000}/", "full", "repeats more than allowed"),
        ("/(ab){600}x{600}/", "full", "search.max_regex_size"),
        ("/" + "a" * 1200 + "/", "full", "search.max_regex_chars"),
        (" ".join(f"/x{i}/" for i in range(11)), "full", "search.max_pattern_terms"),
        (" ".join(f"a{i}*b*" for i in range(11)), "full", "search.max_pattern_terms"),
        ("a*b*c*d*e*f*", "full", "search.max_regex_unbounded"),
        ("(" * 194 + "x" + ")" * 194, "full", "nested too deeply"),
        ("(" * 324 + "x" + ")" * 324, "simple", "nested too deeply"),
        ("-" * 300 + "x", "simple", "nested too deeply"),
        ("!" * 300 + "x", "full", "nested too deeply"),
        ("x " + " ".join(("| y", "+ z")[i % 2] for i in range(120)), "simple", "nested too deeply"),
        (" ".join(f"w{i}" for i in range(1100)), "simple", "search.max_clauses"),
        ("/" + "(" * 60 + "a" + ")" * 60 + "/", "full", "nested too deeply"),
    ],
)
def test_expensive_queries_are_400_naming_the_bound(
    env: SearchEnv, search: str, query_type: str, bound: str
) -> None:
    resp = env.post({"search": search, "queryType": query_type}, key=QUERY_KEY)
    assert resp.status_code == 400, resp.text[:300]
    assert bound in error_of(resp), error_of(resp)


def test_cheap_patterns_and_a_few_fuzzy_terms_still_run(env: SearchEnv) -> None:
    for search in ("/mimi.*/", "mimi*", "mimikatz~1 wifi~2", "/(.*a){4}/", "/[a-z]{1,50}/", "((((wifi))))"):
        assert env.post({"search": search, "queryType": "full"}, key=QUERY_KEY).status_code == 200, search


@pytest.mark.parametrize(
    "flt",
    [
        "(" * 194 + "properties/FileSize gt 1" + ")" * 194,
        " or ".join(f"properties/FileSize eq {i}" for i in range(488)),
        " and ".join(f"properties/FileSize ne {i}" for i in range(999)),
        "not " * 300 + "(properties/FileSize gt 1)",
        "properties/FileSize gt 1" + " or properties/FileSize eq 1" * 1000,
    ],
)
def test_deep_or_long_filters_are_400_or_answered_never_500(env: SearchEnv, flt: str) -> None:
    get, post = _both(env, search="*", **{"$filter": flt})
    assert get.status_code in (200, 400, 414), get.text[:300]  # a long filter belongs in a POST
    for resp in (get, post) if get.status_code != 414 else (post,):
        assert resp.status_code in (200, 400), resp.text[:300]
        if resp.status_code == 400:
            assert re.search(r"nested more than 48|more than 1000 clauses", error_of(resp)), error_of(resp)


def test_long_or_chain_filter_counts_like_the_truth(env: SearchEnv) -> None:
    sizes = [s for s in env.data.column("FileSize").to_pylist() if s is not None][:600]
    flt = " or ".join(f"properties/FileSize eq {s}" for s in sizes)
    got = env.post({"search": "*", "filter": flt, "count": True, "top": 0}, key=QUERY_KEY).json()
    truth = sum(1 for s in env.data.column("FileSize").to_pylist() if s in set(sizes))
    assert got["@odata.count"] == truth


def test_huge_integers_in_a_filter_are_all_or_nothing(env: SearchEnv) -> None:
    present = sum(1 for s in env.data.column("FileSize").to_pylist() if s is not None)
    huge = "1" + "0" * 30
    for op, expected in (("lt", present), ("gt", 0), ("eq", 0), ("ne", env.data.num_rows)):
        body = {"search": "*", "filter": f"properties/FileSize {op} {huge}", "count": True, "top": 0}
        resp = env.post(body, key=QUERY_KEY)
        assert resp.status_code == 200 and resp.json()["@odata.count"] == expected, (op, resp.text)


def test_highlight_tag_length_is_bounded(env: SearchEnv) -> None:
    tag = "<" + "b" * 50_000 + ">"
    body = {"search": "wifi", "highlight": "properties/ProcessCommandLine"}
    resp = env.post({**body, "highlightPreTag": tag, "highlightPostTag": "</b>"}, key=QUERY_KEY)
    assert resp.status_code == 400 and "search.max_highlight_tag_chars" in error_of(resp)
    ok = env.post({**body, "highlightPreTag": "<mark>", "highlightPostTag": "</mark>"}, key=QUERY_KEY)
    assert ok.status_code == 200


def test_response_size_is_bounded(env: SearchEnv) -> None:
    app = create_app(_config(env.archive.parent, max_response_bytes=4096), archive_dir=env.archive)
    with TestClient(app) as client:
        resp = client.get(
            f"/indexes/{INDEX}/docs", params={"search": "*", "$top": "50"}, headers={"api-key": QUERY_KEY}
        )
        assert resp.status_code == 400 and "server.max_response_bytes" in error_of(resp)
        hunt = client.post(
            "/api/hunt", json={"query": "DeviceProcessEvents | take 50"}, headers={"api-key": QUERY_KEY}
        )
        assert hunt.status_code == 400 and "server.max_response_bytes" in hunt.json()["error"]["message"]


def test_unexpected_engine_failure_in_a_hunt_is_a_400(env: SearchEnv) -> None:
    deep = "print x = " + "(" * 3000 + "1" + ")" * 3000
    resp = env.client.post("/api/hunt", json={"query": deep}, headers={"api-key": QUERY_KEY})
    assert resp.status_code == 400, resp.text[:300]


# -- exact facet counts (the RemotePort 445 case) ---------------------------------------------------


def test_facet_counts_are_exact_across_segments(tmp_path: Path) -> None:
    """Port 445 once in a segment full of other ports and five times in another: 6, as $filter says."""
    archive = tmp_path / "archive"
    store = IndexStore(tmp_path / "index", archive)
    rng = np.random.default_rng(3)
    batches = [
        [445] + [p for p in range(2000, 2400) for _ in (0, 1)],
        [445] * 5 + list(rng.integers(3000, 3005, 40)),
    ]
    for i, ports in enumerate(batches):
        data = generate_table("DeviceNetworkEvents", len(ports), seed=40 + i)
        data = data.set_column(
            data.schema.get_field_index("RemotePort"),
            "RemotePort",
            pa.array([int(p) for p in ports], pa.int32()),
        )
        write_archive(archive, "DeviceNetworkEvents", data)
        store.sync()
    assert store.get(NETWORK_INDEX).active.searcher().num_segments >= 2
    cfg = _config(tmp_path)
    with TestClient(create_app(cfg, archive_dir=archive)) as client:
        key = {"api-key": QUERY_KEY}
        url = f"/indexes/{NETWORK_INDEX}/docs"
        by_filter = client.get(
            url,
            params={"search": "*", "$filter": "properties/RemotePort eq 445", "$count": "true", "$top": "0"},
            headers=key,
        ).json()["@odata.count"]
        for count in ("10", "50"):
            facets = client.get(
                url,
                params={"search": "*", "facet": f"properties/RemotePort,count:{count}", "$top": "0"},
                headers=key,
            ).json()["@search.facets"]["properties/RemotePort"]
            assert {"value": 445, "count": 6} in facets, facets[:3]
        assert by_filter == 6


# -- settings and the CLI ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ("[server]\nsearch_workers = 0\n", "server.search_workers"),
        ("[server]\nmax_concurrent_hunts_per_key = -1\n", "server.max_concurrent_hunts_per_key"),
        ("[search]\nmax_clauses = 0\n", "search.max_clauses"),
        ("[search]\nmax_regex_unbounded = 'x'\n", "search.max_regex_unbounded"),
    ],
)
def test_bad_bound_settings_name_the_key(tmp_path: Path, toml: str, key: str) -> None:
    from huntvault.config import load
    from huntvault.errors import ConfigError

    path = tmp_path / "huntvault.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load(path, env={})
    assert err.value.key == key


def test_serve_refuses_no_auth_on_a_public_host(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from huntvault.cli import main

    result = CliRunner().invoke(
        main,
        ["serve", "--archive", str(tmp_path), "--host", "0.0.0.0", "--port", "1", "--no-auth"],
        env={"HUNTVAULT_ADMIN_KEY": ADMIN_KEY, "HUNTVAULT_CONFIG": ""},
    )
    assert result.exit_code == 2
    assert "server.no_auth" in result.output and "loopback" in result.output
    assert "Traceback" not in result.output


def test_a_search_past_its_time_budget_is_a_400(env: SearchEnv) -> None:
    app = create_app(_config(env.archive.parent, search_timeout_seconds=0.000001), archive_dir=env.archive)
    with TestClient(app) as client:
        body = {
            "search": "wifi~2 hotel~2 luxury~2 airport~2",
            "queryType": "full",
            "facets": ["properties/FileSize"],
        }
        resp = client.post(f"/indexes/{INDEX}/docs/search", json=body, headers={"api-key": QUERY_KEY})
        assert resp.status_code == 400 and "server.search_timeout_seconds" in error_of(resp)
        assert resp.json()["error"]["code"] == "QueryTimeout"


def test_kql_execute_stops_when_its_cancel_event_is_set() -> None:
    """The contract the web layer codes against: `execute(cancel=)` interrupts DuckDB."""
    import threading

    from huntvault.errors import KqlCancelledError
    from huntvault.kql import execute

    cancel = threading.Event()
    timer = threading.Timer(0.3, cancel.set)
    timer.start()
    with pytest.raises(KqlCancelledError):
        execute(
            "range x from 1 to 40000000000 step 1 | summarize count() by x % 1000003 | count", cancel=cancel
        )
    already = threading.Event()
    already.set()
    with pytest.raises(KqlCancelledError):
        execute("print 1", cancel=already)
    assert execute("print 1", cancel=threading.Event()).rows() == [{"print_0": 1}]
