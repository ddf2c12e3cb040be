"""Ingest benchmark: emulate an export, ingest it, compare with DuckDB's raw JSON-to-Parquet conversion.

Prints events/s, MB/s and peak RSS of `huntvault ingest` (run in-process in a child) and the ratio
of its throughput against `COPY (SELECT properties.* FROM read_json(...)) TO '...parquet'` on the
same files, one COPY per table container, measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EVENTS_PER_DEVICE_DAY = 2000


def _child(argv: list[str]) -> dict:
    out = subprocess.run([sys.executable, __file__, *argv], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"child {argv[:2]} failed:\n{out.stderr[-3000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def phase_emulate(dest: Path, events: int) -> dict:
    from huntvault.emulator.export import write_export

    devices = max(1, math.ceil(events / EVENTS_PER_DEVICE_DAY))
    t = time.perf_counter()
    m = write_export(dest, devices=devices, days=1.0, seed=42, end="2026-07-22T00:00:00Z")
    return {
        "events": m.total_events,
        "lines": m.total_events + m.total_duplicates,
        "seconds": time.perf_counter() - t,
    }


def phase_ingest(src: Path, archive: Path) -> dict:
    from huntvault.archive import Archive
    from huntvault.config import ArchiveConfig
    from huntvault.sources import AppendBlobSource, Ingestor, LocalFolderClient

    t = time.perf_counter()
    with Archive(archive) as arc:
        ing = Ingestor(AppendBlobSource("bench", LocalFolderClient(src)), arc, ArchiveConfig())
        stats = ing.run()
        ing.close()
    secs = time.perf_counter() - t
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {
        "seconds": secs,
        "rows": stats.rows_written,
        "duplicates": stats.duplicates,
        "bytes": stats.bytes_read,
        "peak_rss": rss,
        "commits": stats.commits,
    }


def phase_ingest_azurite(src: Path, state: Path) -> dict:
    """The same ingest into a Delta archive on Azure Blob Storage emulated by Azurite (az://)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from azure.storage.blob import BlobServiceClient
    from tests.support.azurite import start_azurite

    from huntvault.archive import Archive, archive_location
    from huntvault.config import ArchiveConfig
    from huntvault.sources import AppendBlobSource, Ingestor, LocalFolderClient

    with start_azurite() as az:
        BlobServiceClient.from_connection_string(az.connection_string).create_container("bench")
        cfg = ArchiveConfig(path="az://bench/archive", state_dir=str(state))
        cfg.connection_string = az.connection_string
        t = time.perf_counter()
        with Archive(archive_location(cfg)) as arc:
            ing = Ingestor(AppendBlobSource("bench", LocalFolderClient(src)), arc, ArchiveConfig())
            stats = ing.run()
            ing.close()
        secs = time.perf_counter() - t
    return {"seconds": secs, "rows": stats.rows_written, "commits": stats.commits}


def phase_baseline(src: Path, out: Path) -> dict:
    import duckdb

    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    t = time.perf_counter()
    for cont in sorted(p for p in src.iterdir() if p.is_dir()):
        files = [str(p) for p in sorted(cont.rglob("PT1H.json"))]
        if not files:
            continue
        lst = "[" + ", ".join("'" + f + "'" for f in files) + "]"
        con.execute(
            f"COPY (SELECT properties.* FROM read_json({lst}, format = 'newline_delimited', ignore_errors = true, "
            f"union_by_name = true)) TO '{out / (cont.name + '.parquet')}' (FORMAT parquet)"
        )
    secs = time.perf_counter() - t
    return {"seconds": secs, "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}


def freshness(work: Path, samples: int, poll_seconds: float) -> None:
    """`--follow` freshness: append one event to an old hour blob, time until a catalog query sees it."""
    import threading
    import uuid

    import orjson

    from huntvault.archive import Archive, open_catalog
    from huntvault.config import ArchiveConfig
    from huntvault.emulator.export import write_export
    from huntvault.sources import AppendBlobSource, Ingestor, LocalFolderClient

    src, arc = work / "fresh-export", work / "fresh-archive"
    shutil.rmtree(src, ignore_errors=True)
    shutil.rmtree(arc, ignore_errors=True)
    write_export(src, devices=2, days=0.25, seed=3, end="2026-07-22T12:00:00Z")
    stop = threading.Event()
    archive = Archive(arc)
    ing = Ingestor(AppendBlobSource("fresh", LocalFolderClient(src)), archive, ArchiveConfig())
    runner = threading.Thread(
        target=ing.run, kwargs={"follow": True, "poll_seconds": poll_seconds, "stop": stop}
    )
    runner.start()
    blob = sorted((src / "insights-logs-advancedhunting-devicenetworkevents").rglob("PT1H.json"))[0]
    lat: list[float] = []
    try:
        time.sleep(poll_seconds * 2)
        for _ in range(samples):
            dev = f"fresh-{uuid.uuid4()}"
            props = {"Timestamp": "2026-07-22T08:00:00Z", "DeviceId": dev, "ReportId": 1}
            env = {
                "time": "2026-07-22T11:00:00Z",
                "tenantId": "t",
                "category": "AdvancedHunting-DeviceNetworkEvents",
                "properties": props,
            }
            t0 = time.perf_counter()
            with blob.open("ab") as f:
                f.write(orjson.dumps(env) + b"\r\n")
            while True:
                con = open_catalog(arc)
                n = con.sql(f"SELECT count(*) FROM DeviceNetworkEvents WHERE DeviceId = '{dev}'").fetchall()[
                    0
                ][0]
                con.close()
                if n:
                    break
                if time.perf_counter() - t0 > 120:
                    raise SystemExit("appended event not visible after 120 s")
                time.sleep(0.05)
            lat.append(time.perf_counter() - t0)
            time.sleep(0.37)  # appends at random phases of the poll cycle
    finally:
        stop.set()
        runner.join()
        ing.close()
        archive.close()
    lat.sort()
    print(
        f"freshness (--follow, poll {poll_seconds:g}s, flush {ArchiveConfig().flush_seconds:g}s): "
        f"median {lat[len(lat) // 2]:.2f}s, max {lat[-1]:.2f}s over {len(lat)} appends"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", type=int, default=1_000_000, help="events to emulate (default 1,000,000)")
    ap.add_argument(
        "--dir", type=Path, default=None, help="work folder (default: a temp folder, removed at the end)"
    )
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    ap.add_argument(
        "--repeat", type=int, default=1, help="alternate baseline/ingest runs, keep the best of each"
    )
    ap.add_argument(
        "--freshness", type=int, default=0, metavar="N", help="also measure --follow freshness over N appends"
    )
    ap.add_argument(
        "--poll-seconds", type=float, default=2.0, help="poll interval for --freshness (default 2)"
    )
    ap.add_argument("--skip-throughput", action="store_true", help="only the freshness measurement")
    ap.add_argument(
        "--no-azurite", action="store_true", help="skip the ingest into an Azurite (az://) archive"
    )
    ap.add_argument(
        "--phase", choices=["emulate", "ingest", "ingest-azurite", "baseline"], help=argparse.SUPPRESS
    )
    ap.add_argument("args", nargs="*", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.phase:
        fn = {
            "emulate": lambda: phase_emulate(Path(a.args[0]), int(a.args[1])),
            "ingest": lambda: phase_ingest(Path(a.args[0]), Path(a.args[1])),
            "ingest-azurite": lambda: phase_ingest_azurite(Path(a.args[0]), Path(a.args[1])),
            "baseline": lambda: phase_baseline(Path(a.args[0]), Path(a.args[1])),
        }[a.phase]
        print(json.dumps(fn()))
        return
    work = a.dir or Path(tempfile.mkdtemp(prefix="hv-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    src, arc, base = work / "export", work / "archive", work / "baseline"
    try:
        if a.freshness:
            freshness(work, a.freshness, a.poll_seconds)
        if a.skip_throughput:
            return
        if not (src / "manifest.json").exists():
            em = _child(["--phase", "emulate", str(src), str(a.events)])
            print(f"emulated {em['events']:,} events ({em['lines']:,} lines) in {em['seconds']:.1f}s")
        size = sum(p.stat().st_size for p in src.rglob("PT1H.json"))
        shutil.rmtree(arc, ignore_errors=True)
        shutil.rmtree(base, ignore_errors=True)
        runs_b: list[dict] = []
        runs_r: list[dict] = []
        for _ in range(a.repeat):  # alternate, keep the best of each (the machine is shared)
            shutil.rmtree(arc, ignore_errors=True)
            shutil.rmtree(base, ignore_errors=True)
            runs_b.append(_child(["--phase", "baseline", str(src), str(base)]))
            runs_r.append(_child(["--phase", "ingest", str(src), str(arc)]))
        b = min(runs_b, key=lambda x: x["seconds"])
        r = min(runs_r, key=lambda x: x["seconds"])
        r["peak_rss"] = max(x["peak_rss"] for x in runs_r)
        mb = size / 1e6
        print(f"input: {mb:,.0f} MB of JSON lines")
        print(
            f"baseline DuckDB COPY: {b['seconds']:.1f}s  {mb / b['seconds']:.1f} MB/s  peak RSS {b['peak_rss'] / 2**20:,.0f} MiB"
        )
        print(
            f"huntvault ingest:     {r['seconds']:.1f}s  {mb / r['seconds']:.1f} MB/s  {r['rows'] / r['seconds']:,.0f} events/s  "
            f"peak RSS {r['peak_rss'] / 2**20:,.0f} MiB  ({r['rows']:,} rows, {r['duplicates']:,} duplicates dropped, "
            f"{r['commits']} commits)"
        )
        print(
            f"ratio (ingest throughput / baseline throughput): {b['seconds'] / r['seconds']:.2f}x"
            + (f" (best of {a.repeat} alternating runs each)" if a.repeat > 1 else "")
        )
        if not a.no_azurite:
            shutil.rmtree(work / "az-state", ignore_errors=True)
            z = _child(["--phase", "ingest-azurite", str(src), str(work / "az-state")])
            print(
                f"huntvault ingest into Azurite (az:// Delta archive): {z['seconds']:.1f}s  {mb / z['seconds']:.1f} MB/s  "
                f"{z['rows'] / z['seconds']:,.0f} events/s  ({z['rows']:,} rows, {z['commits']} commits); "
                f"ratio against the baseline {b['seconds'] / z['seconds']:.2f}x"
            )
    finally:
        if not a.keep and a.dir is None:
            shutil.rmtree(work, ignore_errors=True)
    os.sync()


if __name__ == "__main__":
    main()
