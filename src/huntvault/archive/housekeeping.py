"""Archive housekeeping: compaction (Delta optimize), retention (delete + vacuum with a grace period), status."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from huntvault.archive.catalog import ArchiveRef, ArchiveSnapshot
from huntvault.archive.location import QUARANTINE_TABLE, locate
from huntvault.archive.progress import all_progress
from huntvault.archive.tables import PARTITION, list_tables, open_table
from huntvault.archive.writer import Archive

DEFAULT_GRACE_HOURS = 24.0
_CODECS: dict[str, Literal["UNCOMPRESSED", "SNAPPY", "GZIP", "BROTLI", "LZ4", "ZSTD", "LZ4_RAW"]] = {
    "none": "UNCOMPRESSED",
    "snappy": "SNAPPY",
    "gzip": "GZIP",
    "brotli": "BROTLI",
    "lz4": "LZ4_RAW",
    "zstd": "ZSTD",
}


@dataclass
class CompactReport:
    """What `compact` did."""

    partitions: int = 0  # partitions rewritten
    parts_before: int = 0
    parts_after: int = 0
    rows: int = 0
    vacuumed: int = 0  # files deleted (removed longer ago than the grace period)
    details: list[dict[str, Any]] = field(default_factory=list)


def _vacuum(archive: ArchiveRef, table: str, grace_hours: float) -> int:
    loc = locate(archive)
    dt = open_table(loc, table)
    if dt is None:
        return 0
    deleted = dt.vacuum(retention_hours=int(grace_hours), dry_run=False, enforce_retention_duration=False)
    return len(deleted)


def compact(
    archive_dir: ArchiveRef,
    target_rows: int = 1_000_000,
    compression: str = "zstd",
    grace_hours: float = DEFAULT_GRACE_HOURS,
) -> CompactReport:
    """Merge the small parts of every partition into parts of about `target_rows` rows (Delta optimize),
    then vacuum files removed more than `grace_hours` ago (running readers keep theirs meanwhile)."""
    from deltalake import WriterProperties
    from deltalake.transaction import CommitProperties

    report = CompactReport()
    loc = locate(archive_dir)
    snap = ArchiveSnapshot(loc)
    for table in [*snap.table_names(), QUARANTINE_TABLE]:
        parts = snap.parts(table)
        if not parts:
            continue
        by_day: dict[str, list[int]] = {}
        for p in parts:
            by_day.setdefault(p.date, []).append(p.rows)
        small = [d for d, rows in by_day.items() if sum(1 for r in rows if r < target_rows) > 1]
        if small:
            total_rows = sum(p.rows for p in parts) or 1
            per_row = sum(p.bytes for p in parts) / total_rows
            dt = snap.delta(table)
            assert dt is not None
            # the key index serialises this with the table's local writers
            with Archive(loc, compression=compression, writers=1) as arc, arc.index(table).locked():
                dt.update_incremental()
                metrics = dt.optimize.compact(
                    partition_filters=[(PARTITION, "in", sorted(small))],
                    target_size=max(int(per_row * target_rows), 1 << 20),
                    writer_properties=WriterProperties(compression=_CODECS.get(compression.lower(), "ZSTD")),
                    commit_properties=CommitProperties(custom_metadata={"huntvault.operation": "compact"}),
                )
            removed = int(metrics.get("numFilesRemoved", 0))
            added = int(metrics.get("numFilesAdded", 0))
            if removed:
                report.partitions += int(metrics.get("partitionsOptimized", len(small)))
                report.parts_before += removed
                report.parts_after += added
                report.rows += sum(p.rows for p in parts if p.date in small)
                report.details.append(
                    {"table": table, "dates": sorted(small), "merged": removed, "into": added}
                )
        report.vacuumed += _vacuum(loc, table, grace_hours)
    return report


@dataclass(frozen=True)
class Dropped:
    """One partition removed by retention."""

    table: str
    date: str
    parts: int
    rows: int


def retention_days(table: str, default_days: int, per_table: dict[str, int]) -> int:
    lowered = {k.lower(): v for k, v in per_table.items()}
    return lowered.get(table.lower(), default_days)


def retention_apply(
    archive_dir: ArchiveRef,
    default_days: int = 0,
    per_table: dict[str, int] | None = None,
    today: date | None = None,
    dry_run: bool = False,
    grace_hours: float = DEFAULT_GRACE_HOURS,
) -> list[Dropped]:
    """Drop every partition older than its table's retention (`0` keeps forever).

    A partition dated D is dropped when D < today - days: one Delta delete per table (its `remove`
    actions are what the index follows) that forgets the days' dedupe keys, then a vacuum that deletes
    files removed more than `grace_hours` ago.
    """
    from deltalake.transaction import CommitProperties

    per_table = per_table or {}
    today = today or datetime.now(UTC).date()
    loc = locate(archive_dir)
    snap = ArchiveSnapshot(loc)
    dropped: list[Dropped] = []
    for table in snap.table_names():
        days = retention_days(table, default_days, per_table)
        if days <= 0:
            continue
        cutoff = (today - timedelta(days=days)).isoformat()
        old: dict[str, list[int]] = {}
        for p in snap.parts(table):
            if p.date < cutoff:
                old.setdefault(p.date, []).append(p.rows)
        for day, rows in sorted(old.items()):
            dropped.append(Dropped(table, day, len(rows), sum(rows)))
        if dry_run or not old:
            continue
        with Archive(loc, writers=1) as arc:
            index = arc.index(table)
            with index.locked():
                dt = arc.table(table)
                assert dt is not None
                arc.catch_up(table, dt, index)
                dt.delete(
                    f"{PARTITION} < '{cutoff}'",
                    commit_properties=CommitProperties(custom_metadata={"huntvault.operation": "retention"}),
                )
                for day in old:
                    index.drop_day(day)
                dt.update_incremental()
                index.set_covered(dt.version(), str(dt.metadata().id))
        _vacuum(loc, table, grace_hours)
    return dropped


def _iso(us: int | None) -> str | None:
    if us is None:
        return None
    return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class TableStatus:
    """One archived table: rows, bytes, days, parts, event-time range and Delta version."""

    table: str
    rows: int
    bytes: int
    partitions: int
    parts: int
    min_timestamp: str | None
    max_timestamp: str | None
    version: int


@dataclass(frozen=True)
class SourceStatus:
    """One source's progress: counters, streams checkpointed, and how far behind it is."""

    source: str
    rows: int
    duplicates: int
    quarantined: int
    streams: int
    batches: int
    last_commit: str | None
    seconds_since_commit: float | None
    newest_event: str | None
    event_lag_seconds: float | None
    unread_bytes: int | None


