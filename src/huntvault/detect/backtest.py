"""Backtesting: replay a rule over history window by window, exactly as the scheduler would have run it."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from huntvault.detect.engine import QueryRunner
from huntvault.detect.model import Rule, format_duration
from huntvault.detect.scheduler import Scheduler
from huntvault.detect.state import DetectState
from huntvault.detect.store import MemoryAlertStore
from huntvault.detect.watermark import fixed_watermark
from huntvault.errors import DetectError


@dataclass
class BacktestReport:
    """What the rule would have raised between `start` and `end`."""

    rule_id: str
    rule_name: str
    start: datetime
    end: datetime
    every: str
    lookback: str
    windows: int = 0
    rows: int = 0
    alerts: int = 0
    suppressed: int = 0
    per_day: dict[str, int] = field(default_factory=dict)  # day of the window end -> alerts
    entities: dict[str, dict[str, int]] = field(default_factory=dict)  # kind -> value -> alerts naming it
    alert_list: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    query_seconds: float = 0.0
    slowest_window_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule_id,
            "name": self.rule_name,
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "every": self.every,
            "lookback": self.lookback,
            "windows": self.windows,
            "rows": self.rows,
            "alerts": self.alerts,
            "suppressed": self.suppressed,
            "alerts_per_day": self.per_day,
            "entities": self.entities,
            "run_seconds": round(self.seconds, 3),
            "query_seconds": round(self.query_seconds, 3),
            "slowest_window_seconds": round(self.slowest_window_seconds, 3),
            "alert_list": self.alert_list,
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


def backtest(
    rule: Rule,
    runner: QueryRunner,
    start: datetime,
    end: datetime,
    progress: Callable[[int, int | None], None] | None = None,
) -> BacktestReport:
    """Run every window of `rule` whose end falls in (start, end], with fresh in-memory state;
    `progress(windows run, windows)` after each window."""
    if end <= start:
        raise DetectError("--to must be after --from")
    state = DetectState(None)
    store = MemoryAlertStore()
    sched = Scheduler(
        [rule],
        state,
        runner,
        store,
        watermark=fixed_watermark(end),
        clock=lambda: end,
        start=start,
        max_windows=1_000_000,
    )
    rep = BacktestReport(
        rule.id, rule.name, start, end, format_duration(rule.every), format_duration(rule.lookback)
    )
    t0 = time.perf_counter()
    try:
        cycle = sched.run_once(progress)
    finally:
        state.close()
    rep.seconds = time.perf_counter() - t0
    if rule.id in cycle.errors:
        raise DetectError(f"rule {rule.id}: {cycle.errors[rule.id]}")
    per_day: Counter[str] = Counter()
    entities: dict[str, Counter[str]] = {}
    for w in cycle.windows:
        rep.windows += 1
        rep.rows += w.rows
        rep.suppressed += w.suppressed
        rep.query_seconds += w.query_seconds
        rep.slowest_window_seconds = max(rep.slowest_window_seconds, w.seconds)
        for alert_id in w.alert_ids:
            record = store.alerts[alert_id]
            per_day[w.end.strftime("%Y-%m-%d")] += 1
            for ent in record["entities"]:
                entities.setdefault(ent["kind"], Counter())[ent["value"]] += 1
            rep.alert_list.append(
                {
                    k: record[k]
                    for k in (
                        "id",
                        "windowEnd",
                        "firstEventTime",
                        "lastEventTime",
                        "severity",
                        "groupKey",
                        "rowCount",
                        "entities",
                    )
                }
            )
    rep.alerts = len(rep.alert_list)
    rep.per_day = dict(sorted(per_day.items()))
    rep.entities = {k: dict(c.most_common()) for k, c in sorted(entities.items())}
    return rep


__all__ = ["BacktestReport", "backtest", "parse_when"]
