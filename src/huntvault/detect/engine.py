"""How a rule's KQL runs over one window: the window imposed on every table it reads, and the query runners."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import pyarrow as pa

from huntvault.errors import KqlError
from huntvault.kql import Catalog, HuntLimits, execute, open_backend
from huntvault.schema import tables

#: Strings, verbatim strings and comments are blanked before looking for table names.
_NOISE = re.compile(
    r'//[^\n]*|@"(?:[^"]|"")*"|@\'(?:[^\']|\'\')*\'|"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\''
)
_IDENT = re.compile(r"(?<![\w.$])([A-Za-z_][A-Za-z0-9_]*)\b")


def kql_datetime(value: datetime) -> str:
    return "datetime(" + value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ") + ")"


def tables_read(query: str) -> list[str]:
    """Schema tables the query names (in order of first mention)."""
    known = tables()
    found: list[str] = []
    for m in _IDENT.finditer(_NOISE.sub(lambda x: " " * len(x.group(0)), query)):
        name = m.group(1)
        if name in known and name not in found:
            found.append(name)
    return found


def window_query(query: str, start: datetime, end: datetime) -> str:
    """The query with every table it reads restricted to [start, end) on the table's time column.

    Each table is shadowed by a `let` of the same name on ONE extra first line, so KQL positions
    in errors shift by exactly one line (`WindowedError` undoes it). `now()`/`ago()` are bound to
    the window end by the runner.
    """
    lets = []
    lo, hi = kql_datetime(start), kql_datetime(end)
    for name in tables_read(query):
        tcol = tables()[name].time_column
        lets.append(f"let {name} = {name} | where {tcol} >= {lo} and {tcol} < {hi};")
    if not lets:
        return query
    return " ".join(lets) + "\n" + query


def unshift(exc: KqlError, query: str, windowed: str) -> KqlError:
    """A KQL error raised on `windowed` with its line moved back onto the rule's own query."""
    if windowed == query or not exc.line:
        return exc
    if exc.line == 1:
        return type(exc)(f"in the window filter: {exc.message}", 0, 0, None)
    return type(exc)(exc.message, exc.line - 1, exc.column, query)


class QueryRunner(Protocol):
    """Runs one KQL text with `now()` bound to `now`, returning the result rows.

    `window` is the [start, end) the text was already restricted to (`window_query`); a runner may
    use it to skip archive partitions, never to change the result.
    """

    def __call__(
        self, query: str, now: datetime, window: tuple[datetime, datetime] | None = None
    ) -> pa.Table: ...


class ArchiveRunner:
    """The real KQL engine (`huntvault.kql`) over the archive; `refresh()` sees later commits.

    The engine's catalog is a snapshot of the archive taken when it is opened; one snapshot serves
    many windows (backtests open it once, the scheduler once per cycle). The window is handed to the
    engine, which restricts every table to it and skips the day partitions outside it.
    """

    def __init__(self, archive: str | Path, engine: str = "duckdb", limits: HuntLimits | None = None) -> None:
        self.archive = archive  # a folder or an object-store URL (az://...), as the KQL engine takes it
        self.engine = engine
        self.limits = limits or HuntLimits()
        self._backend: Catalog | None = None

    def refresh(self) -> None:
        self._backend = None

    def _open(self) -> Catalog:
        if self._backend is None:
            self._backend = open_backend(self.archive, self.engine, self.limits)
        return self._backend

    def __call__(
        self, query: str, now: datetime, window: tuple[datetime, datetime] | None = None
    ) -> pa.Table:
        return execute(query, backend=self._open(), now=now, window=window).table


class SchemaChecker:
    """Compiles and runs queries over one empty archive (every schema table, no rows): a query's output
    columns, or its KqlError with the position. Use as a context manager; `check_rules` makes one."""

    def __init__(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="hv-detect-check-")
        self._runner = ArchiveRunner(self._tmp.name)

    def __call__(self, query: str) -> list[str]:
        return list(self._runner(query, datetime.now(UTC)).column_names)

    def close(self) -> None:
        self._runner.refresh()
        self._tmp.cleanup()

    def __enter__(self) -> SchemaChecker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def result_columns(query: str) -> list[str]:
    """One query's output columns over an empty archive (see SchemaChecker)."""
    with SchemaChecker() as checker:
        return checker(query)


Checker = Callable[[str], list[str]]

__all__ = [
    "ArchiveRunner",
    "Checker",
    "QueryRunner",
    "SchemaChecker",
    "kql_datetime",
    "result_columns",
    "tables_read",
    "unshift",
    "window_query",
]
