"""Search benchmark: index build docs/s and p50/p95 latency of 8 query shapes, against SQLite FTS5 in the same run.

The documents are emulator-like DeviceProcessEvents rows (tests/support/search.py `generate_table`, the
archive's exact column types), written in the archive layout. huntvault indexes them with
`IndexStore.sync` and answers through `SearchEngine.search` (in process, no HTTP). The baseline loads the
same rows into SQLite (stdlib sqlite3): a table with the typed columns and the row's JSON, B-tree indexes on
the filter/sort columns and an FTS5 table over every string column; each query shape is written the
natural SQLite way. Both sides return the top 10 documents (full JSON).

    .venv/bin/python bench/search.py --docs 1000000
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import duckdb
from tests.support.search import generate_table, write_archive

from huntvault.index import IndexStore
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
        "search=*&$filter=properties/DeviceName eq 'srv-dc01' and properties/FileSize gt 40000000",
        "SELECT src FROM docs WHERE DeviceName = 'srv-dc01' AND FileSize > 40000000 LIMIT 10",
    ),
    "filter+search": (
        "search=whoami&$filter=properties/FileSize gt 40000000",
        "SELECT d.src FROM fts JOIN docs d ON d.rowid = fts.rowid WHERE fts MATCH 'whoami' "
        "AND d.FileSize > 40000000 ORDER BY rank LIMIT 10",
    ),
    "facet": (
        "search=*&facet=properties/DeviceName,count:10&$top=0",
        "SELECT DeviceName, count(*) FROM docs GROUP BY DeviceName ORDER BY 2 DESC LIMIT 10",
    ),
    "orderby-date": (
        "search=*&$orderby=properties/Timestamp desc",
        "SELECT src FROM docs ORDER BY Timestamp DESC LIMIT 10",
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
    con.execute("CREATE TABLE docs(src TEXT, DeviceName TEXT, FileSize INTEGER, Timestamp INTEGER)")
    con.execute(
        f"CREATE VIRTUAL TABLE fts USING fts5({', '.join(strings)}, tokenize=\"unicode61 tokenchars '.'\")"
    )
    duck = duckdb.connect()
    t0 = time.perf_counter()
    cols = ", ".join(f'"{c}"' for c in strings)
    for part in sorted(archive.glob(f"{TABLE}/date=*/part-*.parquet")):
        sql = (
            f"SELECT CAST(to_json(t) AS VARCHAR), DeviceName, FileSize, epoch_us(Timestamp), {cols} "
            f"FROM read_parquet('{part}') t"
        )
        rows = duck.sql(sql).fetchall()
        con.executemany("INSERT INTO docs VALUES (?, ?, ?, ?)", (r[:4] for r in rows))
        con.executemany(f"INSERT INTO fts VALUES ({', '.join('?' * len(strings))})", (r[4:] for r in rows))
    con.execute("CREATE INDEX docs_device ON docs(DeviceName)")
    con.execute("CREATE INDEX docs_size ON docs(FileSize)")
    con.execute("CREATE INDEX docs_ts ON docs(Timestamp)")
    con.commit()
    con.close()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=100, help="timed runs per query shape")
    ap.add_argument("--workdir", default=None, help="keep data here (default: a temporary folder)")
    ap.add_argument("--json", action="store_true", help="print one JSON line with every number")
    args = ap.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="hv-bench-search-"))
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

        store = IndexStore(work / "index", archive, heap_mb=512)
        t = time.perf_counter()
        result = store.sync()[INDEX]
        hv_build = time.perf_counter() - t
        assert result.status == "success", result.error
        engine = SearchEngine(store)

        db = work / "fts5.sqlite"
        db.unlink(missing_ok=True)
        fts_build = build_sqlite(archive, db)
        con = sqlite3.connect(db)

        report: dict[str, Any] = {
            "docs": args.docs,
            "generate_s": round(gen_s, 1),
            "huntvault_index_docs_per_s": round(args.docs / hv_build),
            "fts5_build_docs_per_s": round(args.docs / fts_build),
            "queries": {},
        }
        for shape, (qs, sql) in SHAPES.items():
            req_text = qs if "$top" in qs else qs + f"&$top={TOP}"
            req = from_query_string(req_text)
            hv_res = engine.search(INDEX, req)
            fts_rows = con.execute(sql).fetchall()
            hv50, hv95 = timed(lambda req=req: engine.search(INDEX, req), args.repeat)
            f50, f95 = timed(lambda sql=sql: con.execute(sql).fetchall(), args.repeat)
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
        if args.json:
            print(json.dumps(report))
            return
        print(f"documents: {args.docs:,} (generated in {gen_s:.1f}s)")
        print(
            f"index build: huntvault {report['huntvault_index_docs_per_s']:,} docs/s, "
            f"SQLite FTS5 {report['fts5_build_docs_per_s']:,} docs/s "
            f"(ratio {report['huntvault_index_docs_per_s'] / report['fts5_build_docs_per_s']:.2f}x)"
        )
        print(f"{'shape':<14} {'hv p50':>8} {'hv p95':>8} {'fts p50':>8} {'fts p95':>8} {'fts/hv':>7}")
        for shape, q in report["queries"].items():
            print(
                f"{shape:<14} {q['huntvault_p50_ms']:>8.2f} {q['huntvault_p95_ms']:>8.2f} {q['fts5_p50_ms']:>8.2f} "
                f"{q['fts5_p95_ms']:>8.2f} {q['speedup_p50']:>7.2f}"
            )
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
