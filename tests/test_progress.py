"""Progress: each stage's run function reports `progress(done, total)` up to done == total, and the bars print
plain lines when the output is not a terminal."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from rich.console import Console

from huntvault import progress as progressmod
from huntvault.progress import Bars
from tests.support.search import crafted_table, write_archive

Calls = list[tuple[int, "int | None"]]


def record() -> tuple[Calls, Callable[[int, int | None], None]]:
    calls: Calls = []
    return calls, lambda done, total: calls.append((done, total))


def assert_counts_up_to(calls: Calls, total: int) -> None:
    assert calls, "progress was never called"
    dones = [d for d, _ in calls]
    assert dones == sorted(dones) and calls[-1] == (total, total), calls[-5:]
    assert all(t is None or d <= t for d, t in calls)


def test_emulator_reports_hours(tmp_path: Path) -> None:
    from huntvault.emulator import write_export

    calls, cb = record()
    write_export(tmp_path / "export", days=0.25, devices=2, seed=1, end="2026-11-01T00:00:00Z", progress=cb)
    assert_counts_up_to(calls, 6)


def test_index_sync_reports_documents_of_every_index(tmp_path: Path) -> None:
    from huntvault.index import IndexStore

    write_archive(tmp_path / "archive", "DeviceProcessEvents", crafted_table(30))
    write_archive(tmp_path / "archive", "DeviceFileEvents", crafted_table(20, seed=3))
    store = IndexStore(tmp_path / "index", tmp_path / "archive")
    calls, cb = record()
    results = store.sync(progress=cb)
    assert sum(r.items_processed for r in results.values()) == 50
    assert_counts_up_to(calls, 50)
    calls.clear()
    store.sync(progress=cb)  # nothing new: done at once
    assert calls[-1] == (0, 0)


def test_index_rebuild_of_a_changed_definition_reports_documents(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI finishes a changed definition's rebuild with a bar of its own: documents up to the table's rows,
    batch by batch."""
    from huntvault.index import IndexStore, builder, default_layout, render_definition
    from huntvault.schema import get_table

    monkeypatch.setattr(builder, "BATCH_ROWS", 10)

    write_archive(tmp_path / "archive", "DeviceProcessEvents", crafted_table(30))
    write_archive(tmp_path / "archive", "DeviceProcessEvents", crafted_table(12, seed=5))
    store = IndexStore(tmp_path / "index", tmp_path / "archive")
    store.sync()
    table = get_table("DeviceProcessEvents")
    assert table is not None
    body = render_definition(default_layout(table))
    body.pop("@odata.etag")
    props = next(f for f in body["fields"] if f["name"] == "properties")["fields"]
    next(f for f in props if f["name"] == "FileSize")["filterable"] = True  # another tantivy layout
    name = store.names()[0]
    store.put_definition(name, body)
    assert store.get(name).pending is not None
    calls, cb = record()
    results = store.rebuild_all(progress=cb)
    assert results[name].items_processed == 42 and store.get(name).pending is None
    assert_counts_up_to(calls, 42)
    assert {d for d, _ in calls} >= {10, 20, 30}  # as batches go in, not only at the end
    calls.clear()
    assert store.rebuild_all(progress=cb) == {} and calls == [(0, 0)]  # nothing pending: done at once


def test_backtest_reports_windows(tmp_path: Path) -> None:
    from huntvault.detect import ArchiveRunner, backtest, load_rule
    from tests.support.detect import RULES_DIR, build_archive

    arc = build_archive(tmp_path / "archive", devices=2, days=0.25, events_per_device_day=50)
    rule = load_rule(RULES_DIR / "encoded-powershell-download.yaml")
    for mode in ("window-by-window", "auto"):  # window by window, and in one pass (all at its end)
        calls, cb = record()
        report = backtest(
            rule, ArchiveRunner(arc.path), arc.end - timedelta(hours=3), arc.end, mode=mode, progress=cb
        )
        assert report.windows == 3
        assert_counts_up_to(calls, 3)
        assert len(calls) == (4 if mode == "window-by-window" else 1)


def test_plain_lines_when_not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    bars = Bars(Console(file=out, width=100))
    monkeypatch.setattr(progressmod, "PLAIN_EVERY", 0.0)
    with bars.bar("ingest", "bytes") as bar:
        bar.info = "12 rows"
        bar(1500, 3000)
        bar(3000, 3000)
    with bars.bar("detect", "windows") as bar:
        bar(2, None)
    assert out.getvalue().splitlines() == [
        "ingest: 1.5 kB / 3.0 kB (50%), 12 rows",
        "ingest: 3.0 kB / 3.0 kB (100%), 12 rows",
        "ingest: 3.0 kB / 3.0 kB (100%), 12 rows",
        "detect: 2 windows",
        "detect: 2 windows",
    ]


def test_disabled_bars_print_nothing() -> None:
    out = io.StringIO()
    with Bars(Console(file=out), enabled=False).bar("index", "documents") as bar:
        bar(5, 10)
    assert out.getvalue() == ""
