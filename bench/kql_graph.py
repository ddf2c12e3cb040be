"""Benchmark of the KQL graph operators: graph-match / graph-shortest-paths against hand-written DuckDB SQL.

Run: `.venv/bin/python bench/kql_graph.py [--nodes 2000] [--degree 4] [--hops 4] [--repeat 3]`. The edges
are generated in the query (`range`, each node `degree` edges to pseudo-random targets), so no archive is
needed. Two comparisons, best of N each, ratio = huntvault / baseline:

- `paths`: `graph-match (a)-[e*1..H]->(b) where a.id == "n0"` counted by length (Kusto's default
  `cycles=unique_edges`) against a recursive CTE that walks the same paths, carrying the list of edges
  used so that no edge repeats;
- `reach`: `graph-shortest-paths (a)-[e*1..H]->(b) where a.id == "n0"` (one row per reachable node)
  against a recursive breadth-first CTE that keeps each node's first level.

Every pair is checked to give the same answer. Timings are noisy on a shared machine: only ratios
measured in the same run mean anything.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import duckdb  # noqa: E402

from huntvault.kql import execute  # noqa: E402


def kql_edges(nodes: int, degree: int) -> str:
    return (
        f"range i from 0 to {nodes * degree - 1} step 1"
        f" | extend src = strcat('n', i % {nodes}), dst = strcat('n', (i * 7919 + i / {nodes} * 104729) % {nodes})"
        " | project src, dst"
    )


def sql_edges(nodes: int, degree: int) -> str:
    return (
        f"SELECT 'n' || (i % {nodes}) AS src, 'n' || ((i * 7919 + (i // {nodes}) * 104729) % {nodes}) AS dst"
        f" FROM range(0, {nodes * degree}) t(i)"
    )


def best(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    out: object = None
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=2000)
    ap.add_argument("--degree", type=int, default=4)
    ap.add_argument("--hops", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    n, d, h = args.nodes, args.degree, args.hops
    con = duckdb.connect()
    edges = sql_edges(n, d)

    paths_kql = (
        f"{kql_edges(n, d)} | make-graph src --> dst with_node_id=id"
        f" | graph-match (a)-[e*1..{h}]->(b) where a.id == 'n0' project n = array_length(e)"
        " | summarize c = count() by n | sort by n asc"
    )
    paths_sql = f"""
        WITH RECURSIVE e AS (SELECT row_number() OVER () AS eid, src, dst FROM ({edges})),
        walk(node, used, n) AS (
            SELECT dst, [eid], 1 FROM e WHERE src = 'n0'
            UNION ALL
            SELECT e.dst, list_append(w.used, e.eid), w.n + 1
            FROM walk w JOIN e ON e.src = w.node
            WHERE w.n < {h} AND NOT list_contains(w.used, e.eid)
        )
        SELECT n, count(*) AS c FROM walk GROUP BY n ORDER BY n"""
    reach_kql = (
        f"{kql_edges(n, d)} | make-graph src --> dst with_node_id=id"
        f" | graph-shortest-paths (a)-[e*1..{h}]->(b) where a.id == 'n0' project b = b.id, n = array_length(e)"
        " | summarize c = count() by n | sort by n asc"
    )
    reach_sql = f"""
        WITH RECURSIVE e AS ({edges}),
        bfs(node, n) AS (
            SELECT DISTINCT dst, 1 FROM e WHERE src = 'n0'
            UNION
            SELECT e.dst, b.n + 1 FROM bfs b JOIN e ON e.src = b.node WHERE b.n < {h}
        )
        SELECT n, count(*) AS c FROM (SELECT node, min(n) AS n FROM bfs WHERE node <> 'n0' GROUP BY node)
        GROUP BY n ORDER BY n"""

    def kql(query: str) -> Callable[[], object]:
        return lambda: [(r["n"], r["c"]) for r in execute(query, row_cap=100).rows()]

    def sql(query: str) -> Callable[[], object]:
        return lambda: [(int(a), int(b)) for a, b in con.execute(query).fetchall()]

    print(f"graph: {n} nodes, {n * d} edges, paths of 1..{h} hops from one node (best of {args.repeat})")
    ratios = []
    for name, (kq, sq) in {"paths": (paths_kql, paths_sql), "reach": (reach_kql, reach_sql)}.items():
        base_t, base = best(sql(sq), args.repeat)
        ours_t, ours = best(kql(kq), args.repeat)
        if ours != base:
            print(f"{name}: MISMATCH huntvault {ours} != baseline {base}")
            return 1
        ratio = ours_t / base_t
        ratios.append(ratio)
        print(
            f"{name:6s} baseline {base_t * 1000:8.1f} ms  huntvault {ours_t * 1000:8.1f} ms  ratio {ratio:6.2f}x  {ours}"
        )
    print(f"geometric mean ratio: {math.exp(sum(map(math.log, ratios)) / len(ratios)):.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
