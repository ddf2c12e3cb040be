"""Emulator benchmark: events/s of `write_export` against raw orjson serialisation of the same lines.

The baseline, measured in the same run, serialises pre-built envelope dicts (taken from the emulator's own
output, so the same shapes and sizes) with `orjson.dumps` and writes them with CRLF to one file: the cost
of just producing the bytes. The ratio says how much the emulator's generation, quirks and blob layout add.

    python bench/emulate.py [--events 1000000] [--dir /dev/shm/x]
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
import tempfile
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from huntvault.emulator import write_export  # noqa: E402

EVENTS_PER_DEVICE_DAY = 2000


def run_emulator(dest: Path, events: int) -> tuple[int, int, float, float]:
    devices = max(1, math.ceil(events / EVENTS_PER_DEVICE_DAY))
    cpu = time.process_time()
    t = time.perf_counter()
    m = write_export(
        dest,
        devices=devices,
        days=1.0,
        seed=42,
        end="2026-07-22T00:00:00Z",
        events_per_device_day=EVENTS_PER_DEVICE_DAY,
    )
    secs = time.perf_counter() - t
    size = sum(m.blob_sizes.values())
    return m.total_events + m.total_duplicates, size, secs, time.process_time() - cpu


def sample_records(dest: Path, limit: int = 20_000) -> list[dict]:
    out: list[dict] = []
    for file in sorted(dest.glob("insights-logs-advancedhunting-*/**/PT1H.json")):
        with open(file, "rb") as fh:
            for line in fh:
                try:
                    out.append(orjson.loads(line))
                except orjson.JSONDecodeError:
                    continue
                if len(out) >= limit:
                    return out
    return out


def run_baseline(records: list[dict], lines: int, out: Path) -> tuple[int, float, float]:
    cpu = time.process_time()
    t = time.perf_counter()
    written = 0
    n = len(records)
    with open(out, "wb") as fh:
        batch: list[bytes] = []
        for i in range(lines):
            batch.append(orjson.dumps(records[i % n]) + b"\r\n")
            if len(batch) == 10_000:
                data = b"".join(batch)
                fh.write(data)
                written += len(data)
                batch = []
        data = b"".join(batch)
        fh.write(data)
        written += len(data)
    return written, time.perf_counter() - t, time.process_time() - cpu


def _scratch_root(events: int) -> str | None:
    """/dev/shm (RAM) when it can hold the export, so the disk of a shared machine does not set the pace."""
    shm = Path("/dev/shm")
    need = events * 3_000 * 1.2
    if shm.is_dir() and shutil.disk_usage(shm).free > need:
        return str(shm)
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument(
        "--dir",
        type=Path,
        default=None,
        help="scratch folder (default: a temp folder, in /dev/shm when it has room)",
    )
    args = ap.parse_args()
    scratch = args.dir or Path(tempfile.mkdtemp(prefix="hv-bench-emulate-", dir=_scratch_root(args.events)))
    try:
        export_dir = scratch / "export"
        lines, size, secs, cpu = run_emulator(export_dir, args.events)
        records = sample_records(export_dir)
        shutil.rmtree(export_dir)  # room for the baseline's file
        base_bytes, base_secs, base_cpu = run_baseline(records, lines, scratch / "baseline.jsonl")
        mb = size / 1e6
        print(f"scratch:   {scratch}")
        print(
            f"emulator:  {lines:,} lines, {mb:,.0f} MB in {secs:.2f} s wall ({cpu:.2f} s CPU) = "
            f"{lines / secs:,.0f} events/s, {mb / secs:,.0f} MB/s"
        )
        print(
            f"baseline:  orjson.dumps + write of {lines:,} pre-built records ({base_bytes / 1e6:,.0f} MB) in "
            f"{base_secs:.2f} s wall ({base_cpu:.2f} s CPU) = {lines / base_secs:,.0f} events/s"
        )
        print(
            f"ratio:     emulator vs raw serialisation = {secs / base_secs:.2f}x the wall time, "
            f"{cpu / base_cpu:.2f}x the CPU time (1M events would take {secs * 1_000_000 / lines:.1f} s)"
        )
    finally:
        if args.dir is None:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
