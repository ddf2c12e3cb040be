"""Durable forwarder state in one SQLite file: cursor, page inbox, per-sink outbox and ledger, health.

Every change is one SQLite transaction (WAL, synchronous=FULL), so a SIGKILL leaves either the
state before or after it:

* each alert page is stored in the `inbox` as soon as it is read (the loss window is that write);
* the queue step merges inbox rows with their machines into each sink's `outbox`, deletes them
  from the inbox and advances the cursor, in one transaction;
* the delivery step removes one acknowledged request's records from the outbox and records them in
  the `ledger`, in one transaction right after the sink acknowledged the request;
* `health` holds each component's state (ok / down / paused) for `forward status` and the UI;
  `filemark` holds a jsonl sink's file size as of its last committed unit (exactly once there: a
  longer file after a crash is cut back to it).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from huntvault.errors import ForwardError
from huntvault.schema import parse_datetime

STATE_FILE = "state.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cursor (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS inbox (
    alert_id TEXT NOT NULL, last_update TEXT NOT NULL, raw BLOB NOT NULL, polled_at TEXT NOT NULL,
    PRIMARY KEY (alert_id, last_update));
CREATE TABLE IF NOT EXISTS outbox (
    sink TEXT NOT NULL, alert_id TEXT NOT NULL, last_update TEXT NOT NULL, record BLOB NOT NULL,
    queued_at TEXT NOT NULL, PRIMARY KEY (sink, alert_id, last_update));
CREATE INDEX IF NOT EXISTS outbox_order ON outbox (sink, last_update, alert_id);
CREATE TABLE IF NOT EXISTS ledger (
    sink TEXT NOT NULL, alert_id TEXT NOT NULL, last_update TEXT NOT NULL, outcome TEXT NOT NULL,
    done_at TEXT NOT NULL, PRIMARY KEY (sink, alert_id));
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS alerts (
    alert_id TEXT PRIMARY KEY, last_update TEXT NOT NULL, alert BLOB NOT NULL, machine BLOB);
CREATE TABLE IF NOT EXISTS health (
    component TEXT PRIMARY KEY, state TEXT NOT NULL, since TEXT NOT NULL, error TEXT NOT NULL,
    setting TEXT NOT NULL, failures INTEGER NOT NULL, retry_at TEXT, last_ok TEXT);
CREATE TABLE IF NOT EXISTS filemark (sink TEXT PRIMARY KEY, size INTEGER NOT NULL, at TEXT NOT NULL);
"""

#: how many alert bodies the state keeps for the UI (newest first)
KEEP_ALERT_BODIES = 5000


