"""REST surface of the search API (in process): URL forms, lookup, count, index and indexer views, auth, bad input."""

from __future__ import annotations

import pytest

from tests.support.search import ADMIN_KEY, INDEX, QUERY_KEY, SearchEnv, make_env


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> SearchEnv:
    return make_env(tmp_path_factory.mktemp("search-api"))


def error_of(resp: object) -> str:
    body = resp.json()  # type: ignore[attr-defined]
    assert set(body) == {"error"} and {"code", "message"} <= set(body["error"])
    return str(body["error"]["message"])


# -- URL forms and document operations ---------------------------------------------------------------


def test_both_post_url_forms_and_alias(env: SearchEnv) -> None:
    body = {"search": "mimikatz", "select": "properties/ReportId"}
    sdk = env.post(body, sdk_form=True).json()
    plain = env.post(body, sdk_form=False).json()
    alias = env.client.post(
        "/indexes/DeviceProcessEvents/docs/search.post.search", json=body, headers={"api-key": ADMIN_KEY}
    ).json()
    assert sdk == plain == alias and len(sdk["value"]) == 1


def test_get_search_in_sdk_form(env: SearchEnv) -> None:
    resp = env.get(f"/indexes('{INDEX}')/docs", search="mimikatz", **{"$select": "properties/DeviceName"})
    assert resp.status_code == 200 and resp.json()["value"][0]["properties"] == {"DeviceName": "alpha-host"}


def test_lookup_by_key_in_every_form(env: SearchEnv) -> None:
    hit = env.search(search="mimikatz")["value"][0]
    key = hit["id"]
    for path in (
        f"/indexes/{INDEX}/docs/{key}",
        f"/indexes/{INDEX}/docs('{key}')",
        f"/indexes('{INDEX}')/docs('{key}')",
    ):
        resp = env.get(path, **{"$select": "id,properties/DeviceName"})
        assert resp.status_code == 200, path
        assert resp.json() == {"id": key, "properties": {"DeviceName": "alpha-host"}}
    full = env.get(f"/indexes/{INDEX}/docs/{key}").json()
    assert full["properties"]["ProcessCommandLine"] == hit["properties"]["ProcessCommandLine"]


def test_key_is_stable_base64url_of_the_dedupe_key(env: SearchEnv) -> None:
    import base64

    hit = env.search(search="mimikatz")["value"][0]
    key = hit["id"]
    pad = int(key[-1])
    raw = base64.urlsafe_b64decode(key[:-1] + "=" * pad).decode()
    p = hit["properties"]
    assert raw == f"{p['DeviceId']};{p['Timestamp']};{p['ReportId']}"


def test_lookup_missing_key_is_404(env: SearchEnv) -> None:
    resp = env.get(f"/indexes/{INDEX}/docs/bm9wZQ2")
    assert resp.status_code == 404 and "bm9wZQ2" in error_of(resp)


def test_count_is_plain_text(env: SearchEnv) -> None:
    for path in (f"/indexes/{INDEX}/docs/$count", f"/indexes('{INDEX}')/docs/$count"):
        resp = env.get(path)
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/plain")
        assert int(resp.text) == len(env.data)


def test_any_api_version_is_accepted(env: SearchEnv) -> None:
    for version in ("2020-06-30", "2026-04-01", "2025-03-01-Preview", "whatever"):
        assert env.get(f"/indexes/{INDEX}/docs/$count", **{"api-version": version}).status_code == 200


# -- indexes and indexers ---------------------------------------------------------------------------


def test_list_indexes_and_definition(env: SearchEnv) -> None:
    names = [d["name"] for d in env.get("/indexes").json()["value"]]
    assert names == [INDEX]
    assert env.get("/indexes", **{"$select": "name"}).json() == {"value": [{"name": INDEX}]}
    for path in (f"/indexes/{INDEX}", f"/indexes('{INDEX}')", "/indexes/DeviceProcessEvents"):
        definition = env.get(path).json()
        fields = {f["name"]: f for f in definition["fields"]}
        assert fields["id"]["key"] is True and fields["id"]["type"] == "Edm.String"
        assert fields["time"]["type"] == "Edm.DateTimeOffset"
        assert fields["metadata_storage_path"]["type"] == "Edm.String"
        assert fields["metadata_storage_size"]["type"] == "Edm.Int64"
        props = {f["name"]: f for f in fields["properties"]["fields"]}
        assert fields["properties"]["type"] == "Edm.ComplexType"
        assert (
            props["Timestamp"]["type"] == "Edm.DateTimeOffset" and props["Timestamp"]["searchable"] is False
        )
        assert (
            props["FileSize"]["type"] == "Edm.Int64"
            and props["IsProcessRemoteSession"]["type"] == "Edm.Boolean"
        )
        assert props["DeviceName"]["searchable"] is True and props["DeviceName"]["facetable"] is True


