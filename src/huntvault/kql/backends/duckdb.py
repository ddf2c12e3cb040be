"""The DuckDB backend: a lazy catalog over the archive's snapshot, the hunt sandbox, queries with timeout and cancel."""

from __future__ import annotations

import os
import re
import threading
import time
from pathlib import Path

import duckdb
import pyarrow as pa
from duckdb.func import FunctionNullHandling
from sqlglot import exp

from huntvault import schema
from huntvault.archive import ArchiveSnapshot, locate
from huntvault.errors import KqlCancelledError, KqlEngineError, KqlUnsupportedError
from huntvault.kql.backends.catalog import (
    PARTITION_COLUMN,
    ArchiveRef,
    TableCatalog,
    archive_tables,
    snapshot,
)
from huntvault.kql.geomath import UDF_NAME as GEO_UDF
from huntvault.kql.geomath import kql_geo
from huntvault.kql.limits import HuntLimits
from huntvault.kql.pyfuncs import UDF_NAME as FN_UDF_NAME
from huntvault.kql.pyfuncs import kql_fn
from huntvault.kql.seriesmath import UDF_NAME, kql_series
from huntvault.kql.values import SQL_TYPES

_MEMORY = re.compile(r"\d+(\.\d+)?\s*[KMGT]?i?B", re.IGNORECASE)
#: how often a running query looks at its cancel event (seconds)
CANCEL_POLL = 0.05


def sandbox(con: duckdb.DuckDBPyConnection, readable: list[Path], limits: HuntLimits) -> None:
    """Lock a DuckDB connection down for hunts (call after its views and UDFs exist).

    File access is limited to `readable` (the archive), extension install/load is off, threads and
    memory come from `limits`, and the configuration is locked so no statement can undo any of it.
    """
    if limits.threads:
        con.execute(f"SET threads={int(limits.threads)}")
    if limits.memory_limit:
        if not _MEMORY.fullmatch(limits.memory_limit.strip()):
            raise KqlUnsupportedError(f"hunt.memory_limit {limits.memory_limit!r} is not a size like 4GB")
        con.execute(f"SET memory_limit='{limits.memory_limit.strip()}'")
    dirs = ", ".join("'" + (os.path.realpath(p).rstrip("/") + "/").replace("'", "''") + "'" for p in readable)
    con.execute(f"SET allowed_directories=[{dirs}]")
    con.execute("SET enable_external_access=false")
    con.execute("SET autoinstall_known_extensions=false")
    con.execute("SET autoload_known_extensions=false")
    con.execute("SET lock_configuration=true")


def register_series_udf(con: duckdb.DuckDBPyConnection) -> None:
    """The kql_series (series_*), kql_geo (geo_*) and kql_fn (Python scalar functions) UDFs on a connection, once."""
    text = duckdb.sqltype("VARCHAR")
    # the Python scalar functions (kql/pyfuncs) take (name, types, args_json); "special" null handling: an entry
    # may answer null itself (DuckDB's default handling refuses None)
    udfs = ((UDF_NAME, kql_series, 3), (GEO_UDF, kql_geo, 2), (FN_UDF_NAME, kql_fn, 3))
    for name, function, arity in udfs:
        try:  # cheaper than listing duckdb_functions() first (that listing costs a hunt's start-up ~20 ms)
            con.create_function(
                name,
                function,
                [text] * arity,
                text,
                null_handling=FunctionNullHandling.SPECIAL,
                side_effects=False,
            )
        except (duckdb.NotImplementedException, duckdb.CatalogException):
            pass  # already registered on this connection


def create_views(con: duckdb.DuckDBPyConnection, root: Path) -> None:
    """One view per schema table: hive-partitioned Parquet when the folder has data, else a typed empty view."""
    for name, t in schema.tables().items():
        folder = root / name
        if folder.is_dir() and any(folder.glob("date=*/*.parquet")):
            pattern = str(folder / "date=*" / "*.parquet").replace("'", "''")
            con.execute(
                f"CREATE VIEW \"{name}\" AS SELECT * FROM read_parquet('{pattern}', hive_partitioning=true, union_by_name=true)"
            )
        else:
            cols = ", ".join(f'CAST(NULL AS {SQL_TYPES[c.type]}) AS "{c.name}"' for c in t.columns)
            con.execute(f'CREATE VIEW "{name}" AS SELECT {cols} WHERE false')


