"""$filter, $orderby, $select, facets, highlight and paging through the REST API (in process), one feature per test."""

from __future__ import annotations

from datetime import UTC

import pytest

from tests.support.search import SearchEnv, make_env, report_ids, truth


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> SearchEnv:
    return make_env(tmp_path_factory.mktemp("search-filter"))


def filtered(env: SearchEnv, flt: str, search: str = "*") -> set[int]:
    return report_ids(
        env.search(search=search, **{"$filter": flt, "$top": 1000, "$select": "properties/ReportId"})
    )


def iso(t: object) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # type: ignore[attr-defined]


# -- $filter ---------------------------------------------------------------------------------------


def test_filter_comparisons_on_numbers(env: SearchEnv) -> None:
    sizes = sorted(r["FileSize"] for r in env.data.to_pylist() if r["FileSize"] is not None)
    mid = sizes[len(sizes) // 2]
    for op, fn in {
        "eq": lambda v: v == mid,
        "ne": lambda v: v != mid,
        "gt": lambda v: v > mid,
        "ge": lambda v: v >= mid,
        "lt": lambda v: v < mid,
        "le": lambda v: v <= mid,
    }.items():
        null_ok = op == "ne"  # null ne 5 is true
        expected = truth(
            env.data,
            lambda r, fn=fn, null_ok=null_ok: (
                (r["FileSize"] is not None and fn(r["FileSize"])) or (null_ok and r["FileSize"] is None)
            ),
        )
        assert filtered(env, f"properties/FileSize {op} {mid}") == expected, op


def test_filter_constant_on_the_left(env: SearchEnv) -> None:
    assert filtered(env, "10 ge properties/FileSize") == truth(
        env.data, lambda r: r["FileSize"] is not None and r["FileSize"] <= 10
    )


def test_filter_and_or_not(env: SearchEnv) -> None:
    expected = truth(
        env.data,
        lambda r: (
            (r["DeviceName"] == "beta-host" or r["DeviceName"] == "alpha-host")
            and not (r["FileSize"] is not None and r["FileSize"] > 6)
        ),
    )
    flt = "(properties/DeviceName eq 'beta-host' or properties/DeviceName eq 'alpha-host') and not (properties/FileSize gt 6)"
    assert filtered(env, flt) == expected and len(expected) == 2


def test_filter_null(env: SearchEnv) -> None:
    assert filtered(env, "properties/ProcessId eq null") == truth(env.data, lambda r: r["ProcessId"] is None)
    assert len(filtered(env, "properties/ProcessId ne null")) == len(env.data) - 1


def test_filter_string_with_doubled_quote(env: SearchEnv) -> None:
    assert filtered(env, "properties/AccountName eq 'O''Brien'") == truth(
        env.data, lambda r: r["AccountName"] == "O'Brien"
    )


def test_filter_string_equality_is_case_sensitive(env: SearchEnv) -> None:
    assert filtered(env, "properties/DeviceName eq 'ALPHA-HOST'") == set()


def test_filter_string_ordering(env: SearchEnv) -> None:
    expected = truth(env.data, lambda r: r["DeviceName"] >= "laptop")
    assert filtered(env, "properties/DeviceName ge 'laptop'") == expected and expected


def test_filter_datetimeoffset_literals(env: SearchEnv) -> None:
    rows = env.data.to_pylist()
    pivot = rows[100]["Timestamp"]
    expected = truth(env.data, lambda r: r["Timestamp"] >= pivot)
    assert filtered(env, f"properties/Timestamp ge {iso(pivot)}") == expected
    # the same instant written with an offset
    local = pivot.astimezone(UTC).replace(tzinfo=None)
    shifted = f"{(local.replace(microsecond=0)).isoformat()}+00:00"
    assert filtered(env, f"properties/Timestamp lt {shifted}") == truth(
        env.data, lambda r: r["Timestamp"] < pivot.replace(microsecond=0)
    )


def test_filter_search_in(env: SearchEnv) -> None:
    expected = truth(env.data, lambda r: r["DeviceName"] in ("alpha-host", "gamma-host"))
    assert filtered(env, "search.in(properties/DeviceName, 'alpha-host, gamma-host')") == expected
    assert filtered(env, "search.in(properties/DeviceName, 'alpha-host|gamma-host', '|')") == expected


def test_filter_search_ismatch(env: SearchEnv) -> None:
    expected = truth(env.data, lambda r: "wifi" in r["ProcessCommandLine"])
    res = env.search(
        search="*",
        **{
            "$filter": "search.ismatch('wifi', 'properties/ProcessCommandLine')",
            "$select": "properties/ReportId",
        },
    )
    assert report_ids(res) == expected
    assert {h["@search.score"] for h in res["value"]} == {1.0}  # ismatch does not score


def test_filter_search_ismatchscoring(env: SearchEnv) -> None:
    res = env.search(
        search="*", **{"$filter": "search.ismatchscoring('wifi')", "$select": "properties/ReportId"}
    )
    assert report_ids(res) == truth(env.data, lambda r: "wifi" in r["ProcessCommandLine"])
    scores = [h["@search.score"] for h in res["value"]]
    assert all(s > 0 for s in scores) and scores == sorted(scores, reverse=True) and len(set(scores)) > 1


def test_filter_boolean_field(env: SearchEnv) -> None:
    expected = truth(env.data, lambda r: r["IsProcessRemoteSession"] is True)
    assert filtered(env, "properties/IsProcessRemoteSession") == expected
    assert filtered(env, "properties/IsProcessRemoteSession eq true") == expected


def test_filter_lambda_on_a_non_collection_names_it(env: SearchEnv) -> None:
    resp = env.get(
        "/indexes/DeviceProcessEvents/docs", **{"$filter": "properties/DeviceName/any(d: d eq 'x')"}
    )
    assert resp.status_code == 400
    assert "properties/DeviceName" in resp.json()["error"]["message"]


def test_filter_combined_with_search(env: SearchEnv) -> None:
    expected = truth(env.data, lambda r: "wifi" in r["ProcessCommandLine"] and r["DeviceName"] == "beta-host")
    assert filtered(env, "properties/DeviceName eq 'beta-host'", search="wifi") == expected and expected


# -- $orderby ------------------------------------------------------------------------------------


def test_orderby_several_keys(env: SearchEnv) -> None:
    res = env.search(
        search="*",
        **{
            "$orderby": "properties/DeviceName asc, properties/Timestamp desc",
            "$top": 40,
            "$select": "properties/DeviceName,properties/ReportId",
        },
    )
    rows = sorted(env.data.to_pylist(), key=lambda r: r["Timestamp"], reverse=True)
    rows.sort(key=lambda r: r["DeviceName"])
    assert [h["properties"]["ReportId"] for h in res["value"]] == [r["ReportId"] for r in rows[:40]]


def test_orderby_nulls_first_ascending_last_descending(env: SearchEnv) -> None:
    null_id = truth(env.data, lambda r: r["FileSize"] is None).pop()
    asc = env.search(
        search="*", **{"$orderby": "properties/FileSize asc", "$top": 3, "$select": "properties/ReportId"}
    )
    assert asc["value"][0]["properties"]["ReportId"] == null_id
    desc = env.search(
        search="*",
        **{
            "$orderby": "properties/FileSize desc",
            "$select": "properties/ReportId",
            "$skip": len(env.data) - 1,
        },
    )
    assert [h["properties"]["ReportId"] for h in desc["value"]] == [null_id]
    sizes = sorted(r["FileSize"] for r in env.data.to_pylist() if r["FileSize"] is not None)
    got = env.search(
        search="*",
        **{"$orderby": "properties/FileSize asc", "$top": 5, "$skip": 1, "$select": "properties/FileSize"},
    )
    assert [h["properties"]["FileSize"] for h in got["value"]] == sizes[:5]


def test_orderby_with_skip(env: SearchEnv) -> None:
    res = env.search(
        search="*",
        **{"$orderby": "properties/ReportId desc", "$top": 5, "$skip": 10, "$select": "properties/ReportId"},
    )
    expected = sorted((r["ReportId"] for r in env.data.to_pylist()), reverse=True)[10:15]
    assert [h["properties"]["ReportId"] for h in res["value"]] == expected


def test_orderby_search_score(env: SearchEnv) -> None:
    res = env.search(
        search="wifi hotel", **{"$orderby": "search.score() desc", "$select": "properties/ReportId"}
    )
    scores = [h["@search.score"] for h in res["value"]]
    assert scores == sorted(scores, reverse=True) and len(scores) >= 2
    asc = env.search(
        search="wifi hotel", **{"$orderby": "search.score() asc", "$select": "properties/ReportId"}
    )
    assert [h["@search.score"] for h in asc["value"]] == sorted(scores)


def test_identical_requests_return_identical_order(env: SearchEnv) -> None:
    params = {"search": "hidden whoami", "$select": "properties/ReportId", "$top": 100}
    first = [h["properties"]["ReportId"] for h in env.search(**params)["value"]]
    second = [h["properties"]["ReportId"] for h in env.search(**params)["value"]]
    assert first == second and len(first) == 100


# -- $select ----------------------------------------------------------------------------------------


def test_select_complex_paths_return_nested_objects(env: SearchEnv) -> None:
    res = env.search(search="mimikatz", **{"$select": "properties/DeviceName,properties/FileName,tenantId"})
    hit = res["value"][0]
    assert set(hit) == {"@search.score", "properties", "tenantId"}
    assert hit["properties"] == {"DeviceName": "alpha-host", "FileName": "mimikatz.exe"}


def test_select_parent_returns_all_subfields(env: SearchEnv) -> None:
    hit = env.search(search="mimikatz", **{"$select": "properties"})["value"][0]
    assert set(hit) == {"@search.score", "properties"}
    assert hit["properties"]["AccountName"] == "O'Brien" and "Timestamp" in hit["properties"]


def test_default_select_returns_export_shape_and_blob_metadata(env: SearchEnv) -> None:
    hit = env.search(search="mimikatz")["value"][0]
    assert hit["category"] == "AdvancedHunting-DeviceProcessEvents" and hit["operationName"] == "Publish"
    assert hit["metadata_storage_name"] == "PT1H.json"
    assert hit["metadata_storage_path"].startswith(
        "https://huntvault.blob.core.windows.net/insights-logs-advancedhunting-deviceprocessevents/tenantId="
    )
    assert hit["properties"]["Tenant"] == "DefaultTenant" or "Tenant" not in hit["properties"]


# -- paging and count ---------------------------------------------------------------------------------


def test_default_top_is_50_with_next_page_parameters(env: SearchEnv) -> None:
    res = env.search(search="*", **{"$count": "true"})
    assert len(res["value"]) == 50 and res["@odata.count"] == len(env.data)
    assert res["@search.nextPageParameters"]["skip"] == 50
    assert "top" not in res["@search.nextPageParameters"]
    assert "@odata.nextLink" in res


def test_explicit_top_satisfied_has_no_next_page(env: SearchEnv) -> None:
    res = env.search(search="*", **{"$top": 10})
    assert len(res["value"]) == 10 and "@search.nextPageParameters" not in res


def test_post_paging_follows_next_page_parameters_to_the_end(env: SearchEnv) -> None:
    body: dict[str, object] | None = {"search": "*", "select": "properties/ReportId"}
    seen: list[int] = []
    while body is not None:
        resp = env.post(body)
        assert resp.status_code == 200
        page = resp.json()
        seen += [h["properties"]["ReportId"] for h in page["value"]]
        body = page.get("@search.nextPageParameters")
    assert sorted(seen) == sorted(r["ReportId"] for r in env.data.to_pylist())


def test_count_only_with_top_zero(env: SearchEnv) -> None:
    res = env.search(search="wifi", **{"$count": "true", "$top": 0})
    assert res["value"] == [] and res["@odata.count"] == len(
        truth(env.data, lambda r: "wifi" in r["ProcessCommandLine"])
    )


# -- facets -----------------------------------------------------------------------------------------


def test_facet_count_and_sort(env: SearchEnv) -> None:
    res = env.search(search="*", facet="properties/DeviceName,count:3", **{"$top": 0})
    buckets = res["@search.facets"]["properties/DeviceName"]
    counts: dict[str, int] = {}
    for r in env.data.to_pylist():
        counts[r["DeviceName"]] = counts.get(r["DeviceName"], 0) + 1
    top3 = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
    assert [(b["value"], b["count"]) for b in buckets] == top3
    by_value = env.search(search="*", facet="properties/DeviceName,sort:value,count:0", **{"$top": 0})
    assert [b["value"] for b in by_value["@search.facets"]["properties/DeviceName"]] == sorted(counts)


def test_facet_values_on_numbers(env: SearchEnv) -> None:
    res = env.search(search="*", facet="properties/FileSize,values:1000000|20000000", **{"$top": 0})
    buckets = res["@search.facets"]["properties/FileSize"]
    sizes = [r["FileSize"] for r in env.data.to_pylist() if r["FileSize"] is not None]
    assert buckets == [
        {"to": 1000000, "count": sum(s < 1000000 for s in sizes)},
        {"from": 1000000, "to": 20000000, "count": sum(1000000 <= s < 20000000 for s in sizes)},
        {"from": 20000000, "count": sum(s >= 20000000 for s in sizes)},
    ]


def test_facet_interval_on_numbers(env: SearchEnv) -> None:
    res = env.search(search="*", facet="properties/ProcessId,interval:10000", **{"$top": 0})
    got = {b["value"]: b["count"] for b in res["@search.facets"]["properties/ProcessId"]}
    expected: dict[int, int] = {}
    for r in env.data.to_pylist():
        if r["ProcessId"] is not None:
            k = r["ProcessId"] // 10000 * 10000
            expected[k] = expected.get(k, 0) + 1
    assert got == expected


def test_facet_interval_day_on_dates(env: SearchEnv) -> None:
    res = env.search(search="*", facet="properties/Timestamp,interval:day", **{"$top": 0})
    got = {b["value"]: b["count"] for b in res["@search.facets"]["properties/Timestamp"]}
    expected: dict[str, int] = {}
    for r in env.data.to_pylist():
        k = r["Timestamp"].astimezone(UTC).strftime("%Y-%m-%dT00:00:00Z")
        expected[k] = expected.get(k, 0) + 1
    assert got == expected


def test_facet_calendar_intervals_and_timeoffset(env: SearchEnv) -> None:
    def buckets(expr: str) -> list[dict[str, object]]:
        res = env.search(search="*", facet=expr, **{"$top": 0})
        return list(res["@search.facets"]["properties/Timestamp"])

    months: dict[str, int] = {}
    for r in env.data.to_pylist():
        k = r["Timestamp"].astimezone(UTC).strftime("%Y-%m-01T00:00:00Z")
        months[k] = months.get(k, 0) + 1
    assert buckets("properties/Timestamp,interval:month") == [
        {"value": k, "count": v} for k, v in sorted(months.items())
    ]
    # the data starts Monday 2026-07-20 08:00Z and spans 75 hours: one ISO week
    assert buckets("properties/Timestamp,interval:week") == [
        {"value": "2026-07-20T00:00:00Z", "count": len(env.data)}
    ]
    # at -05:00 that Monday starts at 05:00Z
    assert buckets("properties/Timestamp,interval:week,timeoffset:-05:00") == [
        {"value": "2026-07-20T05:00:00Z", "count": len(env.data)}
    ]


def test_facet_respects_query_and_filter(env: SearchEnv) -> None:
    res = env.search(search="wifi", facet="properties/DeviceName", **{"$top": 0})
    assert res["@search.facets"]["properties/DeviceName"] == [{"value": "beta-host", "count": 2}]


# -- highlight --------------------------------------------------------------------------------------


def test_highlight_with_custom_tags(env: SearchEnv) -> None:
    res = env.search(
        search="airport",
        highlight="properties/ProcessCommandLine",
        highlightPreTag="[[",
        highlightPostTag="]]",
        **{"$select": "properties/ReportId"},
    )
    frags = [h["@search.highlights"]["properties/ProcessCommandLine"][0] for h in res["value"]]
    assert len(frags) == 2 and all("[[airport]]" in f for f in frags)


def test_highlight_default_tags(env: SearchEnv) -> None:
    res = env.search(search="mimikatz", highlight="properties/ProcessCommandLine")
    assert "<em>Mimikatz</em>" in res["value"][0]["@search.highlights"]["properties/ProcessCommandLine"][0]