def test_index_stats(env: SearchEnv) -> None:
    stats = env.get(f"/indexes('{INDEX}')/search.stats").json()
    assert stats["documentCount"] == len(env.data) and stats["storageSize"] > 0


def test_indexers_list_status_and_run(env: SearchEnv) -> None:
    indexer = INDEX + "-indexer"
    listed = env.get("/indexers").json()["value"]
    assert [i["name"] for i in listed] == [indexer] and listed[0]["targetIndexName"] == INDEX
    status = env.get(f"/indexers/{indexer}/status").json()
    assert status["lastResult"]["status"] == "success"
    assert status["lastResult"]["itemsProcessed"] == len(env.data)
    assert status["executionHistory"][0] == status["lastResult"]
    run = env.client.post(f"/indexers('{indexer}')/search.run", headers={"api-key": ADMIN_KEY})
    assert run.status_code == 202
    assert env.get(f"/indexers('{indexer}')/search.status").status_code == 200


def test_unknown_indexer_is_404(env: SearchEnv) -> None:
    resp = env.get("/indexers/nope-indexer/status")
    assert resp.status_code == 404 and "nope-indexer" in error_of(resp)


def test_document_writes_are_refused_and_a_bad_definition_is_a_400(env: SearchEnv) -> None:
    resp = env.client.put(f"/indexes('{INDEX}')", json={}, headers={"api-key": ADMIN_KEY})
    assert resp.status_code == 400 and "'name' is required" in error_of(resp)
    resp = env.client.post(
        f"/indexes('{INDEX}')/docs/search.index", json={"value": []}, headers={"api-key": ADMIN_KEY}
    )
    assert resp.status_code == 405 and "read-only" in error_of(resp)


# -- auth -------------------------------------------------------------------------------------------


def test_missing_key_is_401(env: SearchEnv) -> None:
    resp = env.get(f"/indexes/{INDEX}/docs", key="", search="*")
    assert resp.status_code == 401 and "api-key" in error_of(resp)


def test_wrong_key_is_403(env: SearchEnv) -> None:
    assert env.get(f"/indexes/{INDEX}/docs", key="not-a-key", search="*").status_code == 403


def test_query_key_reads_docs_but_not_management(env: SearchEnv) -> None:
    assert env.get(f"/indexes/{INDEX}/docs", key=QUERY_KEY, search="*").status_code == 200
    assert env.post({"search": "*"}, key=QUERY_KEY).status_code == 200
    for path in ("/indexes", f"/indexes/{INDEX}", "/indexers"):
        resp = env.get(path, key=QUERY_KEY)
        assert resp.status_code == 403 and "admin" in error_of(resp)
    resp = env.client.post(f"/indexers/{INDEX}-indexer/run", headers={"api-key": QUERY_KEY})
    assert resp.status_code == 403


def test_query_key_in_query_string_on_get_only(env: SearchEnv) -> None:
    ok = env.client.get(f"/indexes/{INDEX}/docs", params={"search": "*", "api-key": QUERY_KEY})
    assert ok.status_code == 200
    admin_in_url = env.client.get(f"/indexes/{INDEX}/docs", params={"search": "*", "api-key": ADMIN_KEY})
    assert admin_in_url.status_code == 403


# -- bad input: one test each -----------------------------------------------------------------------


def bad(env: SearchEnv, status: int = 400, /, **params: object) -> str:
    resp = env.get(f"/indexes/{INDEX}/docs", ADMIN_KEY, **params)
    assert resp.status_code == status, resp.text
    return error_of(resp)


