"""The public, typed reading of a forwarder's state folder: health and counts per sink, alerts and deliveries.

Readers never create or change anything (the state database is opened read-only), so `forward status`
and the web UI can look at a running forwarder, or at a folder where none ever ran.
"""

from __future__ import annotations

import dataclasses
import fcntl
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from huntvault.config import ForwardConfig
from huntvault.forward.deadletter import DeadLetterBox
from huntvault.forward.merge import MERGE_MODES
from huntvault.forward.runner import DEFENDER
from huntvault.forward.sinks import effective
from huntvault.forward.state import ForwardState, HealthRow


@dataclass(frozen=True)
class ComponentStatus:
    """The health of the Defender API or of one sink."""

    state: str = "unknown"  # ok | down (retried with backoff) | paused (fix `setting`) | unknown (never run)
    since: str | None = None
    error: str = ""
    setting: str = ""  # the setting to fix when paused
    failures: int = 0
    retry_at: str | None = None
    last_ok: str | None = None

    @classmethod
    def from_row(cls, row: HealthRow | None) -> ComponentStatus:
        if row is None:
            return cls()
        return cls(row.state, row.since, row.error, row.setting, row.failures, row.retry_at, row.last_ok)


@dataclass(frozen=True)
class SinkStatus:
    name: str
    kind: str  # "" for a sink that is in the ledger but no longer configured
    health: ComponentStatus
    pending: int
    sent: int
    dead_lettered: int
    replayed: int
    dead_letter_files: int
    ledger_rows: int


@dataclass(frozen=True)
class ForwardStatus:
    """Everything `forward status` prints and the Status page shows about the forwarder."""

    state: str | None  # the state database, None while no forwarder ever ran here
    running: bool  # a forwarder holds this state folder's lock right now
    cursor: str | None
    api_calls: int
    alert_versions_polled: int
    stored_not_queued: int  # alert versions stored from a page but not merged into the outboxes yet
    defender: ComponentStatus
    sinks: dict[str, SinkStatus]
    configured_sinks: list[str]

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def forwarder_running(state_dir: str | Path) -> bool:
    """Whether a forwarder holds `<state_dir>/forward.lock` (tested with a shared, non-blocking flock)."""
    path = Path(state_dir) / "forward.lock"
    try:
        fd = os.open(str(path), os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # also drops the shared lock if it was taken
    return False


def forward_status(cfg: ForwardConfig) -> ForwardStatus:
    """Cursor, health, queue, ledger and dead-letter counts per sink, read from the state folder."""
    configured = [s.name for s in cfg.sinks]
    kinds = {s.name: s.kind for s in cfg.sinks}
    state = ForwardState.open_readonly(cfg.state_dir)
    if state is None:
        sinks = {n: SinkStatus(n, kinds[n], ComponentStatus(), 0, 0, 0, 0, 0, 0) for n in configured}
        return ForwardStatus(None, False, None, 0, 0, 0, ComponentStatus(), sinks, configured)
    dead = DeadLetterBox(cfg.state_dir)
    try:
        cursor = state.cursor()
        counters = state.counters()
        health = state.health()
        names = configured + [n for n in state.ledger_sinks() if n not in configured]
        sinks = {
            name: SinkStatus(
                name,
                kinds.get(name, ""),
                ComponentStatus.from_row(health.get(name)),
                state.pending_count(name),
                counters.get(f"{name}:sent", 0),
                counters.get(f"{name}:dead", 0),
                counters.get(f"{name}:replayed", 0),
                len(dead.list(name)),
                state.ledger_count(name),
            )
            for name in names
        }
        return ForwardStatus(
            str(state.path),
            forwarder_running(cfg.state_dir),
            cursor.isoformat() if cursor else None,
            counters.get("api_calls", 0),
            counters.get("alert_versions_polled", 0),
            state.inbox_count(),
            ComponentStatus.from_row(health.get(DEFENDER)),
            sinks,
            configured,
        )
    finally:
        state.close()


# -- alerts and their deliveries -----------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    """Where one alert stands with one sink."""

    state: str  # sent | dead | pending
    version: str  # the lastUpdateTime of the version this is about
    at: str | None = None  # when it was delivered or dead-lettered
    previous: str | None = None  # pending: the state of the version before it, if any
    reason: str = ""  # dead: why the sink rejected it
    status: int = 0  # dead: the HTTP status of the rejection


@dataclass(frozen=True)
class ForwardedAlert:
    alert_id: str
    alert: dict[str, Any]  # the newest alert body the state knows ({} when only the ledger knows it)
    machine: dict[str, Any]  # its machine ({} when unknown)
    deliveries: dict[str, Delivery] = field(default_factory=dict)


@dataclass(frozen=True)
class AlertsView:
    sinks: list[str]  # configured sinks, then sinks only the ledger still knows
    alerts: list[ForwardedAlert]  # every alert the state knows about


def forwarded_alerts(cfg: ForwardConfig, max_pending: int = 8000) -> AlertsView:
    """Alerts the forwarder handled (bodies, machines, per-sink delivery), read from its state folder."""
    sinks = [s.name for s in cfg.sinks]
    merges = {s.name: effective(s, cfg.merge).merge for s in cfg.sinks}
    bodies: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {}
    deliveries: dict[str, dict[str, Delivery]] = {}

    def body(alert_id: str, version: str, alert: dict[str, Any], machine: dict[str, Any] | None) -> None:
        if alert_id not in bodies or version > bodies[alert_id][0]:
            bodies[alert_id] = (version, alert, machine or {})

    state = ForwardState.open_readonly(cfg.state_dir)
    if state is not None:
        try:
            for alert_id, version, alert, machine in state.alert_bodies(max_pending):
                body(alert_id, version, alert, machine)
            for row in state.ledger():
                deliveries.setdefault(row.alert_id, {})[row.sink] = Delivery(
                    row.outcome, row.last_update, row.done_at
                )
                if row.sink not in sinks:
                    sinks.append(row.sink)
            for sink in sinks:
                mode = MERGE_MODES[merges.get(sink) or cfg.merge]
                for p in state.pending(sink, max_pending):
                    if p.alert_id not in bodies:
                        body(p.alert_id, p.last_update, p.record, mode.machine(p.record))
                    done = deliveries.setdefault(p.alert_id, {}).get(sink)
                    if done is None or p.last_update > done.version:
                        deliveries[p.alert_id][sink] = Delivery(
                            "pending", p.last_update, previous=done.state if done else None
                        )
        finally:
            state.close()
    for letter in DeadLetterBox(cfg.state_dir).list():
        for (alert_id, version), rec in zip(letter.keys, letter.records, strict=False):
            if alert_id not in bodies:
                body(alert_id, version, rec, MERGE_MODES[merges.get(letter.sink) or cfg.merge].machine(rec))
            entry = deliveries.setdefault(alert_id, {}).get(letter.sink)
            if entry is None or entry.state == "dead":
                deliveries[alert_id][letter.sink] = Delivery(
                    "dead", version, entry.at if entry else None, reason=letter.reason, status=letter.status
                )
    ids = set(bodies) | set(deliveries)
    alerts = [
        ForwardedAlert(
            i,
            bodies[i][1] if i in bodies else {},
            bodies[i][2] if i in bodies else {},
            deliveries.get(i, {}),
        )
        for i in ids
    ]
    return AlertsView(sinks, alerts)
