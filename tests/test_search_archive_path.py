"""Filters, sorts and facets on fields an index does not hold are answered from the archive, and equal what
an index holding every attribute returns: the same queries on both, compared."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from huntvault.errors import SearchError
from huntvault.index import IndexStore, default_layout, full_layout, render_definition
from huntvault.schema import get_table
from huntvault.search import SearchEngine, from_query_string
from tests.support.search import INDEX, crafted_table, write_archive

TEXT = "&searchFields=properties/ProcessCommandLine"  # searchable in both definitions


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SearchEngine, SearchEngine]]:
    root = tmp_path_factory.mktemp("archive-path")
    data = crafted_table(300)
    write_archive(root / "archive", "DeviceProcessEvents", data.slice(0, 150))
    write_archive(root / "archive", "DeviceProcessEvents", data.slice(150))  # two commits: several segments
    table = get_table("DeviceProcessEvents")
    assert table is not None
    full = IndexStore(root / "full", root / "archive")
    body = render_definition(full_layout(table))
    body.pop("@odata.etag")
    full.put_definition(INDEX, body)
    full.sync()
    full.rebuild_all()
    slim = IndexStore(root / "slim", root / "archive")
    slim.sync()
    yield SearchEngine(full), SearchEngine(slim)


def run(engine: SearchEngine, qs: str) -> dict[str, Any]:
    return engine.search(INDEX, from_query_string(qs + "&$count=true&$select=id,properties/ReportId"))


def ids(res: dict[str, Any]) -> list[str]:
    return [h["id"] for h in res["value"]]


FILTERS = [
    "properties/FileSize gt 20000000",
    "properties/ProcessId le 30000 and properties/DeviceName eq 'srv-dc01'",
    "not (properties/FileSize ge 25000000) or properties/IsProcessRemoteSession",
    "properties/ProcessIntegrityLevel gt 'High'",
    "properties/ProcessIntegrityLevel le ''",
    "search.in(properties/ProcessIntegrityLevel, 'High,System')",
    "properties/FolderPath eq '' or properties/MachineGroup eq 'Servers'",
    "properties/FileSize eq null",
    "properties/ProcessId ne null and properties/LogonId lt 2.5e4",
    "properties/LogonId eq 2.5",
    "properties/ProcessCreationTime ge 2026-07-21T00:00:00Z and properties/ProcessCreationTime lt 2026-07-22T01:00:00-01:00",
    "properties/FileSize gt 1e30 or properties/ProcessId gt 99999999999999999999",
    "search.ismatch('mimikatz', 'properties/ProcessCommandLine') or properties/FileSize lt 100",
    "properties/DeviceName eq 'beta-host' and not (properties/AccountDomain eq 'CONTOSO')",
]


@pytest.mark.parametrize("flt", FILTERS)
def test_filters_equal_a_full_index(engines: tuple[SearchEngine, SearchEngine], flt: str) -> None:
    full, slim = engines
    for text in ("search=*", "search=whoami|hotel|airport" + TEXT):
        qs = f"{text}&$filter={flt}&$top=1000"
        a, b = run(full, qs), run(slim, qs)
        assert a["@odata.count"] == b["@odata.count"]
        assert sorted(ids(a)) == sorted(ids(b))
        scores_a = {h["id"]: h["@search.score"] for h in a["value"]}
        scores_b = {h["id"]: h["@search.score"] for h in b["value"]}
        assert scores_a == pytest.approx(scores_b)


ORDERS = [
    "properties/FileSize desc,id",
    "properties/ProcessId,properties/ReportId desc",
    "properties/ProcessIntegrityLevel,properties/Timestamp desc",
    "properties/IsProcessRemoteSession desc,properties/ReportId",
    "search.score() desc,properties/LogonId,id",
]


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize(
    "page", ["$top=1000", "$top=7&$skip=11", "$top=5&$filter=properties/DeviceName ne 'srv-dc01'"]
)
def test_orderings_equal_a_full_index(
    engines: tuple[SearchEngine, SearchEngine], order: str, page: str
) -> None:
    full, slim = engines
    for text in ("search=*", "search=whoami|hotel|wifi" + TEXT):
        qs = f"{text}&$orderby={order}&{page}"
        a, b = run(full, qs), run(slim, qs)
        assert ids(a) == ids(b), qs
        assert a["@odata.count"] == b["@odata.count"]
        assert ("@search.nextPageParameters" in a) == ("@search.nextPageParameters" in b)


FACETS = [
    "properties/ProcessIntegrityLevel",
    "properties/ProcessIntegrityLevel,sort:value",
    "properties/LogonId,count:5,sort:-value",
    "properties/FileSize,interval:10000000",
    "properties/FileSize,values:1000|20000000|40000000",
    "properties/ProcessCreationTime,interval:day",
    "properties/ProcessCreationTime,interval:month,timeoffset:-05:00",
    "properties/IsProcessRemoteSession",
    "properties/ProcessIntegrityLevel,count:0",
]


@pytest.mark.parametrize("facet", FACETS)
def test_facets_equal_a_full_index(engines: tuple[SearchEngine, SearchEngine], facet: str) -> None:
    full, slim = engines
    for text in (
        "search=*",
        "search=*&$filter=properties/FileSize gt 10000000",
        "search=hotel|luxury" + TEXT,
    ):
        qs = f"{text}&facet={facet}&$top=0"
        a, b = run(full, qs), run(slim, qs)
        assert a["@search.facets"] == b["@search.facets"], qs
        assert a["@odata.count"] == b["@odata.count"]


def test_the_archive_path_is_bounded(engines: tuple[SearchEngine, SearchEngine]) -> None:
    _, slim = engines
    slim.archive.limits.max_archive_matches = 10
    try:
        with pytest.raises(SearchError) as err:
            run(slim, "search=*&$filter=properties/FileSize gt 0 and properties/DeviceName ne 'x'")
        assert "search.max_archive_matches" in err.value.message
    finally:
        slim.archive.limits.max_archive_matches = 1_000_000


def test_fewer_attributes_make_a_smaller_index(engines: tuple[SearchEngine, SearchEngine]) -> None:
    full, slim = engines
    big = full.store.get(INDEX).active.size_bytes()
    small = slim.store.get(INDEX).active.size_bytes()
    assert small < big


def test_default_definition_has_fewer_indexed_fields_than_the_full_one() -> None:
    table = get_table("DeviceProcessEvents")
    assert table is not None
    slim, full = default_layout(table), full_layout(table)
    assert len(slim.searchable) < len(full.searchable) / 2
    assert sum(f.pivot for f in slim.fields.values()) < sum(f.pivot for f in full.fields.values()) / 2
