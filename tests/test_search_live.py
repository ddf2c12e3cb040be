"""A live `huntvault serve` (uvicorn on 127.0.0.1) driven by the official azure-search-documents SDK and plain HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pyarrow as pa
import pytest
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.search.documents import SearchClient
from azure.search.documents.indexes import SearchIndexClient

from tests.support.search import (
    ADMIN_KEY,
    HOSTS,
    INDEX,
    QUERY_KEY,
    LiveServer,
    generate_table,
    live_server,
    write_archive,
)

pytestmark = pytest.mark.slow
DOCS = 2500
ALERTS = "insights-logs-advancedhunting-alertevents"


def alert_events(n: int) -> pa.Table:
    data = generate_table("AlertEvents", n, seed=21, spacing_s=1800)
    rng = np.random.default_rng(5)
    names = pa.array(HOSTS).take(pa.array(rng.integers(0, len(HOSTS), n)))
    severity = pa.array(["High", "Medium", "Low", "Informational"]).take(pa.array(rng.integers(0, 4, n)))
    data = data.set_column(data.schema.get_field_index("ComputerName"), "ComputerName", names)
    return data.set_column(data.schema.get_field_index("Severity"), "Severity", severity)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, pa.Table, pa.Table]]:
    root = tmp_path_factory.mktemp("search-live")
    procs = generate_table("DeviceProcessEvents", DOCS, seed=17, spacing_s=300)
    alerts = alert_events(40)
    write_archive(root / "archive", "DeviceProcessEvents", procs)
    write_archive(root / "archive", "AlertEvents", alerts)
    with live_server(root / "archive", root / "index", ADMIN_KEY, QUERY_KEY) as live:
        yield live, procs, alerts


def client(live: LiveServer, key: str = QUERY_KEY, index: str = INDEX) -> SearchClient:
    return SearchClient(live.url, index, AzureKeyCredential(key))


def test_sdk_search_with_filter_select_orderby_count(server: tuple[LiveServer, pa.Table, pa.Table]) -> None:
    live, procs, _ = server
    rows = procs.to_pylist()
    expected = sorted(
        (r for r in rows if r["DeviceName"] == "srv-dc01" and r["FileSize"] > 10_000_000),
        key=lambda r: r["Timestamp"],
        reverse=True,
    )
    results = client(live).search(
        "*",
        filter="properties/DeviceName eq 'srv-dc01' and properties/FileSize gt 10000000",
        select=["properties/ReportId", "properties/Timestamp"],
        order_by=["properties/Timestamp desc"],
        include_total_count=True,
        top=20,
    )
    assert results.get_count() == len(expected)
    hits = list(results)
    assert [h["properties"]["ReportId"] for h in hits] == [r["ReportId"] for r in expected[:20]]
    assert set(hits[0]) >= {"properties", "@search.score"}


def test_sdk_facets_and_highlight(server: tuple[LiveServer, pa.Table, pa.Table]) -> None:
    live, procs, _ = server
    results = client(live).search(
        "whoami",
        facets=["properties/DeviceName,count:10"],
        search_fields=["properties/ProcessCommandLine"],
        highlight_fields="properties/ProcessCommandLine",
        top=5,
    )
    facets = results.get_facets()
    assert facets is not None
    expected: dict[str, int] = {}
    for r in procs.to_pylist():
        if "whoami" in r["ProcessCommandLine"]:
            expected[r["DeviceName"]] = expected.get(r["DeviceName"], 0) + 1
    assert {b["value"]: b["count"] for b in facets["properties/DeviceName"]} == expected
    for hit in results:
        assert "<em>whoami</em>" in hit["@search.highlights"]["properties/ProcessCommandLine"][0]


def test_sdk_pages_past_1000_results(server: tuple[LiveServer, pa.Table, pa.Table]) -> None:
    live, _, _ = server
    ids = [h["id"] for h in client(live).search("*", select=["id"])]
    assert len(ids) == DOCS and len(set(ids)) == DOCS
    big = list(client(live).search("*", select=["id"], top=1500))
    assert len(big) == 1500


def test_sdk_get_document_and_count(server: tuple[LiveServer, pa.Table, pa.Table]) -> None:
    live, _, _ = server
    c = client(live)
    first = next(iter(c.search("*", select=["id", "properties/DeviceName"], top=1)))
    doc = c.get_document(first["id"])
    assert doc["id"] == first["id"] and doc["properties"]["DeviceName"] == first["properties"]["DeviceName"]
    partial = c.get_document(first["id"], selected_fields=["properties/DeviceName"])
    assert partial == {"properties": {"DeviceName": first["properties"]["DeviceName"]}}
    with pytest.raises(ResourceNotFoundError):
        c.get_document("bm9wZQ2")
    assert c.get_document_count() == DOCS


def test_sdk_list_indexes_and_definition(server: tuple[LiveServer, pa.Table, pa.Table]) -> None:
    live, _, _ = server
    admin = SearchIndexClient(live.url, AzureKeyCredential(ADMIN_KEY))
    assert sorted(admin.list_index_names()) == sorted([INDEX, ALERTS])
    index = admin.get_index(ALERTS)
    props = next(f for f in index.fields if f.name == "properties")
    assert {f.name: f.type for f in props.fields or []}["EventTime"] == "Edm.DateTimeOffset"
    assert next(f for f in index.fields if f.key).name == "id"


def test_sdk_bad_filter_raises_with_azure_message(server: tuple[LiveServer, pa.Table, pa.Table]) -> None:
    live, _, _ = server
    with pytest.raises(HttpResponseError) as err:
        list(client(live).search("*", filter="properties/DeviceName eq 'x"))
    assert err.value.status_code == 400 and "$filter" in str(err.value)


def test_sdk_wrong_key_is_403(server: tuple[LiveServer, pa.Table, pa.Table]) -> None:
    live, _, _ = server
    with pytest.raises(HttpResponseError) as err:
        client(live, key="wrong").get_document_count()
    assert err.value.status_code == 403


def test_plain_http_with_the_seed_query_string(server: tuple[LiveServer, pa.Table, pa.Table]) -> None:
    live, _, alerts = server
    seed = "search=pf3tern&$select=properties/EventTime,properties/ComputerName,properties/Severity"
    resp = httpx.get(
        f"{live.url}/indexes/{ALERTS}/docs?api-version=2024-07-01&{seed}", headers={"api-key": QUERY_KEY}
    )
    assert resp.status_code == 200
    hits = resp.json()["value"]
    expected = [r for r in alerts.to_pylist() if r["ComputerName"].startswith("pf3tern")]
    assert len(hits) == len(expected) > 0
    assert all(set(h["properties"]) == {"EventTime", "ComputerName", "Severity"} for h in hits)
    assert all(h["properties"]["ComputerName"] == "pf3tern-ws01" for h in hits)


def test_new_archive_parts_are_searchable_within_seconds(
    server: tuple[LiveServer, pa.Table, pa.Table], tmp_path: Path
) -> None:
    import time

    live, _, _ = server
    args = [str(a) for a in live.process.args]  # type: ignore[union-attr]
    archive = Path(args[args.index("--archive") + 1])
    extra = generate_table("AlertEvents", 5, seed=99)
    write_archive(archive, "AlertEvents", extra)
    c = client(live, index=ALERTS)
    deadline = time.monotonic() + 30
    while c.get_document_count() != 45 and time.monotonic() < deadline:
        time.sleep(0.3)
    assert c.get_document_count() == 45


def _wait_rebuilt(live: LiveServer, index: str, documents: int) -> None:
    import time

    deadline = time.monotonic() + 90
    while True:
        status = httpx.get(
            f"{live.url}/indexers/{index}-indexer/status", headers={"api-key": ADMIN_KEY}
        ).json()
        count = httpx.get(f"{live.url}/indexes/{index}/docs/$count", headers={"api-key": ADMIN_KEY})
        if status.get("currentState", {}).get("mode") == "indexingChangedDocs" and count.text == str(
            documents
        ):
            return
        assert time.monotonic() < deadline, status
        time.sleep(0.2)


def test_sdk_creates_changes_and_deletes_an_index_definition(
    server: tuple[LiveServer, pa.Table, pa.Table],
) -> None:
    """The official SDK manages a definition; each change takes effect once its rebuild is done.

    Runs last in this module: it replaces the AlertEvents index the tests above read."""
    from azure.search.documents.indexes.models import ComplexField, SearchableField, SearchIndex, SimpleField

    live, _, _ = server
    admin = SearchIndexClient(live.url, AzureKeyCredential(ADMIN_KEY))
    alerts = client(live, index=ALERTS)
    total = alerts.get_document_count()
    admin.delete_index(ALERTS)
    with pytest.raises(ResourceNotFoundError):
        admin.get_index(ALERTS)
    with pytest.raises(ResourceNotFoundError):
        alerts.get_document_count()

    fields = [
        SimpleField(name="id", type="Edm.String", key=True),
        ComplexField(
            name="properties",
            fields=[
                SimpleField(name="EventTime", type="Edm.DateTimeOffset", filterable=True, sortable=True),
                SearchableField(name="ComputerName", filterable=True, facetable=True),
                SimpleField(name="Severity", type="Edm.String", facetable=True, hidden=True),
                SearchableField(name="Title", analyzer_name="keyword"),
            ],
        ),
    ]
    created = admin.create_index(SearchIndex(name=ALERTS, fields=fields))
    assert created.name == ALERTS and created.e_tag
    _wait_rebuilt(live, ALERTS, total)
    hits = list(alerts.search("pf3tern", top=100))
    columns = {"EventTime", "ComputerName", "Title", "Severity", "MachineId", "AlertId", "Category"}
    # only the retrievable fields of the definition (unknown properties, the archive's _Extra, come back too)
    assert hits and all(
        set(h["properties"]) & columns == {"EventTime", "ComputerName", "Title"} for h in hits
    )
    severities = alerts.search("*", facets=["properties/Severity,count:10"], top=0).get_facets()
    assert severities is not None
    rated = alerts.search(
        "*", filter="properties/Severity ne ''", include_total_count=True, top=0
    ).get_count()
    assert (
        sum(b["count"] for b in severities["properties/Severity"]) == rated == 40
    )  # facetable, not retrievable
    # a filter on a field the definition does not make filterable: answered from the archive (documented)
    high = alerts.search("*", filter="properties/Title ne 'none'", include_total_count=True, top=1)
    assert high.get_count() == total
    with pytest.raises(HttpResponseError) as err:
        list(alerts.search("*", filter="properties/Category eq 'x'"))  # not in the definition at all
    assert err.value.status_code == 400 and "Category" in str(err.value)

    index = admin.get_index(ALERTS)
    props = next(f for f in index.fields if f.name == "properties").fields
    assert props is not None
    for field in props:
        if field.name == "Severity":
            field.hidden = False
        if field.name == "ComputerName":
            field.searchable = False
            field.analyzer_name = None
    updated = admin.create_or_update_index(index)
    assert updated.e_tag != created.e_tag
    _wait_rebuilt(live, ALERTS, total)
    assert list(alerts.search("pf3tern", top=5)) == []  # ComputerName no longer searchable
    some = next(iter(alerts.search("*", top=1)))
    assert set(some["properties"]) & columns == {"EventTime", "ComputerName", "Severity", "Title"}

    admin.delete_index(ALERTS)
    assert ALERTS not in list(admin.list_index_names())
