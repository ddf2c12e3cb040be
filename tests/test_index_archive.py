"""Indexing from the real archive: incremental after commits, compaction keeps keys, retention drops, quarantine."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from huntvault.archive import Archive, Batch, QuarantineRecord, compact, retention_apply, table_files
from huntvault.index import IndexStore
from huntvault.search import SearchEngine, SearchService, from_query_string
from tests.support.search import INDEX, generate_table, write_archive


def commit(root: Path, data: pa.Table, quarantine: list[QuarantineRecord] | None = None) -> None:
    batch = Batch()
    batch.add("DeviceProcessEvents", data)
    batch.quarantine.extend(quarantine or [])
    with Archive(root) as arc:
        arc.commit(batch)


def keys(engine: SearchEngine) -> list[str]:
    res = engine.search(INDEX, from_query_string("search=*&$select=id&$top=1000&$orderby=id"))
    return [h["id"] for h in res["value"]]


def test_incremental_after_each_commit(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    data = generate_table("DeviceProcessEvents", 120, seed=3, spacing_s=3600)
    commit(root, data.slice(0, 60))
    store = IndexStore(tmp_path / "index", root)
    engine = SearchEngine(store)
    first = store.sync()[INDEX]
    assert first.items_processed == 60 and engine.count(INDEX) == 60
    assert INDEX not in store.sync()  # the change feed saw nothing: the table is not even listed
    commit(root, data.slice(60, 60))
    second = store.sync()[INDEX]
    assert second.items_processed == 60 and second.removed_files == 0
    assert engine.count(INDEX) == 120
    commit(root, data.slice(0, 30))  # duplicates: the archive dedupes, the index stays at 120
    store.sync()
    assert engine.count(INDEX) == 120


def test_compaction_keeps_document_keys(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    data = generate_table("DeviceProcessEvents", 90, seed=4, spacing_s=600)
    for i in range(3):
        commit(root, data.slice(i * 30, 30))
    store = IndexStore(tmp_path / "index", root)
    engine = SearchEngine(store)
    store.sync()
    before = keys(engine)
    parts_before = len(table_files(root, "DeviceProcessEvents"))
    compact(root, target_rows=1_000)
    assert len(table_files(root, "DeviceProcessEvents")) < parts_before
    result = store.sync()[INDEX]
    assert result.removed_files == parts_before and result.added_files >= 1
    assert keys(engine) == before and engine.count(INDEX) == 90


def test_retention_drops_partitions_from_the_index(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    data = generate_table(
        "DeviceProcessEvents", 96, seed=5, start=datetime(2026, 7, 1, tzinfo=UTC), spacing_s=3600
    )
    commit(root, data)  # four days, 24 rows each
    store = IndexStore(tmp_path / "index", root)
    engine = SearchEngine(store)
    store.sync()
    assert engine.count(INDEX) == 96
    retention_apply(root, default_days=2, today=date(2026, 7, 5))  # keeps 07-03 and 07-04
    result = store.sync()[INDEX]
    assert result.removed_files == 2
    res = engine.search(
        INDEX, from_query_string("search=*&$count=true&$top=0&facet=properties/Timestamp,interval:day")
    )
    assert res["@odata.count"] == 48
    assert [b["value"] for b in res["@search.facets"]["properties/Timestamp"]] == [
        "2026-07-03T00:00:00Z",
        "2026-07-04T00:00:00Z",
    ]


def test_quarantined_lines_are_indexer_item_errors(tmp_path: Path) -> None:
    from huntvault.config import Config

    root = tmp_path / "archive"
    bad = QuarantineRecord(
        source="local",
        stream="insights-logs-advancedhunting-deviceprocessevents/tenantId=t/y=2026/m=07/PT1H.json",
        offset=1234,
        reason="invalid JSON: unexpected end of input",
        line=b'{"time": "2026-',
        table_hint=None,
    )
    commit(root, generate_table("DeviceProcessEvents", 10, seed=6), quarantine=[bad])
    cfg = Config()
    cfg.index.path = str(tmp_path / "index")
    svc = SearchService(cfg, root)
    status = svc.indexer_status(INDEX + "-indexer")
    errors = status["lastResult"]["errors"]
    assert status["lastResult"]["itemsFailed"] == 1
    assert (
        len(errors) == 1
        and errors[0]["name"].startswith("_quarantine/date=")
        and errors[0]["name"].endswith(":1")
    )
    assert "invalid JSON" in errors[0]["errorMessage"] and "1234" in errors[0]["details"]


def test_reopening_keeps_the_index_without_reindexing(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    commit(root, generate_table("DeviceProcessEvents", 25, seed=9))
    IndexStore(tmp_path / "index", root).sync()
    again = IndexStore(tmp_path / "index", root)
    result = again.sync()[INDEX]
    assert result.added_files == 0 and SearchEngine(again).count(INDEX) == 25


@pytest.mark.parametrize("table", ["DeviceNetworkEvents", "AlertInfo", "IdentityLogonEvents"])
def test_other_tables_index_with_their_own_index_name(tmp_path: Path, table: str) -> None:
    data = generate_table(table, 20, seed=10)
    write_archive(tmp_path / "archive", table, data)
    store = IndexStore(tmp_path / "index", tmp_path / "archive")
    store.sync()
    name = "insights-logs-advancedhunting-" + table.lower()
    assert store.names() == [name]
    engine = SearchEngine(store)
    assert engine.count(name) == 20
    res = engine.search(table, from_query_string("search=*&$top=1&$select=category"))
    assert res["value"][0]["category"] == "AdvancedHunting-" + table
