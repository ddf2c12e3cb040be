"""The planner's vocabulary: relations, bindings, scopes, the catalog seam, and the table-entry types.

Every table (functions, aggregates, scalar and pipe operators, sources, plugins) is written against
the protocols here (`Planner`, `Compiler`, `Catalog`), never against the concrete planner or a
backend: that is what keeps `kql/` free of import cycles. `registry.py` assembles the tables.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Protocol, TypeVar

import pyarrow as pa
from sqlglot import exp

from huntvault.errors import KqlSemanticError, KqlUnsupportedError
from huntvault.kql import ast as A
from huntvault.kql.dialects import Dialect
from huntvault.kql.limits import HuntLimits
from huntvault.kql.syntax import OperatorParser
from huntvault.kql.values import T, col

# ---------------------------------------------------------------- relations and bindings


@dataclass
class Rel:
    """A lowered tabular expression: a SELECT and its output columns (name, KQL type) in order."""

    sql: exp.Select
    cols: list[tuple[str, str]]
    order: list[exp.Ordered] | None = None
    graph: Graph | None = None  # set by make-graph: the graph operators read it; the SQL is the edges
    #: set by fork and facet (the query's last operator): every result table by name; `sql` is the first
    results: list[tuple[str, Rel]] | None = None

    def types(self) -> dict[str, str]:
        return dict(self.cols)


@dataclass
class Graph:
    """A graph made by make-graph: its nodes (keyed by `key`) and edges (from `source` to `target`)."""

    nodes: Rel
    edges: Rel
    key: str
    source: str
    target: str
    partition: str | None = None  # make-graph partitioned-by: a node is (key, partition), edges stay inside


@dataclass
class Binding:
    """A let binding: a lazy AST (scalar or tabular), a compiled value, a relation, or a function."""

    node: A.Node | None = None
    env: Env = field(default_factory=dict)
    value: T | None = None
    rel: Rel | None = None
    func: A.Lambda | None = None
    cte: Rel | None = None  # a tabular let compiled once and shared as a CTE


#: the let bindings visible at a point of the query, by name
Env = dict[str, Binding]


@dataclass(frozen=True)
class Window:
    """The time window [start, end) every archive table a query reads is restricted to."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("a hunt window needs time-zone-aware datetimes")
        if not self.start < self.end:
            raise ValueError(f"a hunt window needs start < end, got [{self.start}, {self.end})")


# ---------------------------------------------------------------- the backend seam


class Catalog(Protocol):
    """What the planner reads (tables, columns, the SQL to name a table) and runs queries on.

    Implemented by the backends (DuckDB, Spark); the planner never sees a connection.
    """

    @property
    def dialect(self) -> str:
        """The SQL dialect name: `duckdb` or `spark`."""
        ...

    @property
    def limits(self) -> HuntLimits:
        """What a hunt on this backend may use (threads, memory, externaldata folders, compile budget)."""
        ...

    def columns(self, name: str) -> list[tuple[str, str]] | None:
        """The table's columns (name, KQL type) in order, or None when there is no such table."""
        ...

    def table_names(self) -> list[str]: ...

    def table_expr(self, name: str) -> exp.Expression:
        """The FROM item that reads the table."""
        ...

    def time_column(self, name: str) -> str | None:
        """The column a time window restricts (None: the table is not restricted)."""
        ...

    def window_filter(self, name: str, window: Window) -> exp.Expression | None:
        """An extra predicate that lets the engine skip storage outside the window (day partitions)."""
        ...

    def missing_reason(self, name: str) -> str:
        """Why a table is unknown, appended to the error (`" (not part of the streaming export ...)"`)."""
        ...

    def may_read(self, path: Path) -> bool:
        """Whether `externaldata` may read this local file."""
        ...

    def discover(self, sql: str) -> list[str]:
        """Run a small first query (bag keys, pivot values) and return its first column as text."""
        ...

    def execute(
        self, sql: str, timeout: float | None = None, cancel: threading.Event | None = None
    ) -> pa.Table: ...


# ---------------------------------------------------------------- scopes and the planner protocol


class Columns(Mapping[str, T]):
    """A relation's columns as values (`"name"` or `"table"."name"`), each built when first looked up:
    a scope over a 300-column relation costs nothing until an expression names a column."""

    def __init__(self, cols: list[tuple[str, str]], table: str | None = None) -> None:
        self.kinds = dict(cols)
        self.table = table
        self.built: dict[str, T] = {}

    def __getitem__(self, name: str) -> T:
        v = self.built.get(name)
        if v is None:
            v = self.built[name] = T(col(name, self.table), self.kinds[name])
        return v

    def __contains__(self, name: object) -> bool:
        return name in self.kinds

    def __iter__(self) -> Iterator[str]:
        return iter(self.kinds)

    def __len__(self) -> int:
        return len(self.kinds)


