"""The forwarder run loop: poll alerts, enrich with cached machines, queue per sink, deliver, dead-letter."""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from huntvault.config import ForwardConfig
from huntvault.errors import ConfigError, ForwardError, SinkRejected, SinkUnavailable
from huntvault.forward.deadletter import DeadLetterBox
from huntvault.forward.defender import DefenderClient, MachineCache, alert_time
from huntvault.forward.merge import MERGES
from huntvault.forward.sinks import Sink, build_sink
from huntvault.forward.state import ForwardState, Pending
from huntvault.schema.normalise import parse_datetime

log = logging.getLogger("huntvault.forward")


def _lock_state_dir(state_dir: str) -> int | None:
    """An exclusive lock on `<state_dir>/forward.lock`: two forwarders on one state would both send."""
    Path(state_dir).mkdir(parents=True, exist_ok=True)
    fd = os.open(str(Path(state_dir) / "forward.lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise ForwardError(f"another forwarder is running on {state_dir} (forward.lock is held)") from None
    return fd


def _now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class PollResult:
    alerts: int = 0  # alert versions returned by the API (overlap included)
    queued: int = 0  # deliveries queued (new alerts and updates, summed over sinks)
    api_calls: int = 0
    cursor: str = ""


@dataclass
class DeliveryResult:
    sent: int = 0
    dead: int = 0
    pending: int = 0
    down: str = ""  # why the sink was skipped or stopped, if it was


@dataclass
class CycleResult:
    poll: PollResult
    sinks: dict[str, DeliveryResult] = field(default_factory=dict)


class Forwarder:
    """One forwarder over a state folder; `run_once()` is one poll plus one delivery pass."""

    def __init__(
        self,
        cfg: ForwardConfig,
        archive_path: str = "",
        *,
        client: DefenderClient | None = None,
        sinks: list[Sink] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not cfg.sinks and sinks is None:
            raise ConfigError("forward.sinks", "no sink configured: add at least one [[forward.sinks]]")
        self.cfg = cfg
        self.merge = MERGES[cfg.merge]
        self._lock_fd = _lock_state_dir(cfg.state_dir)
        self.state = ForwardState(cfg.state_dir)
        self.dead = DeadLetterBox(cfg.state_dir)
        self.sinks: list[Sink] = (
            sinks if sinks is not None else [build_sink(s, archive_path) for s in cfg.sinks]
        )
        names = [s.name for s in self.sinks]
        if len(set(names)) != len(names):
            raise ConfigError("forward.sinks", "sink names must be unique (they key the ledger)")
        self._batch = {s.name: c.batch_size for s, c in zip(self.sinks, cfg.sinks, strict=False)}
        self._retry = {s.name: c.retry_seconds for s, c in zip(self.sinks, cfg.sinks, strict=False)}
        self._client = client
        self._machines: MachineCache | None = None
        self._clock = clock
        self._down_until: dict[str, float] = {}

    @property
    def client(self) -> DefenderClient:
        if self._client is None:
            self._client = DefenderClient(self.cfg.defender)
        return self._client

    @property
    def machines(self) -> MachineCache:
        if self._machines is None:
            self._machines = MachineCache(
                self.client,
                self.cfg.defender.machine_cache_seconds,
                full_refresh_pages=self.cfg.defender.machine_full_refresh_pages,
            )
        return self._machines

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()
        if self._client is not None:
            self._client.close()
        self.state.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the flock
            self._lock_fd = None

    # -- poll ------------------------------------------------------------------------------------
    def start_cursor(self) -> datetime:
        if self.cfg.start_from:
            try:
                return parse_datetime(self.cfg.start_from)
            except Exception:
                raise ConfigError("forward.start_from", "must be an ISO 8601 date-time") from None
        return datetime.now(UTC) - timedelta(hours=self.cfg.start_lookback_hours)

    def poll(self) -> PollResult:
        cursor = self.state.cursor()
        since = (cursor - timedelta(seconds=self.cfg.overlap_seconds)) if cursor else self.start_cursor()
        calls_before = self.client.calls
        alerts = self.client.alerts_since(since)
        machines = self.machines.get_many(str(a.get("machineId") or "") for a in alerts)
        records: list[tuple[str, str, dict[str, Any]]] = []
        for alert in alerts:
            if not alert.get("id") or not alert.get("lastUpdateTime"):
                log.warning("alert without id or lastUpdateTime skipped: %r", str(alert)[:200])
                continue
            machine = machines.get(str(alert.get("machineId") or ""))
            records.append((str(alert["id"]), str(alert["lastUpdateTime"]), self.merge(alert, machine)))
        high = max((alert_time(a) for a in alerts if a.get("lastUpdateTime")), default=None)
        queued = self.state.enqueue([s.name for s in self.sinks], records, high, _now_text())
        calls = self.client.calls - calls_before
        self.state.bump("api_calls", calls)
        self.state.bump("alert_versions_polled", len(records))
        if cursor is not None:
            self.state.prune_ledger(cursor - timedelta(seconds=self.cfg.overlap_seconds) - timedelta(hours=1))
        new_cursor = self.state.cursor()
        return PollResult(len(records), queued, calls, new_cursor.isoformat() if new_cursor else "")

    # -- deliver ---------------------------------------------------------------------------------
    def deliver(self, progress: Callable[[int, int | None], None] | None = None) -> dict[str, DeliveryResult]:
        """Drain every sink's queue; `progress(records settled, records queued)` after each delivery unit."""
        results: dict[str, DeliveryResult] = {}
        total = sum(self.state.pending_count(s.name) for s in self.sinks) if progress is not None else 0

        def tick() -> None:
            if progress is not None:
                done = sum(r.sent + r.dead for r in results.values())
                progress(done, max(total, done))

        tick()
        for sink in self.sinks:
            res = results[sink.name] = DeliveryResult()
            if self._down_until.get(sink.name, 0.0) > self._clock():
                res.down = "waiting before retrying a sink that was down"
                res.pending = self.state.pending_count(sink.name)
                continue
            try:
                self._drain(sink, res, tick)
            except SinkUnavailable as exc:
                res.down = str(exc)
                self._down_until[sink.name] = self._clock() + self._retry.get(sink.name, 30.0)
                log.warning(
                    "sink %s is down, %d records stay queued: %s",
                    sink.name,
                    self.state.pending_count(sink.name),
                    exc,
                )
            res.pending = self.state.pending_count(sink.name)
        return results

    def _drain(self, sink: Sink, res: DeliveryResult, tick: Callable[[], None] = lambda: None) -> None:
        batch_size = max(1, self._batch.get(sink.name, 500))
        while True:
            batch = self.state.pending(sink.name, batch_size * 4)
            if not batch:
                return
            for unit in sink.units([p.record for p in batch]):
                self._send_unit(sink, [batch[i] for i in unit], res)
                tick()

    def _send_unit(self, sink: Sink, items: list[Pending], res: DeliveryResult) -> None:
        try:
            sink.send([p.record for p in items])
        except SinkRejected as exc:
            if len(items) > 1:  # find the culprit(s): halves are sent on their own
                half = len(items) // 2
                self._send_unit(sink, items[:half], res)
                self._send_unit(sink, items[half:], res)
                return
            path = self.dead.put(
                sink.name,
                [p.record for p in items],
                [(p.alert_id, p.last_update) for p in items],
                str(exc),
                exc.status,
            )
            self.state.settle(items, "dead", _now_text())
            res.dead += len(items)
            log.error(
                "sink %s rejected alert %s (%s): dead-lettered to %s", sink.name, items[0].alert_id, exc, path
            )
            return
        except SinkUnavailable:
            raise
        except ForwardError as exc:
            raise SinkUnavailable(str(exc)) from None
        self.state.settle(items, "sent", _now_text())
        res.sent += len(items)

    # -- loops -----------------------------------------------------------------------------------
    def run_once(self, progress: Callable[[int, int | None], None] | None = None) -> CycleResult:
        """One poll, then one delivery pass; `progress` as for `deliver`."""
        poll = self.poll()
        return CycleResult(poll, self.deliver(progress))

    def run_follow(
        self, stop: threading.Event, on_cycle: Callable[[CycleResult], None] | None = None
    ) -> None:
        """Poll every poll_seconds until `stop` is set; a failed poll is logged and retried next cycle."""
        while not stop.is_set():
            try:
                result = self.run_once()
                if on_cycle:
                    on_cycle(result)
            except ForwardError as exc:
                log.error("forward cycle failed, retrying next cycle: %s", exc)
                self.deliver()  # queued records can still go out while the API is unhappy
            stop.wait(self.cfg.poll_seconds)

    # -- dead letters ----------------------------------------------------------------------------
    def replay_dead_letters(self) -> dict[str, DeliveryResult]:
        results: dict[str, DeliveryResult] = {}
        by_name = {s.name: s for s in self.sinks}
        for letter in self.dead.list():
            res = results.setdefault(letter.sink, DeliveryResult())
            sink = by_name.get(letter.sink)
            if sink is None:
                res.down = f"sink {letter.sink} is no longer configured"
                continue
            if res.down:
                continue
            try:
                sink.send(letter.records)
            except SinkRejected as exc:
                self.dead.rejected_again(letter, str(exc), exc.status)
                res.dead += len(letter.records)
                continue
            except ForwardError as exc:
                res.down = str(exc)
                continue
            self.state.mark_replayed(letter.sink, letter.keys, _now_text())
            self.dead.remove(letter)
            res.sent += len(letter.records)
        return results


def forward_status(cfg: ForwardConfig) -> dict[str, Any]:
    """Cursor, queue, ledger and dead-letter counts per configured sink, read from the state folder."""
    state = ForwardState(cfg.state_dir)
    dead = DeadLetterBox(cfg.state_dir)
    try:
        cursor = state.cursor()
        counters = state.counters()
        names = [s.name for s in cfg.sinks] or sorted({k.split(":", 1)[0] for k in counters if ":" in k})
        per_sink = {
            name: {
                "pending": state.pending_count(name),
                "sent": counters.get(f"{name}:sent", 0),
                "dead_lettered": counters.get(f"{name}:dead", 0),
                "replayed": counters.get(f"{name}:replayed", 0),
                "dead_letter_files": len(dead.list(name)),
                "ledger_rows": state.ledger_count(name),
            }
            for name in names
        }
        return {
            "state": str(state.path),
            "cursor": cursor.isoformat() if cursor else None,
            "api_calls": counters.get("api_calls", 0),
            "alert_versions_polled": counters.get("alert_versions_polled", 0),
            "sinks": per_sink,
        }
    finally:
        state.close()
