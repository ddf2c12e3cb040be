"""The hunt engine's public API: run KQL over the archive (`run`, `execute`, `explain`, `parse`)."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from huntvault.errors import KqlError
from huntvault.kql.backends import HuntLimits
from huntvault.kql.parser import parse

__all__ = ["HuntLimits", "HuntResult", "execute", "explain", "parse", "run", "shared_backend"]


@dataclass
class HuntResult:
    """A query result: the Arrow table, each column's KQL type, the render hint, the SQL and timings."""

    table: pa.Table
    kql_types: dict[str, str]
    chart: dict[str, Any] | None = None
    sql: str = ""
    truncated: bool = False
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def columns(self) -> list[tuple[str, str]]:
        return [(n, self.kql_types.get(n, "string")) for n in self.table.column_names]

    def rows(self) -> list[dict[str, Any]]:
        from huntvault.kql.output import json_rows

        return json_rows(self)


def _backend(archive: str | Path | None, engine: str, limits: HuntLimits | None = None) -> Any:
    from huntvault.kql.backends import DuckDBBackend, SparkBackend

    if engine == "spark":
        return SparkBackend(archive, limits)
    if engine != "duckdb":
        raise KqlError(f"unknown engine {engine!r} (duckdb or spark)")
    return DuckDBBackend(archive, limits)


_SHARED_LOCK = threading.Lock()
_SHARED: dict[tuple[str, HuntLimits], tuple[str, Any]] = {}


def shared_backend(archive: str | Path, engine: str = "duckdb", limits: HuntLimits | None = None) -> Any:
    """A DuckDB backend kept across queries while the archive has no new commit (a server's hunts).

    Opening the catalog (a view per table over the committed parts, their column types) is most of a
    short query's time; it is redone only when the archive's change feed has moved. Other engines,
    and folders without a manifest, get a fresh backend each call.
    """
    from huntvault.archive import catalog_version, locate

    limits = limits or HuntLimits()
    version = catalog_version(archive) if engine == "duckdb" else None
    if version is None:
        return _backend(archive, engine, limits)
    key = (locate(archive).url, limits)
    with _SHARED_LOCK:
        hit = _SHARED.get(key)
        if hit is not None and hit[0] == version:
            return hit[1]
    backend = _backend(archive, engine, limits)
    with _SHARED_LOCK:  # a replaced backend is closed by the garbage collector once no query uses it
        _SHARED[key] = (version, backend)
    return backend


def compile_query(query: str, backend: Any, now: datetime | None = None) -> tuple[str, Any, Any]:
    from huntvault.kql.dialect import DIALECTS
    from huntvault.kql.plan import Planner

    script = parse(query)
    dialect = DIALECTS[backend.dialect]
    planner = Planner(query, backend, dialect, now or datetime.now(UTC))
    rel = planner.plan(script)
    return dialect.render(rel.sql), rel, planner


def execute(
    query: str,
    archive: str | Path | None = None,
    *,
    engine: str = "duckdb",
    now: datetime | None = None,
    row_cap: int | None = None,
    timeout: float | None = None,
    backend: Any = None,
    limits: HuntLimits | None = None,
    cancel: threading.Event | None = None,
) -> HuntResult:
    """Run a KQL query; the result carries KQL column types and the render hint.

    Setting `cancel` stops the hunt (DuckDB's cursor is interrupted) with KqlCancelledError.
    """
    t0 = time.perf_counter()
    backend = backend or _backend(archive, engine, limits)
    sql, rel, planner = compile_query(query, backend, now)
    t1 = time.perf_counter()
    run_sql = sql
    if row_cap:
        run_sql = f"SELECT * FROM ({sql}) AS _capped LIMIT {int(row_cap) + 1}"
    table = backend.execute(run_sql, timeout, cancel)
    t2 = time.perf_counter()
    truncated = bool(row_cap) and table.num_rows > int(row_cap or 0)
    if truncated:
        table = table.slice(0, int(row_cap or 0))
    kinds = dict(rel.cols)
    table = _finish(table, rel.cols)
    return HuntResult(
        table, kinds, planner.render, sql, truncated, {"compile_s": t1 - t0, "execute_s": t2 - t1}
    )


def _finish(table: pa.Table, cols: list[tuple[str, str]]) -> pa.Table:
    """Give the Arrow columns Kusto's names (DuckDB may rename duplicates) and the archive's Arrow types."""
    arrays = []
    fields = []
    for i, (name, kind) in enumerate(cols):
        arr = table.column(i)
        if kind == "timespan":
            arr = arr.cast(pa.int64()).cast(pa.duration("us"))
        elif kind == "dynamic" and not pa.types.is_string(arr.type):
            arr = arr.cast(pa.string())
        elif (kind == "datetime" and pa.types.is_timestamp(arr.type) and arr.type.tz is None) or (
            kind == "datetime" and pa.types.is_timestamp(arr.type) and arr.type.unit != "us"
        ):
            arr = arr.cast(pa.timestamp("us", tz="UTC"))
        arrays.append(arr)
        fields.append(pa.field(name, arr.type, metadata={b"kql_type": kind.encode()}))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def run(
    query: str,
    archive: str | Path | None = None,
    *,
    engine: str = "duckdb",
    now: datetime | None = None,
    limits: HuntLimits | None = None,
) -> pa.Table:
    """Run a KQL query and return its rows as a pyarrow Table (render hint in the schema metadata)."""
    result = execute(query, archive, engine=engine, now=now, limits=limits)
    meta = {b"kql_render": json.dumps(result.chart).encode()} if result.chart else {}
    return result.table.replace_schema_metadata(meta or None)


def explain(
    query: str, archive: str | Path | None = None, *, engine: str = "duckdb", now: datetime | None = None
) -> str:
    """The SQL the query lowers to."""
    backend = _backend(archive, engine)
    sql, _, _ = compile_query(query, backend, now)
    return sql
