"""Durable forwarder state in one SQLite file: the cursor, per-sink outbox and per-sink delivery ledger.

Every change is one SQLite transaction (WAL, synchronous=FULL), so a SIGKILL leaves either the
state before or after it. The poll step moves merged alerts into each sink's outbox and advances
the cursor in the same transaction; the delivery step removes a unit from the outbox and records
it in the ledger in one transaction right after the sink acknowledged it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from huntvault.errors import ForwardError
from huntvault.schema.normalise import parse_datetime

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cursor (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (
    sink TEXT NOT NULL, alert_id TEXT NOT NULL, last_update TEXT NOT NULL, record BLOB NOT NULL,
    queued_at TEXT NOT NULL, PRIMARY KEY (sink, alert_id, last_update));
CREATE INDEX IF NOT EXISTS outbox_order ON outbox (sink, last_update, alert_id);
CREATE TABLE IF NOT EXISTS ledger (
    sink TEXT NOT NULL, alert_id TEXT NOT NULL, last_update TEXT NOT NULL, outcome TEXT NOT NULL,
    done_at TEXT NOT NULL, PRIMARY KEY (sink, alert_id));
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


def sort_time(raw: str) -> str:
    """A lastUpdateTime as a fixed-width UTC string that sorts like the instant (microseconds)."""
    return parse_datetime(raw).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class Pending:
    """One queued delivery: an alert version for one sink."""

    sink: str
    alert_id: str
    last_update: str  # sort_time form
    record: dict[str, Any]


class ForwardState:
    """The SQLite state database of one forwarder (`<state_dir>/state.sqlite`)."""

    def __init__(self, state_dir: str | Path) -> None:
        self.dir = Path(state_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.path = self.dir / "state.sqlite"
        try:
            self.db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise ForwardError(f"cannot open forwarder state {self.path}: {exc}") from None

    def close(self) -> None:
        self.db.close()

    # -- cursor ----------------------------------------------------------------------------------
    def cursor(self) -> datetime | None:
        row = self.db.execute("SELECT value FROM cursor WHERE name = 'lastUpdateTime'").fetchone()
        return parse_datetime(row[0]) if row else None

    # -- poll step: queue + cursor in one transaction ----------------------------------------------
    def enqueue(
        self,
        sinks: Iterable[str],
        records: list[tuple[str, str, dict[str, Any]]],
        high_water: datetime | None,
        now: str,
    ) -> int:
        """Queue (alert id, lastUpdateTime, record) for each sink unless already delivered or queued.

        An alert version is skipped for a sink when the ledger already holds that version or a
        newer one; it is queued again (as an update) when its lastUpdateTime moved on. The cursor
        advances to `high_water` in the same transaction. Returns how many deliveries were queued.
        """
        sinks = list(sinks)
        queued = 0
        with self._tx():
            for alert_id, last_update, record in records:
                key = sort_time(last_update)
                blob = orjson.dumps(record)
                for sink in sinks:
                    row = self.db.execute(
                        "SELECT last_update FROM ledger WHERE sink = ? AND alert_id = ?", (sink, alert_id)
                    ).fetchone()
                    if row is not None and row[0] >= key:
                        continue
                    cur = self.db.execute(
                        "INSERT OR IGNORE INTO outbox VALUES (?, ?, ?, ?, ?)",
                        (sink, alert_id, key, blob, now),
                    )
                    queued += cur.rowcount
            if high_water is not None:
                old = self.cursor()
                if old is None or high_water > old:
                    self.db.execute(
                        "INSERT OR REPLACE INTO cursor VALUES ('lastUpdateTime', ?)",
                        (high_water.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),),
                    )
        return queued

    def pending(self, sink: str, limit: int) -> list[Pending]:
        rows = self.db.execute(
            "SELECT alert_id, last_update, record FROM outbox WHERE sink = ? ORDER BY last_update, alert_id LIMIT ?",
            (sink, limit),
        ).fetchall()
        return [Pending(sink, r[0], r[1], orjson.loads(r[2])) for r in rows]

    def pending_count(self, sink: str | None = None) -> int:
        if sink is None:
            return int(self.db.execute("SELECT count(*) FROM outbox").fetchone()[0])
        return int(self.db.execute("SELECT count(*) FROM outbox WHERE sink = ?", (sink,)).fetchone()[0])

    # -- delivery step: outbox -> ledger ----------------------------------------------------------
    def settle(self, items: Iterable[Pending], outcome: str, now: str) -> None:
        """Mark items delivered (`sent`) or dead-lettered (`dead`), removing them from the outbox."""
        items = list(items)
        with self._tx():
            self.db.executemany(
                "DELETE FROM outbox WHERE sink = ? AND alert_id = ? AND last_update = ?",
                [(p.sink, p.alert_id, p.last_update) for p in items],
            )
            self.db.executemany(
                "INSERT INTO ledger VALUES (?, ?, ?, ?, ?) ON CONFLICT (sink, alert_id) DO UPDATE SET "
                "last_update = excluded.last_update, outcome = excluded.outcome, done_at = excluded.done_at "
                "WHERE excluded.last_update >= ledger.last_update",
                [(p.sink, p.alert_id, p.last_update, outcome, now) for p in items],
            )
            per_sink: dict[str, int] = {}
            for p in items:
                per_sink[p.sink] = per_sink.get(p.sink, 0) + 1
            self.db.executemany(
                "INSERT INTO counters VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
                [(f"{sink}:{outcome}", n) for sink, n in per_sink.items()],
            )

    def mark_replayed(self, sink: str, keys: Iterable[tuple[str, str]], now: str) -> None:
        """A dead-lettered version went through on replay: the ledger says `sent`."""
        with self._tx():
            for alert_id, last_update in keys:
                self.db.execute(
                    "UPDATE ledger SET outcome = 'sent', done_at = ? WHERE sink = ? AND alert_id = ? AND last_update = ?",
                    (now, sink, alert_id, last_update),
                )
                self.db.execute(
                    "INSERT INTO counters VALUES (?, 1) ON CONFLICT (name) DO UPDATE SET value = value + 1",
                    (f"{sink}:replayed",),
                )

    def prune_ledger(self, older_than: datetime) -> int:
        """Forget ledger rows whose version is older than any window the poller can still re-read."""
        with self._tx():
            cur = self.db.execute(
                "DELETE FROM ledger WHERE last_update < ?", (older_than.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),)
            )
        return cur.rowcount

    # -- counters and status ------------------------------------------------------------------------
    def bump(self, name: str, by: int = 1) -> None:
        with self._tx():
            self.db.execute(
                "INSERT INTO counters VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
                (name, by),
            )

    def counters(self) -> dict[str, int]:
        return {r[0]: int(r[1]) for r in self.db.execute("SELECT name, value FROM counters ORDER BY name")}

    def ledger_count(self, sink: str) -> int:
        return int(self.db.execute("SELECT count(*) FROM ledger WHERE sink = ?", (sink,)).fetchone()[0])

    def _tx(self) -> _Tx:
        return _Tx(self.db)


class _Tx:
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error) on an autocommit connection."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")
