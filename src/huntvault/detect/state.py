"""Durable scheduler state (SQLite): windows per rule, reported rows, suppression, the alert outbox, and rule locks.

Every change is one SQLite transaction (WAL, synchronous=FULL): a crash leaves the state before or
after it. A window goes `computed` (its alerts are in the outbox, the rows and suppression it
implies are recorded, the rule's progress moves on: all in one transaction) and then `done` once
its alerts are in the archive and queued for the sinks.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from huntvault.errors import DetectError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS progress (rule_id TEXT PRIMARY KEY, last_end TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS windows (
    rule_id TEXT NOT NULL, end_time TEXT NOT NULL, start_time TEXT NOT NULL, status TEXT NOT NULL,
    rows INTEGER NOT NULL, alerts INTEGER NOT NULL, suppressed INTEGER NOT NULL, seconds REAL NOT NULL,
    PRIMARY KEY (rule_id, end_time));
CREATE TABLE IF NOT EXISTS outbox (
    rule_id TEXT NOT NULL, end_time TEXT NOT NULL, alert_id TEXT NOT NULL, record BLOB NOT NULL,
    evidence BLOB NOT NULL, PRIMARY KEY (rule_id, end_time, alert_id));
CREATE TABLE IF NOT EXISTS reported_rows (
    rule_id TEXT NOT NULL, row_key TEXT NOT NULL, end_time TEXT NOT NULL, PRIMARY KEY (rule_id, row_key))
    WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS suppression (
    rule_id TEXT NOT NULL, skey TEXT NOT NULL, until TEXT NOT NULL, PRIMARY KEY (rule_id, skey)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS raised (alert_id TEXT PRIMARY KEY, rule_id TEXT NOT NULL, end_time TEXT NOT NULL);
"""

_FMT = "%Y-%m-%dT%H:%M:%S.%fZ"


def ts(t: datetime) -> str:
    return t.astimezone(UTC).strftime(_FMT)


def parse_ts(text: str) -> datetime:
    return datetime.strptime(text, _FMT).replace(tzinfo=UTC)


@dataclass(frozen=True)
class Pending:
    """A computed window whose alerts are not yet all delivered to the archive and the sink queue."""

    rule_id: str
    end: datetime
    alerts: list[tuple[str, dict[str, Any], list[dict[str, Any]]]]  # (alert id, record, evidence rows)


