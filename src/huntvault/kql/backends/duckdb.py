"""The DuckDB backend: the archive's catalog (views), the hunt sandbox, and queries with timeout and cancel."""

from __future__ import annotations

import os
import re
import threading
import time
from pathlib import Path

import duckdb
import pyarrow as pa

from huntvault import archive, schema
from huntvault.errors import KqlCancelledError, KqlSemanticError, KqlUnsupportedError
from huntvault.kql.backends.catalog import PARTITION_COLUMN, TableCatalog, schema_tables
from huntvault.kql.limits import HuntLimits
from huntvault.kql.seriesmath import UDF_NAME, kql_series
from huntvault.kql.values import SQL_TYPES

_MEMORY = re.compile(r"\d+(\.\d+)?\s*[KMGT]?i?B", re.IGNORECASE)
#: DuckDB column type -> KQL type, for archived tables the schema does not know
_KINDS = {
    "VARCHAR": "string",
    "BIGINT": "long",
    "INTEGER": "int",
    "DOUBLE": "real",
    "BOOLEAN": "bool",
    "TIMESTAMP WITH TIME ZONE": "datetime",
    "JSON": "dynamic",
}
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
    """The kql_series UDF (series_* functions) on a connection, once."""
    found = con.execute(
        "SELECT count(*) FROM duckdb_functions() WHERE function_name = ?", [UDF_NAME]
    ).fetchall()
    if found[0][0]:
        return
    text = duckdb.sqltype("VARCHAR")
    con.create_function(UDF_NAME, kql_series, [text, text, text], text, side_effects=False)


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


def _open(root: Path) -> duckdb.DuckDBPyConnection:
    """The archive package's catalog for a real archive (it has a manifest); hand-made Parquet in the same
    layout without one (benchmarks, fixtures) gets views of our own."""
    if not archive.archived_tables(root) and any(root.glob("*/date=*/*.parquet")):
        con = duckdb.connect(":memory:")
        create_views(con, root)
        return con
    return archive.open_catalog(root, read_only=True)


class DuckDBBackend(TableCatalog):
    """DuckDB over the archive (or over nothing: literal queries such as `print`, `datatable`)."""

    def __init__(self, root: str | Path | None, limits: HuntLimits | None = None) -> None:
        self.con = _open(Path(root)) if root is not None else duckdb.connect(":memory:")
        self.con.execute("SET TimeZone='UTC'")
        register_series_udf(self.con)
        self.con.execute("SET enable_object_cache=true")  # Parquet metadata is read once per connection
        limits = limits or HuntLimits()
        sandbox(self.con, [Path(root)] if root is not None else [], limits)
        tables: dict[str, list[tuple[str, str]]] = {}
        partitioned: set[str] = set()
        if root is not None:
            views = self._view_names()
            tables = {n: c for n, c in schema_tables().items() if n in views}
            for name in views:
                if name not in tables and not name.startswith("_"):
                    tables[name] = self._describe(name)
            partitioned = self._partitioned()
        super().__init__(tables, limits, partitioned)

    @property
    def dialect(self) -> str:
        return "duckdb"

    def _view_names(self) -> set[str]:
        rows = self.con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        return {str(r[0]) for r in rows}

    def _partitioned(self) -> set[str]:
        rows = self.con.execute(
            "SELECT table_name FROM information_schema.columns WHERE column_name = ?", [PARTITION_COLUMN]
        ).fetchall()
        return {str(r[0]) for r in rows}

    def _describe(self, name: str) -> list[tuple[str, str]]:
        rows = self.con.execute(f'DESCRIBE "{name}"').fetchall()
        return [
            (str(r[0]), _KINDS.get(str(r[1]), "string"))
            for r in rows
            if not str(r[0]).startswith("_") and r[0] != PARTITION_COLUMN
        ]

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
            raise KqlSemanticError(f"the query failed in DuckDB: {str(exc).splitlines()[0]}") from None
        finally:
            done.set()
            if watcher is not None:
                watcher.join()
            cur.close()

    def discover(self, sql: str) -> list[str]:
        cur = self.con.cursor()
        try:
            return [str(r[0]) for r in cur.execute(sql).fetchall() if r[0] is not None]
        except Exception as exc:
            raise KqlSemanticError(f"the query failed in DuckDB: {str(exc).splitlines()[0]}") from None
        finally:
            cur.close()
