"""Replaying a rule's windows through the scheduler with in-memory state: the core of every backtest."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from huntvault.detect.engine import QueryRunner
from huntvault.detect.model import Rule
from huntvault.detect.scheduler import CycleReport, Scheduler
from huntvault.detect.state import DetectState
from huntvault.detect.store import MemoryAlertStore
from huntvault.detect.watermark import fixed_watermark
from huntvault.errors import DetectError


def replay(
    rule: Rule,
    runner: QueryRunner,
    start: datetime,
    end: datetime,
    progress: Callable[[int, int | None], None] | None = None,
) -> tuple[CycleReport, MemoryAlertStore]:
    """Every window of `rule` whose end falls in (start, end], through the scheduler with fresh in-memory state
    and an in-memory alert store (nothing is written, nothing is sent); `progress(windows run, windows)`."""
    state = DetectState(None)
    store = MemoryAlertStore()
    sched = Scheduler(
        [replace(rule, enabled=True)],  # a disabled rule is backtested before it is enabled
        state,
        runner,
        store,
        watermark=fixed_watermark(end),
        clock=lambda: end,
        start=start,
        max_windows=10**9,
    )
    try:
        cycle = sched.run_once(progress=progress)
    finally:
        state.close()
    if rule.id in cycle.errors:
        raise DetectError(f"rule {rule.id}: {cycle.errors[rule.id]}")
    return cycle, store


__all__ = ["replay"]
