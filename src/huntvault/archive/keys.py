"""The dedupe-key index: one SQLite file per table in the local state folder, rebuildable from the Delta table.

A key is 16 bytes: 8 bytes of event time (microseconds, offset binary, big-endian: a batch's keys land near
the B-tree's end) then 8 bytes of the MD5 of (table, dedupe-key columns or row content). Keys are kept per
(table, day) partition so retention forgets a day's keys with the day. The index records the Delta version
it covers; commits it has not seen (another writer, a crash after the Delta commit) are read back from
the table before the next dedupe, so the table stays the truth.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from huntvault.archive.location import QUARANTINE_TABLE
from huntvault.archive.quarantine import QUARANTINE_KEY
from huntvault.errors import ArchiveError
from huntvault.schema import ENVELOPE_COLUMNS, EXTRA_COLUMN, get_table

_SCHEMA = """
CREATE TABLE IF NOT EXISTS partitions (id INTEGER PRIMARY KEY, date TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS seen (p INTEGER NOT NULL, k BLOB NOT NULL, PRIMARY KEY (p, k)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS covered (one INTEGER PRIMARY KEY CHECK (one = 1), version INTEGER NOT NULL,
                                    table_id TEXT NOT NULL DEFAULT '');
"""
KEYS_DIR = "keys"
SEEN_CHUNK = 4096  # keys inserted under one savepoint; a chunk holding a known key is redone alone
_IN_CHUNK = 500
_ENVELOPE_NAMES = {n for n, _ in ENVELOPE_COLUMNS}


@dataclass(frozen=True)
class KeySpec:
    """How a table's rows are keyed: the columns hashed, the column giving the key's time prefix and day."""

    columns: tuple[str, ...]
    time: str | None  # None: no time prefix, one partition for every key (quarantine)


def key_spec(table: str, schema: pa.Schema, time_column: str) -> KeySpec:
    """The dedupe key of `table`: its schema's dedupe key, else every column but the envelope's."""
    if table == QUARANTINE_TABLE:
        return KeySpec(QUARANTINE_KEY, None)
    known = get_table(table)
    if known is not None and known.dedupe_key:
        return KeySpec(tuple(known.dedupe_key), time_column)
    names = tuple(n for n in schema.names if (n not in _ENVELOPE_NAMES or n == EXTRA_COLUMN) and n != "date")
    return KeySpec(names, time_column)


class KeyMaker:
    """Computes (first row, key, day) per distinct key of an Arrow batch with DuckDB (one connection per thread)."""

    def __init__(self) -> None:
        self.con = duckdb.connect()
        self.con.execute("SET TimeZone = 'UTC'")
        self.con.execute("SET threads = 1")

    def close(self) -> None:
        self.con.close()

    def first_keys(self, table: str, spec: KeySpec, data: pa.Table) -> pa.Table:
        """Per distinct key of `data`: its first row `i`, 16-byte key `k` and UTC day `d`, sorted by (d, k)."""

        def val(name: str) -> str:
            typ = data.schema.field(name).type
            q = '"' + name.replace('"', '""') + '"'
            if pa.types.is_timestamp(typ):
                return f"coalesce(epoch_us({q})::VARCHAR, '\\N')"
            return f"coalesce({q}::VARCHAR, '\\N')"

        lit = table.replace("'", "''")
        digest = f"md5(concat_ws(chr(31), '{lit}', {', '.join(val(c) for c in spec.columns)}))"
        if spec.time is not None:
            when = f'coalesce(epoch_us("{spec.time}"), 0)'
            date_sql = f"strftime(timezone('UTC', \"{spec.time}\"), '%Y-%m-%d')"
        else:
            when, date_sql = "0", "'-'"
        ordered = f"lpad(to_hex(CAST({when} AS HUGEINT) + 9223372036854775808), 16, '0')"
        key_sql = f"unhex({ordered} || left({digest}, 16))"
        view = data.append_column("__hv_i", pa.array(np.arange(data.num_rows, dtype=np.int64)))
        cur = self.con.cursor()
        try:
            cur.register("hv_batch", view)
            return cur.sql(
                f"SELECT min(i) AS i, k, arg_min(d, i) AS d FROM "
                f"(SELECT __hv_i AS i, {key_sql} AS k, {date_sql} AS d FROM hv_batch) "
                f"GROUP BY k ORDER BY d, k"
            ).to_arrow_table()
        finally:
            cur.close()


class KeyIndex:
    """The dedupe keys of one table (SQLite), with the Delta version they cover."""

    def __init__(self, state_dir: Path, table: str) -> None:
        path = state_dir / KEYS_DIR / f"{table}.sqlite"
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.con = sqlite3.connect(
                str(path), timeout=120.0, isolation_level=None, check_same_thread=False
            )
            self.con.execute("PRAGMA journal_mode=WAL")
            self.con.execute("PRAGMA synchronous=NORMAL")
            self.con.execute("PRAGMA cache_size=-65536")
            self.con.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise ArchiveError(f"cannot open the dedupe-key index {path}: {exc}") from None
        self.path = path

    def close(self) -> None:
        self.con.close()

    @contextmanager
    def locked(self, wait: bool = True) -> Iterator[bool]:
        """BEGIN IMMEDIATE ... COMMIT: the table's writer lock among processes sharing this state folder.

        Yields False (and holds nothing) when `wait` is off and another writer holds it."""
        if not wait:
            self.con.execute("PRAGMA busy_timeout = 0")
        try:
            self.con.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:
            if wait:
                raise
            yield False
            return
        finally:
            if not wait:
                self.con.execute("PRAGMA busy_timeout = 120000")
        try:
            yield True
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    def covered(self, table_id: str) -> int:
        """The last Delta version whose rows are in the index (-1: none). An index made for another table
        of the same name (the table was deleted and created again) is emptied first."""
        row = self.con.execute("SELECT version, table_id FROM covered").fetchone()
        if row is None:
            return -1
        if row[1] != table_id:
            self.clear()
            return -1
        return int(row[0])

    def set_covered(self, version: int, table_id: str) -> None:
        self.con.execute(
            "INSERT INTO covered(one, version, table_id) VALUES (1, ?, ?) "
            "ON CONFLICT(one) DO UPDATE SET version = excluded.version, table_id = excluded.table_id",
            (version, table_id),
        )

    def clear(self) -> None:
        self.con.execute("DELETE FROM seen")
        self.con.execute("DELETE FROM partitions")
        self.con.execute("DELETE FROM covered")

    def partition_column(self, dates: Sequence[str]) -> list[int]:
        """The partition id of each key from its day (created when new; keys sorted by day)."""
        ids: dict[str, int] = {}
        for day in dict.fromkeys(dates):
            self.con.execute("INSERT OR IGNORE INTO partitions(date) VALUES (?)", (day,))
            row = self.con.execute("SELECT id FROM partitions WHERE date = ?", (day,)).fetchone()
            ids[day] = int(row[0])
        return [ids[d] for d in dates]

    def insert_new(self, pids: Sequence[int], keys: Sequence[bytes]) -> list[int]:
        """Record keys (distinct, sorted by (partition, key)); returns the positions already recorded.

        Chunk by chunk: `INSERT OR IGNORE` under a savepoint; a chunk that inserted fewer rows than it has
        keys (a duplicate of a row committed earlier) is rolled back, looked up and redone without them.
        """
        known: list[int] = []
        for start in range(0, len(keys), SEEN_CHUNK):
            ks, ps = keys[start : start + SEEN_CHUNK], pids[start : start + SEEN_CHUNK]
            self.con.execute("SAVEPOINT hv_seen")
            before = self.con.total_changes
            self.con.executemany("INSERT OR IGNORE INTO seen(p, k) VALUES (?, ?)", zip(ps, ks, strict=True))
            if self.con.total_changes - before == len(ks):
                self.con.execute("RELEASE hv_seen")
                continue
            self.con.execute("ROLLBACK TO hv_seen")
            self.con.execute("RELEASE hv_seen")
            already = self._seen(ps, ks)
            self.con.executemany(
                "INSERT INTO seen(p, k) VALUES (?, ?)",
                [(p, k) for p, k in zip(ps, ks, strict=True) if k not in already],
            )
            known.extend(start + i for i, k in enumerate(ks) if k in already)
        return known

    def _seen(self, pids: Sequence[int], keys: Sequence[bytes]) -> set[bytes]:
        by_part: dict[int, list[bytes]] = {}
        for pid, k in zip(pids, keys, strict=True):
            by_part.setdefault(pid, []).append(k)
        found: set[bytes] = set()
        for pid, ks in by_part.items():
            for i in range(0, len(ks), _IN_CHUNK):
                chunk = ks[i : i + _IN_CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = self.con.execute(f"SELECT k FROM seen WHERE p = ? AND k IN ({marks})", (pid, *chunk))
                found.update(r[0] for r in rows)
        return found

    def add_keys(self, first: pa.Table) -> None:
        """Record the keys of rows already in the table (catch-up): duplicates are ignored."""
        keys = first.column("k").to_pylist()
        pids = self.partition_column(first.column("d").to_pylist())
        self.con.executemany("INSERT OR IGNORE INTO seen(p, k) VALUES (?, ?)", zip(pids, keys, strict=True))

    def drop_day(self, day: str) -> None:
        row = self.con.execute("SELECT id FROM partitions WHERE date = ?", (day,)).fetchone()
        if row is not None:
            self.con.execute("DELETE FROM seen WHERE p = ?", (row[0],))

    def keys(self) -> list[bytes]:
        return [r[0] for r in self.con.execute("SELECT k FROM seen ORDER BY k")]


def dedupe_positions(index: KeyIndex, first: pa.Table, total: int) -> tuple[np.ndarray[Any, Any], pa.Array]:
    """Insert the batch's keys; the kept row positions (batch order) and their days."""
    rows = first.column("i").to_numpy()
    keys = first.column("k").to_pylist()
    days = first.column("d")
    pids = index.partition_column(days.to_pylist())
    known = index.insert_new(pids, keys)
    if known:
        fresh = np.ones(len(keys), np.bool_)
        fresh[known] = False
        rows, days = rows[fresh], days.filter(pa.array(fresh, pa.bool_()))
    order = np.argsort(rows, kind="stable")
    del total
    return rows[order], days.take(pa.array(order))


__all__ = ["KEYS_DIR", "KeyIndex", "KeyMaker", "KeySpec", "dedupe_positions", "key_spec"]
