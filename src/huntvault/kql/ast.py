"""The typed KQL syntax tree: scalar expressions, tabular sources, pipe operators and statements."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from typing import Any


@dataclass
class Node:
    """Base of every node; `pos` is the offset of the node's first character in the query text."""

    pos: int = field(default=0, kw_only=True, compare=False, repr=False)


def walk(root: object) -> Iterator[Node]:
    """Every node under `root` (a node, or lists, tuples and dicts of them), depth first, `root` first."""
    stack: list[object] = [root]
    while stack:
        item = stack.pop()
        if isinstance(item, list | tuple):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, Node):
            yield item
            stack.extend(getattr(item, f.name) for f in fields(item) if f.name != "pos")


# ---------------------------------------------------------------- scalar expressions


@dataclass
class Literal(Node):
    value: Any
    type: str  # string long int real bool datetime timespan dynamic guid decimal null


@dataclass
class Name(Node):
    name: str


@dataclass
class Star(Node):
    """`*` as an argument (arg_max(x, *), count(*), pack_all-like uses)."""


@dataclass
class Member(Node):
    obj: Node
    name: str


@dataclass
class Index(Node):
    obj: Node
    index: Node


@dataclass
class Call(Node):
    name: str
    args: list[Node]
    named: dict[str, Node] = field(default_factory=dict)


@dataclass
class Unary(Node):
    op: str  # - + not
    operand: Node


@dataclass
class Binary(Node):
    op: str
    left: Node
    right: Node


@dataclass
class ListOp(Node):
    """`x in (..)`, `x !in~ (..)`, `x has_any (..)`, `x has_all (..)`: the right side is a list of nodes."""

    op: str
    left: Node
    items: list[Node]


@dataclass
class Between(Node):
    expr: Node
    low: Node
    high: Node
    negated: bool = False


@dataclass
class TypeOf(Node):
    """`typeof(string)` in mv-expand ... to typeof(T) and in parameter lists."""

    type: str


# ---------------------------------------------------------------- tabular expressions


@dataclass
class Pipeline(Node):
    """`source | op | op`; source None means the implicit input (mv-apply, partition, let-function bodies)."""

    source: Node | None
    ops: list[Node]


@dataclass
class ColumnDecl(Node):
    name: str
    type: str


@dataclass
class Datatable(Node):
    columns: list[ColumnDecl]
    values: list[Node]


@dataclass
class Externaldata(Node):
    columns: list[ColumnDecl]
    uris: list[Node]
    options: dict[str, Node]


@dataclass
class PrintSource(Node):
    items: list[tuple[str | None, Node]]


@dataclass
class RangeSource(Node):
    column: str
    start: Node
    stop: Node
    step: Node


@dataclass
class UnionSource(Node):
    tables: list[Node]
    options: dict[str, Node]


@dataclass
class FindSource(Node):
    tables: list[Node]
    predicate: Node
    project: list[str] | None
    options: dict[str, Node]


@dataclass
class SearchSource(Node):
    tables: list[Node]
    predicate: Node
    options: dict[str, Node]


@dataclass
class Lambda(Node):
    """`(a:string, T:(x:long)) { let ...; body }` bound by `let f = ...`."""

    params: list[
        tuple[str, str | list[ColumnDecl] | None, Node | None]
    ]  # name, type or tabular schema, default
    lets: list[Let]
    body: Node
    view: bool = False


# ---------------------------------------------------------------- operators (each follows a `|`)


@dataclass
class Where(Node):
    predicate: Node


@dataclass
class Assign(Node):
    """One `name = expr` (name may be None, or several names for `(a, b) = f(..)`)."""

    names: list[str] | None
    expr: Node


@dataclass
class Project(Node):
    items: list[Assign]


@dataclass
class Extend(Node):
    items: list[Assign]


@dataclass
class ProjectAway(Node):
    patterns: list[str]


@dataclass
class ProjectKeep(Node):
    patterns: list[str]


@dataclass
class ProjectRename(Node):
    pairs: list[tuple[str, str]]  # new, old


@dataclass
class ProjectReorder(Node):
    patterns: list[tuple[str, str | None]]  # pattern, asc/desc/granny-asc...


@dataclass
class Summarize(Node):
    aggs: list[Assign]
    by: list[Assign]
    options: dict[str, Node] = field(default_factory=dict)


@dataclass
class Count(Node):
    pass


@dataclass
class Distinct(Node):
    items: list[Node]  # [Star()] for distinct *


@dataclass
class Take(Node):
    count: Node


@dataclass
class SortKey(Node):
    expr: Node
    desc: bool = True
    nulls_first: bool | None = None


@dataclass
class Sort(Node):
    keys: list[SortKey]


@dataclass
class Top(Node):
    count: Node
    keys: list[SortKey]


@dataclass
class TopNestedLevel(Node):
    count: Node | None
    of: Assign
    others: Node | None
    agg: Assign
    desc: bool = True


@dataclass
class TopNested(Node):
    levels: list[TopNestedLevel]


@dataclass
class Join(Node):
    kind: str
    right: Node
    on: list[Node]  # Name, or Binary('==', $left.x, $right.y)
    options: dict[str, Node] = field(default_factory=dict)
    lookup: bool = False


@dataclass
class UnionOp(Node):
    tables: list[Node]
    options: dict[str, Node]


@dataclass
class MvExpandItem(Node):
    name: str | None
    expr: Node
    to_type: str | None = None


@dataclass
class MvExpand(Node):
    items: list[MvExpandItem]
    options: dict[str, Node]
    limit: Node | None = None
    legacy: bool = False


@dataclass
class MvApply(Node):
    items: list[MvExpandItem]
    options: dict[str, Node]
    body: Pipeline
    limit: Node | None = None


