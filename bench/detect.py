"""Benchmark of detection: backtesting throughput (rules/minute) and the scheduler's overhead over direct queries.

    .venv/bin/python bench/detect.py                       # the target: 50 rules, 30 days, 500 devices
    .venv/bin/python bench/detect.py --days 2 --devices 40  # what fits a busy 2-core machine

The archive comes from the tenant emulator (written straight into the archive, one commit per day).
The rules are the shipped example rules, repeated under new ids until there are --rules of them.
Timings are printed as ratios against a baseline measured in the same run: the same windowed KQL
queries run directly through the engine, without state, alert logic or storage.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from collections import defaultdict
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from huntvault.archive import Archive, Batch, archive_schema, conform, rows_to_arrow
from huntvault.detect import (
    ArchiveAlertStore,
    ArchiveRunner,
    DetectState,
    Rule,
    Scheduler,
    backtest,
    fixed_watermark,
    load_rules,
    window_query,
)
from huntvault.emulator import Exporter, ExportOptions

ROOT = Path(__file__).resolve().parents[1]
TICKS_PER_HOUR = 36_000_000_000


def build(path: Path, devices: int, days: float, per_device_day: int, end: str) -> tuple[int, Any, Any]:
    opt = ExportOptions(
        days=days,
        devices=devices,
        seed=3,
        end=end,
        events_per_device_day=per_device_day,
        unknown_table="",
        unknown_column="",
        dup_rate=0.0,
        late_rate=0.0,
    )
    ex = Exporter(opt, [], None)
    total = 0
    first, last = ex.start_ticks // TICKS_PER_HOUR, -(-ex.end_ticks // TICKS_PER_HOUR)
    with Archive(path) as arc:
        for day0 in range(first, last, 24):
            by_table: dict[str, list[dict[str, Any]]] = defaultdict(list)
            for hour in range(day0, min(day0 + 24, last)):
                for table, _t, row in ex.hour_rows(hour):
                    by_table[table].append(row)
            batch = Batch()
            for table, rows in by_table.items():
                batch.add(table, conform(rows_to_arrow(table, rows), archive_schema(table)))
                total += len(rows)
            batch.checkpoint("bench", "emulator", {"hour": min(day0 + 24, last)})
            arc.commit(batch)
    return total, ex.tenant.start, ex.tenant.end


def make_rules(n: int) -> list[Rule]:
    base, errors = load_rules(ROOT / "rules")
    if errors:
        raise SystemExit(f"shipped rules do not load: {errors[0]}")
    return [replace(base[i % len(base)], id=f"{base[i % len(base)].id}-{i:02d}") for i in range(n)]


def direct(rules: list[Rule], runner: ArchiveRunner, start: Any, end: Any) -> tuple[float, int]:
    """The baseline: each rule's windowed queries run straight through the engine."""
    t0 = time.perf_counter()
    windows = 0
    for rule in rules:
        w_end = start + rule.every
        while w_end <= end:
            w_start = w_end - rule.lookback
            runner(window_query(rule.query, w_start, w_end), w_end, (w_start, w_end))
            windows += 1
            w_end += rule.every
    return time.perf_counter() - t0, windows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rules", type=int, default=50)
    ap.add_argument("--days", type=float, default=30)
    ap.add_argument("--devices", type=int, default=500)
    ap.add_argument("--events-per-device-day", type=int, default=2000)
    ap.add_argument(
        "--overhead-rules", type=int, default=8, help="rules used for the scheduler-vs-direct comparison"
    )
    ap.add_argument("--end", default="2026-11-01T00:00:00Z")
    ap.add_argument("--keep", type=Path, default=None, help="reuse/keep the archive in this folder")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="hv-bench-detect-"))
    archive = args.keep or tmp / "archive"
    try:
        t0 = time.perf_counter()
        if args.keep and (archive / "_huntvault").exists():
            from huntvault.archive import status

            rows = status(archive).total_rows
            from huntvault.detect import parse_when

            end = parse_when(args.end)
            start = end - timedelta(days=args.days)
        else:
            rows, start, end = build(archive, args.devices, args.days, args.events_per_device_day, args.end)
        print(
            f"archive: {args.devices} devices x {args.days:g} days x {args.events_per_device_day} events/device/day "
            f"= {rows:,} rows, built in {time.perf_counter() - t0:.1f} s"
        )
        rules = make_rules(args.rules)

        # 1. backtesting throughput
        t1 = time.perf_counter()
        c1 = time.process_time()
        alerts = windows = 0
        runner = ArchiveRunner(archive)
        for rule in rules:
            rep = backtest(rule, runner, start, end)
            alerts += rep.alerts
            windows += rep.windows
        bt = time.perf_counter() - t1
        cpu = time.process_time() - c1
        print(
            f"backtest: {len(rules)} rules over {args.days:g} days = {windows} windows, {alerts} alerts, "
            f"{bt:.1f} s -> {len(rules) / (bt / 60):.1f} rules/minute ({windows / bt:.1f} windows/s); "
            f"this process's CPU time {cpu:.1f} s -> {len(rules) / (cpu / 60):.1f} rules/CPU-minute "
            f"(wall/CPU {bt / cpu:.1f}: how shared the machine was)"
        )

        # 2. scheduler overhead against the same queries run directly (same rules, same windows)
        subset = rules[: args.overhead_rules]
        direct(subset[:1], ArchiveRunner(archive), start, start + 4 * subset[0].every)  # warm the engine up
        before_s, base_windows = direct(subset, ArchiveRunner(archive), start, end)
        state_dir = tmp / "state"
        state = DetectState(state_dir)
        store = ArchiveAlertStore(archive, state_dir)
        sched = Scheduler(
            subset,
            state,
            ArchiveRunner(archive),
            store,
            watermark=fixed_watermark(end),
            clock=lambda: end,
            start=start,
            max_windows=10**9,
        )
        t2 = time.perf_counter()
        cycle = sched.run_once()
        sched_s = time.perf_counter() - t2
        store.close()
        state.close()
        assert len(cycle.windows) == base_windows, (len(cycle.windows), base_windows)
        after_s, _ = direct(subset, ArchiveRunner(archive), start, end)
        base_s = (
            before_s + after_s
        ) / 2  # the baseline runs before and after, against drift on a shared machine
        print(
            f"scheduler: {len(subset)} rules, {base_windows} windows: direct queries {base_s:.1f} s "
            f"(before {before_s:.1f} s, after {after_s:.1f} s), "
            f"scheduler (durable state, alert store) {sched_s:.1f} s -> overhead x{sched_s / base_s:.3f} "
            f"({(sched_s - base_s) / base_windows * 1000:+.1f} ms per window), {cycle.alerts} alerts stored"
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
