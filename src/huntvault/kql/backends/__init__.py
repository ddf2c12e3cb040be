"""Backends: the catalog over the archive and SQL execution, on DuckDB (default) or Spark.

The narrow interface the rest of `kql` sees is `ir.Catalog` (tables, columns, the FROM item of a
table, its time column and day filter, discover, execute); `open_backend` and `shared_backend`
build one. Reading the archive another way (a Delta snapshot, a Spark cluster) changes only here.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from huntvault.archive import catalog_version, locate
from huntvault.errors import KqlError
from huntvault.kql.backends.catalog import ArchiveRef, TableCatalog
from huntvault.kql.backends.duckdb import DuckDBBackend
from huntvault.kql.backends.spark import SparkBackend
from huntvault.kql.ir import Catalog
from huntvault.kql.limits import HuntLimits

ENGINES = ("duckdb", "spark")


def open_backend(
    root: ArchiveRef | None, engine: str = "duckdb", limits: HuntLimits | None = None
) -> Catalog:
    """A fresh backend over the archive folder `root` (None: no tables, for literal queries)."""
    if engine == "spark":
        return SparkBackend(root, limits)
    if engine != "duckdb":
        raise KqlError(f"unknown engine {engine!r} (duckdb or spark)")
    return DuckDBBackend(root, limits)


#: how many (archive, limits) backends a process keeps open; the least recently used one goes first
SHARED_BACKENDS_MAX = 8

_SHARED_LOCK = threading.Lock()
_SHARED: OrderedDict[tuple[str, HuntLimits], tuple[str, Catalog]] = OrderedDict()


def shared_backend(root: ArchiveRef, engine: str = "duckdb", limits: HuntLimits | None = None) -> Catalog:
    """A DuckDB backend kept across queries while the archive has no new commit (a server's hunts).

    Opening the catalog (a view per table over the committed parts, their column types) is most of a
    short query's time; it is redone only when the archive's change feed has moved (its version). At
    most SHARED_BACKENDS_MAX are kept, least recently used dropped first. Other engines, and folders
    without a manifest, get a fresh backend each call.
    """
    limits = limits or HuntLimits()
    version = catalog_version(root) if engine == "duckdb" else None
    if version is None:
        return open_backend(root, engine, limits)
    key = (locate(root).url, limits)
    with _SHARED_LOCK:
        hit = _SHARED.get(key)
        if hit is not None and hit[0] == version:
            _SHARED.move_to_end(key)
            return hit[1]
    backend = open_backend(root, engine, limits)
    with _SHARED_LOCK:  # a replaced backend is closed by the garbage collector once no query uses it
        _SHARED[key] = (version, backend)
        _SHARED.move_to_end(key)
        while len(_SHARED) > SHARED_BACKENDS_MAX:
            _SHARED.popitem(last=False)
    return backend


__all__ = [
    "ENGINES",
    "DuckDBBackend",
    "HuntLimits",
    "SparkBackend",
    "TableCatalog",
    "open_backend",
    "shared_backend",
]
