"""How a rule's KQL runs over one window: the window imposed on every table it reads, and the query runners."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa

from huntvault.errors import KqlError
from huntvault.kql import HuntLimits
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
    many windows (backtests open it once, the scheduler once per cycle).
    """

    def __init__(self, archive: str | Path, engine: str = "duckdb", limits: HuntLimits | None = None) -> None:
        self.archive = Path(archive)
        self.engine = engine
        self.limits = limits or HuntLimits()
        self._backend: Any = None
        self._saved: set[str] = set()

    def refresh(self) -> None:
        self._backend = None
        self._saved = set()

    def _open(self) -> Any:
        if self._backend is None and self.engine == "duckdb":
            # The one reach into the engine's internals: a reusable catalog (the public `run` reopens it per query).
            from huntvault.kql.backends import DuckDBBackend

            self._backend = DuckDBBackend(self.archive, self.limits)
        return self._backend

    def __call__(
        self, query: str, now: datetime, window: tuple[datetime, datetime] | None = None
    ) -> pa.Table:
        import huntvault.kql as kql

        if self.engine != "duckdb":
            return kql.run(query, self.archive, engine=self.engine, now=now, limits=self.limits)
        backend = self._open()
        self._restrict(backend, tables_read(query), window)
        return kql.execute(query, self.archive, engine=self.engine, now=now, backend=backend).table

    def _restrict(self, backend: Any, names: list[str], window: tuple[datetime, datetime] | None) -> None:
        """Point each table's view at the day partitions the window touches (the catalog's `date` column),
        so a window over a long archive reads its days only. The KQL filter stays the authority."""
        con = backend.con
        for name in names:
            full = f"{name}__hv_all"
            backend.attach(name)  # the catalog is lazy: the table's view exists once a query names it
            if name not in self._saved:
                row = con.execute(
                    "SELECT sql FROM duckdb_views() WHERE view_name = ? AND NOT internal", [name]
                ).fetchone()
                if row is None or " AS " not in row[0]:
                    continue
                con.execute(f'CREATE VIEW "{full}" AS {row[0].split(" AS ", 1)[1]}')
                self._saved.add(name)
            if window is None:
                con.execute(f'CREATE OR REPLACE VIEW "{name}" AS SELECT * FROM "{full}"')
                continue
            lo = window[0].astimezone(UTC).date().isoformat()
            hi = (window[1].astimezone(UTC) - timedelta(microseconds=1)).date().isoformat()
            con.execute(
                f'CREATE OR REPLACE VIEW "{name}" AS SELECT * FROM "{full}" '
                f"WHERE date BETWEEN DATE '{lo}' AND DATE '{hi}'"
            )


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
