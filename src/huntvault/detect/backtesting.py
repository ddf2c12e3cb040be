"""Backtesting: what a rule would have raised over history, exactly as the scheduler would have run it."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from huntvault.detect.engine import QueryRunner
from huntvault.detect.model import Rule, format_duration
from huntvault.detect.onepass import run_one_pass
from huntvault.detect.replay import replay
from huntvault.detect.scheduler import CycleReport
from huntvault.detect.store import MemoryAlertStore
from huntvault.errors import DetectError

#: How a backtest ran: the rule's query once over the whole range, or once per scheduled window.
ONE_PASS = "one-pass"
WINDOW_BY_WINDOW = "window-by-window"
#: `backtest(mode=...)`: `auto` takes one pass when the query can be rewritten, else window by window.
MODES = ("auto", ONE_PASS, WINDOW_BY_WINDOW)
#: Windows listed as the busiest in a report.
BUSIEST = 5


@dataclass(frozen=True)
class WindowCount:
    """One scheduled window of a backtest and what it raised."""

    start: datetime
    end: datetime
    alerts: int
    rows: int

    def to_json(self) -> dict[str, Any]:
        return {
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "alerts": self.alerts,
            "rows": self.rows,
        }


@dataclass(frozen=True)
class AlertSummary:
    """One alert a backtest raised (the fields of the alert record a reader compares)."""

    id: str
    window_end: str
    first_event: str
    last_event: str
    severity: str
    group_key: str
    row_count: int
    entities: tuple[tuple[str, str], ...]  # (kind, value), in the record's order

    @classmethod
    def of(cls, record: dict[str, Any]) -> AlertSummary:
        return cls(
            str(record["id"]),
            str(record["windowEnd"]),
            str(record["firstEventTime"]),
            str(record["lastEventTime"]),
            str(record["severity"]),
            str(record["groupKey"]),
            int(record["rowCount"]),
            tuple((str(e["kind"]), str(e["value"])) for e in record["entities"]),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "windowEnd": self.window_end,
            "firstEventTime": self.first_event,
            "lastEventTime": self.last_event,
            "severity": self.severity,
            "groupKey": self.group_key,
            "rowCount": self.row_count,
            "entities": [{"kind": k, "value": v} for k, v in self.entities],
        }


@dataclass
class BacktestReport:
    """What the rule would have raised between `start` and `end`, and how the backtest ran."""

    rule_id: str
    rule_name: str
    severity: str
    start: datetime
    end: datetime
    every: str
    lookback: str
    enabled: bool = True
    path: str = WINDOW_BY_WINDOW  # ONE_PASS or WINDOW_BY_WINDOW
    fallback: str = ""  # why one pass was not possible ("" when it ran, or was not asked for)
    windows: int = 0
    rows: int = 0
    alerts: int = 0
    suppressed: int = 0
    queries: int = 0  # engine queries run
    per_day: dict[str, int] = field(
        default_factory=dict
    )  # day of the window end -> alerts (days with alerts)
    entities: dict[str, dict[str, int]] = field(default_factory=dict)  # kind -> value -> alerts naming it
    busiest: list[WindowCount] = field(default_factory=list)
    alert_list: list[AlertSummary] = field(default_factory=list)
    seconds: float = 0.0
    query_seconds: float = 0.0
    slowest_window_seconds: float = 0.0

    @property
    def days(self) -> list[str]:
        """Every day a window of the range can end on, in order (the x axis of the alerts-per-day chart)."""
        first = (self.start + timedelta(microseconds=1)).date()
        last = self.end.date()
        return [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]

    @property
    def daily(self) -> list[int]:
        """Alerts per day over `days`, zero days included."""
        return [self.per_day.get(d, 0) for d in self.days]

    @property
    def estimated_per_day(self) -> float:
        """Expected alerts per day going forward: the backtest's alerts over the length of its range."""
        span = (self.end - self.start) / timedelta(days=1)
        return self.alerts / span if span > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule_id,
            "name": self.rule_name,
            "severity": self.severity,
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "every": self.every,
            "lookback": self.lookback,
            "enabled": self.enabled,
            "path": self.path,
            "fallback": self.fallback,
            "windows": self.windows,
            "queries": self.queries,
            "rows": self.rows,
            "alerts": self.alerts,
            "suppressed": self.suppressed,
            "alerts_per_day": self.per_day,
            "daily": [{"day": d, "alerts": n} for d, n in zip(self.days, self.daily, strict=True)],
            "estimated_alerts_per_day": round(self.estimated_per_day, 3),
            "entities": self.entities,
            "busiest_windows": [w.to_json() for w in self.busiest],
            "run_seconds": round(self.seconds, 3),
            "query_seconds": round(self.query_seconds, 3),
            "slowest_window_seconds": round(self.slowest_window_seconds, 3),
            "alert_list": [a.to_json() for a in self.alert_list],
        }


@dataclass
class FolderReport:
    """`detect backtest --all`: every rule of a folder over one range."""

    start: datetime
    end: datetime
    reports: list[BacktestReport] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # rule id (or file) -> why it was not backtested
    seconds: float = 0.0

    @property
    def alerts(self) -> int:
        return sum(r.alerts for r in self.reports)

    @property
    def per_day(self) -> dict[str, int]:
        total: Counter[str] = Counter()
        for r in self.reports:
            total.update(r.per_day)
        return dict(sorted(total.items()))

    def to_json(self) -> dict[str, Any]:
        return {
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "rules": len(self.reports),
            "alerts": self.alerts,
            "alerts_per_day": self.per_day,
            "estimated_alerts_per_day": round(sum(r.estimated_per_day for r in self.reports), 3),
            "paths": dict(Counter(r.path for r in self.reports)),
            "run_seconds": round(self.seconds, 3),
            "errors": self.errors,
            "reports": [r.to_json() for r in self.reports],
        }


