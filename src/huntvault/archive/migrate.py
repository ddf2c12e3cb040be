"""`huntvault archive migrate`: a Parquet + SQLite-manifest archive becomes Delta tables in place, verified row by row.

The part files stay where they are (the old layout is already `<Table>/date=YYYY-MM-DD/part-*.parquet`):
each table gets a Delta log whose first commit adds exactly the manifest's parts. Quarantined lines move
into the `_quarantine` Delta table, source checkpoints and counters into their progress tables. Every
table is then read back through delta-rs and compared row by row with the manifest's files before the
manifest is retired (renamed `manifest.sqlite.migrated`).
"""

from __future__ import annotations

import base64
import shutil
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from huntvault.archive.location import QUARANTINE_TABLE, STATE_DIR, ArchiveLocation, locate
from huntvault.archive.progress import SourceProgress, SourceStats, commit_progress, read_progress
from huntvault.archive.quarantine import QuarantineRecord
from huntvault.archive.tables import PARTITION, _iso_ms, create_table, delta_schema, open_table, time_column
from huntvault.archive.writer import Archive, Batch, conform
from huntvault.errors import ArchiveError

if TYPE_CHECKING:
    from deltalake.transaction import AddAction

MANIFEST = "manifest.sqlite"


@dataclass
class MigrationReport:
    """What `migrate_archive` converted and verified."""

    tables: dict[str, int] = field(default_factory=dict)  # table -> rows verified
    parts: int = 0
    quarantined: int = 0
    sources: int = 0
    seconds: float = 0.0


def _old_parts(con: sqlite3.Connection) -> dict[str, list[tuple[str, str, int, int, int | None, int | None]]]:
    out: dict[str, list[tuple[str, str, int, int, int | None, int | None]]] = {}
    for path, tbl, day, rows, size, lo, hi in con.execute(
        "SELECT path, tbl, date, rows, bytes, min_ts, max_ts FROM parts ORDER BY path"
    ):
        out.setdefault(str(tbl), []).append((str(path), str(day), int(rows), int(size), lo, hi))
    return out


def _add(table: str, path: str, day: str, rows: int, size: int, lo: int | None, hi: int | None) -> AddAction:
    from deltalake.transaction import AddAction

    stats: dict[str, object] = {"numRecords": rows}
    tcol = time_column(table)
    if lo is not None and hi is not None:
        stats["minValues"] = {tcol: _iso_ms(int(lo), False)}
        stats["maxValues"] = {tcol: _iso_ms(int(hi), True)}
    rel = path.split("/", 1)[1]
    return AddAction(rel, size, {PARTITION: day}, int(time.time() * 1000), True, orjson.dumps(stats).decode())


def _verify(loc: ArchiveLocation, root: Path, table: str, paths: list[str]) -> int:
    """Rows through delta-rs == rows of the manifest's files (as multisets); returns the row count."""
    from deltalake import DeltaTable

    try:
        delta_rows = pa.table(DeltaTable(loc.table_uri(table)).to_pyarrow_table())
        old = [pq.read_table(root / p) for p in paths]
    except (OSError, pa.ArrowException) as exc:
        raise ArchiveError(f"migration check failed for {table}: {str(exc).splitlines()[0]}") from None
    cols = [c for c in delta_rows.schema.names if c != PARTITION]
    expected = conform(pa.concat_tables(old, promote_options="default"), delta_rows.select(cols).schema)
    got = delta_rows.select(cols)
    con = duckdb.connect()
    con.register("got", got)
    con.register("want", expected)
    missing = con.sql("SELECT count(*) FROM (SELECT * FROM want EXCEPT ALL SELECT * FROM got)").fetchall()[0][
        0
    ]
    extra = con.sql("SELECT count(*) FROM (SELECT * FROM got EXCEPT ALL SELECT * FROM want)").fetchall()[0][0]
    con.close()
    if missing or extra or got.num_rows != expected.num_rows:
        raise ArchiveError(
            f"migration check failed for {table}: {missing} rows missing, {extra} rows extra "
            f"({got.num_rows} read through Delta, {expected.num_rows} in the old parts)"
        )
    return int(got.num_rows)


