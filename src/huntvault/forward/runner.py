"""The forwarder run loop: poll alerts (each page stored at once), enrich, queue per sink, deliver, retry.

`Forwarder.run(stop)` never returns on a remote fault: the token endpoint, the Defender API and each
sink have a health (ok / down / paused, see forward.health) and are retried with backoff while the
others carry on. Only a configuration error found at start-up (`check()`) stops it.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from huntvault.config import ForwardConfig, SinkConfig
from huntvault.errors import ConfigError, ForwardError, RemoteConfigError, RemoteUnavailable, SinkRejected
from huntvault.forward.anatomy import Rewindable, Sink
from huntvault.forward.budget import Interrupted, stoppable_sleep
from huntvault.forward.deadletter import DeadLetterBox
from huntvault.forward.defender import DefenderClient, MachineCache, alert_time
from huntvault.forward.graph import ALERT_SOURCES
from huntvault.forward.health import OK, PAUSED, Health, now_text
from huntvault.forward.merge import MERGE_MODES, Merge
from huntvault.forward.sinks import build_sink, effective
from huntvault.forward.state import ForwardState, Pending, Queued
from huntvault.forward.testhook import KillHook
from huntvault.schema import parse_datetime

log = logging.getLogger("huntvault.forward")

DEFENDER = "defender"  # the health component of the Defender API (and its token endpoint)
#: a sink that rejected this many records one by one, and accepted none, refuses our configuration
ALL_REJECTED = 8
_LOCK_WAIT_SECONDS = 2.0


def _lock_state_dir(state_dir: str) -> int:
    """An exclusive lock on `<state_dir>/forward.lock`: two forwarders on one state would both send."""
    Path(state_dir).mkdir(parents=True, exist_ok=True)
    fd = os.open(str(Path(state_dir) / "forward.lock"), os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + _LOCK_WAIT_SECONDS  # `forward status` may hold it for an instant
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if time.monotonic() < deadline:
                time.sleep(0.05)
                continue
            os.close(fd)
            raise ForwardError(
                f"another forwarder is running on {state_dir} (forward.lock is held)"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        return fd


@dataclass
class PollResult:
    alerts: int = 0  # alert versions returned by the API (overlap included)
    queued: int = 0  # deliveries queued (new alerts and updates, summed over sinks)
    api_calls: int = 0
    cursor: str = ""
    error: str = ""  # why the poll failed (the queue still went out)
    paused: bool = False  # the failure is a configuration the API refuses


@dataclass
class DeliveryResult:
    sent: int = 0
    dead: int = 0
    pending: int = 0
    down: str = ""  # why the sink was skipped or stopped, if it was
    paused: bool = False  # the sink refuses our configuration: fix `setting`
    setting: str = ""


@dataclass
class CycleResult:
    poll: PollResult
    sinks: dict[str, DeliveryResult] = field(default_factory=dict)


class Forwarder:
    """One forwarder over a state folder: `run(stop)` polls and delivers until `stop` is set;
    `run_once()` is one poll plus one delivery pass."""

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
        self._lock_fd: int | None = _lock_state_dir(cfg.state_dir)
        try:
            self._setup(cfg, archive_path, client, sinks, clock)
        except BaseException:
            self._release()
            raise

    def _setup(
        self,
        cfg: ForwardConfig,
        archive_path: str,
        client: DefenderClient | None,
        sinks: list[Sink] | None,
        clock: Callable[[], float],
    ) -> None:
        self.state = ForwardState(cfg.state_dir)
        self.dead = DeadLetterBox(cfg.state_dir)
        configs = [effective(s, cfg.merge) for s in cfg.sinks]
        self.sinks: list[Sink] = (
            sinks if sinks is not None else [build_sink(c, archive_path) for c in configs]
        )
        names = [s.name for s in self.sinks]
        if len(set(names)) != len(names):
            raise ConfigError("forward.sinks", "sink names must be unique (they key the ledger)")
        by_name = {c.name: c for c in configs}
        self.sink_cfgs: dict[str, SinkConfig] = {
            n: by_name.get(n) or SinkConfig(name=n, kind="custom", merge=cfg.merge) for n in names
        }
        self._merges: dict[str, Merge] = {n: MERGE_MODES[c.merge].merge for n, c in self.sink_cfgs.items()}
        self._client = client
        self._machines: MachineCache | None = None
        self._clock = clock
        self.health: dict[str, Health] = {
            DEFENDER: Health(
                self.state,
                DEFENDER,
                what="the Defender API",
                base_seconds=cfg.poll_seconds,
                max_seconds=max(cfg.max_retry_seconds, cfg.poll_seconds),
                clock=clock,
            )
        }
        for n, c in self.sink_cfgs.items():
            self.health[n] = Health(
                self.state,
                n,
                what=f"sink {n}",
                base_seconds=c.retry_seconds,
                max_seconds=max(c.max_retry_seconds, c.retry_seconds),
                clock=clock,
            )
        self.hook = KillHook.from_env()
        self._stop = threading.Event()
        #: measured windows (seconds): "page" = answer read -> page stored; "ack" = sink acknowledged
        #: a request -> ledger committed (the one window where a kill re-sends a request)
        self.windows: dict[str, deque[float]] = {"page": deque(maxlen=10_000), "ack": deque(maxlen=10_000)}

    @property
    def client(self) -> DefenderClient:
        if self._client is None:
            self._client = ALERT_SOURCES[self.cfg.defender.source](self.cfg.defender)
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

    def _release(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the flock
            self._lock_fd = None

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()
        if self._client is not None:
            self._client.close()
        self.state.close()
        self._release()

    # -- start-up check ------------------------------------------------------------------------------
    def check(self) -> list[str]:
        """What can be checked before the first cycle: tokens for the API and each sink, and one API call.

        Raises RemoteConfigError (naming the setting) when a remote refuses the configuration;
        an outage is only reported (returned as warnings): the run loop will retry.
        """
        self.start_cursor()  # a bad start_from is a start-up error too
        warnings: list[str] = []
        calls = self.client.calls
        probes: list[tuple[str, Callable[[], Any]]] = [("the alert API", self.client.probe)]
        for sink in self.sinks:
            tokens = getattr(sink, "tokens", None)
            if tokens is not None:
                probes.append((f"sink {sink.name}'s token endpoint", tokens.token))
        for what, probe in probes:
            try:
                probe()
            except RemoteUnavailable as exc:
                warnings.append(f"{what} is not reachable yet (will retry): {exc}")
        self.state.bump("api_calls", self.client.calls - calls)
        return warnings

    # -- poll ----------------------------------------------------------------------------------------
    def start_cursor(self) -> datetime:
        if self.cfg.start_from:
            try:
                return parse_datetime(self.cfg.start_from)
            except Exception:
                raise ConfigError("forward.start_from", "must be an ISO 8601 date-time") from None
        return datetime.now(UTC) - timedelta(hours=self.cfg.start_lookback_hours)

    def _store_page(self, page: list[dict[str, Any]]) -> None:
        """The first thing done with an alert page: store it durably (the inbox)."""
        self.hook("page-received")
        rows = []
        for alert in page:
            if not alert.get("id") or not alert.get("lastUpdateTime"):
                log.warning("alert without id or lastUpdateTime skipped: %r", str(alert)[:200])
                continue
            rows.append((str(alert["id"]), str(alert["lastUpdateTime"]), alert))
        self.state.stash(rows, now_text())
        self.windows["page"].append(time.perf_counter() - self.client.received_at)
        self.hook("page-stored")

    def _merged_inbox(self) -> list[Queued]:
        """The stored alert versions merged with their machines, one record per sink."""
        raws = self.state.inbox()
        own = [self.client.own_machine(a) for a in raws]  # Graph alerts carry their device
        wanted = [str(a.get("machineId") or "") for a, m in zip(raws, own, strict=True) if m is None]
        machines = self.machines.get_many(wanted) if wanted else {}
        items = []
        for alert, carried in zip(raws, own, strict=True):
            machine = carried if carried is not None else machines.get(str(alert.get("machineId") or ""))
            records = {name: merge(alert, machine) for name, merge in self._merges.items()}
            items.append(Queued(str(alert["id"]), str(alert["lastUpdateTime"]), records, alert, machine))
        return items

    def poll(self) -> PollResult:
        client = self.client
        calls_before = client.calls
        leftover = self._merged_inbox()  # versions a stopped run stored but did not queue
        if leftover:
            self.state.queue(leftover, None, now_text())
            self.hook("queued")
        cursor = self.state.cursor()
        since = (cursor - timedelta(seconds=self.cfg.overlap_seconds)) if cursor else self.start_cursor()
        client.on_page = self._store_page
        try:
            alerts = client.alerts_since(since)
        finally:
            client.on_page = None
        high = max((alert_time(a) for a in alerts if a.get("lastUpdateTime")), default=None)
        items = self._merged_inbox()
        calls = client.calls - calls_before
        prune = cursor - timedelta(seconds=self.cfg.overlap_seconds) - timedelta(hours=1) if cursor else None
        # one transaction: the outboxes, the cursor, the counters and the ledger prune
        queued = self.state.queue(
            items,
            high,
            now_text(),
            counts={"api_calls": calls, "alert_versions_polled": len(alerts)},
            prune_before=prune,
        )
        self.hook("queued")
        new_cursor = self.state.cursor()
        return PollResult(len(alerts), queued, calls, new_cursor.isoformat() if new_cursor else "")

    def _guarded_poll(self) -> PollResult:
        """A poll whose remote failure is recorded in the Defender API's health instead of raised."""
        health = self.health[DEFENDER]
        try:
            result = self.poll()
        except Interrupted:
            raise
        except (ForwardError, OSError) as exc:
            err = exc if isinstance(exc, ForwardError) else RemoteUnavailable(f"{type(exc).__name__}: {exc}")
            health.failed(err, queued=self.state.inbox_count())
            return PollResult(error=str(err), paused=health.status == PAUSED)
        health.ok()
        return result

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
            if self._stop.is_set():
                break
            res = results[sink.name] = DeliveryResult()
            health = self.health[sink.name]
            if not health.ready():
                res.down = f"{health.status}, next try in {health.wait_left():.0f} s: {health.error}"
            else:
                try:
                    self._drain(sink, res, tick)
                except Interrupted:
                    raise
                except (ForwardError, OSError) as exc:
                    err = exc if isinstance(exc, ForwardError) else RemoteUnavailable(str(exc))
                    health.failed(err, queued=self.state.pending_count(sink.name))
                    res.down = str(err)
                else:
                    health.ok()
            res.paused = health.status == PAUSED
            res.setting = health.setting
            res.pending = self.state.pending_count(sink.name)
        return results

    def _drain(self, sink: Sink, res: DeliveryResult, tick: Callable[[], None] = lambda: None) -> None:
        if isinstance(sink, Rewindable):
            mark = self.state.file_mark(sink.name)
            if mark is None:  # first use: what is in the file already is not ours to cut
                self.state.set_file_mark(sink.name, sink.position(), now_text())
            elif sink.position() > mark:  # a kill between an append and its ledger commit: undo the append
                sink.rewind(mark)
        batch_size = max(1, self.sink_cfgs[sink.name].batch_size)
        while not self._stop.is_set():
            batch = self.state.pending(sink.name, batch_size * 4)
            if not batch:
                return
            rejected: list[tuple[Pending, SinkRejected]] = []
            for unit in sink.units([p.record for p in batch]):
                if self._stop.is_set():
                    return
                self._send_unit(sink, [batch[i] for i in unit], res, rejected)
                tick()
            self._settle_rejected(sink, res, rejected)
            tick()

    def _send_unit(
        self,
        sink: Sink,
        items: list[Pending],
        res: DeliveryResult,
        rejected: list[tuple[Pending, SinkRejected]],
    ) -> None:
        try:
            sink.send([p.record for p in items])
        except SinkRejected as exc:
            if len(items) > 1:  # find the culprit(s): halves are sent on their own
                half = len(items) // 2
                self._send_unit(sink, items[:half], res, rejected)
                self._send_unit(sink, items[half:], res, rejected)
                return
            rejected.append((items[0], exc))
            if len(rejected) >= ALL_REJECTED and res.sent == 0:
                raise self._refuses_everything(sink, rejected) from None
            return
        acked = time.perf_counter()
        self.hook("unit-acked")
        mark = (sink.name, sink.position()) if isinstance(sink, Rewindable) else None
        self.state.settle(items, "sent", now_text(), file_mark=mark)
        self.windows["ack"].append(time.perf_counter() - acked)
        res.sent += len(items)
        self.hook("unit-committed")

    def _refuses_everything(
        self, sink: Sink, rejected: list[tuple[Pending, SinkRejected]]
    ) -> RemoteConfigError:
        first = rejected[0][1]
        setting = f"forward.sinks.{sink.name}"
        cfg = self.sink_cfgs[sink.name]
        if cfg.kind == "logs-ingestion":
            setting += ".stream (the DCR's stream declaration and the table must match the records)"
        return RemoteConfigError(
            setting,
            f"every record sent was rejected ({len(rejected)} one by one, none accepted): {first}; "
            "the records stay queued (run `huntvault forward init` for the table and DCR this record shape needs)",
            first.status,
        )

    def _settle_rejected(
        self, sink: Sink, res: DeliveryResult, rejected: list[tuple[Pending, SinkRejected]]
    ) -> None:
        """Records rejected one by one are bad records (dead-lettered) when others got through;
        when nothing got through the sink refuses everything: paused, nothing dead-lettered."""
        if not rejected:
            return
        if res.sent == 0:
            raise self._refuses_everything(sink, rejected)
        for item, exc in rejected:
            path = self.dead.put(
                sink.name, [item.record], [(item.alert_id, item.last_update)], str(exc), exc.status
            )
            self.state.settle([item], "dead", now_text())
            res.dead += 1
            log.error(
                "sink %s rejected alert %s (%s): dead-lettered to %s", sink.name, item.alert_id, exc, path
            )

    # -- loops -----------------------------------------------------------------------------------
    def _use_stop(self, stop: threading.Event) -> None:
        """Every wait (retry backoff, Retry-After, the call budget) ends as soon as `stop` is set."""
        self._stop = stop
        sleep = stoppable_sleep(stop)
        self.client.sleep = sleep
        self.client.budget.sleep = sleep
        for sink in self.sinks:
            if hasattr(sink, "sleep"):
                sink.sleep = sleep

    def run_once(
        self,
        stop: threading.Event | None = None,
        progress: Callable[[int, int | None], None] | None = None,
    ) -> CycleResult:
        """One poll (its failure is reported, not raised) and one delivery pass (`progress` as in `deliver`)."""
        if stop is not None:
            self._use_stop(stop)
        try:
            poll = self._guarded_poll()
            return CycleResult(poll, self.deliver(progress))
        except Interrupted:
            return CycleResult(PollResult(error="stopped"), {})

    def run(self, stop: threading.Event, on_cycle: Callable[[CycleResult], None] | None = None) -> None:
        """Poll every poll_seconds and deliver until `stop` is set; remote faults never end it."""
        self._use_stop(stop)
        next_poll = 0.0
        last_bug = ""
        while not stop.is_set():
            idle = self.cfg.poll_seconds
            try:
                poll = PollResult()
                defender = self.health[DEFENDER]
                if self._clock() >= next_poll and defender.ready():
                    poll = self._guarded_poll()
                    next_poll = self._clock() + self.cfg.poll_seconds
                result = CycleResult(poll, self.deliver())
                if on_cycle is not None:
                    on_cycle(result)
                idle = self._idle_seconds(next_poll)
                last_bug = ""
            except Interrupted:
                break
            except ConfigError:
                raise
            except Exception as exc:  # a bug must not end the loop either: its traceback, once
                if repr(exc) != last_bug:
                    log.exception("forward cycle failed unexpectedly (retrying every poll): %s", exc)
                last_bug = repr(exc)
                next_poll = self._clock() + self.cfg.poll_seconds
            stop.wait(idle)

    def _idle_seconds(self, next_poll: float) -> float:
        now = self._clock()
        waits = [max(next_poll, now + self.health[DEFENDER].wait_left()) - now]
        for sink in self.sinks:
            health = self.health[sink.name]
            if health.status != OK and self.state.pending_count(sink.name):
                waits.append(health.wait_left())
        return max(0.05, min(waits))

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
                res.paused = isinstance(exc, RemoteConfigError)
                continue
            self.state.mark_replayed(letter.sink, letter.keys, now_text())
            self.dead.remove(letter)
            res.sent += len(letter.records)
        return results
