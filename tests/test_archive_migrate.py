"""`huntvault archive migrate`: a pre-Delta archive (Parquet parts + SQLite manifest) becomes Delta tables in place."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson
import pyarrow.parquet as pq
from click.testing import CliRunner

from huntvault.archive import (
    Archive,
    archive_schema,
    conform,
    open_catalog,
    quarantined_lines,
    rows_to_arrow,
    status,
)
from huntvault.cli import main

# the manifest tables of the archive format before Delta Lake (what `migrate` reads)
LEGACY_SCHEMA = """
CREATE TABLE parts (path TEXT PRIMARY KEY, tbl TEXT, date TEXT, rows INTEGER, bytes INTEGER, min_ts INTEGER,
                    max_ts INTEGER, seq INTEGER, created REAL);
CREATE TABLE checkpoints (source TEXT, stream TEXT, value TEXT, updated REAL, PRIMARY KEY (source, stream));
CREATE TABLE sources (source TEXT PRIMARY KEY, rows INTEGER, duplicates INTEGER, quarantined INTEGER,
                      last_commit REAL, last_event_ts INTEGER, lag_bytes INTEGER);
"""


def _rows(day: str, start: int, n: int) -> list[dict[str, object]]:
    return [
        {
            "Timestamp": f"{day}T10:00:{(start + i) % 60:02d}Z",
            "DeviceId": "d",
            "ReportId": start + i,
            "ActionType": "A",
        }
        for i in range(n)
    ]


def legacy_archive(root: Path) -> int:
    """A small archive in the old layout; returns its DeviceFileEvents row count."""
    (root / "_huntvault").mkdir(parents=True)
    con = sqlite3.connect(root / "_huntvault" / "manifest.sqlite")
    con.executescript(LEGACY_SCHEMA)
    total = 0
    for i, (day, start, n) in enumerate([("2026-07-20", 0, 5), ("2026-07-20", 5, 3), ("2026-07-21", 0, 4)]):
        data = conform(
            rows_to_arrow("DeviceFileEvents", _rows(day, start, n)), archive_schema("DeviceFileEvents")
        )
        rel = f"DeviceFileEvents/date={day}/part-old-{i}.parquet"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(data, root / rel)
        con.execute(
            "INSERT INTO parts VALUES (?, 'DeviceFileEvents', ?, ?, ?, NULL, NULL, ?, 0)",
            (rel, day, n, (root / rel).stat().st_size, i + 1),
        )
        total += n
    qrel = "_quarantine/date=2026-07-21/q-old.jsonl"
    (root / qrel).parent.mkdir(parents=True)
    (root / qrel).write_bytes(
        orjson.dumps(
            {"source": "local", "stream": "c/b.json", "offset": 7, "reason": "bad JSON", "line": "{x"}
        )
        + b"\n"
    )
    con.execute("INSERT INTO parts VALUES (?, '_quarantine', '2026-07-21', 1, 10, NULL, NULL, 9, 0)", (qrel,))
    con.execute(
        "INSERT INTO checkpoints VALUES ('local', 'c/b.json', ?, 0)", (orjson.dumps({"offset": 99}).decode(),)
    )
    con.execute("INSERT INTO sources VALUES ('local', ?, 2, 1, 1700000000.0, NULL, 0)", (total,))
    con.commit()
    con.close()
    return total


def test_migrate_converts_in_place_and_verifies(tmp_path: Path) -> None:
    root = tmp_path / "old"
    total = legacy_archive(root)
    res = CliRunner().invoke(main, ["archive", "migrate", "--archive", str(root)])
    assert res.exit_code == 0, res.output
    assert f"DeviceFileEvents: {total:,} rows verified" in res.output
    assert (root / "DeviceFileEvents" / "_delta_log").is_dir()
    assert not (root / "_huntvault" / "manifest.sqlite").exists()
    con = open_catalog(root)
    assert con.sql("SELECT count(*), count(DISTINCT ReportId) FROM DeviceFileEvents").fetchall() == [
        (total, 8)
    ]
    st = status(root)
    assert st.quarantined == 1 and st.sources[0].rows == total and st.sources[0].streams == 1
    assert [q.offset for q in quarantined_lines(root)] == [7]
    with Archive(root) as arc:  # the dedupe keys are rebuilt from the migrated table
        assert arc.checkpoints("local") == {"c/b.json": {"offset": 99}}
        again = arc.append_rows("DeviceFileEvents", _rows("2026-07-20", 6, 4))
        assert (again.rows, again.duplicates) == (2, 2)
    # a second migrate finds nothing to do; a folder without an archive is a clear error
    res = CliRunner().invoke(main, ["archive", "migrate", "--archive", str(root)])
    assert res.exit_code == 2 and "nothing to migrate" in res.output


def test_migrate_refuses_a_tampered_archive(tmp_path: Path) -> None:
    root = tmp_path / "old"
    legacy_archive(root)
    # a part the manifest lists is rewritten with fewer rows: the row-by-row check must catch it
    part = root / "DeviceFileEvents" / "date=2026-07-20" / "part-old-0.parquet"
    table = pq.read_table(part)
    pq.write_table(table.slice(0, 4), part)
    res = CliRunner().invoke(main, ["archive", "migrate", "--archive", str(root)])
    assert res.exit_code == 2 and "migration check failed for DeviceFileEvents" in res.output
    # nothing was half-converted: the manifest is still the archive's truth
    assert (root / "_huntvault" / "manifest.sqlite").exists()
    assert not (root / "DeviceFileEvents" / "_delta_log").exists()