def test_bad_filter_syntax_points_at_position(env: SearchEnv) -> None:
    msg = bad(env, **{"$filter": "properties/FileSize gt"})
    assert "position 22" in msg and "$filter" in msg


def test_bad_filter_unescaped_quote(env: SearchEnv) -> None:
    msg = bad(env, **{"$filter": "properties/AccountName eq 'O'Brien'"})
    assert "')' or operator expected at position" in msg


def test_bad_filter_not_without_parentheses(env: SearchEnv) -> None:
    assert "unary operator" in bad(env, **{"$filter": "not properties/FileSize gt 5"})


def test_bad_filter_unknown_field_is_named(env: SearchEnv) -> None:
    msg = bad(env, **{"$filter": "properties/Nope eq 'x'"})
    assert "Could not find a property named 'properties/Nope' on type 'search.document'" in msg


def test_bad_filter_type_mismatch(env: SearchEnv) -> None:
    assert "properties/FileSize" in bad(env, **{"$filter": "properties/FileSize eq 'big'"})


def test_bad_filter_null_with_gt(env: SearchEnv) -> None:
    assert "null" in bad(env, **{"$filter": "properties/FileSize gt null"})


def test_bad_lucene_syntax(env: SearchEnv) -> None:
    msg = bad(env, search="(wifi AND", queryType="full")
    assert "Failed to parse query string" in msg and "column" in msg


def test_bad_lucene_pure_negation(env: SearchEnv) -> None:
    assert "negation" in bad(env, search="-luxury", queryType="full")


def test_bad_lucene_unknown_field(env: SearchEnv) -> None:
    assert "properties/Nope" in bad(env, search="properties/Nope:x", queryType="full")


def test_bad_lucene_non_searchable_field(env: SearchEnv) -> None:
    assert "not marked as 'searchable'" in bad(env, search="properties/FileSize:5", queryType="full")


def test_bad_simple_unbalanced_parenthesis(env: SearchEnv) -> None:
    assert "unbalanced" in bad(env, search="(wifi | luxury")


def test_bad_select_unknown_field(env: SearchEnv) -> None:
    msg = bad(env, search="*", **{"$select": "properties/DeviceName,url"})
    assert "Could not find a property named 'url'" in msg and "$select" in msg


def test_bad_orderby_unknown_field(env: SearchEnv) -> None:
    assert "properties/Nope" in bad(env, **{"$orderby": "properties/Nope desc"})


def test_bad_orderby_direction(env: SearchEnv) -> None:
    assert "$orderby" in bad(env, **{"$orderby": "properties/FileSize sideways"})


def test_bad_search_fields_unknown(env: SearchEnv) -> None:
    assert "properties/Nope" in bad(env, search="x", searchFields="properties/Nope")


def test_bad_facet_unknown_field(env: SearchEnv) -> None:
    assert "properties/Nope" in bad(env, facet="properties/Nope")


def test_bad_facet_interval_on_string(env: SearchEnv) -> None:
    assert "numeric or date" in bad(env, facet="properties/DeviceName,interval:10")


def test_bad_facet_count_with_values(env: SearchEnv) -> None:
    assert "cannot be combined" in bad(env, facet="properties/FileSize,count:3,values:10|20")


def test_bad_skip_out_of_range(env: SearchEnv) -> None:
    resp = env.get(f"/indexes/{INDEX}/docs", ADMIN_KEY, **{"$skip": 100001})
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "ParameterValueOutOfRange"
    assert "between 0 and 100000" in resp.json()["error"]["message"]


def test_bad_top_negative(env: SearchEnv) -> None:
    assert "$top" in bad(env, **{"$top": -1})


def test_bad_top_not_a_number(env: SearchEnv) -> None:
    assert "$top" in bad(env, **{"$top": "ten"})


def test_top_above_1000_is_capped_not_an_error(env: SearchEnv) -> None:
    res = env.search(search="*", **{"$top": 5000})
    assert len(res["value"]) == len(env.data) and "@search.nextPageParameters" not in res


def test_bad_count_value(env: SearchEnv) -> None:
    assert "$count" in bad(env, **{"$count": "maybe"})


def test_bad_search_mode(env: SearchEnv) -> None:
    assert "searchMode" in bad(env, searchMode="some")


def test_bad_query_type(env: SearchEnv) -> None:
    assert "queryType" in bad(env, queryType="semantic")


