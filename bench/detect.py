"""Benchmark of backtesting: 50 rules (the shipped ones plus Sigma-converted ones) over 30 days of a 500-device
emulated tenant, one pass per rule, against window-by-window replay measured on a sample in the same run.

    .venv/bin/python bench/detect.py                           # the target: 50 rules, 30 days, 500 devices
    .venv/bin/python bench/detect.py --days 3 --devices 50     # a quick run

The archive is generated once and cached under bench/data/ (gitignored; generation time is printed separately, and
only when the folder is missing): the tenant emulator generates the last --distinct-days days (default 3, with every
planted attack story), and earlier days replay them with their timestamps shifted, so 30 days of 500 devices take
minutes to build instead of the emulator's ~25 CPU-minutes (the queries see the same volume per day). Every rule is backtested over the whole range
(`backtest_all`, one pass where the query allows it). The baseline is the window-by-window replay (one query per
scheduled window, the scheduler's own path) of a sample of rules over the last --sample-hours of the range: its
cost per window, times the windows of all 50 rules over the range, is the window-by-window estimate the ratio
divides. The sample's alerts are checked against the one-pass alerts of the same windows.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import time
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from huntvault.archive import Archive, Batch, archive_schema, conform, rows_to_arrow, status
from huntvault.detect import ArchiveRunner, Rule, backtest, backtest_all, load_rules, parse_when

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "bench" / "data"
SIGMA = ROOT / "tests" / "fixtures" / "detect" / "sigma"
TICKS_PER_HOUR = 36_000_000_000
CHUNK_HOURS = 4  # hours generated per worker task and per archive commit


def _options(devices: int, days: float, per_device_day: int, end: str) -> Any:
    from huntvault.emulator import ExportOptions

    return ExportOptions(
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


def _chunk(args: tuple[Any, int, int]) -> dict[str, pa.Table]:
    """Rows of hours [first, last) as archive-typed Arrow tables (run in a worker process)."""
    from huntvault.emulator import Exporter

    opt, first, last = args
    ex = Exporter(opt, [], None)
    by_table: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for hour in range(first, last):
        for table, _t, row in ex.hour_rows(hour):
            by_table[table].append(row)
    return {t: conform(rows_to_arrow(t, rows), archive_schema(t)) for t, rows in by_table.items()}


def _shifted(data: pa.Table, by: timedelta) -> pa.Table:
    """The rows with every timestamp column moved by `by` (a replayed day of the tenant)."""
    cols = []
    for f in data.schema:
        col = data.column(f.name)
        cols.append(pc.add(col, pa.scalar(by, pa.duration("us"))) if pa.types.is_timestamp(f.type) else col)
    return pa.Table.from_arrays(cols, schema=data.schema)


def build(
    path: Path, devices: int, days: float, per_device_day: int, end: str, jobs: int, distinct: int
) -> int:
    """Generate the emulated tenant's last `distinct` days (hour chunks in `jobs` processes) into an archive at
    `path`, each chunk also replayed `distinct` days earlier, and earlier again, until `days` are covered."""
    from huntvault.emulator import Exporter

    span = min(days, distinct)
    opt = _options(devices, span, per_device_day, end)
    ex = Exporter(opt, [], None)
    first, last = ex.start_ticks // TICKS_PER_HOUR, -(-ex.end_ticks // TICKS_PER_HOUR)
    tasks = [(opt, h, min(h + CHUNK_HOURS, last)) for h in range(first, last, CHUNK_HOURS)]
    copies = math.ceil(days / span)
    total = 0
    tmp = path.with_name(path.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    with Archive(tmp) as arc, ProcessPoolExecutor(max_workers=jobs) as pool:
        for i, tables in enumerate(pool.map(_chunk, tasks)):
            for k in range(copies):
                batch = Batch()
                for table, data in tables.items():
                    part = data if k == 0 else _shifted(data, -timedelta(days=k * span))
                    batch.add(table, part)
                    total += part.num_rows
                batch.checkpoint("bench", "emulator", {"chunk": i, "copy": k})
                arc.commit(batch)
            if i % 6 == 5:
                print(
                    f"  generated {tasks[i][2] - first} of {last - first} hours x {copies}, {total:,} rows",
                    flush=True,
                )
    tmp.rename(
        path
    )  # not compacted: about six parts per table and day, as a live archive has before `compact`
    return total


def make_rules(n: int) -> list[Rule]:
    """The shipped rules and the Sigma test rules that convert (enabled), repeated under new ids up to `n`."""
    shipped, errors = load_rules(ROOT / "rules")
    sigma, sigma_errors = load_rules(SIGMA)
    if errors or sigma_errors:
        raise SystemExit(f"rules do not load: {(errors + sigma_errors)[0]}")
    base = shipped + [r for r in sigma if r.enabled]
    return [
        base[i] if i < len(base) else replace(base[i % len(base)], id=f"{base[i % len(base)].id}-{i:02d}")
        for i in range(n)
    ]


def windows_of(rule: Rule, start: datetime, end: datetime) -> int:
    from huntvault.detect.onepass import Grid

    return Grid.of(rule, start, end).count


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rules", type=int, default=50)
    ap.add_argument("--days", type=float, default=30)
    ap.add_argument("--devices", type=int, default=500)
    ap.add_argument("--events-per-device-day", type=int, default=2000)
    ap.add_argument("--end", default="2026-11-01T00:00:00Z")
    ap.add_argument(
        "--sample-rules", type=int, default=4, help="rules replayed window by window (the baseline)"
    )
    ap.add_argument("--sample-hours", type=float, default=24, help="hours of windows the baseline replays")
    ap.add_argument("--jobs", type=int, default=2, help="processes generating the archive")
    ap.add_argument(
        "--distinct-days",
        type=int,
        default=3,
        help="days the emulator generates; earlier days replay them with shifted timestamps (the emulator needs "
        "about 25 CPU-minutes for 30 distinct days of 500 devices)",
    )
    ap.add_argument("--data", type=Path, default=DATA, help="where generated archives are cached")
    args = ap.parse_args()

    name = f"detect-{args.devices}dev-{args.days:g}d-{args.events_per_device_day}epd-{args.distinct_days}distinct"
    archive = args.data / name
    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} CPUs, load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    if not (archive / "_huntvault").exists():
        archive.parent.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        rows = build(
            archive,
            args.devices,
            args.days,
            args.events_per_device_day,
            args.end,
            args.jobs,
            args.distinct_days,
        )
        print(f"archive generated: {rows:,} rows in {time.perf_counter() - t0:.1f} s -> {archive}")
    else:
        rows = int(status(archive).total_rows)
        print(f"archive (cached): {rows:,} rows in {archive}")
    end = parse_when(args.end)
    start = end - timedelta(days=args.days)
    rules = make_rules(args.rules)
    total_windows = sum(windows_of(r, start, end) for r in rules)
    print(
        f"{len(rules)} rules ({len({r.query for r in rules})} distinct queries) over {args.days:g} days of "
        f"{args.devices} devices: {total_windows:,} scheduled windows"
    )

    # 1. every rule over the whole range, one pass where possible
    runner = ArchiveRunner(archive)
    t1, c1 = time.perf_counter(), time.process_time()
    folder = backtest_all(rules, runner, start, end)
    one_pass_s, cpu = time.perf_counter() - t1, time.process_time() - c1
    paths = Counter(r.path for r in folder.reports)
    print(
        f"backtest (one pass): {len(folder.reports)} rules in {one_pass_s:.1f} s -> "
        f"{len(rules) / (one_pass_s / 60):.1f} rules/minute; {folder.alerts:,} alerts; paths {dict(paths)}; "
        f"{len(folder.errors)} errors; this process's CPU {cpu:.1f} s (wall/CPU {one_pass_s / max(cpu, 1e-9):.1f})"
    )
    for rid, why in folder.errors.items():
        print(f"  error {rid}: {why}")
    for rep in folder.reports:
        if rep.fallback:
            print(f"  {rep.rule_id}: window by window ({rep.fallback})")

    # 2. the baseline: window-by-window replay of a sample, and the same windows in one pass
    step = max(1, len(rules) // max(1, args.sample_rules))
    sample = rules[::step][: args.sample_rules]
    s_start = end - timedelta(
        hours=args.sample_hours
    )  # the last hours: the planted stories are on the last day
    wbw_s = op_s = 0.0
    sample_windows = 0
    for rule in sample:
        t2 = time.perf_counter()
        slow = backtest(rule, runner, s_start, end, mode="window-by-window")
        t3 = time.perf_counter()
        fast = backtest(rule, runner, s_start, end)
        t4 = time.perf_counter()
        wbw_s += t3 - t2
        op_s += t4 - t3
        sample_windows += slow.windows
        same = [a.id for a in slow.alert_list] == [a.id for a in fast.alert_list]
        print(
            f"  sample {rule.id}: {slow.windows} windows, window by window {t3 - t2:.1f} s "
            f"({(t3 - t2) / max(slow.windows, 1) * 1000:.0f} ms/window), {fast.path} {t4 - t3:.2f} s, "
            f"alerts {slow.alerts} / {fast.alerts} {'(same)' if same else '(DIFFERENT)'}"
        )
    per_window = wbw_s / max(sample_windows, 1)
    estimate = per_window * total_windows
    print(
        f"window-by-window baseline: {per_window * 1000:.0f} ms per window on the sample ({sample_windows} windows)"
        f" -> {total_windows:,} windows = {estimate:.0f} s ({estimate / 60:.1f} min) estimated for all rules"
    )
    print(
        f"ratio: one pass is {estimate / one_pass_s:.1f}x faster than window by window over the whole run "
        f"({one_pass_s:.1f} s vs an estimated {estimate:.0f} s); on the sample's windows "
        f"{wbw_s / max(op_s, 1e-9):.1f}x ({op_s:.1f} s vs {wbw_s:.1f} s)"
    )
    load = os.getloadavg()
    print(
        f"load average after: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} (shared machine: numbers are noisy)"
    )


if __name__ == "__main__":
    main()