class DuckDBBackend(TableCatalog):
    """DuckDB over the archive (or over nothing: literal queries such as `print`, `datatable`).

    Each table's view is created when a query first names it (a lazy catalog over the archive's
    snapshot); hand-made Parquet in the archive layout without Delta tables gets plain views at once.
    """

    def __init__(self, root: ArchiveRef | None, limits: HuntLimits | None = None) -> None:
        self.con = duckdb.connect(":memory:")
        self._snap: ArchiveSnapshot | None = None
        self._attached: set[str] = set()
        self._attach_lock = threading.Lock()
        readable: list[Path] = []
        tables: dict[str, list[tuple[str, str]]] = {}
        partitioned: set[str] = set()
        if root is not None:
            self._snap = snapshot(root)
            loc = locate(root)
            readable = [loc.local] if loc.local is not None else []
            tables = archive_tables(self._snap)
            if self._snap is None:
                create_views(self.con, Path(str(root)))
                self._attached = set(schema.tables())
                partitioned = self._partitioned()
            else:
                partitioned = set(tables)  # a snapshot's views always carry the day (`date`) column
        self.con.execute("SET TimeZone='UTC'")
        register_series_udf(self.con)
        self.con.execute("SET enable_object_cache=true")  # Parquet metadata is read once per connection
        limits = limits or HuntLimits()
        sandbox(self.con, readable, limits)
        super().__init__(tables, limits, partitioned)

    def table_expr(self, name: str) -> exp.Expression:
        self.attach(name)
        return super().table_expr(name)

    def attach(self, name: str) -> None:
        """Create `name`'s view over the archive snapshot the first time a query names it."""
        if self._snap is None or name in self._attached or name not in self.tables:
            return
        with self._attach_lock:
            if name not in self._attached:
                self._snap.attach(self.con, name, naive_utc=False)  # KQL compares TIMESTAMPTZ
                self._attached.add(name)

    @property
    def dialect(self) -> str:
        return "duckdb"

    def _partitioned(self) -> set[str]:
        rows = self.con.execute(
            "SELECT table_name FROM information_schema.columns WHERE column_name = ?", [PARTITION_COLUMN]
        ).fetchall()
        return {str(r[0]) for r in rows}

    def execute(
        self, sql: str, timeout: float | None = None, cancel: threading.Event | None = None
    ) -> pa.Table:
        """Run on a cursor of its own (one backend serves concurrent requests); `timeout` seconds or the
        `cancel` event interrupt it."""
        if cancel is not None and cancel.is_set():
            raise KqlCancelledError("the hunt was cancelled")
        cur = self.con.cursor()
        timed_out = threading.Event()
        done = threading.Event()

        deadline = time.monotonic() + timeout if timeout else None

        def watch() -> None:
            while not done.wait(CANCEL_POLL):
                if cancel is not None and cancel.is_set():
                    cur.interrupt()
                    return
                if deadline is not None and time.monotonic() >= deadline:
                    timed_out.set()
                    cur.interrupt()
                    return

        watcher = (
            threading.Thread(target=watch, name="hunt-watch", daemon=True) if timeout or cancel else None
        )
        if watcher is not None:
            watcher.start()
        try:
            return cur.sql(sql).to_arrow_table()
        except Exception as exc:  # duckdb raises its own error tree; surface it as a KQL error
            if cancel is not None and cancel.is_set():
                raise KqlCancelledError("the hunt was cancelled") from None
            if timed_out.is_set():
                raise KqlUnsupportedError(f"the query ran longer than the {timeout:g} s timeout") from None
            raise KqlEngineError("DuckDB", str(exc).splitlines()[0]) from None
        finally:
            done.set()
            if watcher is not None:
                watcher.join()
            cur.close()

    def discover(self, sql: str) -> list[str]:
        for name in self.tables:  # a discovery query may read any table
            self.attach(name)
        cur = self.con.cursor()
        try:
            return [str(r[0]) for r in cur.execute(sql).fetchall() if r[0] is not None]
        except Exception as exc:
            raise KqlEngineError("DuckDB", str(exc).splitlines()[0]) from None
        finally:
            cur.close()
