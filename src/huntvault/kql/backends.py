"""Backends: the table catalog over the Parquet archive and SQL execution on DuckDB or Spark."""

from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
from sqlglot import exp

from huntvault import schema
from huntvault.config import HuntConfig
from huntvault.errors import KqlCancelledError, KqlSemanticError, KqlUnsupportedError
from huntvault.kql.series_math import register as register_series_udf

#: Tables the Defender export never carries (defender-export.md): named in the unknown-table error.
NOT_STREAMED_HINT = " (not part of the streaming export, so not in the archive)"


class Catalog:
    """Table names and columns (KQL types) the planner can read, and how to name them in SQL."""

    def __init__(self, tables: dict[str, list[tuple[str, str]]]) -> None:
        self.tables = tables

    def has_table(self, name: str) -> bool:
        return name in self.tables

    def columns(self, name: str) -> list[tuple[str, str]] | None:
        return self.tables.get(name)

    def table_names(self) -> list[str]:
        return sorted(self.tables)

    def table_expr(self, name: str) -> exp.Expression:
        return exp.Table(this=exp.to_identifier(name, quoted=True))

    def missing_reason(self, name: str) -> str:
        t = schema.get_table(name)
        if t is not None and not t.streamed:
            return NOT_STREAMED_HINT
        return ""

    def discover(self, sql: str) -> list[str]:
        raise KqlUnsupportedError("this backend cannot run discovery queries")


def schema_tables() -> dict[str, list[tuple[str, str]]]:
    return {name: [(c.name, c.type) for c in t.columns] for name, t in schema.tables().items()}


@dataclass(frozen=True)
class HuntLimits:
    """What one hunt engine may use: DuckDB threads and memory, and the folders `externaldata` may read.

    Every DuckDB connection a hunt runs on is sandboxed (`sandbox`): it reads the archive and nothing
    else, its configuration is locked and extensions can be neither installed nor loaded.
    """

    threads: int = 0  # 0 = DuckDB's default (every core)
    memory_limit: str = ""  # "" = DuckDB's default; config's [hunt].memory_limit otherwise
    externaldata_dirs: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, hunt: HuntConfig) -> HuntLimits:
        return cls(hunt.threads, hunt.memory_limit, tuple(hunt.externaldata_dirs))

    def allows(self, path: Path) -> bool:
        """True when `path` (resolved, symlinks followed) lies under one of `externaldata_dirs`."""
        real = Path(os.path.realpath(path))
        return any(real.is_relative_to(os.path.realpath(d)) for d in self.externaldata_dirs if d)


_MEMORY = re.compile(r"\d+(\.\d+)?\s*[KMGT]?i?B", re.IGNORECASE)


def sandbox(con: Any, readable: list[Path], limits: HuntLimits) -> None:
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


