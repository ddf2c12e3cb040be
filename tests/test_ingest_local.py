"""End to end: an emulated export folder into the archive (counts, dedupe, growth, late appends, quarantine)."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from huntvault.archive import Archive, changes_since, open_catalog, quarantined_lines, status
from huntvault.config import ArchiveConfig
from huntvault.sources import AppendBlobSource, Ingestor, LocalFolderClient
from tests.support.ingest import archive_counts, distinct_keys, expected_counts, small_export


def ingest(src: Path, arc: Path, **cfg: object) -> Ingestor:
    with Archive(arc) as a:
        ing = Ingestor(AppendBlobSource("local", LocalFolderClient(src)), a, ArchiveConfig(**cfg))  # type: ignore[arg-type]
        ing.run()
        ing.close()
        return ing


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    dest = tmp_path_factory.mktemp("export")
    return dest, small_export(dest)


def test_counts_equal_manifest_and_duplicates_removed(export: tuple[Path, dict], tmp_path: Path) -> None:
    src, manifest = export
    ing = ingest(src, tmp_path / "a", flush_rows=500)
    assert manifest["totals"]["duplicates"] > 0
    assert archive_counts(tmp_path / "a") == expected_counts(manifest)
    assert ing.stats.duplicates == manifest["totals"]["duplicates"]
    rows, keys = distinct_keys(tmp_path / "a", "DeviceProcessEvents")
    assert rows == keys
    # a second pass reads nothing: every blob is skipped by its ETag
    again = ingest(src, tmp_path / "a")
    assert again.stats.bytes_read == 0 and again.stats.rows_written == 0


def test_malformed_lines_quarantined_with_reasons(export: tuple[Path, dict], tmp_path: Path) -> None:
    src, manifest = export
    ingest(src, tmp_path / "a")
    recs = [line.as_json() for line in quarantined_lines(tmp_path / "a")]
    assert len(recs) == manifest["totals"]["malformed"] == status(tmp_path / "a").quarantined
    for r in recs:
        assert (
            r["reason"]
            and r["source"] == "local"
            and r["stream"].startswith("insights-logs-advancedhunting-")
        )
        blob = src / r["stream"]
        raw = blob.read_bytes()[r["offset"] :].split(b"\n", 1)[0].rstrip(b"\r")
        assert raw.decode("utf-8", "replace") == r["line"]


def test_unknown_column_and_table_kept(export: tuple[Path, dict], tmp_path: Path) -> None:
    src, manifest = export
    ingest(src, tmp_path / "a")
    con = open_catalog(tmp_path / "a")
    drift = manifest["drift"]
    col = drift["unknown_column"]["name"]
    n = con.sql(f"SELECT count(*) FROM DeviceProcessEvents WHERE _Extra LIKE '%{col}%'").fetchall()[0][0]
    assert n > 0
    table = drift["unknown_table"]
    rows = con.sql(f'SELECT _Extra, _TenantId, _ExportTime FROM "{table}"').fetchall()
    assert len(rows) == manifest["tables"][table]["events"]
    assert all(json.loads(r[0]) and r[1] == manifest["tenant_id"] and r[2] is not None for r in rows)
    # envelope columns kept on known tables too
    t = con.sql("SELECT min(_TenantId), count(_ExportTime) FROM DeviceNetworkEvents").fetchall()[0]
    assert t[0] == manifest["tenant_id"] and t[1] > 0


def _line(ts: str, report: int, device: str = "dev-late") -> bytes:
    props = {"Timestamp": ts, "DeviceId": device, "DeviceName": "late", "ReportId": report, "ActionType": "X"}
    env = {
        "time": ts,
        "tenantId": "t",
        "category": "AdvancedHunting-DeviceProcessEvents",
        "properties": props,
    }
    return orjson.dumps(env)


def test_growing_blob_partial_line_crlf_late_append_and_replace(
    export: tuple[Path, dict], tmp_path: Path
) -> None:
    import shutil

    src = tmp_path / "src"
    shutil.copytree(export[0], src)
    arc = tmp_path / "a"
    ingest(src, arc)
    base = archive_counts(arc)["DeviceProcessEvents"]
    cont = src / "insights-logs-advancedhunting-deviceprocessevents"
    old = sorted(cont.rglob("PT1H.json"))[0]  # the oldest hour: a late append into it
    with old.open("ab") as f:
        f.write(_line("2026-07-22T01:00:00.1234567Z", 1) + b"\r\n" + _line("2026-07-22T01:00:01Z", 2)[:40])
    ingest(src, arc)
    assert archive_counts(arc)["DeviceProcessEvents"] == base + 1  # the partial line waits
    with old.open("ab") as f:
        f.write(_line("2026-07-22T01:00:01Z", 2)[40:] + b"\n")
    ingest(src, arc)
    assert archive_counts(arc)["DeviceProcessEvents"] == base + 2
    # the blob is replaced by a shorter copy: re-read from 0, nothing doubled
    data = old.read_bytes()
    old.unlink()
    old.write_bytes(data[: len(data) // 2].rsplit(b"\n", 1)[0] + b"\n")
    ingest(src, arc)
    assert archive_counts(arc)["DeviceProcessEvents"] == base + 2
    rows, keys = distinct_keys(arc, "DeviceProcessEvents")
    assert rows == keys
    adds = [c for c in changes_since(arc).changes if c.action == "add" and c.table == "DeviceProcessEvents"]
    assert sum(c.rows or 0 for c in adds) == base + 2


def test_follow_mode_picks_up_appends(export: tuple[Path, dict], tmp_path: Path) -> None:
    import shutil
    import threading
    import time

    src = tmp_path / "src"
    shutil.copytree(export[0], src)
    arc_dir = tmp_path / "a"
    stop = threading.Event()
    with Archive(arc_dir) as arc:
        ing = Ingestor(AppendBlobSource("local", LocalFolderClient(src)), arc, ArchiveConfig())
        runner = threading.Thread(target=ing.run, kwargs={"follow": True, "poll_seconds": 0.2, "stop": stop})
        runner.start()
        try:
            blob = sorted((src / "insights-logs-advancedhunting-deviceprocessevents").rglob("PT1H.json"))[0]
            with blob.open("ab") as f:
                f.write(_line("2026-07-22T02:00:00Z", 77, "dev-follow") + b"\n")
            seen = 0
            deadline = time.monotonic() + 60
            while not seen and time.monotonic() < deadline:
                con = open_catalog(arc_dir)
                seen = con.sql(
                    "SELECT count(*) FROM DeviceProcessEvents WHERE DeviceId = 'dev-follow'"
                ).fetchall()[0][0]
                con.close()
                time.sleep(0.1)
        finally:
            stop.set()
            runner.join()
            ing.close()
    assert seen == 1


def test_follow_stops_cleanly_on_sigterm(export: tuple[Path, dict], tmp_path: Path) -> None:
    """`ingest --follow` ends on SIGTERM after committing what it read: exit 0, summary printed, all rows."""
    import os
    import signal
    import subprocess
    import sys
    import time

    src, manifest = export
    arc = tmp_path / "a"
    root = Path(__file__).resolve().parents[1]
    cmd = [sys.executable, "-m", "huntvault.cli", "ingest", "--from", str(src), "--archive", str(arc)]
    cmd += ["--follow", "--poll-seconds", "0.2", "--quiet"]
    proc = subprocess.Popen(
        cmd, env={**os.environ, "PYTHONPATH": str(root / "src")}, stdout=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (arc / "_huntvault" / "progress").is_dir():
        time.sleep(0.2)
    time.sleep(1.0)  # a few polls
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0 and out.startswith("ingested ")
    assert archive_counts(arc) == expected_counts(manifest)