def parse_when(text: str, end_of_day: bool = False) -> datetime:
    """`2026-10-01` (a whole day; with `end_of_day` the instant after it) or an ISO 8601 date-time."""
    raw = text.strip()
    try:
        if len(raw) == 10:
            d = date.fromisoformat(raw)
            t = datetime(d.year, d.month, d.day, tzinfo=UTC)
            return t + timedelta(days=1) if end_of_day else t
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise DetectError(f"not a date or ISO 8601 date-time: {text!r}") from None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)


def summarize(
    rule: Rule, start: datetime, end: datetime, cycle: CycleReport, store: MemoryAlertStore
) -> BacktestReport:
    """A replayed cycle -> the report (alerts per day of the window end, entities, busiest windows)."""
    rep = BacktestReport(
        rule.id,
        rule.name,
        rule.severity,
        start,
        end,
        format_duration(rule.every),
        format_duration(rule.lookback),
        rule.enabled,
    )
    per_day: Counter[str] = Counter()
    entities: dict[str, Counter[str]] = {}
    counts: list[WindowCount] = []
    for w in cycle.windows:
        rep.windows += 1
        rep.rows += w.rows
        rep.suppressed += w.suppressed
        rep.query_seconds += w.query_seconds
        rep.slowest_window_seconds = max(rep.slowest_window_seconds, w.seconds)
        if w.alert_ids or w.rows:
            counts.append(WindowCount(w.start, w.end, len(w.alert_ids), w.rows))
        for alert_id in w.alert_ids:
            record = store.alerts[alert_id]
            per_day[w.end.strftime("%Y-%m-%d")] += 1
            for ent in record["entities"]:
                entities.setdefault(ent["kind"], Counter())[ent["value"]] += 1
            rep.alert_list.append(AlertSummary.of(record))
    rep.alerts = len(rep.alert_list)
    rep.per_day = dict(sorted(per_day.items()))
    rep.entities = {k: dict(c.most_common()) for k, c in sorted(entities.items())}
    rep.busiest = sorted(counts, key=lambda w: (-w.alerts, -w.rows, w.end))[:BUSIEST]
    return rep


#: One-pass backtest: (rule, runner, start, end) -> (cycle, store, engine queries), or the reason it cannot run.
OnePass = Callable[[Rule, QueryRunner, datetime, datetime], "tuple[CycleReport, MemoryAlertStore, int] | str"]


def backtest(
    rule: Rule,
    runner: QueryRunner,
    start: datetime,
    end: datetime,
    *,
    mode: str = "auto",
    one_pass: OnePass = run_one_pass,
    progress: Callable[[int, int | None], None] | None = None,
) -> BacktestReport:
    """Backtest `rule` over (start, end]: in one pass when `one_pass` can rewrite its query (mode `auto` or
    `one-pass`), else window by window; the report says which path ran and why. `progress(windows done,
    windows)` follows the windows (a one-pass run reports them all at its end)."""
    if end <= start:
        raise DetectError("--to must be after --from")
    if mode not in MODES:
        raise DetectError(f"backtest mode must be one of {', '.join(MODES)}, not {mode!r}")
    t0 = time.perf_counter()
    fallback = ""
    if mode != WINDOW_BY_WINDOW:
        outcome = one_pass(rule, runner, start, end)
        if not isinstance(outcome, str):
            cycle, store, queries = outcome
            rep = summarize(rule, start, end, cycle, store)
            rep.path, rep.queries, rep.seconds = ONE_PASS, queries, time.perf_counter() - t0
            if progress is not None:
                progress(rep.windows, rep.windows)
            return rep
        if mode == ONE_PASS:
            raise DetectError(f"rule {rule.id} cannot be backtested in one pass: {outcome}")
        fallback = outcome
    cycle, store = replay(rule, runner, start, end, progress)
    rep = summarize(rule, start, end, cycle, store)
    rep.path, rep.fallback, rep.queries = WINDOW_BY_WINDOW, fallback, len(cycle.windows)
    rep.seconds = time.perf_counter() - t0
    return rep


def backtest_all(
    rules: list[Rule],
    runner: QueryRunner,
    start: datetime,
    end: datetime,
    *,
    mode: str = "auto",
    one_pass: OnePass = run_one_pass,
    progress: Callable[[Rule, BacktestReport | None], None] | None = None,
) -> FolderReport:
    """Backtest every rule; a rule that fails is named in `errors` and does not stop the others."""
    out = FolderReport(start, end)
    t0 = time.perf_counter()
    for rule in rules:
        rep: BacktestReport | None = None
        try:
            rep = backtest(rule, runner, start, end, mode=mode, one_pass=one_pass)
            out.reports.append(rep)
        except DetectError as exc:
            out.errors[rule.id] = str(exc)
        if progress is not None:
            progress(rule, rep)
    out.seconds = time.perf_counter() - t0
    return out


__all__ = [
    "BUSIEST",
    "MODES",
    "ONE_PASS",
    "WINDOW_BY_WINDOW",
    "AlertSummary",
    "BacktestReport",
    "FolderReport",
    "OnePass",
    "WindowCount",
    "backtest",
    "backtest_all",
    "parse_when",
    "summarize",
]