@dataclass
class ParsePart(Node):
    """A literal text piece, or a column capture (name and optional type), or `*`."""

    literal: str | None = None
    column: str | None = None
    type: str | None = None


@dataclass
class Parse(Node):
    expr: Node
    parts: list[ParsePart]
    kind: str = "simple"
    flags: str = ""
    where: bool = False


@dataclass
class As(Node):
    name: str


@dataclass
class Invoke(Node):
    call: Call


@dataclass
class Serialize(Node):
    items: list[Assign]


@dataclass
class Evaluate(Node):
    call: Call
    options: dict[str, Node] = field(default_factory=dict)
    schema: list[ColumnDecl] | None = None  # `evaluate plugin(...) : (Name:type, ...)`


@dataclass
class MakeSeries(Node):
    aggs: list[tuple[Assign, Node | None]]  # aggregate, default
    on: Node
    start: Node | None
    end: Node | None
    step: Node
    by: list[Assign]
    nonempty: bool = False  # kind=nonempty: the default-valued series even over an empty input
    in_range: bool = False  # `on x in range(start, stop, step)`: bin() bins and an inclusive stop


@dataclass
class GetSchema(Node):
    pass


@dataclass
class Render(Node):
    chart: str
    properties: dict[str, Any]


@dataclass
class Sample(Node):
    count: Node


@dataclass
class SearchOp(Node):
    predicate: Node
    case_sensitive: bool = False  # kind=case_sensitive


@dataclass
class Partition(Node):
    by: str
    body: Pipeline


@dataclass
class Reduce(Node):
    """`reduce [kind=source] by Expr [with threshold=X, characters=Y]`."""

    expr: Node
    kind: str | None = None
    options: dict[str, Node] = field(default_factory=dict)


@dataclass
class ForkLeg(Node):
    """One subquery of fork: `[name=](ops)`; the name may also come from an `as` inside it."""

    name: str | None
    body: Pipeline


@dataclass
class Fork(Node):
    legs: list[ForkLeg]


@dataclass
class Facet(Node):
    """`facet by Col, ... [with (ops)]`."""

    columns: list[Name]
    body: Pipeline | None = None


# ---------------------------------------------------------------- statements


@dataclass
class Let(Node):
    name: str
    value: Node  # scalar or tabular expression, or Lambda


@dataclass
class Script(Node):
    lets: list[Let]
    query: Node  # the tabular expression whose result is returned
    queries: int = 1
    #: the source text (error positions are offsets into it); a rewritten Script keeps its source's text
    text: str = field(default="", compare=False, repr=False)


@dataclass
class ParseKv(Node):
    """`parse-kv Expr as (Key:type, ...) with (pair_delimiter=.., kv_delimiter=.., quote=.., escape=.., greedy=.., regex=..)`;
    quote and escape may repeat, so every option keeps a list of its values."""

    expr: Node
    keys: list[ColumnDecl]
    options: dict[str, list[Node]]


@dataclass
class ProjectByNames(Node):
    """`project-by-names` of constant names, wildcards and dynamic arrays of them."""

    args: list[Node]


@dataclass
class SampleDistinct(Node):
    """`sample-distinct N of Column`."""

    count: Node
    column: Node


@dataclass
class TopHitters(Node):
    """`top-hitters N of Column [by Expr]`."""

    count: Node
    column: Node
    by: Node | None


@dataclass
class Consume(Node):
    """`consume`: the rows are read and dropped."""


@dataclass
class ScanStep(Node):
    name: str
    output: str  # all | last | none
    condition: Node
    assigns: list[tuple[str, Node]]


@dataclass
class Scan(Node):
    """`scan [with_match_id=Id] [declare (v:type [= default], ...)] with (step s: cond [=> v = e, ...]; ...)`."""

    match_id: str | None
    declares: list[tuple[str, str, Node | None]]
    steps: list[ScanStep]


@dataclass
class PatternRule(Node):
    values: list[str]  # "*" matches any argument
    path: str | None
    body: Node


@dataclass
class Pattern(Node):
    """`declare pattern Name = (p:type, ...)[(path:type)] { (v, ...).[path] = { query }; ... }`, bound as a let."""

    params: list[str]
    has_path: bool
    rules: list[PatternRule]


@dataclass
class MakeGraph(Node):
    """`make-graph Source --> Target [with T on Key [, T2 on Key2] | with_node_id = Name]
    [partitioned-by Column (graph operators)]`."""

    source: str
    target: str
    nodes: list[tuple[Node, str]]
    node_id: str | None
    partition: str | None = None  # partitioned-by: one graph per value of this column
    body: Node | None = None  # the graph operators run on each partition's graph (a Pipeline)


@dataclass
class GraphEdge(Node):
    name: str | None
    direction: str  # out (-[]->), in (<-[]-), any (-[]-)
    low: int
    high: int
    variable: bool


@dataclass
class GraphMatch(Node):
    """`graph-match` / `graph-shortest-paths` patterns: each a node name, then (edge, node name) pairs."""

    patterns: list[tuple[list[str], list[GraphEdge]]]
    where: Node | None
    project: list[Assign]
    shortest: bool
    all_paths: bool = False  # graph-shortest-paths output=all: every shortest match, not one
    cycles: str = "unique_edges"  # all | none | unique_edges (Kusto's default: no edge used twice)


@dataclass
class GraphMarkComponents(Node):
    """`graph-mark-components [kind = weak|strong] [with_component_id = Name]`."""

    kind: str
    component_id: str


@dataclass
class GraphToTable(Node):
    kind: str  # nodes | edges
    options: dict[str, str]
