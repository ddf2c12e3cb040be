"""The bounds of one query (size, nesting, pipeline length, compile time) and the budget checked at checkpoints."""

from __future__ import annotations

import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from huntvault.config import HuntConfig
from huntvault.errors import KqlCancelledError, KqlLimitError

#: Python frames the parser and planner may need for a query within the bounds below (about 15 per
#: nesting level in the parser, fewer in the planner, 20 per nested SELECT in sqlglot's generator).
RECURSION_NEEDED = 20_000


@dataclass(frozen=True)
class QueryBounds:
    """The documented maxima of one query (docs/kql.md, "Limits"); past one, a KqlLimitError names it.

    Inside them a query compiles in time linear in its size; the deadline stops anything slower.
    """

    #: characters of query text
    max_chars: int = 1_000_000
    #: parentheses, brackets, braces, function calls, sub-pipelines and unary operators inside one another
    max_nesting: int = 200
    #: operators applied one after another in one expression (`a + b + ... `); an `and`/`or` chain counts once
    max_expression_depth: int = 300
    #: pipe operators in one tabular expression (`T | where ... | extend ...`)
    max_pipeline: int = 300
    #: SELECTs nested in the lowered SQL (operators in a row, chained lets, joins); DuckDB's planner stops
    #: at a tree depth of 1000, about two per nested SELECT
    max_sql_depth: int = 450
    #: seconds of parsing and planning (`[hunt].compile_seconds`); 0 = no deadline
    compile_seconds: float = 10.0


@dataclass(frozen=True)
class HuntLimits:
    """What one hunt may use: DuckDB threads and memory, the folders `externaldata` may read, the Spark
    master and settings, and the compile budget in seconds.

    Every DuckDB connection a hunt runs on is sandboxed (`sandbox`): it reads the archive and nothing
    else, its configuration is locked and extensions can be neither installed nor loaded.
    """

    threads: int = 0  # 0 = DuckDB's default (every core)
    memory_limit: str = ""  # "" = DuckDB's default; config's [hunt].memory_limit otherwise
    externaldata_dirs: tuple[str, ...] = ()
    spark_master: str = "local[1]"  # [hunt].spark_master: local[*], spark://host:7077, yarn
    spark_conf: tuple[tuple[str, str], ...] = ()  # [hunt].spark_conf, passed to the Spark session
    compile_seconds: float = 10.0  # parsing and planning; 0 = no deadline

    @classmethod
    def from_config(cls, hunt: HuntConfig) -> HuntLimits:
        return cls(
            hunt.threads,
            hunt.memory_limit,
            tuple(hunt.externaldata_dirs),
            hunt.spark_master,
            tuple(sorted(hunt.spark_conf.items())),
            hunt.compile_seconds,
        )

    def bounds(self) -> QueryBounds:
        """The query bounds with this hunt's compile budget."""
        return QueryBounds(compile_seconds=self.compile_seconds)

    def allows(self, path: Path) -> bool:
        """True when `path` (resolved, symlinks followed) lies under one of `externaldata_dirs`."""
        real = Path(os.path.realpath(path))
        return any(real.is_relative_to(os.path.realpath(d)) for d in self.externaldata_dirs if d)


class Budget:
    """The compile deadline and the caller's cancel event; parser and planner call `check()` as they go."""

    def __init__(self, bounds: QueryBounds | None = None, cancel: threading.Event | None = None) -> None:
        self.bounds = bounds or QueryBounds()
        self.cancel = cancel
        seconds = self.bounds.compile_seconds
        self.deadline = time.monotonic() + seconds if seconds > 0 else None

    def check(self) -> None:
        """Raise when the hunt was cancelled or the compile budget is spent."""
        if self.cancel is not None and self.cancel.is_set():
            raise KqlCancelledError("the hunt was cancelled")
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise KqlLimitError(
                f"the query did not compile within the {self.bounds.compile_seconds:g} s compile budget "
                "([hunt].compile_seconds)"
            )


def ensure_recursion() -> None:
    """Let the interpreter recurse deep enough for a query within the bounds (never lowers the limit).

    Python 3.11+ keeps Python-to-Python calls off the C stack, so the raised limit costs heap only.
    """
    if sys.getrecursionlimit() < RECURSION_NEEDED:
        sys.setrecursionlimit(RECURSION_NEEDED)