def test_bad_highlight_tag_alone(env: SearchEnv) -> None:
    assert "together" in bad(
        env, search="wifi", highlight="properties/ProcessCommandLine", highlightPreTag="<b>"
    )


def test_bad_unknown_post_parameter(env: SearchEnv) -> None:
    resp = env.post({"search": "*", "facet": "properties/DeviceName"})
    assert resp.status_code == 400
    assert error_of(resp) == (
        "The parameter 'facet' in the request payload is not a valid parameter for the operation 'search'."
    )


def test_bad_post_body_not_json(env: SearchEnv) -> None:
    resp = env.client.post(
        f"/indexes/{INDEX}/docs/search",
        content=b"{nope",
        headers={"api-key": ADMIN_KEY, "content-type": "application/json"},
    )
    assert resp.status_code == 400 and "JSON" in error_of(resp)


def test_bad_post_content_type(env: SearchEnv) -> None:
    resp = env.client.post(
        f"/indexes/{INDEX}/docs/search",
        content=b"search=x",
        headers={"api-key": ADMIN_KEY, "content-type": "application/x-www-form-urlencoded"},
    )
    assert resp.status_code == 415


def test_bad_request_too_large(env: SearchEnv) -> None:
    resp = env.client.post(
        f"/indexes/{INDEX}/docs/search",
        content=b"{" + b" " * 2_000_000 + b"}",
        headers={"api-key": ADMIN_KEY, "content-type": "application/json"},
    )
    assert resp.status_code == 413


def test_bad_url_too_long(env: SearchEnv) -> None:
    resp = env.get(f"/indexes/{INDEX}/docs", search="x" * 9000)
    assert resp.status_code == 414


def test_bad_index_name_is_rejected(env: SearchEnv) -> None:
    for name in ("Bad Name!", "a", "-lead", "name;drop", "x" * 129):
        resp = env.get(f"/indexes/{name}/docs", search="*")
        assert resp.status_code == 400, name
        assert "Invalid index name" in error_of(resp)
    # an encoded path never reaches the file system: it matches no route
    assert env.get("/indexes/..%2F..%2Fetc/docs", search="*").status_code in (400, 404)


def test_unknown_index_is_404(env: SearchEnv) -> None:
    resp = env.get("/indexes/insights-logs-advancedhunting-nosuchtable/docs", search="*")
    assert resp.status_code == 404 and "insights-logs-advancedhunting-nosuchtable" in error_of(resp)


def test_bad_scoring_profile(env: SearchEnv) -> None:
    assert "scoring profile 'boost'" in bad(env, search="*", scoringProfile="boost")


def test_bad_unknown_dollar_parameter(env: SearchEnv) -> None:
    assert "$frobnicate" in bad(env, search="*", **{"$frobnicate": "1"})


def test_no_auth_only_on_loopback_and_keys_required_otherwise(
    env: SearchEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastapi.testclient import TestClient

    from huntvault.config import Config
    from huntvault.errors import HuntvaultError
    from huntvault.web.app import create_app

    monkeypatch.delenv("HUNTVAULT_ADMIN_KEY", raising=False)
    cfg = Config()
    cfg.index.path = str(env.index_dir)
    cfg.server.no_auth = True
    open_app = TestClient(create_app(cfg, archive_dir=env.archive), base_url="http://localhost:8080")
    assert open_app.get(f"/indexes/{INDEX}/docs/$count").status_code == 200
    cfg.server.host = "0.0.0.0"  # not loopback: no_auth is refused outright
    with pytest.raises(HuntvaultError, match="only on a loopback host"):
        create_app(cfg, archive_dir=env.archive)
    cfg.server.no_auth = False  # and without it a key is required
    with pytest.raises(HuntvaultError, match="HUNTVAULT_ADMIN_KEY"):
        create_app(cfg, archive_dir=env.archive)


def test_bad_search_fields_key_is_not_searchable(env: SearchEnv) -> None:
    assert "not marked as 'searchable'" in bad(env, search="x", searchFields="id")


def test_bad_highlight_on_non_searchable_field(env: SearchEnv) -> None:
    assert "not marked as 'searchable'" in bad(env, search="wifi", highlight="properties/FileSize")
