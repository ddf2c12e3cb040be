"""Backends: the table catalog over the Delta Lake archive and SQL execution on DuckDB or Spark."""

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
from huntvault.archive import ArchiveLocation, ArchiveSnapshot, archive_schema, locate
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
    spark_master: str = "local[1]"  # [hunt].spark_master: local[*], spark://host:7077, yarn
    spark_conf: tuple[tuple[str, str], ...] = ()  # [hunt].spark_conf, passed to the Spark session

    @classmethod
    def from_config(cls, hunt: HuntConfig) -> HuntLimits:
        return cls(
            hunt.threads,
            hunt.memory_limit,
            tuple(hunt.externaldata_dirs),
            hunt.spark_master,
            tuple(sorted(hunt.spark_conf.items())),
        )

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


#: Arrow type of an archive column -> KQL type (columns of archived tables the schema does not know)
_KQL_OF_ARROW: dict[pa.DataType, str] = {
    pa.string(): "string",
    pa.int32(): "int",
    pa.int64(): "long",
    pa.float64(): "real",
    pa.bool_(): "bool",
    pa.timestamp("us", tz="UTC"): "datetime",
}


def _archive_tables(snap: ArchiveSnapshot | None) -> dict[str, list[tuple[str, str]]]:
    """Schema tables plus archived tables the schema does not know (no table is read)."""
    tables = schema_tables()
    if snap is not None:
        for name in snap.table_names():
            if name not in tables and not name.startswith("_"):
                tables[name] = [
                    (f.name, _KQL_OF_ARROW.get(f.type, "string"))
                    for f in archive_schema(name)
                    if not f.name.startswith("_")
                ]
    return tables


def _snapshot(archive: str | Path | ArchiveLocation) -> ArchiveSnapshot | None:
    """The archive's lazy snapshot; None for hand-made Parquet in the same layout without Delta tables
    (benchmarks, fixtures), which gets plain views instead."""
    snap = ArchiveSnapshot(archive)
    if (
        snap.loc.local is not None
        and not snap.table_names()
        and any(snap.loc.local.glob("*/date=*/*.parquet"))
    ):
        return None
    return snap


class DuckDBBackend(Catalog):
    """DuckDB over the archive: each table's view is created when a query first names it (lazy catalog)."""

    dialect = "duckdb"

    def __init__(
        self, archive: str | Path | ArchiveLocation | None, limits: HuntLimits | None = None
    ) -> None:
        import duckdb

        self.limits = limits or HuntLimits()
        self.con: Any = duckdb.connect(":memory:")
        self._snap: ArchiveSnapshot | None = None
        self._attached: set[str] = set()
        self._attach_lock = threading.Lock()
        readable: list[Path] = []
        tables: dict[str, list[tuple[str, str]]] = {}
        if archive is not None:
            self._snap = _snapshot(archive)
            loc = locate(archive)
            readable = [loc.local] if loc.local is not None else []
            if self._snap is None:
                create_views(self.con, Path(str(archive)))
                self._attached = set(schema.tables())
            tables = _archive_tables(self._snap)
        self.con.execute("SET TimeZone='UTC'")
        register_series_udf(self.con)
        self.con.execute("SET enable_object_cache=true")  # Parquet metadata is read once per connection
        sandbox(self.con, readable, self.limits)
        super().__init__(tables)

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
        for name in self.tables:  # discovery queries may read any table
            self.attach(name)
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


_SPARK_LOCK = threading.Lock()
_SPARK_ROOTS: dict[tuple[str, tuple[tuple[str, str], ...]], Any] = {}


def _spark_root(master: str, conf: tuple[tuple[str, str], ...]) -> Any:
    """The process's SparkSession for (master, conf): Spark allows one SparkContext per JVM, so backends
    get their own `newSession()` of it (their temp views never meet)."""
    key = (master, conf)
    with _SPARK_LOCK:
        found = _SPARK_ROOTS.get(key)
        if found is not None:
            return found
        if _SPARK_ROOTS:
            other = next(iter(_SPARK_ROOTS))
            raise KqlUnsupportedError(
                f"hunt.spark_master: this process already runs Spark on {other[0]!r}; one master per process"
            )
        from pyspark.sql import SparkSession

        # Python UDFs (series_*) run in workers: this interpreter (and its huntvault) must run them
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        builder = (
            SparkSession.builder.master(master)
            .appName("huntvault-hunt")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", "2")
            .config("spark.sql.ansi.enabled", "false")
        )
        for k, v in conf:
            builder = builder.config(k, v)
        root = builder.getOrCreate()
        root.sparkContext.setLogLevel("ERROR")
        _SPARK_ROOTS[key] = root
        return root


