"""Search benchmark: index build docs/s against SQLite FTS5 in the same run, query latency of 8 shapes,
freshness (archive commit -> searchable), index size per document, and where the indexing time goes.

The documents are emulator-like DeviceProcessEvents rows (tests/support/search.py `generate_table`, the
archive's exact column types), committed to a Delta archive by the archive's own writer. huntvault indexes
them with `IndexStore.sync` (the default hunting definition) and answers through `SearchEngine.search` (in
process, no HTTP). The baseline reads the same parts (`read_part`) into SQLite (stdlib sqlite3): a table with
the typed columns and the row's JSON, B-tree indexes on the filter/sort columns and an FTS5 table over every
string column; each query shape is written the natural SQLite way. Both return the top 10 documents.

    .venv/bin/python bench/search.py --docs 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import duckdb
import pyarrow as pa
from tests.support.search import generate_table, write_archive

from huntvault.archive import read_part, table_files
from huntvault.index import IndexPoller, IndexStore, default_layout
from huntvault.index.analyzers import register_analyzers
from huntvault.index.builder import DocumentBuilder, with_part
from huntvault.index.rowcodec import encode_rows
from huntvault.schema import get_table
from huntvault.search import SearchEngine, from_query_string

TABLE = "DeviceProcessEvents"
INDEX = "insights-logs-advancedhunting-deviceprocessevents"
TOP = 10

#: shape -> (huntvault portal query string, SQLite SQL)
SHAPES: dict[str, tuple[str, str]] = {
    "term": (
        "search=whoami",
        "SELECT d.src FROM fts JOIN docs d ON d.rowid = fts.rowid WHERE fts MATCH 'whoami' ORDER BY rank LIMIT 10",
    ),
    "phrase": (
        'search="whoami /all"',
        "SELECT d.src FROM fts JOIN docs d ON d.rowid = fts.rowid WHERE fts MATCH '\"whoami all\"' ORDER BY rank LIMIT 10",
    ),
    "prefix": (
        "search=certu*",
        "SELECT d.src FROM fts JOIN docs d ON d.rowid = fts.rowid WHERE fts MATCH 'certu*' ORDER BY rank LIMIT 10",
    ),
    "fielded": (
        "search=properties/DeviceName:srv&queryType=full",
        "SELECT d.src FROM fts JOIN docs d ON d.rowid = fts.rowid WHERE fts MATCH 'DeviceName:srv' ORDER BY rank LIMIT 10",
    ),
    "filter-only": (
        "search=*&$filter=properties/DeviceName eq 'srv-dc01' and properties/ActionType eq 'OpenProcess'",
        "SELECT src FROM docs WHERE DeviceName = 'srv-dc01' AND ActionType = 'OpenProcess' LIMIT 10",
    ),
    "filter+search": (
        "search=whoami&$filter=properties/ActionType eq 'OpenProcess'",
        "SELECT d.src FROM fts JOIN docs d ON d.rowid = fts.rowid WHERE fts MATCH 'whoami' "
        "AND d.ActionType = 'OpenProcess' ORDER BY rank LIMIT 10",
    ),
    "facet": (
        "search=*&facet=properties/DeviceName,count:10&$top=0",
        "SELECT DeviceName, count(*) FROM docs GROUP BY DeviceName ORDER BY 2 DESC LIMIT 10",
    ),
    "orderby-date": (
        "search=*&$orderby=properties/Timestamp desc",
        "SELECT src FROM docs ORDER BY Timestamp DESC LIMIT 10",
    ),
    # a filter on a column the default definition does not make filterable: answered from the archive
    "archive-filter": (
        "search=whoami&$filter=properties/FileSize gt 49000000",
        "SELECT d.src FROM fts JOIN docs d ON d.rowid = fts.rowid WHERE fts MATCH 'whoami' "
        "AND d.FileSize > 49000000 ORDER BY rank LIMIT 10",
    ),
}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float]:
    fn()  # warm up
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    return statistics.median(samples), percentile(samples, 0.95)


def build_sqlite(archive: Path, db: Path) -> float:
    table = get_table(TABLE)
    assert table is not None
    strings = [c.name for c in table.columns if c.type in ("string", "guid", "dynamic")]
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode=OFF")
    con.execute("PRAGMA synchronous=OFF")
    con.execute(
        "CREATE TABLE docs(src TEXT, DeviceName TEXT, ActionType TEXT, FileSize INTEGER, Timestamp INTEGER)"
    )
    con.execute(
        f"CREATE VIRTUAL TABLE fts USING fts5({', '.join(strings)}, tokenize=\"unicode61 tokenchars '.'\")"
    )
    duck = duckdb.connect()
    t0 = time.perf_counter()
    cols = ", ".join(f'"{c}"' for c in strings)
    for part in table_files(archive, TABLE):
        rows_arrow = read_part(archive, part.id)  # noqa: F841 (read by DuckDB below)
        sql = (
            f"SELECT CAST(to_json(t) AS VARCHAR), DeviceName, ActionType, FileSize, epoch_us(Timestamp), {cols} "
            "FROM rows_arrow t"
        )
        rows = duck.sql(sql).fetchall()
        con.executemany("INSERT INTO docs VALUES (?, ?, ?, ?, ?)", (r[:5] for r in rows))
        con.executemany(f"INSERT INTO fts VALUES ({', '.join('?' * len(strings))})", (r[5:] for r in rows))
    con.execute("CREATE INDEX docs_device ON docs(DeviceName)")
    con.execute("CREATE INDEX docs_size ON docs(FileSize)")
    con.execute("CREATE INDEX docs_action ON docs(ActionType)")
    con.execute("CREATE INDEX docs_ts ON docs(Timestamp)")
    con.commit()
    con.close()
    return time.perf_counter() - t0


def _cpu() -> float:
    return time.process_time()


def profile(archive: Path, work: Path, docs: int) -> dict[str, Any]:
    """Each indexing stage alone on the first parts (about `docs` rows): wall and CPU microseconds per row."""
    import tantivy

    table = get_table(TABLE)
    assert table is not None
    layout = default_layout(table)
    parts, rows = [], 0
    for part in table_files(archive, TABLE):
        parts.append(part)
        rows += part.rows
        if rows >= docs:
            break
    out: dict[str, Any] = {"rows": rows}

    def stage(name: str, fn: Callable[[], Any]) -> Any:
        t, c = time.perf_counter(), _cpu()
        value = fn()
        out[name] = {
            "wall_us_per_doc": round((time.perf_counter() - t) * 1e6 / rows, 1),
            "cpu_us_per_doc": round((_cpu() - c) * 1e6 / rows, 1),
        }
        return value

    tables = stage("read_part (Parquet -> Arrow)", lambda: [read_part(archive, p.id) for p in parts])
    data = pa.concat_tables(
        [with_part(t.drop_columns(["date"]), p.id) for t, p in zip(tables, parts, strict=True)]
    )
    builder = DocumentBuilder(layout)
    built: list[str] = stage(
        "DuckDB + Arrow build the JSON documents", lambda: [d for b in builder.documents(data) for d in b]
    )
    stage("  of which: Arrow encodes the stored values", lambda: encode_rows(data, builder.plan))
    builder.close()
    folder = work / "profile-index"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    index = tantivy.Index(layout.tantivy_schema(), path=str(folder))
    register_analyzers(index, pretokenized=True)
    writer = index.writer(heap_size=512_000_000)

    def add() -> None:
        for d in built:
            writer.add_json(d)

    stage("tantivy add_json (hand-over; writer threads index)", add)
    stage("tantivy commit + merges", lambda: (writer.commit(), writer.wait_merging_threads()))
    shutil.rmtree(folder, ignore_errors=True)
    return out


def freshness(archive: Path, index_dir: Path, commits: int, poll: float) -> list[float]:
    """Seconds from the end of an archive commit to the new rows being searchable (server poll loop)."""
    store = IndexStore(index_dir, archive, heap_mb=256)
    store.sync()
    engine = SearchEngine(store)
    poller = IndexPoller(store, poll)
    poller.start()
    out: list[float] = []
    try:
        base = engine.count(INDEX)
        for i in range(commits):
            data = generate_table(TABLE, 1000, seed=1000 + i, spacing_s=1.0)
            write_archive(archive, TABLE, data)
            t = time.perf_counter()
            base += 1000
            while engine.count(INDEX) < base:
                time.sleep(0.02)
            out.append(time.perf_counter() - t)
    finally:
        poller.stop()
    return out


def size_of(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=100, help="timed runs per query shape")
    ap.add_argument("--commits", type=int, default=10, help="archive commits for the freshness figure")
    ap.add_argument("--poll", type=float, default=2.0, help="index.poll_seconds for the freshness figure")
    ap.add_argument(
        "--profile-docs", type=int, default=100_000, help="rows for the per-stage profile (0: skip)"
    )
    ap.add_argument("--workdir", default=None, help="keep data here (default: a temporary folder)")
    ap.add_argument("--json", action="store_true", help="print one JSON line with every number")
    args = ap.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="hv-bench-search-"))
    load_before = os.getloadavg()
    try:
        archive = work / "archive"
        shutil.rmtree(work / "index", ignore_errors=True)
        shutil.rmtree(archive, ignore_errors=True)
        t = time.perf_counter()
        spacing = max(30 * 86400 / args.docs, 0.001)  # about 30 daily partitions
        data = generate_table(TABLE, args.docs, seed=1, spacing_s=spacing)
        write_archive(archive, TABLE, data)
        del data
        gen_s = time.perf_counter() - t

        # huntvault and FTS5 back to back on the same parts
        store = IndexStore(work / "index", archive, heap_mb=512)
        t, c = time.perf_counter(), _cpu()
        result = store.sync()[INDEX]
        hv_build, hv_cpu = time.perf_counter() - t, _cpu() - c
        assert result.status == "success", result.error
        engine = SearchEngine(store)
        db = work / "fts5.sqlite"
        db.unlink(missing_ok=True)
        c = _cpu()
        fts_build = build_sqlite(archive, db)
        fts_cpu = _cpu() - c
        con = sqlite3.connect(db)
        idx = store.get(INDEX)
        parts = table_files(archive, TABLE)
        archive_bytes = sum(p.bytes for p in parts)
        index_bytes = idx.active.size_bytes()
        report: dict[str, Any] = {
            "docs": args.docs,
            "generate_s": round(gen_s, 1),
            "huntvault_index_docs_per_s": round(args.docs / hv_build),
            "huntvault_index_cpu_us_per_doc": round(hv_cpu * 1e6 / args.docs, 1),
            "fts5_build_docs_per_s": round(args.docs / fts_build),
            "fts5_build_cpu_us_per_doc": round(fts_cpu * 1e6 / args.docs, 1),
            "index_bytes_per_doc": round(index_bytes / args.docs, 1),
            "archive_bytes_per_row": round(archive_bytes / args.docs, 1),
            "fts5_bytes_per_doc": round(db.stat().st_size / args.docs, 1),
            "queries": {},
        }
        report["build_ratio"] = round(
            report["huntvault_index_docs_per_s"] / report["fts5_build_docs_per_s"], 2
        )
        for shape, (qs, sql) in SHAPES.items():
            req_text = qs if "$top" in qs else qs + f"&$top={TOP}"
            req = from_query_string(req_text)
            hv_res = engine.search(INDEX, req)
            fts_rows = con.execute(sql).fetchall()
            repeat = max(args.repeat // 5, 5) if shape == "archive-filter" else args.repeat
            hv50, hv95 = timed(lambda req=req: engine.search(INDEX, req), repeat)
            f50, f95 = timed(lambda sql=sql: con.execute(sql).fetchall(), repeat)
            report["queries"][shape] = {
                "huntvault_p50_ms": round(hv50, 2),
                "huntvault_p95_ms": round(hv95, 2),
                "fts5_p50_ms": round(f50, 2),
                "fts5_p95_ms": round(f95, 2),
                "speedup_p50": round(f50 / hv50, 2) if hv50 else None,
                "hits": len(hv_res["value"])
                or len(hv_res.get("@search.facets", {}).get("properties/DeviceName", [])),
                "fts5_rows": len(fts_rows),
            }
        con.close()
        fresh = freshness(archive, work / "index", args.commits, args.poll) if args.commits else []
        report["freshness_s"] = {
            "poll_seconds": args.poll,
            "median": round(statistics.median(fresh), 2) if fresh else None,
            "max": round(max(fresh), 2) if fresh else None,
            "all": [round(f, 2) for f in fresh],
        }
        if args.profile_docs:
            report["profile"] = profile(archive, work, args.profile_docs)
        report["load_average"] = {
            "before": [round(x, 1) for x in load_before],
            "after": [round(x, 1) for x in os.getloadavg()],
        }
        report["threads"] = threading.active_count()
        if args.json:
            print(json.dumps(report))
            return
        _print(report)
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


def _print(report: dict[str, Any]) -> None:
    print(f"documents: {report['docs']:,} (generated and committed in {report['generate_s']:.1f}s)")
    print(
        f"index build: huntvault {report['huntvault_index_docs_per_s']:,} docs/s "
        f"({report['huntvault_index_cpu_us_per_doc']} us CPU/doc), SQLite FTS5 "
        f"{report['fts5_build_docs_per_s']:,} docs/s ({report['fts5_build_cpu_us_per_doc']} us CPU/doc): "
        f"ratio {report['build_ratio']:.2f}x"
    )
    print(
        f"size: index {report['index_bytes_per_doc']} B/doc, archive (Parquet) {report['archive_bytes_per_row']} "
        f"B/row, FTS5 database {report['fts5_bytes_per_doc']} B/doc"
    )
    print(f"{'shape':<15} {'hv p50':>8} {'hv p95':>8} {'fts p50':>8} {'fts p95':>8} {'fts/hv':>7}")
    for shape, q in report["queries"].items():
        print(
            f"{shape:<15} {q['huntvault_p50_ms']:>8.2f} {q['huntvault_p95_ms']:>8.2f} {q['fts5_p50_ms']:>8.2f} "
            f"{q['fts5_p95_ms']:>8.2f} {q['speedup_p50']:>7.2f}"
        )
    fresh = report["freshness_s"]
    if fresh["all"]:
        print(
            f"freshness (commit -> searchable, poll {fresh['poll_seconds']}s): median {fresh['median']}s, "
            f"max {fresh['max']}s over {len(fresh['all'])} commits"
        )
    for stage, numbers in (report.get("profile") or {}).items():
        if isinstance(numbers, dict):
            print(
                f"  profile {stage}: {numbers['wall_us_per_doc']} us/doc wall, {numbers['cpu_us_per_doc']} us CPU"
            )
    print(f"load average before {report['load_average']['before']}, after {report['load_average']['after']}")


if __name__ == "__main__":
    main()
