"""Helpers for the ingest/archive tests: small emulated exports and archive counts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from huntvault.archive import ArchiveRef, open_catalog


def small_export(dest: Path, **options: Any) -> dict[str, Any]:
    """A small emulated export written to `dest`; returns manifest.json as a dict."""
    from huntvault.emulator.export import write_export

    opts: dict[str, Any] = {
        "devices": 2,
        "days": 0.25,
        "seed": 7,
        "end": "2026-07-22T12:00:00Z",
        "malformed": 4,
    }
    opts.update(options)
    write_export(dest, **opts)
    return dict(json.loads((dest / "manifest.json").read_text()))


def archive_counts(archive: ArchiveRef) -> dict[str, int]:
    """Rows per table in the archive catalog (tables with rows only)."""
    con = open_catalog(archive)
    out: dict[str, int] = {}
    for (name,) in con.sql("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall():
        n = con.sql(f'SELECT count(*) FROM "{name}"').fetchall()[0][0]
        if n:
            out[name] = int(n)
    con.close()
    return out


def expected_counts(manifest: dict[str, Any]) -> dict[str, int]:
    return {t: v["events"] for t, v in manifest["tables"].items() if v["events"]}


def distinct_keys(archive: ArchiveRef, table: str) -> tuple[int, int]:
    """(rows, distinct dedupe keys) of a Device* table."""
    con = open_catalog(archive)
    rows, keys = con.sql(
        f'SELECT count(*), count(DISTINCT (DeviceId, "Timestamp", ReportId)) FROM "{table}"'
    ).fetchall()[0]
    con.close()
    return int(rows), int(keys)