class DetectState:
    """`<state_dir>/detect.sqlite` (or an in-memory database for backtests: `DetectState(None)`)."""

    def __init__(self, state_dir: str | os.PathLike[str] | None) -> None:
        self.dir = Path(state_dir) if state_dir is not None else None
        target = ":memory:"
        if self.dir is not None:
            self.dir.mkdir(parents=True, exist_ok=True)
            (self.dir / "locks").mkdir(exist_ok=True)
            target = str(self.dir / "detect.sqlite")
        try:
            self.db = sqlite3.connect(target, timeout=60.0, isolation_level=None, check_same_thread=False)
            if self.dir is not None:
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=FULL")
            self.db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise DetectError(f"cannot open detection state {target}: {exc}") from None
        self._mutex = threading.Lock()
        self._held: set[str] = set()

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def _tx(self) -> Iterator[None]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # -- the per-rule lock: one window of a rule at a time, across threads and processes ----------
    @contextmanager
    def rule_lock(self, rule_id: str) -> Iterator[bool]:
        """Yields True when this caller holds the rule's lock, False when someone else runs the rule."""
        with self._mutex:
            busy = rule_id in self._held
            if not busy:
                self._held.add(rule_id)
        if busy:
            yield False
            return
        fd = -1
        try:
            if self.dir is not None:
                fd = os.open(str(self.dir / "locks" / f"{rule_id}.lock"), os.O_RDWR | os.O_CREAT, 0o644)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    yield False
                    return
            yield True
        finally:
            if fd >= 0:
                os.close(fd)  # closing the descriptor releases the flock
            with self._mutex:
                self._held.discard(rule_id)

    # -- reads ------------------------------------------------------------------------------------
    def last_end(self, rule_id: str) -> datetime | None:
        row = self.db.execute("SELECT last_end FROM progress WHERE rule_id = ?", (rule_id,)).fetchone()
        return parse_ts(row[0]) if row else None

    def known_rows(self, rule_id: str, keys: Iterable[str]) -> set[str]:
        keys = list(keys)
        found: set[str] = set()
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            marks = ",".join("?" * len(chunk))
            found.update(
                r[0]
                for r in self.db.execute(
                    f"SELECT row_key FROM reported_rows WHERE rule_id = ? AND row_key IN ({marks})",
                    (rule_id, *chunk),
                )
            )
        return found

    def suppressed_until(self, rule_id: str, skey: str) -> datetime | None:
        row = self.db.execute(
            "SELECT until FROM suppression WHERE rule_id = ? AND skey = ?", (rule_id, skey)
        ).fetchone()
        return parse_ts(row[0]) if row else None

    def pending(self, rule_id: str | None = None) -> list[Pending]:
        sql = "SELECT rule_id, end_time FROM windows WHERE status = 'computed'"
        args: tuple[Any, ...] = ()
        if rule_id is not None:
            sql += " AND rule_id = ?"
            args = (rule_id,)
        out: list[Pending] = []
        for rid, end in self.db.execute(sql + " ORDER BY end_time, rule_id", args).fetchall():
            rows = self.db.execute(
                "SELECT alert_id, record, evidence FROM outbox WHERE rule_id = ? AND end_time = ? ORDER BY alert_id",
                (rid, end),
            ).fetchall()
            out.append(
                Pending(rid, parse_ts(end), [(a, orjson.loads(r), orjson.loads(e)) for a, r, e in rows])
            )
        return out

    def windows(self, rule_id: str) -> list[dict[str, Any]]:
        cols = ("end_time", "start_time", "status", "rows", "alerts", "suppressed", "seconds")
        rows = self.db.execute(
            f"SELECT {', '.join(cols)} FROM windows WHERE rule_id = ? ORDER BY end_time", (rule_id,)
        )
        return [dict(zip(cols, r, strict=True)) for r in rows]

    def raised_count(self, rule_id: str | None = None) -> int:
        if rule_id is None:
            return int(self.db.execute("SELECT count(*) FROM raised").fetchone()[0])
        return int(self.db.execute("SELECT count(*) FROM raised WHERE rule_id = ?", (rule_id,)).fetchone()[0])

    # -- writes -----------------------------------------------------------------------------------
    def record_window(
        self,
        rule_id: str,
        start: datetime,
        end: datetime,
        *,
        rows: int,
        seconds: float,
        alerts: list[tuple[str, dict[str, Any], list[dict[str, Any]]]],
        new_rows: list[str],
        suppress_until: dict[str, datetime],
        suppressed: int,
        forget_before: datetime | None = None,
    ) -> None:
        """One transaction: the window's alerts into the outbox, rows and suppression remembered, progress moved
        (and reported rows of windows that ended before `forget_before` pruned: no lookback reaches them)."""
        e = ts(end)
        status = "computed" if alerts else "done"
        with self._tx():
            for alert_id, record, evidence in alerts:
                self.db.execute(
                    "INSERT OR REPLACE INTO outbox VALUES (?, ?, ?, ?, ?)",
                    (rule_id, e, alert_id, orjson.dumps(record), orjson.dumps(evidence)),
                )
                self.db.execute("INSERT OR IGNORE INTO raised VALUES (?, ?, ?)", (alert_id, rule_id, e))
            self.db.executemany(
                "INSERT OR IGNORE INTO reported_rows VALUES (?, ?, ?)", [(rule_id, k, e) for k in new_rows]
            )
            for skey, until in suppress_until.items():
                self.db.execute(
                    "INSERT INTO suppression VALUES (?, ?, ?) ON CONFLICT (rule_id, skey) DO UPDATE "
                    "SET until = max(until, excluded.until)",
                    (rule_id, skey, ts(until)),
                )
            self.db.execute(
                "INSERT OR REPLACE INTO windows VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (rule_id, e, ts(start), status, rows, len(alerts), suppressed, seconds),
            )
            self.db.execute(
                "INSERT INTO progress VALUES (?, ?) ON CONFLICT (rule_id) DO UPDATE "
                "SET last_end = max(last_end, excluded.last_end)",
                (rule_id, e),
            )
            if forget_before is not None:
                self.db.execute(
                    "DELETE FROM reported_rows WHERE rule_id = ? AND end_time < ?",
                    (rule_id, ts(forget_before)),
                )

    def mark_done(self, rule_id: str, end: datetime) -> None:
        """The window's alerts are archived and queued: empty its outbox."""
        e = ts(end)
        with self._tx():
            self.db.execute("DELETE FROM outbox WHERE rule_id = ? AND end_time = ?", (rule_id, e))
            self.db.execute(
                "UPDATE windows SET status = 'done' WHERE rule_id = ? AND end_time = ?", (rule_id, e)
            )


__all__ = ["DetectState", "Pending", "parse_ts", "ts"]
