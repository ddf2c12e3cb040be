"""The hunt engine's public API: parse KQL, compile it for a backend, run it over the archive.

Layers (each imports only those below it; `make lint` checks it with import-linter):
    kql (this API)          parse, compile_query, execute, run, explain, shared_backend
    output, result          rendering results
    planner | backends      the planner (Planner, ExprCompiler) | DuckDB/Spark over the archive
    registry                every table assembled, the lookup order
    functions | aggregates | scalar | operators | sources | plugins   the table entries, by family
    lowering                building blocks shared by the entries
    ir                      Rel, Binding, Scope, Catalog/Planner/Compiler protocols, entry types
    dialects | syntax       SQL generation per engine | tokenizer and grammar
    ast, values, limits, seriesmath   leaves
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pyarrow as pa

from huntvault.errors import KqlEngineError, KqlError, KqlLimitError
from huntvault.kql import ast, registry
from huntvault.kql.backends import ENGINES, open_backend, shared_backend
from huntvault.kql.backends.catalog import ArchiveRef
from huntvault.kql.dialects import DIALECTS
from huntvault.kql.engine_errors import for_people
from huntvault.kql.ir import Catalog, Window
from huntvault.kql.limits import Budget, HuntLimits, QueryBounds, ensure_recursion
from huntvault.kql.output import render
from huntvault.kql.planner import Planner
from huntvault.kql.result import HuntResult, finish
from huntvault.kql.syntax import parse_script
from huntvault.kql.words import Vocabulary, vocabulary

__all__ = [
    "ENGINES",
    "ArchiveRef",
    "Catalog",
    "Compiled",
    "HuntLimits",
    "HuntResult",
    "QueryBounds",
    "Vocabulary",
    "Window",
    "ast",
    "compile_query",
    "execute",
    "explain",
    "open_backend",
    "parse",
    "render",
    "run",
    "shared_backend",
    "vocabulary",
]

#: what an `execute` / `compile_query` window may be given as
WindowLike = Window | tuple[datetime, datetime]


@dataclass
class Compiled:
    """A query lowered for one backend: the SQL, the output columns (name, KQL type), the chart hint."""

    sql: str
    columns: list[tuple[str, str]]
    chart: dict[str, object] | None
    #: fork / facet: every result table (name, SQL, columns), the first being `sql`; else empty
    results: list[tuple[str, str, list[tuple[str, str]]]] = field(default_factory=list)


def parse(text: str, bounds: QueryBounds | None = None, cancel: threading.Event | None = None) -> ast.Script:
    """Parse a whole query (let statements and tabular expressions) into its Script (the typed AST).

    A Script can be rewritten (it is dataclasses) and given back to `compile_query` / `execute`."""
    ensure_recursion()
    return parse_script(text, registry.PIPE_PARSERS, Budget(bounds, cancel))


def _window(window: WindowLike | None) -> Window | None:
    if window is None or isinstance(window, Window):
        return window
    try:
        return Window(*window)
    except ValueError as exc:
        raise KqlError(f"invalid hunt window: {exc}") from None


def compile_query(
    query: str | ast.Script,
    backend: Catalog,
    now: datetime | None = None,
    *,
    window: WindowLike | None = None,
    cancel: threading.Event | None = None,
    bounds: QueryBounds | None = None,
) -> Compiled:
    """Lower a query (text or a parsed Script) to the backend's SQL.

    `window` restricts every archive table the query reads to [start, end) on its time column (and
    lets the backend skip day partitions); `cancel` and the bounds' compile budget stop a compile
    that should not go on. Bad queries raise a KqlError with the line and column.
    """
    ensure_recursion()
    budget = Budget(bounds or backend.limits.bounds(), cancel)
    script = parse_script(query, registry.PIPE_PARSERS, budget) if isinstance(query, str) else query
    dialect = DIALECTS[backend.dialect]
    planner = Planner(script.text, backend, dialect, now or datetime.now(UTC), _window(window), budget)
    try:
        rel = planner.plan(script)
        sql = dialect.render(rel.sql)
        results = [(name, dialect.render(r.sql), r.cols) for name, r in rel.results or []]
    except KqlEngineError as exc:  # a first query (bag keys, a folded list) the engine refused
        raise for_people(exc, script.text) from None
    except RecursionError:  # the bounds should keep every query below the recursion limit
        raise KqlLimitError("the query is too deeply nested to compile; see docs/kql.md, Limits") from None
    return Compiled(sql, rel.cols, planner.render, results)


def execute(
    query: str | ast.Script,
    archive: ArchiveRef | None = None,
    *,
    engine: str = "duckdb",
    now: datetime | None = None,
    row_cap: int | None = None,
    timeout: float | None = None,
    backend: Catalog | None = None,
    limits: HuntLimits | None = None,
    window: WindowLike | None = None,
    cancel: threading.Event | None = None,
) -> HuntResult:
    """Run a KQL query (text or a parsed Script); the result carries KQL column types and the render hint.

    `backend` reuses an open catalog (`shared_backend`, `open_backend`), else one is opened over
    `archive` with `engine`. `timeout` bounds the execution, `limits.compile_seconds` the compile;
    `cancel` stops either (KqlCancelledError). `window` restricts every archive table to [start, end).
    """
    t0 = time.perf_counter()
    backend = backend or open_backend(archive, engine, limits)
    bounds = (limits or backend.limits).bounds()
    compiled = compile_query(query, backend, now, window=window, cancel=cancel, bounds=bounds)
    t1 = time.perf_counter()
    text = query if isinstance(query, str) else query.text
    table, truncated = _run_one(backend, compiled.sql, compiled.columns, row_cap, timeout, cancel, text)
    tables: list[tuple[str, HuntResult]] = []
    for i, (name, sql, cols) in enumerate(compiled.results):
        if i == 0:
            tables.append((name, HuntResult(table, dict(cols), None, sql, truncated)))
            continue
        more, cut = _run_one(backend, sql, cols, row_cap, timeout, cancel, text)
        tables.append((name, HuntResult(more, dict(cols), None, sql, cut)))
    t2 = time.perf_counter()
    timings = {"compile_s": t1 - t0, "execute_s": t2 - t1}
    return HuntResult(table, dict(compiled.columns), compiled.chart, compiled.sql, truncated, timings, tables)


def _run_one(
    backend: Catalog,
    sql: str,
    columns: list[tuple[str, str]],
    row_cap: int | None,
    timeout: float | None,
    cancel: threading.Event | None,
    text: str,
) -> tuple[pa.Table, bool]:
    """One result table: run (capped at row_cap + 1 rows to know it was truncated), typed as KQL says."""
    run_sql = f"SELECT * FROM ({sql}) AS _capped LIMIT {int(row_cap) + 1}" if row_cap else sql
    try:
        table = backend.execute(run_sql, timeout, cancel)
    except KqlEngineError as exc:
        raise for_people(exc, text) from None
    truncated = bool(row_cap) and table.num_rows > int(row_cap or 0)
    if truncated:
        table = table.slice(0, int(row_cap or 0))
    try:
        return finish(table, columns), truncated
    except (pa.ArrowException, IndexError) as exc:  # the engine's column types do not fit the KQL types
        raise KqlError(f"the query's result cannot be read as its KQL types: {exc}") from None


def run(
    query: str | ast.Script,
    archive: ArchiveRef | None = None,
    *,
    engine: str = "duckdb",
    now: datetime | None = None,
    limits: HuntLimits | None = None,
    window: WindowLike | None = None,
) -> pa.Table:
    """Run a KQL query and return its rows as a pyarrow Table (render hint in the schema metadata)."""
    result = execute(query, archive, engine=engine, now=now, limits=limits, window=window)
    meta = {b"kql_render": json.dumps(result.chart).encode()} if result.chart else {}
    return result.table.replace_schema_metadata(meta or None)


def explain(
    query: str | ast.Script,
    archive: ArchiveRef | None = None,
    *,
    engine: str = "duckdb",
    now: datetime | None = None,
    window: WindowLike | None = None,
) -> str:
    """The SQL the query lowers to (fork / facet: each table's, under a `-- name` line)."""
    compiled = compile_query(query, open_backend(archive, engine), now, window=window)
    if not compiled.results:
        return compiled.sql
    return "\n".join(f"-- {name}\n{sql}" for name, sql, _ in compiled.results)