@dataclass(frozen=True)
class ArchiveStatus:
    """What `huntvault status` shows about the archive."""

    archive: str
    tables: list[TableStatus]
    sources: list[SourceStatus]
    quarantined: int
    versions: dict[str, int]  # table -> latest Delta version (the change feed's position)

    @property
    def total_rows(self) -> int:
        return sum(t.rows for t in self.tables)

    @property
    def total_bytes(self) -> int:
        return sum(t.bytes for t in self.tables)

    def to_json(self) -> dict[str, Any]:
        return {
            "archive": self.archive,
            "tables": [vars(t) for t in self.tables],
            "total_rows": self.total_rows,
            "total_bytes": self.total_bytes,
            "quarantined": self.quarantined,
            "sources": [vars(s) for s in self.sources],
            "versions": dict(self.versions),
        }


def status(archive_dir: ArchiveRef) -> ArchiveStatus:
    """Rows, bytes, partitions, parts and min/max time per table; per-source progress; quarantine count."""
    from huntvault.errors import ArchiveError

    loc = locate(archive_dir)
    if (
        loc.local is not None
        and not list_tables(loc, quarantine=True)
        and not (loc.local / "_huntvault").is_dir()
    ):
        raise ArchiveError(f"{loc.local} is not a huntvault archive (no Delta tables)")
    snap = ArchiveSnapshot(loc)
    per_table: list[TableStatus] = []
    versions: dict[str, int] = {}
    for name in snap.table_names():
        parts = snap.parts(name)
        versions[name] = snap.version(name) or 0
        if not parts:
            continue
        lows = [p.min_ts for p in parts if p.min_ts is not None]
        highs = [p.max_ts for p in parts if p.max_ts is not None]
        per_table.append(
            TableStatus(
                name,
                sum(p.rows for p in parts),
                sum(p.bytes for p in parts),
                len({p.date for p in parts}),
                len(parts),
                _iso(min(lows)) if lows else None,
                _iso(max(highs)) if highs else None,
                versions[name],
            )
        )
    quarantined = sum(p.rows for p in snap.parts(QUARANTINE_TABLE))
    now = time.time()
    sources: list[SourceStatus] = []
    for prog in all_progress(loc):
        s = prog.stats
        sources.append(
            SourceStatus(
                prog.source,
                s.rows,
                s.duplicates,
                s.quarantined,
                len(prog.streams),
                prog.batch,
                _iso(int(s.last_commit * 1e6)) if s.last_commit else None,
                round(now - s.last_commit, 1) if s.last_commit else None,
                _iso(s.last_event_ts),
                round(now - s.last_event_ts / 1e6, 1) if s.last_event_ts else None,
                s.lag_bytes,
            )
        )
    return ArchiveStatus(loc.url, per_table, sources, quarantined, versions)


__all__ = [
    "ArchiveStatus",
    "CompactReport",
    "Dropped",
    "SourceStatus",
    "TableStatus",
    "compact",
    "retention_apply",
    "retention_days",
    "status",
]
