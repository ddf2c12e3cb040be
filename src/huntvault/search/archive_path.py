"""The archive path: filters, sorts and facets on fields an index does not hold, answered by DuckDB over the
archive's rows (the same values the index would hold, `index.archive_values_sql`), joined to the index by key."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa

from huntvault.archive import ArchiveSnapshot, locate
from huntvault.config import SearchConfig
from huntvault.index import (
    KEY_COLUMN,
    KEY_HASH_COLUMN,
    ArchiveRef,
    FieldSpec,
    TableIndex,
    archive_values_sql,
)
from huntvault.search.bounds import bound_error
from huntvault.search.odata import SCORE, OrderKey
from huntvault.search.sqlfilter import column, sql_literal

DOCS = "hv_docs"  # the view: one row per archive row, each field's value as the index would hold it
CANDIDATES = "hv_cand"  # the index's hits when the archive only refines them: key, score, ord
_ROWS = "hv_rows"
CACHE_MAX = 16


@dataclass
class Candidates:
    """The index's hits of a query (all of them): key hashes, scores and index (document address) order."""

    hashes: list[int]
    scores: list[float]
    ords: list[int]

    def table(self) -> pa.Table:
        return pa.table(
            {
                "kh": pa.array(self.hashes, pa.uint64()),
                "score": pa.array(self.scores, pa.float64()),
                "ord": pa.array(self.ords, pa.int64()),
            }
        )


class ArchiveReader:
    """DuckDB views over the archive for each index, rebuilt when the index's archive parts change."""

    def __init__(self, archive: ArchiveRef, limits: SearchConfig) -> None:
        self.loc = locate(archive)
        self.limits = limits
        self._lock = threading.Lock()
        self._cons: dict[str, tuple[tuple[Any, ...], duckdb.DuckDBPyConnection]] = {}

    def _token(self, idx: TableIndex) -> tuple[Any, ...]:
        gen = idx.active
        return (gen.number, id(gen.layout), len(gen.parts), hash(frozenset(gen.parts)))

    def connection(self, idx: TableIndex) -> duckdb.DuckDBPyConnection:
        """A cursor on the index's archive view (one connection per index, one cursor per query)."""
        token = self._token(idx)
        with self._lock:
            cached = self._cons.get(idx.name)
            if cached is not None and cached[0] == token:
                return cached[1].cursor()
            con = self._open(idx)
            if len(self._cons) >= CACHE_MAX:
                self._cons.clear()
            self._cons[idx.name] = (token, con)
            return con.cursor()

    def _open(self, idx: TableIndex) -> duckdb.DuckDBPyConnection:
        con = duckdb.connect(":memory:")
        con.execute("SET TimeZone = 'UTC'")
        con.execute(f"SET threads = {int(self.limits.archive_threads)}")
        con.execute(f"SET memory_limit = '{int(self.limits.archive_memory_mb)}MB'")
        ArchiveSnapshot(self.loc).attach(con, idx.table.name, view=_ROWS)
        present = {str(r[0]) for r in con.execute(f"DESCRIBE {_ROWS}").fetchall()}
        con.execute(f"CREATE VIEW {DOCS} AS {archive_values_sql(idx.layout, _ROWS, present)}")
        if self.loc.local is not None:  # nothing but the archive's files from here on
            root = (os.path.realpath(self.loc.local).rstrip("/") + "/").replace("'", "''")
            con.execute(f"SET allowed_directories=['{root}']")
            con.execute("SET enable_external_access=false")
        con.execute("SET autoinstall_known_extensions=false")
        con.execute("SET autoload_known_extensions=false")
        con.execute("SET lock_configuration=true")
        return con

    def _bound(self, n: int, parameter: str) -> None:
        if n > self.limits.max_archive_matches:
            raise bound_error(
                f"Answering this from the archive would need {n:,} matching documents or more; make the "
                "field filterable, sortable or facetable in the index definition, or narrow the query",
                self.limits.max_archive_matches,
                parameter,
                "search.max_archive_matches",
            )

    def keys(self, idx: TableIndex, where: str) -> list[str]:
        """Keys of the archive rows matching a SQL filter (bounded)."""
        cur = self.connection(idx)
        limit = self.limits.max_archive_matches + 1
        rows = cur.execute(f"SELECT {KEY_COLUMN} FROM {DOCS} WHERE {where} LIMIT {limit}").fetchall()
        self._bound(len(rows), "$filter")
        return [str(r[0]) for r in rows]

    def query(self, idx: TableIndex, where: list[str], candidates: Candidates | None) -> ArchiveQuery:
        return ArchiveQuery(self.connection(idx), where, candidates)

    def check_candidates(self, n: int, parameter: str) -> None:
        self._bound(n, parameter)


