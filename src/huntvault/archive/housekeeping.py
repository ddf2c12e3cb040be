"""Archive housekeeping: compaction of small parts, retention drops, and the status summary."""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from huntvault.archive import manifest as mf
from huntvault.archive.writer import Archive, _durable_write, _us, archive_schema, conform, time_column

PathLike = str | os.PathLike[str]


@dataclass
class CompactReport:
    """What `compact` did."""

    partitions: int = 0  # partitions rewritten
    parts_before: int = 0
    parts_after: int = 0
    rows: int = 0
    details: list[dict[str, Any]] = field(default_factory=list)


def _groups(parts: list[mf.PartInfo], target_rows: int) -> list[list[mf.PartInfo]]:
    """Small parts of one partition grouped so that each group stays near `target_rows`."""
    small = [p for p in parts if p.rows < target_rows]
    groups: list[list[mf.PartInfo]] = []
    cur: list[mf.PartInfo] = []
    total = 0
    for p in small:
        if cur and total + p.rows > target_rows:
            groups.append(cur)
            cur, total = [], 0
        cur.append(p)
        total += p.rows
    if cur:
        groups.append(cur)
    return [g for g in groups if len(g) > 1]


def compact(archive_dir: PathLike, target_rows: int = 1_000_000, compression: str = "zstd") -> CompactReport:
    """Merge the small parts of every partition into parts of about `target_rows` rows.

    Each merge is one manifest transaction (add the new part, remove the old ones, both in the
    change feed); old files are deleted after the commit.
    """
    report = CompactReport()
    with Archive(archive_dir, compression=compression) as arc:
        keys = arc.con.execute(
            "SELECT tbl, date FROM parts WHERE tbl != ? GROUP BY tbl, date HAVING count(*) > 1 ORDER BY tbl, date",
            (mf.QUARANTINE_TABLE,),
        ).fetchall()
        for table, day in keys:
            for group in _groups(mf.parts(arc.con, table, day), target_rows):
                _merge(arc, table, day, group, compression)
                report.partitions += 1
                report.parts_before += len(group)
                report.parts_after += 1
                report.rows += sum(p.rows for p in group)
                report.details.append({"table": table, "date": day, "merged": len(group)})
    return report


def _merge(arc: Archive, table: str, day: str, group: list[mf.PartInfo], compression: str) -> None:
    schema = archive_schema(table)
    with arc.locked():
        current = mf.known_paths(arc.con)
        group = [p for p in group if p.path in current]
        if len(group) < 2:
            return
        data = pa.concat_tables([conform(pq.read_table(arc.root / p.path), schema) for p in group])
        txn = f"{time.time_ns():x}-{uuid.uuid4().hex[:6]}"
        final = arc.root / table / f"date={day}" / f"part-{txn}-c.parquet"

        def write(tmp: Path) -> None:
            pq.write_table(data, str(tmp), compression=compression)

        size = _durable_write(final, write)
        mm = pc.min_max(data.column(time_column(table)))
        new = mf.PartInfo(
            final.relative_to(arc.root).as_posix(),
            table,
            day,
            data.num_rows,
            size,
            _us(mm["min"].value),
            _us(mm["max"].value),
        )
        with mf.transaction(arc.con):
            mf.add_part(arc.con, new)
            for p in group:
                mf.remove_part(arc.con, p)
        for p in group:
            (arc.root / p.path).unlink(missing_ok=True)


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
    archive_dir: PathLike,
    default_days: int = 0,
    per_table: dict[str, int] | None = None,
    today: date | None = None,
    dry_run: bool = False,
) -> list[Dropped]:
    """Drop every partition older than its table's retention (`0` keeps forever).

    A partition dated D is dropped when D < today - days. Each drop is a manifest transaction
    that records `remove` changes (what the index follows) and forgets the partition's dedupe keys.
    """
    per_table = per_table or {}
    today = today or datetime.now(UTC).date()
    dropped: list[Dropped] = []
    with Archive(archive_dir) as arc:
        partitions = arc.con.execute(
            "SELECT tbl, date, count(*), sum(rows) FROM parts WHERE tbl != ? GROUP BY tbl, date ORDER BY tbl, date",
            (mf.QUARANTINE_TABLE,),
        ).fetchall()
        for table, day, nparts, rows in partitions:
            days = retention_days(table, default_days, per_table)
            if days <= 0 or date.fromisoformat(day) >= today - timedelta(days=days):
                continue
            dropped.append(Dropped(table, day, int(nparts), int(rows)))
            if dry_run:
                continue
            with arc.locked():
                victims = mf.parts(arc.con, table, day)
                with mf.transaction(arc.con):
                    for p in victims:
                        mf.remove_part(arc.con, p)
                    mf.drop_seen(arc.con, table, day)
                for p in victims:
                    (arc.root / p.path).unlink(missing_ok=True)
                folder = arc.root / table / f"date={day}"
                if folder.is_dir() and not any(folder.iterdir()):
                    folder.rmdir()
    return dropped