@dataclass
class Scope:
    """What a scalar expression can see: columns (name -> lowered value), let bindings, the planner."""

    cols: Mapping[str, T]
    env: Env
    planner: Planner
    aggregates: list[A.Call] | None = None  # set inside summarize: aggregate calls are allowed
    order: list[exp.Ordered] | None = None  # serialized order, for row_number/prev/next
    sides: dict[str, dict[str, T]] = field(default_factory=dict)  # $left/$right in join conditions

    def with_cols(self, cols: Mapping[str, T]) -> Scope:
        return replace(self, cols=cols)

    def with_env(self, env: Env) -> Scope:
        return replace(self, env=env)

    def with_aggregates(self, aggregates: list[A.Call] | None) -> Scope:
        return replace(self, aggregates=aggregates)


class Planner(Protocol):
    """The planner as the tables see it: one per query (`now` fixed, the catalog, the dialect)."""

    catalog: Catalog
    dialect: Dialect
    now: datetime
    window: Window | None
    #: the `render` operator's chart hint
    render: dict[str, object] | None

    # names, errors, budget
    def fresh(self, prefix: str = "t") -> str: ...
    def semantic(self, msg: str, node: A.Node) -> KqlSemanticError: ...
    def unsupported(self, msg: str, node: A.Node) -> KqlUnsupportedError: ...
    def checkpoint(self) -> None: ...

    # scalar expressions
    def scope_of(self, rel: Rel, env: Env, table: str | None = None) -> Scope: ...
    def compile(self, node: A.Node, scope: Scope) -> T: ...
    def is_tabular(self, node: A.Node, scope: Scope | None = None) -> bool: ...

    # relations
    def relation(self, node: A.Node, env: Env) -> Rel: ...
    def pipeline(self, node: A.Pipeline, env: Env, implicit: Rel | None = None) -> Rel: ...
    def table(self, name: str, node: A.Node) -> Rel: ...
    def call_env(
        self, name: str, b: Binding, node: A.Call, scope: Scope, implicit: Rel | None = None
    ) -> Env: ...
    def discover(self, query: exp.Select) -> list[str]: ...

    # the tables, by name (through the registry's lookup order)
    def function(self, name: str) -> Function | None: ...
    def aggregate(self, name: str) -> Aggregate | None: ...
    def plugin(self, name: str) -> Plugin | None: ...
    def offline(self, name: str) -> str | None: ...

    # SQL building
    def wrap(self, rel: Rel) -> tuple[exp.Subquery, str]: ...
    def select(self, rel: Rel, projections: list[exp.Expression]) -> exp.Select: ...
    def star(self, rel: Rel) -> list[exp.Expression]: ...
    def filter(self, rel: Rel, cond: exp.Expression) -> exp.Select: ...


class Compiler(Protocol):
    """The scalar compiler as function lowerings see it: the scope, the planner, recursion, errors."""

    scope: Scope
    planner: Planner

    def compile(self, node: A.Node) -> T: ...
    def err(self, msg: str, node: A.Node) -> KqlSemanticError: ...


# ---------------------------------------------------------------- table entries

#: a scalar function's lowering: the compiler, the compiled arguments, the call -> the value
Lowering = Callable[[Compiler, list[T], A.Call], T]
#: a special form's lowering: it gets the call's AST, arguments not compiled (toscalar, column_ifexists)
RawLowering = Callable[[Compiler, A.Call], T]
#: a result-type rule: the arguments' values -> the result's KQL type
TypeRule = Callable[[Sequence[T]], str]
#: an aggregate's lowering: the compiler, the compiled arguments, the call -> the aggregate value
AggLowering = Callable[[Compiler, list[T], A.Call], T]


@dataclass(frozen=True)
class SetInput:
    """What a first-seen set aggregate (make_set, make_set_if) collects, for summarize's two-level plan:
    each row's item (JSON), the rows that count, the size limit, and whether the item is a dynamic value
    whose arrays add their elements (flattened)."""

    item: exp.Expression
    where: exp.Expression
    limit: exp.Expression | None
    flatten: bool


#: the compiled arguments of a first-seen set aggregate -> what it collects
SetLowering = Callable[[list[T]], SetInput]
#: a scalar binary operator: (compiler, left, right, node) -> value
BinaryLowering = Callable[[Compiler, T, T, A.Binary], T]
#: a list operator (in, has_any...): (compiler, node) -> value
ListLowering = Callable[[Compiler, A.ListOp], T]
#: a pipe operator's lowering: (planner, input, operator node, env) -> output
OperatorLowering = Callable[[Planner, Rel, A.Node, Env], Rel]
#: a tabular source's lowering: (planner, source node, env) -> relation
SourceLowering = Callable[[Planner, A.Node, Env], Rel]
#: an `evaluate` plugin's lowering: (planner, input, the plugin call, env) -> output
PluginLowering = Callable[[Planner, Rel, A.Call, Env], Rel]