def migrate_archive(archive_dir: str | Path) -> MigrationReport:
    """Convert the Parquet + manifest archive at `archive_dir` into Delta tables (in place), verified."""
    t0 = time.perf_counter()
    loc = locate(archive_dir)
    if loc.local is None:
        raise ArchiveError(
            "archive migrate converts a local archive (copy it to the object store afterwards)"
        )
    root = loc.local
    manifest = root / STATE_DIR / MANIFEST
    if not manifest.exists():
        raise ArchiveError(f"{root} has no {STATE_DIR}/{MANIFEST}: nothing to migrate")
    con = sqlite3.connect(str(manifest))
    try:
        parts = _old_parts(con)
        checkpoints: dict[str, dict[str, dict[str, object]]] = {}
        for src, stream, value in con.execute("SELECT source, stream, value FROM checkpoints"):
            checkpoints.setdefault(str(src), {})[str(stream)] = orjson.loads(value)
        counters = {
            str(r[0]): SourceStats(int(r[1]), int(r[2]), int(r[3]), r[4], r[5], r[6])
            for r in con.execute(
                "SELECT source, rows, duplicates, quarantined, last_commit, last_event_ts, lag_bytes FROM sources"
            )
        }
    finally:
        con.close()
    report = MigrationReport()
    try:
        _convert(loc, root, parts, report)
    except ArchiveError:
        for table in parts:  # leave the archive as it was: the manifest is still its truth
            if table != QUARANTINE_TABLE:
                shutil.rmtree(root / table / "_delta_log", ignore_errors=True)
        raise
    _move_the_rest(loc, root, parts, checkpoints, counters, report)
    manifest.rename(manifest.with_name(MANIFEST + ".migrated"))
    for extra in ("-wal", "-shm"):
        (root / STATE_DIR / (MANIFEST + extra)).unlink(missing_ok=True)
    (root / STATE_DIR / "writer.lock").unlink(missing_ok=True)
    report.seconds = time.perf_counter() - t0
    return report


_Parts = dict[str, list[tuple[str, str, int, int, int | None, int | None]]]


def _convert(loc: ArchiveLocation, root: Path, parts: _Parts, report: MigrationReport) -> None:
    """One Delta commit per table adding exactly the manifest's parts, each verified row by row."""
    from deltalake.transaction import CommitProperties

    for table, items in sorted(parts.items()):
        if table == QUARANTINE_TABLE:
            continue
        if open_table(loc, table) is not None:
            raise ArchiveError(f"{table} already has a Delta log: the archive is (partly) migrated")
        dt = create_table(loc, table)
        dt.create_write_transaction(
            [_add(table, *item) for item in items],
            "append",
            delta_schema(table),
            partition_by=[PARTITION],
            commit_properties=CommitProperties(custom_metadata={"huntvault.operation": "migrate"}),
        )
        report.parts += len(items)
        report.tables[table] = _verify(loc, root, table, [p[0] for p in items])


def _move_the_rest(
    loc: ArchiveLocation,
    root: Path,
    parts: _Parts,
    checkpoints: dict[str, dict[str, dict[str, object]]],
    counters: dict[str, SourceStats],
    report: MigrationReport,
) -> None:
    """Quarantined lines into the `_quarantine` table, checkpoints and counters into progress tables."""
    records: list[QuarantineRecord] = []
    moved = root / STATE_DIR / "migrated"
    for path, *_ in parts.get(QUARANTINE_TABLE, []):
        for line in (root / path).read_bytes().splitlines():
            if not line.strip():
                continue
            rec = orjson.loads(line)
            raw = rec.get("line_base64")
            body = base64.b64decode(raw) if raw else str(rec.get("line", "")).encode()
            records.append(
                QuarantineRecord(
                    str(rec.get("source", "")),
                    str(rec.get("stream", "")),
                    int(rec.get("offset", 0)),
                    str(rec.get("reason", "")),
                    body,
                    rec.get("table_hint"),
                )
            )
    if (root / QUARANTINE_TABLE).is_dir():
        moved.mkdir(parents=True, exist_ok=True)
        shutil.move(str(root / QUARANTINE_TABLE), str(moved / QUARANTINE_TABLE))
    with Archive(loc, writers=1) as arc:
        if records:
            batch = Batch()
            batch.quarantine.extend(records)
            report.quarantined = arc.commit(batch).quarantined
        for src in sorted(set(checkpoints) | set(counters)):
            prog: SourceProgress = read_progress(loc, src)
            commit_progress(
                loc,
                prog,
                checkpoints.get(src, {}),
                counters.get(src, SourceStats()),
                {"huntvault.operation": "migrate"},
            )
            report.sources += 1


__all__ = ["MigrationReport", "migrate_archive"]
