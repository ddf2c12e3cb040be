"""Benchmark of make_set / make_set_if (Kusto's first-seen order) against hand-written DuckDB SQL.

Run: `.venv/bin/python bench/kql_make_set.py [--rows 5000000] [--repeat 3]`. Builds (DuckDB, in a temp
folder, deterministic) a DeviceProcessEvents archive with a few large groups (1M rows, 50 distinct values,
one of them 20,000 distinct) and many small ones, then runs each KQL query through huntvault and two
hand-written SQL queries with the same groups: the unordered `list(DISTINCT v)` (the baseline: what
make_set cost before it kept Kusto's order) and the ordered two-level SQL (first position per (key, value),
then one list per key ordered by it). Prints the best of `--repeat` runs and huntvault / baseline, in
wall time and in process CPU time (all threads, DuckDB's too: steadier on a busy machine);
`order` says whether huntvault's lists equal the ordered SQL's, element for element ("set": the same
values in another order, "NO": other values). Only ratios measured in
the same run mean anything on a shared machine.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from huntvault import schema  # noqa: E402
from huntvault.kql import execute  # noqa: E402
from huntvault.kql.backends import DuckDBBackend  # noqa: E402
from huntvault.kql.values import SQL_TYPES  # noqa: E402
from kql import LAST_CPU, best  # noqa: E402  (bench/kql.py: best-of-n wall and CPU time)

NOW = datetime(2024, 7, 1, tzinfo=UTC)
TABLE = "DeviceProcessEvents"

#: the generated columns (the others are '' or null); i is the row number, in file order
#: DeviceId: 4 large groups of `rows // 5` rows each (big3 with 20,000 distinct values), the rest in groups of 10
#: FileName: 50 names in the large groups, 4 per small group; every 97th row empty, every 89th null
#: ActionType: make_set_if's predicate (about a third of the rows)
#: Timestamp: 3 days, for the `bin(Timestamp, 1h)` query
COLUMNS = {
    "DeviceId": "CASE WHEN i < {big} THEN 'big' || (i % 4)::VARCHAR ELSE 'dev' || (i // 10)::VARCHAR END",
    "FileName": "CASE WHEN i % 89 = 0 THEN NULL WHEN i % 97 = 0 THEN '' "
    "WHEN i < {big} AND i % 4 = 3 THEN 'f' || (hash(i) % 20000)::VARCHAR || '.exe' "
    "WHEN i < {big} THEN 'f' || (hash(i) % 50)::VARCHAR || '.exe' "
    "ELSE 'f' || (hash(i) % 4)::VARCHAR || '.exe' END",
    "ActionType": "CASE WHEN hash(i * 7) % 3 = 0 THEN 'ProcessCreated' ELSE 'Other' END",
    "Timestamp": "TIMESTAMPTZ '2024-06-01 00:00:00+00' + to_microseconds(i * (259200000000 // {rows}))",
    "AccountName": "'user' || (hash(i * 3) % 300)::VARCHAR",
}


def generate(data: Path, rows: int) -> None:
    """The archive: `DeviceProcessEvents/date=YYYY-MM-DD/*.parquet`, typed per the schema, rows in i order."""
    t = schema.get_table(TABLE)
    assert t is not None
    big = rows * 4 // 5
    cols = []
    for c in t.columns:
        if c.name in COLUMNS:
            value = COLUMNS[c.name].format(big=big, rows=rows)
        elif c.type in ("string", "guid"):
            value = "''"
        else:
            value = "NULL"
        cols.append(f'CAST({value} AS {SQL_TYPES[c.type].replace("JSON", "VARCHAR")}) AS "{c.name}"')
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    out = str(data / TABLE).replace("'", "''")
    con.execute(f"""COPY (SELECT *, strftime("Timestamp", '%Y-%m-%d') AS date FROM (SELECT {", ".join(cols)}
                    FROM range({rows}) r(i) ORDER BY i))
                    TO '{out}' (FORMAT PARQUET, PARTITION_BY (date), COMPRESSION zstd)""")


def _unordered(key: str, value: str, where: str = "") -> str:
    cond = f"{value} IS NOT NULL" + (f" AND {where}" if where else "")
    return f"SELECT {key} AS k, list(DISTINCT {value}) FILTER (WHERE {cond}) AS s FROM {TABLE} GROUP BY {key}"


def _ordered(key: str, value: str, where: str = "") -> str:
    """Two levels: the first position of each (key, value), then per key one list ordered by it (a row the
    predicate skips keeps its key's group as a null value)."""
    item = f"CASE WHEN {where} THEN {value} END" if where else value
    return f"""SELECT k, coalesce(list(v ORDER BY first) FILTER (WHERE v IS NOT NULL), []) AS s
               FROM (SELECT k, v, min(pos) AS first
                     FROM (SELECT {key} AS k, {item} AS v, row_number() OVER () AS pos FROM {TABLE})
                     GROUP BY k, v)
               GROUP BY k"""


BIN = "time_bucket(INTERVAL 1 HOUR, \"Timestamp\", TIMESTAMPTZ '1970-01-01 00:00:00+00')"

# name -> (KQL, unordered SQL baseline, ordered SQL): each SQL gives (key, list) rows
QUERIES: dict[str, tuple[str, str, str]] = {
    "make_set_by": (
        f"{TABLE} | summarize s = make_set(FileName) by DeviceId",
        _unordered('"DeviceId"', '"FileName"'),
        _ordered('"DeviceId"', '"FileName"'),
    ),
    "make_set_if_by": (
        f'{TABLE} | summarize s = make_set_if(FileName, ActionType == "ProcessCreated") by DeviceId',
        _unordered('"DeviceId"', '"FileName"', "\"ActionType\" = 'ProcessCreated'"),
        _ordered('"DeviceId"', '"FileName"', "\"ActionType\" = 'ProcessCreated'"),
    ),
    "make_set_count_dcount": (
        f"{TABLE} | summarize n = count(), d = dcount(AccountName), s = make_set(FileName) by DeviceId",
        f"""SELECT a.k, a.s FROM ({_unordered('"DeviceId"', '"FileName"')}) a
            JOIN (SELECT "DeviceId" AS k, count(*) AS n, count(DISTINCT "AccountName") AS d FROM {TABLE}
                  GROUP BY 1) c ON a.k = c.k""",
        f"""SELECT a.k, a.s FROM ({_ordered('"DeviceId"', '"FileName"')}) a
            JOIN (SELECT "DeviceId" AS k, count(*) AS n, count(DISTINCT "AccountName") AS d FROM {TABLE}
                  GROUP BY 1) c ON a.k = c.k""",
    ),
    "make_set_bin_hour": (
        f"{TABLE} | summarize s = make_set(AccountName) by bin(Timestamp, 1h)",
        _unordered(BIN, '"AccountName"'),
        _ordered(BIN, '"AccountName"'),
    ),
}


def _lists(rows: list[tuple[Any, Any]]) -> dict[str, list[Any]]:
    return {str(k): list(v or []) for k, v in rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=5_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", default="", help="comma-separated query names (default: all)")
    args = ap.parse_args()
    only = {n for n in args.only.split(",") if n}
    with tempfile.TemporaryDirectory(prefix="huntvault-make-set-") as tmp:
        data = Path(tmp)
        t0 = time.perf_counter()
        generate(data, args.rows)
        print(f"{args.rows:,} rows generated in {time.perf_counter() - t0:.1f} s", flush=True)
        backend = DuckDBBackend(data)
        con = backend.con
        print(
            f"{'query':<24}{'unordered ms':>13}{'ordered SQL ms':>15}{'huntvault ms':>13}"
            f"{'hv/unord':>9}{'ordSQL/unord':>13}{'order':>7}{'cpu hv':>9}{'cpu ordSQL':>13}"
        )
        for name, (kql, unordered, ordered) in QUERIES.items():
            if only and name not in only:
                continue
            base_t, base = best(lambda sql=unordered: con.sql(sql).fetchall(), args.repeat)
            base_cpu = LAST_CPU[0]
            ord_t, ord_rows = best(lambda sql=ordered: con.sql(sql).fetchall(), args.repeat)
            ord_cpu = LAST_CPU[0]
            ours_t, ours = best(
                lambda kql=kql: execute(kql, backend=backend, now=NOW).table.to_pylist(), args.repeat
            )
            ours_cpu = LAST_CPU[0]
            key = next(iter(ours[0])) if ours else ""
            mine = {str(r[key]): orjson.loads(r["s"]) for r in ours}
            want = _lists(ord_rows)
            sets = {k: sorted(v) for k, v in mine.items()} == {k: sorted(v) for k, v in _lists(base).items()}
            order = "yes" if mine == want else ("set" if sets else "NO")
            print(
                f"{name:<24}{base_t * 1000:>13.0f}{ord_t * 1000:>15.0f}{ours_t * 1000:>13.0f}"
                f"{ours_t / base_t:>9.2f}{ord_t / base_t:>13.2f}{order:>7}"
                f"{ours_cpu / base_cpu:>9.2f}{ord_cpu / base_cpu:>13.2f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