def same_as(index: int) -> TypeRule:
    """The result has the type of argument `index` (abs, min_of...)."""
    return lambda args: args[index].type if index < len(args) else "null"


@dataclass(frozen=True)
class Function:
    """One scalar function: its arity, its result type, its lowering and, where Spark differs, Spark's.

    `returns` is a KQL type name, a rule over the compiled arguments, or None when the lowering
    alone decides (polymorphic legacy entries); a declared type is checked against the lowering's.
    `keeps_name`: `project f(x.y)` is named after the argument (`x_y`), as the conversions are.
    `stars`: a `*` argument stands for the input row's columns, in order (`pack_array(*)`).
    """

    lower: Lowering
    arity: tuple[int, int | None] = (0, None)
    returns: str | TypeRule | None = None
    spark: Lowering | None = None
    keeps_name: bool = False
    stars: bool = False


@dataclass(frozen=True)
class Special:
    """A special form: arguments reach the lowering as AST (toscalar, materialize, column_ifexists)."""

    lower: RawLowering
    arity: tuple[int, int | None] = (0, None)


@dataclass(frozen=True)
class Offline:
    """A Defender built-in that needs Microsoft's back end: calling it fails with `reason`."""

    reason: str


@dataclass(frozen=True)
class Aggregate:
    """One aggregate: lowering, Kusto's default result-column prefix (`count_`, `dcount_X`), arity,
    result type, value on empty input without `by` (count-like 0, lists []) and Spark's lowering."""

    lower: AggLowering
    prefix: str
    named_by_arg: bool = True
    empty: str | None = None
    arity: tuple[int, int | None] = (0, None)
    returns: str | TypeRule | None = None
    spark: AggLowering | None = None
    #: "max"/"min" for arg_max/arg_min: summarize expands them into several columns itself
    extreme: str | None = None
    #: how many leading arguments name the result (`covariance_x_y`: 2)
    name_args: int = 1
    #: make_set/make_set_if: summarize plans them in two levels on DuckDB (first position per value, then
    #: one list per group in that order); `lower` is the one-level lowering used elsewhere
    first_seen: SetLowering | None = None


N = TypeVar("N", bound=A.Node)


def _checked(node: type[N], lower: Callable[[Planner, Rel, N, Env], Rel]) -> OperatorLowering:
    def run(p: Planner, rel: Rel, op: A.Node, env: Env) -> Rel:
        assert isinstance(op, node), f"{type(op).__name__} reached the {node.__name__} lowering"
        return lower(p, rel, op, env)

    return run


def _checked_source(node: type[N], lower: Callable[[Planner, N, Env], Rel]) -> SourceLowering:
    def run(p: Planner, src: A.Node, env: Env) -> Rel:
        assert isinstance(src, node), f"{type(src).__name__} reached the {node.__name__} lowering"
        return lower(p, src, env)

    return run


@dataclass(frozen=True)
class Operator:
    """One pipe operator: the words that start it and how each parses, the AST node it builds, and its
    lowering (plus Spark's when it differs)."""

    node: type[A.Node]
    parse: dict[str, OperatorParser]
    lower: OperatorLowering
    spark: OperatorLowering | None = None


def operator(
    node: type[N],
    parse: dict[str, OperatorParser],
    lower: Callable[[Planner, Rel, N, Env], Rel],
    spark: Callable[[Planner, Rel, N, Env], Rel] | None = None,
) -> Operator:
    """An Operator entry whose lowerings take their own node type (checked when called)."""
    return Operator(node, parse, _checked(node, lower), _checked(node, spark) if spark else None)


@dataclass(frozen=True)
class Source:
    """One tabular source (datatable, print, range, union, externaldata, find, search)."""

    node: type[A.Node]
    lower: SourceLowering
    spark: SourceLowering | None = None


def source(
    node: type[N],
    lower: Callable[[Planner, N, Env], Rel],
    spark: Callable[[Planner, N, Env], Rel] | None = None,
) -> Source:
    """A Source entry whose lowerings take their own node type (checked when called)."""
    return Source(node, _checked_source(node, lower), _checked_source(node, spark) if spark else None)


@dataclass(frozen=True)
class Plugin:
    """One `evaluate` plugin."""

    lower: PluginLowering
    spark: PluginLowering | None = None