class DuckDBBackend(Catalog):
    """DuckDB over the archive: `open_catalog` when the archive package provides it, else our own views."""

    dialect = "duckdb"

    def __init__(self, archive: str | Path | None, limits: HuntLimits | None = None) -> None:
        import duckdb

        self.limits = limits or HuntLimits()
        self.con: Any = None
        if archive is not None:
            self.con = self._open_archive(Path(archive))
        if self.con is None:
            self.con = duckdb.connect(":memory:")
            if archive is not None:
                create_views(self.con, Path(archive))
        self.con.execute("SET TimeZone='UTC'")
        register_series_udf(self.con)
        self.con.execute("SET enable_object_cache=true")  # Parquet metadata is read once per connection
        sandbox(self.con, [Path(archive)] if archive is not None else [], self.limits)
        tables = schema_tables() if archive is not None else {}
        if archive is not None:
            views = self._view_names()
            for name in views:
                if name not in tables and not name.startswith("_"):
                    tables[name] = self._describe(name)
            tables = {n: c for n, c in tables.items() if n in views}
        super().__init__(tables)

    @staticmethod
    def _open_archive(path: Path) -> Any:
        """The archive package's catalog when the folder is a real archive (it has a manifest); hand-made
        Parquet in the same layout without a manifest (benchmarks, fixtures) gets our own views instead."""
        try:
            from huntvault.archive import archived_tables, open_catalog
        except ImportError:
            return None
        if not archived_tables(path) and any(path.glob("*/date=*/*.parquet")):
            return None
        return open_catalog(path, read_only=True)

    def _view_names(self) -> set[str]:
        rows = self.con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        return {r[0] for r in rows}

    def _describe(self, name: str) -> list[tuple[str, str]]:
        rows = self.con.execute(f'DESCRIBE "{name}"').fetchall()
        kinds = {
            "VARCHAR": "string",
            "BIGINT": "long",
            "INTEGER": "int",
            "DOUBLE": "real",
            "BOOLEAN": "bool",
            "TIMESTAMP WITH TIME ZONE": "datetime",
            "JSON": "dynamic",
        }
        return [
            (r[0], kinds.get(r[1], "string")) for r in rows if not r[0].startswith("_") and r[0] != "date"
        ]

    def execute(
        self, sql: str, timeout: float | None = None, cancel: threading.Event | None = None
    ) -> pa.Table:
        # a cursor per query: one backend serves concurrent requests (cursors share the views and UDFs)
        if cancel is not None and cancel.is_set():
            raise KqlCancelledError("the hunt was cancelled")
        cur = self.con.cursor()
        watch = _Watch(cur, timeout, cancel)
        try:
            return cur.sql(sql).to_arrow_table()
        except Exception as exc:  # duckdb raises its own error tree; surface it as a KQL error
            if watch.why == "cancel":
                raise KqlCancelledError("the hunt was cancelled") from None
            if watch.why == "timeout":
                raise KqlUnsupportedError(f"the query ran longer than the {timeout:g} s timeout") from None
            raise KqlSemanticError(f"the query failed in DuckDB: {str(exc).splitlines()[0]}") from None
        finally:
            watch.done()
            cur.close()

    def discover(self, sql: str) -> list[str]:
        cur = self.con.cursor()
        try:
            return [str(r[0]) for r in cur.execute(sql).fetchall() if r[0] is not None]
        finally:
            cur.close()


class _Watch:
    """Interrupts a DuckDB cursor when `cancel` is set or `timeout` seconds pass, whichever comes first."""

    POLL_SECONDS = 0.05

    def __init__(self, cur: Any, timeout: float | None, cancel: threading.Event | None) -> None:
        self.why = ""
        self._finished = threading.Event()
        if not timeout and cancel is None:
            return
        self._cur, self._cancel = cur, cancel
        self._deadline = time.monotonic() + timeout if timeout else None
        threading.Thread(target=self._run, name="hunt-watch", daemon=True).start()

    def _run(self) -> None:
        while not self._finished.wait(self.POLL_SECONDS if self._cancel is not None else self._left()):
            if self._cancel is not None and self._cancel.is_set():
                self.why = "cancel"
            elif self._deadline is not None and time.monotonic() >= self._deadline:
                self.why = "timeout"
            else:
                continue
            with contextlib.suppress(Exception):  # the query may have just finished and closed its cursor
                self._cur.interrupt()
            return

    def _left(self) -> float:
        return max(0.0, (self._deadline or 0.0) - time.monotonic())

    def done(self) -> None:
        self._finished.set()


def create_views(con: Any, archive: Path) -> None:
    """One view per schema table: hive-partitioned Parquet when the folder has data, else a typed empty view."""
    from huntvault.kql.values import SQL_TYPES

    for name, t in schema.tables().items():
        folder = archive / name
        parts = list(folder.glob("date=*/*.parquet")) if folder.is_dir() else []
        if parts:
            pattern = str(folder / "date=*" / "*.parquet").replace("'", "''")
            con.execute(
                f"CREATE VIEW \"{name}\" AS SELECT * FROM read_parquet('{pattern}', hive_partitioning=true, union_by_name=true)"
            )
        else:
            cols = ", ".join(f'CAST(NULL AS {SQL_TYPES[c.type]}) AS "{c.name}"' for c in t.columns)
            con.execute(f'CREATE VIEW "{name}" AS SELECT {cols} WHERE false')


