"""End to end with the real stages: emulated export -> `huntvault ingest` -> archive -> index -> search."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from huntvault.archive import open_catalog
from huntvault.cli import main
from huntvault.index import IndexStore
from huntvault.search import SearchEngine, from_query_string

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("search-emulator")
    runner = CliRunner()
    out = runner.invoke(
        main,
        [
            "emulate",
            "export",
            "--to",
            str(root / "export"),
            "--days",
            "0.1",
            "--devices",
            "2",
            "--seed",
            "3",
            "--end",
            "2026-07-22T00:00:00Z",
            "--malformed",
            "3",
            "--events-per-device-day",
            "400",
        ],
    )
    assert out.exit_code == 0, out.output
    out = runner.invoke(
        main, ["ingest", "--from", str(root / "export"), "--archive", str(root / "archive"), "--quiet"]
    )
    assert out.exit_code == 0, out.output
    return root / "archive"


def test_every_archived_table_is_indexed_with_its_row_count(archive: Path, tmp_path: Path) -> None:
    store = IndexStore(tmp_path / "index", archive)
    results = store.sync()
    assert results and all(r.status == "success" for r in results.values())
    engine = SearchEngine(store)
    con = open_catalog(archive)
    for idx in store.all():
        table = idx.layout.table.name
        rows = con.execute(f'SELECT count(*) FROM "{table}"').fetchone()
        assert rows is not None
        assert engine.count(idx.name) == rows[0], table


def test_emulated_documents_search_and_lookup(archive: Path, tmp_path: Path) -> None:
    store = IndexStore(tmp_path / "index", archive)
    store.sync()
    engine = SearchEngine(store)
    res = engine.search(
        "DeviceProcessEvents",
        from_query_string(
            "search=*&$top=1&$count=true&$select=id,properties/DeviceName,properties/Timestamp&$orderby=properties/Timestamp desc"
        ),
    )
    assert res["@odata.count"] > 0
    hit = res["value"][0]
    assert engine.lookup("DeviceProcessEvents", hit["id"], "properties/DeviceName") == {
        "properties": {"DeviceName": hit["properties"]["DeviceName"]}
    }
    name = hit["properties"]["DeviceName"]
    fielded = engine.search(
        "DeviceProcessEvents",
        from_query_string(f'search=properties/DeviceName:"{name}"&queryType=full&$count=true&$top=0'),
    )
    filtered = engine.search(
        "DeviceProcessEvents",
        from_query_string(f"search=*&$filter=properties/DeviceName eq '{name}'&$count=true&$top=0"),
    )
    assert fielded["@odata.count"] >= filtered["@odata.count"] > 0


def test_malformed_export_lines_show_as_indexer_item_errors(archive: Path, tmp_path: Path) -> None:
    from huntvault.config import Config
    from huntvault.search import SearchService

    cfg = Config()
    cfg.index.path = str(tmp_path / "index")
    svc = SearchService(cfg, archive)
    errors = []
    for indexer in svc.indexers():
        last = svc.indexer_status(indexer["name"])["lastResult"] or {}
        errors += [e for e in last.get("errors", []) if e["name"].startswith("_quarantine/")]
    assert len(errors) == 3
    assert all(":" in e["name"] and e["errorMessage"] for e in errors)
