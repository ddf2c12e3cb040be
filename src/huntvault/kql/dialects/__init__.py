"""SQL dialects: the DuckDB primitives and generator (base) and Spark's (spark), by backend name."""

from __future__ import annotations

from huntvault.kql.dialects.base import JSON_PATH, Dialect, json_path
from huntvault.kql.dialects.spark import SparkDialect

#: backend dialect name -> its dialect
DIALECTS: dict[str, Dialect] = {"duckdb": Dialect(), "spark": SparkDialect()}

__all__ = ["DIALECTS", "JSON_PATH", "Dialect", "SparkDialect", "json_path"]
