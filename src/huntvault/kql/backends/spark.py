"""The Spark backend: pyspark over the same archive (`[hunt] spark_master`: local[*], spark://host:7077, yarn),
each table read as the exact file list of its Delta snapshot; a `newSession()` per backend, so two
archives in one process never meet."""

from __future__ import annotations

import itertools
import os
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from huntvault.archive import ArchiveLocation
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

if TYPE_CHECKING:  # pyspark is an optional dependency (`pip install huntvault[spark]`), imported on first use
    from pyspark.sql import SparkSession

_SPARK_TYPES = {"VARCHAR": "STRING", "JSON": "STRING", "TIMESTAMPTZ": "TIMESTAMP", "INT": "INT"}
_GROUPS = itertools.count(1)
#: Spark's setting of the Python that runs UDFs in the workers
PYTHON_CONF = "spark.pyspark.python"
#: how often a running query looks at its cancel event and deadline (seconds)
CANCEL_POLL = 0.05

_SPARK_LOCK = threading.Lock()
_SPARK_ROOTS: dict[tuple[str, tuple[tuple[str, str], ...]], SparkSession] = {}


def _series_udf(name: str | None, series: str | None, args: str | None) -> str | None:
    """The series_* UDF on Spark (null in, null out, as DuckDB's default null handling)."""
    if name is None or series is None or args is None:
        return None
    return kql_series(name, series, args)


def _fn_udf(name: str | None, types: str | None, args: str | None) -> str | None:
    """The Python scalar functions' UDF on Spark (null in, null out, as DuckDB's default null handling)."""
    if name is None or types is None or args is None:
        return None
    return kql_fn(name, types, args)


def spark_root(master: str, conf: tuple[tuple[str, str], ...]) -> SparkSession:
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
        from pyspark.sql import SparkSession  # optional dependency, loaded when Spark is asked for

        # Python UDFs (series_*) run in workers: this interpreter (and its huntvault) must run them,
        # unless the settings or the environment name another one. Given to this session only (its
        # configuration and the context's `pythonExec`, which every UDF registered on it carries), not
        # through os.environ, which every other Spark user of the process would see.
        python = dict(conf).get(PYTHON_CONF) or os.environ.get("PYSPARK_PYTHON") or sys.executable
        builder = (
            SparkSession.builder.master(master)
            .config(PYTHON_CONF, python)
            .config("spark.executorEnv.PYSPARK_PYTHON", python)
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
        root.sparkContext.pythonExec = python
        root.sparkContext.setLogLevel("ERROR")
        _SPARK_ROOTS[key] = root
        return root


def spark_uri(loc: ArchiveLocation, uri: str) -> str:
    """What Spark (hadoop-azure) reads for an archive file: abfss:// for object-store archives."""
    if loc.local is not None or not uri.startswith("az://"):
        return uri
    container, _, rest = uri[len("az://") :].partition("/")
    account = loc.options.get("account_name", "")
    return f"abfss://{container}@{account}.dfs.core.windows.net/{rest}"


class SparkBackend(TableCatalog):
    """pyspark over the same archive; the answer is the snapshot DuckDB would see (no delta-spark jars)."""

    def __init__(self, root: ArchiveRef | None, limits: HuntLimits | None = None) -> None:
        from pyspark.sql.types import StringType  # optional dependency, loaded when Spark is asked for

        limits = limits or HuntLimits()
        self.spark = spark_root(limits.spark_master, limits.spark_conf).newSession()
        self.spark.udf.register(UDF_NAME, _series_udf, StringType())
        self.spark.udf.register(GEO_UDF, kql_geo, StringType())
        self.spark.udf.register(FN_UDF_NAME, _fn_udf, StringType())
        tables: dict[str, list[tuple[str, str]]] = {}
        partitioned: set[str] = set()
        if root is not None:
            snap = snapshot(root)
            tables = archive_tables(snap)
            for name, cols in tables.items():
                if snap is not None:
                    files = [spark_uri(snap.loc, u) for u in snap.uris(name)]
                    base = spark_uri(snap.loc, snap.loc.table_uri(name))
                else:
                    files = [str(p) for p in sorted((Path(str(root)) / name).glob("date=*/*.parquet"))]
                    base = str(Path(str(root)) / name)
                if files:
                    df = self.spark.read.option("basePath", base).parquet(*files)
                    if PARTITION_COLUMN in df.columns:
                        partitioned.add(name)
                else:
                    sel = ", ".join(
                        f"CAST(NULL AS {_SPARK_TYPES.get(SQL_TYPES[t], SQL_TYPES[t])}) AS `{c}`"
                        for c, t in cols
                    )
                    df = self.spark.sql(f"SELECT {sel} WHERE false")
                df.createOrReplaceTempView(name)
        super().__init__(tables, limits, partitioned)

    @property
    def dialect(self) -> str:
        return "spark"

    def session(self) -> SparkSession:
        return self.spark

    def execute(
        self, sql: str, timeout: float | None = None, cancel: threading.Event | None = None
    ) -> pa.Table:
        """Run as a job group of its own, cancelled when `cancel` is set or `timeout` seconds pass."""
        if cancel is not None and cancel.is_set():
            raise KqlCancelledError("the hunt was cancelled")
        spark = self.spark
        group = f"huntvault-{next(_GROUPS)}"
        deadline = time.monotonic() + timeout if timeout else None
        stopped: list[str] = []
        done = threading.Event()

        def watch() -> None:
            while not done.wait(CANCEL_POLL):
                if cancel is not None and cancel.is_set():
                    stopped.append("cancel")
                elif deadline is not None and time.monotonic() >= deadline:
                    stopped.append("timeout")
                else:
                    continue
                spark.sparkContext.cancelJobGroup(group)
                return

        watcher = threading.Thread(target=watch, name="hunt-watch", daemon=True)
        watcher.start()
        try:
            spark.sparkContext.setJobGroup(group, "huntvault hunt", interruptOnCancel=True)
            df = spark.sql(sql)
            return df.toArrow() if hasattr(df, "toArrow") else pa.Table.from_pandas(df.toPandas())
        except Exception as exc:  # Spark raises its own (Java) error tree; surface it as a KQL error
            if "cancel" in stopped:
                raise KqlCancelledError("the hunt was cancelled") from None
            if "timeout" in stopped:
                raise KqlUnsupportedError(f"the query ran longer than the {timeout:g} s timeout") from None
            raise KqlEngineError("Spark", str(exc).splitlines()[0]) from None
        finally:
            done.set()
            watcher.join()

    def discover(self, sql: str) -> list[str]:
        try:
            return [str(r[0]) for r in self.spark.sql(sql).collect() if r[0] is not None]
        except Exception as exc:
            raise KqlEngineError("Spark", str(exc).splitlines()[0]) from None