class ArchiveQuery:
    """One search answered on the archive: its rows are `FROM` (the view, or the view joined to the index's
    hits) filtered by `where`; pages, counts and facets are SQL over them."""

    def __init__(
        self, cur: duckdb.DuckDBPyConnection, where: list[str], candidates: Candidates | None
    ) -> None:
        self.cur = cur
        self.candidates = candidates
        if candidates is not None:
            cur.register(CANDIDATES, candidates.table())
            self.source = f"{DOCS} d JOIN {CANDIDATES} c ON d.{KEY_HASH_COLUMN} = c.kh"
            self.score = "c.score"
            self.tie = "c.ord"
        else:
            self.source = f"{DOCS} d"
            self.score = "1.0"
            self.tie = f"d.{KEY_COLUMN}"
        self.where = " AND ".join(where) if where else "TRUE"

    def close(self) -> None:
        self.cur.close()

    def count(self) -> int:
        row = self.cur.execute(f"SELECT count(*) FROM {self.source} WHERE {self.where}").fetchone()
        return int(row[0]) if row else 0

    def page(
        self, order: Sequence[OrderKey], fields: dict[str, FieldSpec], skip: int, limit: int
    ) -> list[tuple[str, int, float]]:
        """(key — '' when joined to candidates —, key hash, score) of the rows `skip` .. `skip + limit` in `order` (nulls first ascending, last
        descending, as Azure; ties in index order, or key order when the whole archive is read)."""
        scored = self.candidates is not None  # otherwise every row scores 1.0 (`search=*`)
        terms = []
        for key in order:
            direction = "DESC NULLS LAST" if key.descending else "ASC NULLS FIRST"
            if key.path == SCORE:
                if scored:
                    terms.append(f"{self.score} {direction}")
                continue
            terms.append(f"d.{column(fields[key.path])} {direction}")
        if not order and scored:
            terms.append(f"{self.score} DESC")
        terms.append(f"{self.tie} ASC")
        # the key itself only when the index's documents must be looked up by it (no candidates)
        key_sql = f"d.{KEY_COLUMN}" if self.candidates is None else "''"
        sql = (
            f"SELECT {key_sql}, d.{KEY_HASH_COLUMN}, {self.score} FROM {self.source} WHERE {self.where} "
            f"ORDER BY {', '.join(terms)} LIMIT {int(limit)} OFFSET {int(skip)}"
        )
        return [(str(k), int(h), float(s)) for k, h, s in self.cur.execute(sql).fetchall()]

    # -- facet source (see search.facets) --

    def _col(self, spec: FieldSpec) -> str:
        return f"d.{column(spec)}"

    def stats(self, spec: FieldSpec) -> tuple[int, float | None, float | None]:
        col = self._col(spec)
        row = self.cur.execute(
            f"SELECT count({col}), min({col}), max({col}) FROM {self.source} WHERE {self.where}"
        ).fetchone()
        if not row:
            return 0, None, None
        return int(row[0]), _num(row[1]), _num(row[2])

    def terms(self, spec: FieldSpec, size: int, order: str) -> list[tuple[Any, int]]:
        col = self._col(spec)
        by = {
            "count": f"n DESC, {col} ASC",
            "-count": f"n ASC, {col} ASC",
            "value": f"{col} ASC",
            "-value": f"{col} DESC",
        }[order]
        sql = (
            f"SELECT {col}, count(*) AS n FROM {self.source} WHERE {self.where} AND {col} IS NOT NULL "
            f"GROUP BY {col} ORDER BY {by} LIMIT {int(size)}"
        )
        return [(k, int(n)) for k, n in self.cur.execute(sql).fetchall()]

    def histogram(self, spec: FieldSpec, interval: float, offset: float) -> list[tuple[float, int]]:
        col = self._col(spec)
        bucket = f"floor(({col} - {sql_literal(float(offset))}) / {sql_literal(float(interval))})"
        sql = (
            f"SELECT {bucket} AS b, count(*) FROM {self.source} WHERE {self.where} AND {col} IS NOT NULL "
            "GROUP BY b ORDER BY b"
        )
        return [(float(b) * interval + offset, int(n)) for b, n in self.cur.execute(sql).fetchall()]

    def range_counts(self, spec: FieldSpec, ranges: list[dict[str, Any]]) -> list[int]:
        col = self._col(spec)
        parts = []
        for r in ranges:
            cond = [f"{col} IS NOT NULL"]
            if r.get("from") is not None:
                cond.append(f"{col} >= {sql_literal(_as_number(r['from']))}")
            if r.get("to") is not None:
                cond.append(f"{col} < {sql_literal(_as_number(r['to']))}")
            parts.append(f"count(*) FILTER (WHERE {' AND '.join(cond)})")
        row = self.cur.execute(f"SELECT {', '.join(parts)} FROM {self.source} WHERE {self.where}").fetchone()
        return [int(v) for v in row] if row else [0] * len(ranges)


def _num(value: Any) -> float | None:
    return None if value is None else float(value)


def _as_number(value: Any) -> int | float:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else float(value)
