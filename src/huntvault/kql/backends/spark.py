"""The Spark backend: pyspark in local mode over the same Parquet archive (one session per process, each
backend's views under a prefix of its own so two archives in one process do not overwrite each other)."""

from __future__ import annotations

import itertools
import os
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
from sqlglot import exp

from huntvault import archive
from huntvault.errors import KqlCancelledError, KqlSemanticError, KqlUnsupportedError
from huntvault.kql.backends.catalog import PARTITION_COLUMN, TableCatalog, schema_tables
from huntvault.kql.limits import HuntLimits
from huntvault.kql.seriesmath import UDF_NAME, kql_series
from huntvault.kql.values import SQL_TYPES

if TYPE_CHECKING:  # pyspark is an optional dependency (`pip install huntvault[spark]`), imported on first use
    from pyspark.sql import SparkSession

_SPARK_TYPES = {"VARCHAR": "STRING", "JSON": "STRING", "TIMESTAMPTZ": "TIMESTAMP", "INT": "INT"}
_PREFIXES = itertools.count(1)
#: how often a running query looks at its cancel event and deadline (seconds)
CANCEL_POLL = 0.05


def committed_parts(root: Path, table: str) -> list[Path]:
    """The table's live Parquet parts: from the archive manifest when there is one, else the folder layout."""
    if archive.archived_tables(root):
        return list(archive.table_files(root, table))
    return sorted((root / table).glob("date=*/*.parquet"))


def _series_udf(name: str | None, series: str | None, args: str | None) -> str | None:
    """The series_* UDF on Spark (null in, null out, as DuckDB's default null handling)."""
    if name is None or series is None or args is None:
        return None
    return kql_series(name, series, args)


class SparkBackend(TableCatalog):
    """pyspark in local mode over the same Parquet archive."""

    _session: SparkSession | None = None
    _lock = threading.Lock()

    def __init__(self, root: str | Path | None, limits: HuntLimits | None = None) -> None:
        spark = self.session()
        self.prefix = f"hv{next(_PREFIXES)}_"
        tables: dict[str, list[tuple[str, str]]] = {}
        partitioned: set[str] = set()
        if root is not None:
            for name, cols in schema_tables().items():
                files = committed_parts(Path(root), name)
                if files:
                    df = spark.read.option("basePath", str(Path(root) / name)).parquet(*map(str, files))
                    if PARTITION_COLUMN in df.columns:
                        partitioned.add(name)
                else:
                    sel = ", ".join(
                        f"CAST(NULL AS {_SPARK_TYPES.get(SQL_TYPES[t], SQL_TYPES[t])}) AS `{c}`"
                        for c, t in cols
                    )
                    df = spark.sql(f"SELECT {sel} WHERE false")
                df.createOrReplaceTempView(self.prefix + name)
                tables[name] = cols
        super().__init__(tables, limits or HuntLimits(), partitioned)

    @property
    def dialect(self) -> str:
        return "spark"

    @classmethod
    def session(cls) -> SparkSession:
        with cls._lock:
            if cls._session is None:
                from pyspark.sql import SparkSession  # optional dependency, loaded when Spark is asked for
                from pyspark.sql.types import StringType

                # Python UDFs (series_*) run in workers: this interpreter (and its huntvault) must run them
                os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
                session = (
                    SparkSession.builder.master("local[1]")
                    .appName("huntvault-hunt")
                    .config("spark.sql.session.timeZone", "UTC")
                    .config("spark.ui.enabled", "false")
                    .config("spark.ui.showConsoleProgress", "false")
                    .config("spark.sql.shuffle.partitions", "2")
                    .config("spark.sql.ansi.enabled", "false")
                    .getOrCreate()
                )
                session.sparkContext.setLogLevel("ERROR")
                session.udf.register(UDF_NAME, _series_udf, StringType())
                cls._session = session
            return cls._session

    def table_expr(self, name: str) -> exp.Expression:
        return exp.Table(this=exp.to_identifier(self.prefix + name, quoted=True))

    def execute(
        self, sql: str, timeout: float | None = None, cancel: threading.Event | None = None
    ) -> pa.Table:
        """Run as a job group of its own, cancelled when `cancel` is set or `timeout` seconds pass."""
        if cancel is not None and cancel.is_set():
            raise KqlCancelledError("the hunt was cancelled")
        spark = self.session()
        group = f"{self.prefix}{next(_PREFIXES)}"
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
            raise KqlSemanticError(f"the query failed in Spark: {str(exc).splitlines()[0]}") from None
        finally:
            done.set()
            watcher.join()

    def discover(self, sql: str) -> list[str]:
        try:
            return [str(r[0]) for r in self.session().sql(sql).collect() if r[0] is not None]
        except Exception as exc:
            raise KqlSemanticError(f"the query failed in Spark: {str(exc).splitlines()[0]}") from None