def sort_time(raw: str) -> str:
    """A lastUpdateTime as a fixed-width UTC string that sorts like the instant (microseconds)."""
    return parse_datetime(raw).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def time_text(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class Pending:
    """One queued delivery: an alert version for one sink."""

    sink: str
    alert_id: str
    last_update: str  # sort_time form
    record: dict[str, Any]


@dataclass(frozen=True)
class Queued:
    """One alert version ready for the outbox of each sink, with the merged record per sink."""

    alert_id: str
    last_update: str  # as the API gave it
    records: dict[str, dict[str, Any]]  # sink -> merged record
    alert: dict[str, Any]  # the raw alert (kept for the UI)
    machine: dict[str, Any] | None


@dataclass(frozen=True)
class HealthRow:
    component: str
    state: str  # ok | down | paused
    since: str
    error: str
    setting: str
    failures: int
    retry_at: str | None
    last_ok: str | None


@dataclass(frozen=True)
class LedgerRow:
    sink: str
    alert_id: str
    last_update: str
    outcome: str  # sent | dead
    done_at: str


class ForwardState:
    """The SQLite state database of one forwarder (`<state_dir>/state.sqlite`).

    `ForwardState(dir)` creates it; `ForwardState.open_readonly(dir)` reads an existing one without
    creating or changing anything (status, web) and returns None when there is none yet.
    """

    def __init__(self, state_dir: str | Path, *, readonly: bool = False) -> None:
        self.dir = Path(state_dir)
        self.path = self.dir / STATE_FILE
        self.readonly = readonly
        try:
            if readonly:
                self.db = sqlite3.connect(
                    f"{self.path.resolve().as_uri()}?mode=ro",
                    uri=True,
                    timeout=30.0,
                    isolation_level=None,
                    check_same_thread=False,
                )
            else:
                self.dir.mkdir(parents=True, exist_ok=True)
                # one forwarder uses it at a time, from whichever thread runs it (run(stop) in a thread)
                self.db = sqlite3.connect(
                    self.path, timeout=30.0, isolation_level=None, check_same_thread=False
                )
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=FULL")
                self.db.executescript(_SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise ForwardError(f"cannot open forwarder state {self.path}: {exc}") from None

    @classmethod
    def open_readonly(cls, state_dir: str | Path) -> ForwardState | None:
        if not (Path(state_dir) / STATE_FILE).is_file():
            return None
        return cls(state_dir, readonly=True)

    def close(self) -> None:
        self.db.close()

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of a read; a table an older state file does not have yet reads as empty."""
        try:
            return list(self.db.execute(sql, params).fetchall())
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return []
            raise ForwardError(f"cannot read forwarder state {self.path}: {exc}") from None

    def _count(self, sql: str, params: Sequence[Any] = ()) -> int:
        rows = self._rows(sql, params)
        return int(rows[0][0]) if rows else 0

    # -- cursor ----------------------------------------------------------------------------------
    def cursor(self) -> datetime | None:
        rows = self._rows("SELECT value FROM cursor WHERE name = 'lastUpdateTime'")
        return parse_datetime(rows[0][0]) if rows else None

    def _advance_cursor(self, high_water: datetime | None) -> None:
        if high_water is None:
            return
        old = self.cursor()
        if old is None or high_water > old:
            self.db.execute(
                "INSERT OR REPLACE INTO cursor VALUES ('lastUpdateTime', ?)", (time_text(high_water),)
            )

    # -- inbox: each alert page as soon as it is read ----------------------------------------------
    def stash(self, alerts: Iterable[tuple[str, str, dict[str, Any]]], now: str) -> int:
        """Store (alert id, lastUpdateTime, raw alert) durably; versions already there are ignored."""
        with self._tx():
            cur = self.db.executemany(
                "INSERT OR IGNORE INTO inbox VALUES (?, ?, ?, ?)",
                [(a, sort_time(t), orjson.dumps(raw), now) for a, t, raw in alerts],
            )
        return int(cur.rowcount)

    def inbox(self, limit: int = 1_000_000) -> list[dict[str, Any]]:
        rows = self._rows("SELECT raw FROM inbox ORDER BY last_update, alert_id LIMIT ?", (limit,))
        return [orjson.loads(r[0]) for r in rows]

    def inbox_count(self) -> int:
        return self._count("SELECT count(*) FROM inbox")

    # -- queue step: inbox -> outbox per sink, cursor, in one transaction --------------------------------
    def queue(
        self,
        items: Iterable[Queued],
        high_water: datetime | None,
        now: str,
        *,
        counts: dict[str, int] | None = None,
        prune_before: datetime | None = None,
    ) -> int:
        """Queue each version for each of its sinks unless that sink's ledger holds it or a newer one,
        drop it from the inbox, keep its body for the UI, and advance the cursor to `high_water`; in
        the same transaction add `counts` to the counters and prune the ledger (`prune_ledger`)."""
        queued = 0
        with self._tx():
            for name, by in (counts or {}).items():
                self._bump(name, by)
            if prune_before is not None:
                self._prune(prune_before)
            for item in items:
                key = sort_time(item.last_update)
                for sink, record in item.records.items():
                    queued += self._queue_one(sink, item.alert_id, key, orjson.dumps(record), now)
                self.db.execute(
                    "DELETE FROM inbox WHERE alert_id = ? AND last_update = ?", (item.alert_id, key)
                )
                self.db.execute(
                    "INSERT INTO alerts VALUES (?, ?, ?, ?) ON CONFLICT (alert_id) DO UPDATE SET "
                    "last_update = excluded.last_update, alert = excluded.alert, machine = excluded.machine "
                    "WHERE excluded.last_update >= alerts.last_update",
                    (
                        item.alert_id,
                        key,
                        orjson.dumps(item.alert),
                        orjson.dumps(item.machine) if item.machine is not None else None,
                    ),
                )
            self._advance_cursor(high_water)
        return queued

    def _queue_one(self, sink: str, alert_id: str, key: str, blob: bytes, now: str) -> int:
        row = self.db.execute(
            "SELECT last_update FROM ledger WHERE sink = ? AND alert_id = ?", (sink, alert_id)
        ).fetchone()
        if row is not None and row[0] >= key:
            return 0
        cur = self.db.execute(
            "INSERT OR IGNORE INTO outbox VALUES (?, ?, ?, ?, ?)", (sink, alert_id, key, blob, now)
        )
        return int(cur.rowcount)

    def enqueue(
        self,
        sinks: Iterable[str],
        records: list[tuple[str, str, dict[str, Any]]],
        high_water: datetime | None,
        now: str,
    ) -> int:
        """Queue (alert id, lastUpdateTime, record) as is for each sink (records built elsewhere, e.g.
        detections); skipped for a sink whose ledger holds that version or a newer one."""
        names = list(sinks)
        items = [Queued(a, t, dict.fromkeys(names, rec), rec, None) for a, t, rec in records]
        return self.queue(items, high_water, now)

    def pending(self, sink: str, limit: int) -> list[Pending]:
        rows = self._rows(
            "SELECT alert_id, last_update, record FROM outbox WHERE sink = ? ORDER BY last_update, alert_id LIMIT ?",
            (sink, limit),
        )
        return [Pending(sink, r[0], r[1], orjson.loads(r[2])) for r in rows]

    def pending_count(self, sink: str | None = None) -> int:
        if sink is None:
            return self._count("SELECT count(*) FROM outbox")
        return self._count("SELECT count(*) FROM outbox WHERE sink = ?", (sink,))

    # -- delivery step: outbox -> ledger ----------------------------------------------------------
    def settle(
        self, items: Iterable[Pending], outcome: str, now: str, *, file_mark: tuple[str, int] | None = None
    ) -> None:
        """Mark items delivered (`sent`) or dead-lettered (`dead`), removing them from the outbox; with
        `file_mark` (sink, size) the sink's file is known good up to `size`, in the same transaction."""
        items = list(items)
        with self._tx():
            if file_mark is not None:
                self.db.execute("INSERT OR REPLACE INTO filemark VALUES (?, ?, ?)", (*file_mark, now))
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
        """Forget ledger rows whose version is older than any window the poller can still re-read,
        and alert bodies beyond the newest KEEP_ALERT_BODIES."""
        with self._tx():
            return self._prune(older_than)

    def _prune(self, older_than: datetime) -> int:
        cur = self.db.execute("DELETE FROM ledger WHERE last_update < ?", (time_text(older_than),))
        if self._count("SELECT count(*) FROM alerts") > KEEP_ALERT_BODIES + KEEP_ALERT_BODIES // 10:
            self.db.execute(
                "DELETE FROM alerts WHERE alert_id NOT IN "
                "(SELECT alert_id FROM alerts ORDER BY last_update DESC LIMIT ?)",
                (KEEP_ALERT_BODIES,),
            )
        return int(cur.rowcount)

    def ledger(self, sink: str | None = None) -> list[LedgerRow]:
        sql = "SELECT sink, alert_id, last_update, outcome, done_at FROM ledger"
        rows = self._rows(sql + " WHERE sink = ?", (sink,)) if sink else self._rows(sql)
        return [LedgerRow(*r) for r in rows]

    def ledger_count(self, sink: str) -> int:
        return self._count("SELECT count(*) FROM ledger WHERE sink = ?", (sink,))

    def ledger_sinks(self) -> list[str]:
        return [str(r[0]) for r in self._rows("SELECT DISTINCT sink FROM ledger ORDER BY sink")]

    # -- file marks (jsonl sinks: the file size as of the last committed unit) ---------------------
    def set_file_mark(self, sink: str, size: int, now: str) -> None:
        with self._tx():
            self.db.execute("INSERT OR REPLACE INTO filemark VALUES (?, ?, ?)", (sink, size, now))

    def file_mark(self, sink: str) -> int | None:
        rows = self._rows("SELECT size FROM filemark WHERE sink = ?", (sink,))
        return int(rows[0][0]) if rows else None

    # -- alert bodies (for the UI) -----------------------------------------------------------------
    def alert_bodies(self, limit: int) -> list[tuple[str, str, dict[str, Any], dict[str, Any] | None]]:
        rows = self._rows(
            "SELECT alert_id, last_update, alert, machine FROM alerts ORDER BY last_update DESC LIMIT ?",
            (limit,),
        )
        return [
            (r[0], r[1], orjson.loads(r[2]), orjson.loads(r[3]) if r[3] is not None else None) for r in rows
        ]

    # -- health ------------------------------------------------------------------------------------
    def health(self) -> dict[str, HealthRow]:
        rows = self._rows(
            "SELECT component, state, since, error, setting, failures, retry_at, last_ok FROM health"
        )
        return {r[0]: HealthRow(*r) for r in rows}

    def put_health(self, row: HealthRow) -> None:
        with self._tx():
            self.db.execute(
                "INSERT OR REPLACE INTO health VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    row.component,
                    row.state,
                    row.since,
                    row.error,
                    row.setting,
                    row.failures,
                    row.retry_at,
                    row.last_ok,
                ),
            )

    # -- counters ------------------------------------------------------------------------------------
    def bump(self, name: str, by: int = 1) -> None:
        with self._tx():
            self._bump(name, by)

    def _bump(self, name: str, by: int) -> None:
        self.db.execute(
            "INSERT INTO counters VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
            (name, by),
        )

    def counters(self) -> dict[str, int]:
        return {str(r[0]): int(r[1]) for r in self._rows("SELECT name, value FROM counters ORDER BY name")}

    @contextmanager
    def _tx(self) -> Iterator[None]:
        """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error) on an autocommit connection."""
        if self.readonly:
            raise ForwardError(f"forwarder state {self.path} is open read-only")
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise ForwardError(f"cannot write forwarder state {self.path}: {exc}") from None
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        try:
            self.db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise ForwardError(f"cannot commit forwarder state {self.path}: {exc}") from None