def _spark_uri(loc: ArchiveLocation, uri: str) -> str:
    """What Spark (hadoop-azure) reads for an archive file: abfss:// for object-store archives."""
    if loc.local is not None or not uri.startswith("az://"):
        return uri
    container, _, rest = uri[len("az://") :].partition("/")
    account = loc.options.get("account_name", "")
    return f"abfss://{container}@{account}.dfs.core.windows.net/{rest}"


class SparkBackend(Catalog):
    """pyspark over the same archive: `[hunt] spark_master` (local[*], spark://host:7077, yarn) and
    `spark_conf`. Each table is read as the exact file list of its Delta snapshot (no delta-spark jars
    needed), so the answer is the snapshot DuckDB would see."""

    dialect = "spark"

    def __init__(
        self, archive: str | Path | ArchiveLocation | None, limits: HuntLimits | None = None
    ) -> None:
        from huntvault.kql.values import SQL_TYPES

        self.limits = limits or HuntLimits()
        self.spark = _spark_root(self.limits.spark_master, self.limits.spark_conf).newSession()
        _register_spark_udfs(self.spark)
        tables: dict[str, list[tuple[str, str]]] = {}
        if archive is not None:
            snap = _snapshot(archive)
            tables = _archive_tables(snap)
            for name, cols in tables.items():
                if snap is not None:
                    files = [_spark_uri(snap.loc, u) for u in snap.uris(name)]
                    base = _spark_uri(snap.loc, snap.loc.table_uri(name))
                else:
                    files = [str(p) for p in sorted((Path(str(archive)) / name).glob("date=*/*.parquet"))]
                    base = str(Path(str(archive)) / name)
                if files:
                    self.spark.read.option("basePath", base).parquet(*files).createOrReplaceTempView(name)
                else:
                    sel = ", ".join(f"CAST(NULL AS {_spark_type(SQL_TYPES[c[1]])}) AS `{c[0]}`" for c in cols)
                    self.spark.sql(f"SELECT {sel} WHERE false").createOrReplaceTempView(name)
        super().__init__(tables)

    def session(self) -> Any:
        return self.spark

    def table_expr(self, name: str) -> exp.Expression:
        return exp.Table(this=exp.to_identifier(name, quoted=True))

    def execute(
        self, sql: str, timeout: float | None = None, cancel: threading.Event | None = None
    ) -> pa.Table:
        if cancel is not None and cancel.is_set():
            raise KqlCancelledError("the hunt was cancelled")
        try:
            df = self.spark.sql(sql)
            return df.toArrow() if hasattr(df, "toArrow") else pa.Table.from_pandas(df.toPandas())
        except Exception as exc:
            raise KqlSemanticError(f"the query failed in Spark: {str(exc).splitlines()[0]}") from None

    def discover(self, sql: str) -> list[str]:
        return [str(r[0]) for r in self.spark.sql(sql).collect() if r[0] is not None]


def _register_spark_udfs(spark: Any) -> None:
    """The series_* UDF on a Spark session (null series in, null out, as DuckDB's default null handling)."""
    from pyspark.sql.types import StringType

    from huntvault.kql.series_math import UDF_NAME, kql_series

    def body(name: str | None, series: str | None, args: str | None) -> str | None:
        if name is None or series is None or args is None:
            return None
        return kql_series(name, series, args)

    spark.udf.register(UDF_NAME, body, StringType())


def _spark_type(t: str) -> str:
    return {"VARCHAR": "STRING", "JSON": "STRING", "TIMESTAMPTZ": "TIMESTAMP", "INT": "INT"}.get(t, t)