def _iso(us: int | None) -> str | None:
    if us is None:
        return None
    return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)).isoformat().replace("+00:00", "Z")


def status(archive_dir: PathLike) -> dict[str, Any]:
    """Rows, bytes, partitions, parts and min/max time per table; per-source progress; quarantine count."""
    root = Path(archive_dir).resolve()
    con = mf.connect(root, create=False)
    try:
        per_table: list[dict[str, Any]] = []
        rows = con.execute(
            "SELECT tbl, sum(rows), sum(bytes), count(DISTINCT date), count(*), min(min_ts), max(max_ts) "
            "FROM parts WHERE tbl != ? GROUP BY tbl ORDER BY tbl",
            (mf.QUARANTINE_TABLE,),
        ).fetchall()
        for tbl, nrows, nbytes, nparts_days, nparts, lo, hi in rows:
            per_table.append(
                {
                    "table": tbl,
                    "rows": int(nrows),
                    "bytes": int(nbytes),
                    "partitions": int(nparts_days),
                    "parts": int(nparts),
                    "min_timestamp": _iso(lo),
                    "max_timestamp": _iso(hi),
                }
            )
        q = con.execute(
            "SELECT coalesce(sum(rows), 0) FROM parts WHERE tbl = ?", (mf.QUARANTINE_TABLE,)
        ).fetchone()
        now = time.time()
        sources = []
        for s in mf.source_rows(con):
            streams = con.execute(
                "SELECT count(*) FROM checkpoints WHERE source = ?", (s["source"],)
            ).fetchone()
            sources.append(
                {
                    "source": s["source"],
                    "rows": s["rows"],
                    "duplicates": s["duplicates"],
                    "quarantined": s["quarantined"],
                    "streams": int(streams[0]) if streams else 0,
                    "last_commit": _iso(int(s["last_commit"] * 1e6)) if s["last_commit"] else None,
                    "seconds_since_commit": round(now - s["last_commit"], 1) if s["last_commit"] else None,
                    "newest_event": _iso(s["last_event_ts"]),
                    "event_lag_seconds": round(now - s["last_event_ts"] / 1e6, 1)
                    if s["last_event_ts"]
                    else None,
                    "unread_bytes": s["lag_bytes"],
                }
            )
        seq = con.execute("SELECT coalesce(max(seq), 0) FROM changes").fetchone()
        return {
            "archive": str(root),
            "tables": per_table,
            "total_rows": sum(t["rows"] for t in per_table),
            "total_bytes": sum(t["bytes"] for t in per_table),
            "quarantined": int(q[0]) if q else 0,
            "sources": sources,
            "change_seq": int(seq[0]) if seq else 0,
        }
    finally:
        con.close()


__all__ = ["CompactReport", "Dropped", "compact", "retention_apply", "retention_days", "status"]
