"""The archive manifest: one SQLite file holding committed parts, the change feed, source checkpoints and dedupe keys."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from huntvault.errors import ArchiveError

STATE_DIR = "_huntvault"
MANIFEST_FILE = "manifest.sqlite"
QUARANTINE_DIR = "_quarantine"
QUARANTINE_TABLE = "_quarantine"  # how quarantine files are named in the parts table

_SCHEMA = """
CREATE TABLE IF NOT EXISTS parts (
    path TEXT PRIMARY KEY,           -- relative to the archive root, '/' separated
    tbl TEXT NOT NULL,
    date TEXT NOT NULL,
    rows INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    min_ts INTEGER,                  -- microseconds since the epoch, UTC
    max_ts INTEGER,
    seq INTEGER NOT NULL,            -- the change that added it
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS parts_tbl_date ON parts(tbl, date);
CREATE TABLE IF NOT EXISTS changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    action TEXT NOT NULL,            -- add | remove
    tbl TEXT NOT NULL,
    date TEXT NOT NULL,
    path TEXT NOT NULL,
    rows INTEGER NOT NULL,
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS checkpoints (
    source TEXT NOT NULL,
    stream TEXT NOT NULL,
    value TEXT NOT NULL,             -- JSON object, e.g. {"offset": 123, "etag": "...", "created": "..."}
    updated REAL NOT NULL,
    PRIMARY KEY (source, stream)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS partitions (
    id INTEGER PRIMARY KEY,
    tbl TEXT NOT NULL,
    date TEXT NOT NULL,
    UNIQUE (tbl, date)
);
CREATE TABLE IF NOT EXISTS seen (
    p INTEGER NOT NULL,              -- partitions.id: retention forgets a day's keys with the day
    k BLOB NOT NULL,                 -- 16-byte MD5 of (table, dedupe key or row content)
    PRIMARY KEY (p, k)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sources (
    source TEXT PRIMARY KEY,
    rows INTEGER NOT NULL DEFAULT 0,
    duplicates INTEGER NOT NULL DEFAULT 0,
    quarantined INTEGER NOT NULL DEFAULT 0,
    last_commit REAL,
    last_event_ts INTEGER,           -- newest event Timestamp committed (us)
    lag_bytes INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
"""


@dataclass(frozen=True)
class Change:
    """One entry of the archive change feed (what the index follows)."""

    seq: int
    action: str  # 'add' | 'remove'
    table: str
    date: str  # YYYY-MM-DD
    path: Path  # absolute path of the part
    rows: int


@dataclass(frozen=True)
class PartInfo:
    """One committed part file."""

    path: str  # relative to the archive root
    table: str
    date: str
    rows: int
    bytes: int
    min_ts: int | None
    max_ts: int | None


@dataclass
class SourceStats:
    """Per-source counters moved forward in the same transaction as the source's checkpoints."""

    rows: int = 0
    duplicates: int = 0
    quarantined: int = 0
    last_event_ts: int | None = None
    lag_bytes: int | None = None


def manifest_path(root: Path) -> Path:
    return root / STATE_DIR / MANIFEST_FILE


#: Manifest format (SQLite `user_version`): how dedupe keys in `seen` are made.
KEYS_MD5 = 1  # the 16-byte MD5 of the key (archives created before time-ordered keys)
#: 8 bytes of event time (microseconds, offset binary, big-endian) then 8 bytes of the MD5: events
#: arrive roughly in time order, so each batch's inserts land near the B-tree's end instead of on
#: random pages all over it (random MD5 keys made dedupe slower as the archive grew)
KEYS_TIME_MD5 = 2


def key_format(con: sqlite3.Connection) -> int:
    """How this archive's dedupe keys are made (`KEYS_MD5` or `KEYS_TIME_MD5`)."""
    row = con.execute("PRAGMA user_version").fetchone()
    return int(row[0]) if row and row[0] else KEYS_MD5


def connect(root: Path, create: bool) -> sqlite3.Connection:
    """Open (and with `create`, initialise) the manifest of the archive at `root`."""
    path = manifest_path(root)
    if not path.exists():
        if not create:
            raise ArchiveError(f"{root} is not a huntvault archive (no {STATE_DIR}/{MANIFEST_FILE})")
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = sqlite3.connect(str(path), timeout=60.0, isolation_level=None, check_same_thread=False)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=FULL")
        con.execute("PRAGMA cache_size=-65536")
        if create:
            con.executescript(_SCHEMA)
            if con.execute("PRAGMA user_version").fetchone()[0] == 0:
                # an archive with keys already is an older one: it keeps its key format
                old = con.execute("SELECT 1 FROM seen LIMIT 1").fetchone() is not None
                con.execute(f"PRAGMA user_version = {KEYS_MD5 if old else KEYS_TIME_MD5}")
    except sqlite3.Error as exc:
        raise ArchiveError(f"cannot open the archive manifest {path}: {exc}") from None
    return con


@contextmanager
def transaction(con: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any error."""
    con.execute("BEGIN IMMEDIATE")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def add_part(con: sqlite3.Connection, part: PartInfo) -> int:
    """Record a new part and its 'add' change (inside a transaction); returns the change seq."""
    now = time.time()
    cur = con.execute(
        "INSERT INTO changes(action, tbl, date, path, rows, at) VALUES ('add', ?, ?, ?, ?, ?)",
        (part.table, part.date, part.path, part.rows, now),
    )
    seq = int(cur.lastrowid or 0)
    con.execute(
        "INSERT INTO parts(path, tbl, date, rows, bytes, min_ts, max_ts, seq, created) VALUES (?,?,?,?,?,?,?,?,?)",
        (part.path, part.table, part.date, part.rows, part.bytes, part.min_ts, part.max_ts, seq, now),
    )
    return seq


def remove_part(con: sqlite3.Connection, part: PartInfo) -> int:
    """Forget a part and record its 'remove' change (inside a transaction)."""
    con.execute("DELETE FROM parts WHERE path = ?", (part.path,))
    cur = con.execute(
        "INSERT INTO changes(action, tbl, date, path, rows, at) VALUES ('remove', ?, ?, ?, ?, ?)",
        (part.table, part.date, part.path, part.rows, time.time()),
    )
    return int(cur.lastrowid or 0)


def _part(row: Sequence[Any]) -> PartInfo:
    return PartInfo(row[0], row[1], row[2], int(row[3]), int(row[4]), row[5], row[6])


_PART_COLS = "path, tbl, date, rows, bytes, min_ts, max_ts"


def parts(con: sqlite3.Connection, table: str | None = None, date: str | None = None) -> list[PartInfo]:
    """Committed parts, optionally of one table (and one date), in path order."""
    sql = f"SELECT {_PART_COLS} FROM parts"
    args: list[Any] = []
    where = []
    if table is not None:
        where.append("tbl = ?")
        args.append(table)
    if date is not None:
        where.append("date = ?")
        args.append(date)
    if where:
        sql += " WHERE " + " AND ".join(where)
    return [_part(r) for r in con.execute(sql + " ORDER BY path", args)]


def known_paths(con: sqlite3.Connection) -> set[str]:
    return {r[0] for r in con.execute("SELECT path FROM parts")}


def changes_since(con: sqlite3.Connection, root: Path, seq: int) -> list[Change]:
    rows = con.execute(
        "SELECT seq, action, tbl, date, path, rows FROM changes WHERE seq > ? ORDER BY seq", (seq,)
    )
    return [Change(int(r[0]), r[1], r[2], r[3], root / r[4], int(r[5])) for r in rows]


def get_checkpoints(con: sqlite3.Connection, source: str) -> dict[str, dict[str, Any]]:
    rows = con.execute("SELECT stream, value FROM checkpoints WHERE source = ?", (source,))
    return {r[0]: orjson.loads(r[1]) for r in rows}


def put_checkpoints(con: sqlite3.Connection, source: str, values: dict[str, dict[str, Any]]) -> None:
    now = time.time()
    con.executemany(
        "INSERT INTO checkpoints(source, stream, value, updated) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(source, stream) DO UPDATE SET value = excluded.value, updated = excluded.updated",
        [(source, k, orjson.dumps(v).decode(), now) for k, v in values.items()],
    )


def bump_source(con: sqlite3.Connection, source: str, stats: SourceStats) -> None:
    con.execute("INSERT OR IGNORE INTO sources(source) VALUES (?)", (source,))
    con.execute(
        "UPDATE sources SET rows = rows + ?, duplicates = duplicates + ?, quarantined = quarantined + ?, "
        "last_commit = ?, last_event_ts = max(coalesce(last_event_ts, ?), coalesce(?, last_event_ts)), "
        "lag_bytes = coalesce(?, lag_bytes) WHERE source = ?",
        (
            stats.rows,
            stats.duplicates,
            stats.quarantined,
            time.time(),
            stats.last_event_ts,
            stats.last_event_ts,
            stats.lag_bytes,
            source,
        ),
    )


def source_rows(con: sqlite3.Connection) -> list[dict[str, Any]]:
    cols = ["source", "rows", "duplicates", "quarantined", "last_commit", "last_event_ts", "lag_bytes"]
    return [dict(zip(cols, r, strict=True)) for r in con.execute(f"SELECT {', '.join(cols)} FROM sources")]


_IN_CHUNK = 500


def partition_ids(con: sqlite3.Connection, table: str, dates: Iterable[str]) -> dict[str, int]:
    """The id of each (table, date) partition, created when new (inside the caller's transaction)."""
    out: dict[str, int] = {}
    for day in set(dates):
        con.execute("INSERT OR IGNORE INTO partitions(tbl, date) VALUES (?, ?)", (table, day))
        row = con.execute("SELECT id FROM partitions WHERE tbl = ? AND date = ?", (table, day)).fetchone()
        out[day] = int(row[0])
    return out


def partition_column(con: sqlite3.Connection, table: str, dates: Sequence[str]) -> list[int]:
    """The partition id of each row from its date (rows sorted by date: one lookup per run)."""
    ids = partition_ids(con, table, dict.fromkeys(dates))
    return [ids[d] for d in dates]


SEEN_CHUNK = 4096  # keys inserted under one savepoint; a chunk holding a known key is redone alone


def insert_new_keys(con: sqlite3.Connection, pids: Sequence[int], keys: Sequence[bytes]) -> list[int]:
    """Record keys (distinct, sorted by (partition, key), each with its partition id) inside the caller's
    transaction; returns the positions of those already recorded (their rows are duplicates).

    Chunk by chunk: `INSERT OR IGNORE` under a savepoint; a chunk that inserted fewer rows than it has
    keys (the rare case: a duplicate of a row committed earlier) is rolled back, its keys looked up and
    only the new ones inserted, so duplicates cost a lookup of their chunk, not of the batch.
    """
    known: list[int] = []
    for start in range(0, len(keys), SEEN_CHUNK):
        ks, ps = keys[start : start + SEEN_CHUNK], pids[start : start + SEEN_CHUNK]
        con.execute("SAVEPOINT hv_seen")
        before = con.total_changes
        con.executemany("INSERT OR IGNORE INTO seen(p, k) VALUES (?, ?)", zip(ps, ks, strict=True))
        if con.total_changes - before == len(ks):
            con.execute("RELEASE hv_seen")
            continue
        con.execute("ROLLBACK TO hv_seen")
        con.execute("RELEASE hv_seen")
        already = seen_keys(con, ps, ks)
        con.executemany(
            "INSERT INTO seen(p, k) VALUES (?, ?)",
            [(p, k) for p, k in zip(ps, ks, strict=True) if k not in already],
        )
        known.extend(start + i for i, k in enumerate(ks) if k in already)
    return known


def seen_keys(con: sqlite3.Connection, pids: Sequence[int], keys: Sequence[bytes]) -> set[bytes]:
    """Which of `keys` (each in partition `pids[i]`) are already committed."""
    by_part: dict[int, list[bytes]] = {}
    for pid, k in zip(pids, keys, strict=True):
        by_part.setdefault(pid, []).append(k)
    found: set[bytes] = set()
    for pid, ks in by_part.items():
        for i in range(0, len(ks), _IN_CHUNK):
            chunk = ks[i : i + _IN_CHUNK]
            marks = ",".join("?" * len(chunk))
            rows = con.execute(f"SELECT k FROM seen WHERE p = ? AND k IN ({marks})", (pid, *chunk))
            found.update(r[0] for r in rows)
    return found


def drop_seen(con: sqlite3.Connection, table: str, date: str) -> None:
    row = con.execute("SELECT id FROM partitions WHERE tbl = ? AND date = ?", (table, date)).fetchone()
    if row is not None:
        con.execute("DELETE FROM seen WHERE p = ?", (row[0],))


__all__ = [
    "MANIFEST_FILE",
    "QUARANTINE_DIR",
    "QUARANTINE_TABLE",
    "STATE_DIR",
    "Change",
    "PartInfo",
    "SourceStats",
    "add_part",
    "bump_source",
    "changes_since",
    "connect",
    "drop_seen",
    "get_checkpoints",
    "insert_new_keys",
    "key_format",
    "known_paths",
    "manifest_path",
    "partition_column",
    "partition_ids",
    "parts",
    "put_checkpoints",
    "remove_part",
    "seen_keys",
    "source_rows",
    "transaction",
]
