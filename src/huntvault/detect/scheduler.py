"""The detection scheduler: each rule's windows in order, once ingestion covers them, crash-safe and one at a time."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from huntvault.detect.alerts import decide
from huntvault.detect.engine import QueryRunner, unshift, window_query
from huntvault.detect.model import Rule
from huntvault.detect.state import DetectState
from huntvault.detect.store import AlertStore, SinkDelivery
from huntvault.detect.watermark import Watermark
from huntvault.errors import DetectError, KqlError

log = logging.getLogger("huntvault.detect")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

#: Named points of a window run where tests inject a crash (`crash_at`).
CRASH_POINTS = ("after-query", "after-record", "after-store")


def align_down(t: datetime, every: timedelta) -> datetime:
    """The latest multiple of `every` since the epoch at or before `t` (windows are epoch-aligned)."""
    step = every.total_seconds()
    n = (t - _EPOCH).total_seconds() // step
    return _EPOCH + timedelta(seconds=n * step)


@dataclass
class WindowResult:
    rule_id: str
    start: datetime
    end: datetime
    rows: int = 0
    alerts: int = 0
    alert_ids: list[str] = field(default_factory=list)
    suppressed: int = 0
    already_reported: int = 0
    seconds: float = 0.0  # whole window (query, decision, state)
    query_seconds: float = 0.0


@dataclass
class CycleReport:
    windows: list[WindowResult] = field(default_factory=list)
    redelivered: int = 0  # computed windows from an earlier (crashed) run whose alerts were delivered now
    waiting: dict[str, str] = field(default_factory=dict)  # rule id -> why no window ran
    busy: list[str] = field(default_factory=list)  # rules locked by another runner
    errors: dict[str, str] = field(default_factory=dict)
    sinks: dict[str, SinkDelivery] = field(default_factory=dict)  # sink name -> its delivery pass

    @property
    def alerts(self) -> int:
        return sum(w.alerts for w in self.windows)


class Scheduler:
    """Runs rules window by window: [end - lookback, end) for ends on the rule's `every` grid.

    A window runs once `end` is both past (`clock`) and covered by ingestion (`watermark`). Its
    alerts, the rows it reported and the suppression it implies are committed to the state in one
    transaction together with the rule's progress; the alerts are then written to the store and the
    window marked done. A crash in between leaves a `computed` window whose stored alerts are
    delivered again (idempotently) before the rule runs anything else.
    """

    def __init__(
        self,
        rules: list[Rule],
        state: DetectState,
        runner: QueryRunner,
        store: AlertStore,
        *,
        watermark: Watermark,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        start: datetime | None = None,
        max_windows: int = 48,
        crash_at: Callable[[str, Rule, datetime], None] | None = None,
        reload: Callable[[], list[Rule]] | None = None,
        poll_seconds: float = 30.0,
        on_cycle: Callable[[CycleReport], None] | None = None,
    ) -> None:
        self.set_rules(rules)
        self.reload = reload
        self.state = state
        self.runner = runner
        self.store = store
        self.watermark = watermark
        self.clock = clock
        self.start = start
        self.max_windows = max_windows
        self._progress: Callable[[int, int | None], None] | None = None  # of the cycle running now
        self._due = 0
        self.crash_at = crash_at or (lambda point, rule, end: None)
        self.poll_seconds = poll_seconds
        self.on_cycle = on_cycle

    def set_rules(self, rules: list[Rule]) -> None:
        ids = [r.id for r in rules]
        if len(set(ids)) != len(ids):
            raise DetectError("rule ids must be unique")
        self.rules = [r for r in rules if r.enabled]

    def _reload(self, report: CycleReport) -> None:
        """Pick up edited, added and removed rule files; a folder with errors keeps the rules running as they were."""
        if self.reload is None:
            return
        try:
            self.set_rules(self.reload())
        except DetectError as exc:
            report.errors["(rules)"] = f"rules not reloaded: {exc}"
            log.error("rules not reloaded, the previous set keeps running: %s", exc)

    # -- windows --------------------------------------------------------------------------------
    def next_end(self, rule: Rule, limit: datetime) -> datetime:
        last = self.state.last_end(rule.id)
        if last is not None:
            return last + rule.every
        if self.start is not None:
            return align_down(self.start, rule.every) + rule.every
        return align_down(limit, rule.every)

    def limit(self) -> datetime | None:
        mark = self.watermark()
        if mark is None:
            return None
        return min(mark, self.clock())

    def run_window(self, rule: Rule, start: datetime, end: datetime) -> WindowResult:
        """Query one window, decide its alerts, commit them to the state, deliver them."""
        res = WindowResult(rule.id, start, end)
        t0 = time.perf_counter()
        text = window_query(rule.query, start, end)
        try:
            table = self.runner(text, end, (start, end))
        except KqlError as exc:
            raise unshift(exc, rule.query, text) from None
        res.query_seconds = time.perf_counter() - t0
        self.crash_at("after-query", rule, end)
        dec = decide(
            rule,
            start,
            end,
            table,
            lambda keys: self.state.known_rows(rule.id, keys),
            lambda skey: self.state.suppressed_until(rule.id, skey),
        )
        items = [(a.id, a.record(), a.evidence_rows()) for a in dec.alerts]
        res.rows, res.alerts, res.suppressed, res.already_reported = (
            dec.rows,
            len(items),
            dec.suppressed,
            dec.already,
        )
        res.alert_ids = [a.id for a in dec.alerts]
        res.seconds = time.perf_counter() - t0
        self.state.record_window(
            rule.id,
            start,
            end,
            rows=dec.rows,
            seconds=res.seconds,
            alerts=items,
            new_rows=dec.new_rows,
            suppress_until=dec.suppress_until,
            suppressed=dec.suppressed,
            forget_before=end - rule.lookback - rule.every,
        )
        self.crash_at("after-record", rule, end)
        self.deliver_pending(rule)
        return res

    def deliver_pending(self, rule: Rule) -> int:
        """Store the alerts of every computed-but-undelivered window of `rule`; returns how many windows."""
        done = 0
        for pending in self.state.pending(rule.id):
            self.store.put(pending.alerts)
            self.crash_at("after-store", rule, pending.end)
            self.state.mark_done(rule.id, pending.end)
            done += 1
        return done

    # -- cycles ---------------------------------------------------------------------------------
    def due_windows(self, rule: Rule, limit: datetime | None) -> int:
        """How many windows of `rule` a cycle would run now (at most max_windows)."""
        if limit is None:
            return 0
        end = self.next_end(rule, limit)
        if end > limit:
            return 0
        return min(self.max_windows, int((limit - end) / rule.every) + 1)

    def run_once(
        self,
        stop: threading.Event | None = None,
        progress: Callable[[int, int | None], None] | None = None,
    ) -> CycleReport:
        """Every rule: finish undelivered windows, then run each due window (up to max_windows per rule).
        With `stop`, the cycle ends after the window in progress once it is set (nothing is lost: the next
        run starts at the next window). `progress(windows run, windows due)` is called after each window."""
        report = CycleReport()
        self._reload(report)
        refresh = getattr(self.runner, "refresh", None)
        if callable(refresh):  # see what was archived since the last cycle
            refresh()
        self._progress = progress
        if progress is not None:
            limit = self.limit()
            self._due = sum(self.due_windows(rule, limit) for rule in self.rules)
            progress(0, self._due)
        for rule in self.rules:
            if stop is not None and stop.is_set():
                break
            with self.state.rule_lock(rule.id) as mine:
                if not mine:
                    report.busy.append(rule.id)
                    continue
                try:
                    report.redelivered += self.deliver_pending(rule)
                    self._run_rule(rule, report, stop)
                except (DetectError, KqlError) as exc:
                    report.errors[rule.id] = str(exc)
                    log.error("rule %s failed: %s", rule.id, exc)
        report.sinks = self.store.flush()
        return report

    def _run_rule(self, rule: Rule, report: CycleReport, stop: threading.Event | None = None) -> None:
        limit = self.limit()
        if limit is None:
            report.waiting[rule.id] = "no ingestion watermark yet (nothing archived)"
            return
        end = self.next_end(rule, limit)
        ran = 0
        while end <= limit and ran < self.max_windows and not (stop is not None and stop.is_set()):
            report.windows.append(self.run_window(rule, end - rule.lookback, end))
            ran += 1
            end = end + rule.every
            if self._progress is not None:
                done = len(report.windows)
                self._progress(done, max(self._due, done))
        if not ran:
            report.waiting[rule.id] = (
                f"next window ends {end.isoformat()}, ingestion covers {limit.isoformat()}"
            )

    def run(self, stop: threading.Event) -> None:
        """Cycle until `stop` is set (the run-loop anatomy of huntvault.runloop); a cycle that ran max_windows
        for some rule is followed at once, otherwise the next waits `poll_seconds`. A window in progress when
        `stop` is set finishes (its state is committed) and the loop returns, so stopping loses nothing."""
        while not stop.is_set():
            report = self.run_once(stop)
            if self.on_cycle is not None:
                self.on_cycle(report)
            behind = any(
                sum(1 for w in report.windows if w.rule_id == r.id) >= self.max_windows for r in self.rules
            )
            if not behind:
                stop.wait(self.poll_seconds)


__all__ = ["CRASH_POINTS", "CycleReport", "Scheduler", "WindowResult", "align_down"]