class SparkBackend(Catalog):
    """pyspark in local mode over the same Parquet archive (one session per process)."""

    dialect = "spark"
    _session: Any = None

    def __init__(self, archive: str | Path | None, limits: HuntLimits | None = None) -> None:
        self.limits = limits or HuntLimits()
        spark = self.session()
        tables: dict[str, list[tuple[str, str]]] = {}
        if archive is not None:
            for name, cols in schema_tables().items():
                folder = Path(archive) / name
                files = _committed_parts(Path(archive), name)
                if files:
                    spark.read.option("basePath", str(folder)).parquet(
                        *map(str, files)
                    ).createOrReplaceTempView(name)
                else:
                    from huntvault.kql.values import SQL_TYPES

                    sel = ", ".join(f"CAST(NULL AS {_spark_type(SQL_TYPES[c[1]])}) AS `{c[0]}`" for c in cols)
                    spark.sql(f"SELECT {sel} WHERE false").createOrReplaceTempView(name)
                tables[name] = cols
        super().__init__(tables)

    @classmethod
    def session(cls) -> Any:
        if cls._session is None:
            import os

            from pyspark.sql import SparkSession

            # Python UDFs (series_*) run in workers: this interpreter (and its huntvault) must run them
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

            cls._session = (
                SparkSession.builder.master("local[1]")
                .appName("huntvault-hunt")
                .config("spark.sql.session.timeZone", "UTC")
                .config("spark.ui.enabled", "false")
                .config("spark.ui.showConsoleProgress", "false")
                .config("spark.sql.shuffle.partitions", "2")
                .config("spark.sql.ansi.enabled", "false")
                .getOrCreate()
            )
            cls._session.sparkContext.setLogLevel("ERROR")
            _register_spark_udfs(cls._session)
        return cls._session

    def table_expr(self, name: str) -> exp.Expression:
        return exp.Table(this=exp.to_identifier(name, quoted=True))

    def execute(
        self, sql: str, timeout: float | None = None, cancel: threading.Event | None = None
    ) -> pa.Table:
        if cancel is not None and cancel.is_set():
            raise KqlCancelledError("the hunt was cancelled")
        try:
            df = self.session().sql(sql)
            return df.toArrow() if hasattr(df, "toArrow") else pa.Table.from_pandas(df.toPandas())
        except Exception as exc:
            raise KqlSemanticError(f"the query failed in Spark: {str(exc).splitlines()[0]}") from None

    def discover(self, sql: str) -> list[str]:
        return [str(r[0]) for r in self.session().sql(sql).collect() if r[0] is not None]


def _register_spark_udfs(spark: Any) -> None:
    """The series_* UDF on a Spark session (null series in, null out, as DuckDB's default null handling)."""
    from pyspark.sql.types import StringType

    from huntvault.kql.series_math import UDF_NAME, kql_series

    def body(name: str | None, series: str | None, args: str | None) -> str | None:
        if name is None or series is None or args is None:
            return None
        return kql_series(name, series, args)

    spark.udf.register(UDF_NAME, body, StringType())


def _committed_parts(archive: Path, table: str) -> list[Path]:
    """The table's live Parquet parts: from the archive manifest when there is one, else the folder layout."""
    try:
        from huntvault.archive import archived_tables, table_files
    except ImportError:
        archived_tables = None  # type: ignore[assignment]
    if archived_tables is not None and archived_tables(archive):
        return list(table_files(archive, table))
    return sorted((archive / table).glob("date=*/*.parquet"))


def _spark_type(t: str) -> str:
    return {"VARCHAR": "STRING", "JSON": "STRING", "TIMESTAMPTZ": "TIMESTAMP", "INT": "INT"}.get(t, t)
