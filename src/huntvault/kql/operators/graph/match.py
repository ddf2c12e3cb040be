"""graph-match / graph-shortest-paths lowered to joins, and the graph functions evaluated inside them.

A pattern's edges are joins of the edges table. A variable-length edge `[e*1..3]` is a union over its
lengths: one join chain per combination of lengths (`UNION ALL`), each hop a copy of the edges table
*oriented* for the edge's direction (columns `__f` -> `__t`: source->target, target->source, or both for
`-[e]-`). Inner nodes (`inner_nodes(e)`) join the nodes table at each hop's end. Graph functions are
unrolled per branch, since a branch knows its length: `map(e, expr)` is the list of `expr` over the hops,
`all` / `any` the AND / OR of the condition, `node_degree_in/out` a count over the edges. Kusto's cycle
rule (`cycles=unique_edges` by default: no edge twice in a match; `none`: no node twice) compares each
edge's row number (`__eid`, numbered in the order of the edges' content, so every copy agrees).
graph-shortest-paths keeps, per pair of end nodes, the shortest match (ties: the lowest edge numbers).
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.ir import Env, Graph, Planner, Rel
from huntvault.kql.lowering.tables import assignments, union_all
from huntvault.kql.values import T, alias, as_bool, call, col, dtype, fn, literal, to_dynamic

#: the longest variable-length edge unrolled (Kusto's own limit on a variable edge's length)
MAX_HOPS = 10
#: the most join chains one pattern unrolls to (product of the variable edges' ranges)
MAX_BRANCHES = 400

_Reduce = Callable[[list[T]], exp.Expression]


#: element types a list holds as themselves (to_json of the list writes them as JSON scalars)
_PLAIN = frozenset({"string", "long", "int", "real", "bool"})


def _reduce_map(values: list[T]) -> exp.Expression:
    if not values:
        return literal([], "dynamic").sql
    kinds = {v.type for v in values}
    if len(kinds) == 1 and kinds <= _PLAIN:  # one plain type: the list of the values themselves
        return fn("to_json", call("list_value", *[v.sql for v in values]))
    return fn("to_json", call("list_value", *[to_dynamic(v).sql for v in values]))


def _reduce_bool(all_of: bool) -> _Reduce:
    def reduce(values: list[T]) -> exp.Expression:
        terms = [exp.func("coalesce", as_bool(v), exp.false()) for v in values]
        if not terms:
            return exp.true() if all_of else exp.false()
        return exp.Paren(this=exp.and_(*terms) if all_of else exp.or_(*terms))

    return reduce


@dataclass(frozen=True)
class ElementFunction:
    """A graph function over the edges (or inner nodes) of a variable-length edge: result type, reduction."""

    type: str
    reduce: _Reduce


#: graph functions over a variable-length edge's elements: `f(e, expr)` / `f(inner_nodes(e), expr)`
ELEMENT_FUNCTIONS: dict[str, ElementFunction] = {
    "map": ElementFunction("dynamic", _reduce_map),
    "all": ElementFunction("bool", _reduce_bool(True)),
    "any": ElementFunction("bool", _reduce_bool(False)),
}
#: graph functions of one node: `f(n)`, or `f()` inside all/any/map over inner_nodes(e) -> node column
#: ("" is the node's id, as a string: node_id())
NODE_FUNCTIONS: dict[str, str] = {"node_degree_in": "__deg_in", "node_degree_out": "__deg_out", "node_id": ""}
#: graph functions whose value is the same for every element of a transient (make-graph) graph
CONSTANT_FUNCTIONS: dict[str, Callable[[], A.Node]] = {
    "labels": lambda: A.Literal([], "dynamic"),  # make-graph's graphs carry no labels: always []
}
#: the names of all graph functions (for error messages and the support table)
GRAPH_FUNCTIONS = sorted([*ELEMENT_FUNCTIONS, *NODE_FUNCTIONS, *CONSTANT_FUNCTIONS, "inner_nodes"])

_INTERNAL = re.compile(r"^__[ne]_(.+?)__(.+)$")


@dataclass
class _Edge:
    name: str
    edge: A.GraphEdge
    a: str  # the node on the edge's left in the pattern
    b: str


@dataclass
class _Call:
    """One element-function call of the query: its result column and what it reduces."""

    key: str
    fn: ElementFunction
    edge: str
    inner: bool
    expr: A.Node


@dataclass
class _Match:
    """What one graph-match needs while it is lowered."""

    p: Planner
    g: Graph
    node_vars: list[str]
    edges: list[_Edge]
    node_cols: list[tuple[str, str]]
    edge_cols: list[tuple[str, str]]
    calls: list[_Call] = field(default_factory=list)
    degrees: bool = False

    @property
    def fixed(self) -> set[str]:
        return {e.name for e in self.edges if not e.edge.variable}

    @property
    def variable(self) -> set[str]:
        return {e.name for e in self.edges if e.edge.variable}

    # ------------------------------------------------------------ rewriting the where / project

    def _target(self, arg: A.Node, call_node: A.Call) -> tuple[str, bool]:
        """The variable edge an element function runs over, and whether over its inner nodes."""
        if isinstance(arg, A.Name) and arg.name in self.variable:
            return arg.name, False
        if (
            isinstance(arg, A.Call)
            and arg.name.lower() == "inner_nodes"
            and len(arg.args) == 1
            and isinstance(arg.args[0], A.Name)
            and arg.args[0].name in self.variable
        ):
            return arg.args[0].name, True
        raise self.p.semantic(
            f"{call_node.name}() takes a variable length edge of the pattern (or inner_nodes() of one) "
            "as its first argument",
            arg,
        )

    def _uses_inner_degree(self, node: Any) -> bool:
        if isinstance(node, A.Call) and NODE_FUNCTIONS.get(node.name.lower()) and not node.args:
            return True
        if isinstance(node, A.Node):
            return any(
                self._uses_inner_degree(getattr(node, f.name))
                for f in dataclasses.fields(node)
                if f.name != "pos"
            )
        if isinstance(node, (list, tuple)):
            return any(self._uses_inner_degree(x) for x in node)
        return False

    def rewrite(self, node: Any) -> Any:
        """`n.prop` / `e.prop` / graph functions as the union's internal column names."""
        if isinstance(node, A.Member) and isinstance(node.obj, A.Name):
            owner = node.obj.name
            props = self.node_cols if owner in self.node_vars else self.edge_cols
            if (owner in self.node_vars or owner in self.fixed | self.variable) and node.name not in dict(
                props
            ):
                kind = "node" if owner in self.node_vars else "edge"
                known = ", ".join(n for n, _ in props if not n.startswith("__"))
                raise self.p.semantic(
                    f"the {kind} {owner} has no property {node.name!r} (it has {known})", node
                )
            if owner in self.node_vars:
                return A.Name(f"__n_{owner}__{node.name}", pos=node.pos)
            if owner in self.fixed:
                return A.Name(f"__e_{owner}__{node.name}", pos=node.pos)
            if owner in self.variable:  # a variable edge's property: the list of it along the path
                return self._register(
                    ELEMENT_FUNCTIONS["map"], owner, False, A.Name(node.name, pos=node.pos), node
                )
        if isinstance(node, A.Call):
            low = node.name.lower()
            if (
                low in ELEMENT_FUNCTIONS
                and node.args
                and self._is_graph_arg(node.args[0])
                and len(node.args) != 2
            ):
                raise self.p.semantic(
                    f"{node.name}() takes a variable length edge (or inner_nodes() of one) and an expression",
                    node,
                )
            if low in ELEMENT_FUNCTIONS and len(node.args) == 2 and self._is_graph_arg(node.args[0]):
                edge, inner = self._target(node.args[0], node)
                return self._register(ELEMENT_FUNCTIONS[low], edge, inner, node.args[1], node)
            if low in NODE_FUNCTIONS:
                arg = node.args[0] if len(node.args) == 1 else None
                if not isinstance(arg, A.Name) or arg.name not in self.node_vars:
                    raise self.p.semantic(f"{node.name}() takes one node of the pattern", node)
                return self._node_value(low, f"__n_{arg.name}__", node)
            if low in CONSTANT_FUNCTIONS:
                if len(node.args) > 1 or (
                    node.args
                    and not (
                        isinstance(node.args[0], A.Name)
                        and (
                            node.args[0].name in self.node_vars
                            or node.args[0].name in self.fixed | self.variable
                        )
                    )
                ):
                    raise self.p.semantic(f"{node.name}() takes one node or edge of the pattern", node)
                return dataclasses.replace(CONSTANT_FUNCTIONS[low](), pos=node.pos)
            if low == "inner_nodes":
                raise self.p.semantic(
                    "inner_nodes() is only valid as the first argument of all(), any() or map()", node
                )
            first = node.args[0] if len(node.args) == 1 else None
            if low == "array_length" and isinstance(first, A.Name) and first.name in self.variable:
                return A.Name(f"__len_{first.name}", pos=node.pos)
        if isinstance(node, A.Name):  # a whole node or edge: the bag of its properties
            if node.name in self.node_vars:
                return _bag(self.node_cols, f"__n_{node.name}__", node)
            if node.name in self.fixed:
                return _bag(self.edge_cols, f"__e_{node.name}__", node)
            if node.name in self.variable:
                return self._register(
                    ELEMENT_FUNCTIONS["map"], node.name, False, _bag(self.edge_cols, "", node), node
                )
        return _walk(node, self.rewrite)

    def inner_needs_nodes(self, edge: str) -> bool:
        """Whether the calls over inner_nodes(edge) read a node property other than its id."""
        props = {n for n, _ in self.node_cols} - {self.g.key}
        found = False

        def look(node: Any) -> Any:
            nonlocal found
            if isinstance(node, A.Name) and node.name in props:
                found = True
            if isinstance(node, A.Call) and NODE_FUNCTIONS.get(node.name.lower()) and not node.args:
                found = True
            return _walk(node, look)

        for c in self.calls:
            if c.edge == edge and c.inner:
                look(c.expr)
        return found

    def _node_value(self, low: str, prefix: str, at: A.Node) -> A.Node:
        """A node function's value: a column of the node (`prefix` names the node in the branch)."""
        column = NODE_FUNCTIONS[low]
        if not column:  # node_id(): the id as a string
            return A.Call("tostring", [A.Name(prefix + self.g.key, pos=at.pos)], pos=at.pos)
        self.degrees = True
        return A.Name(prefix + column, pos=at.pos)

    def _is_graph_arg(self, arg: A.Node) -> bool:
        if isinstance(arg, A.Name):
            return arg.name in self.variable or arg.name in self.fixed or arg.name in self.node_vars
        return isinstance(arg, A.Call) and arg.name.lower() == "inner_nodes"

    def _register(self, f: ElementFunction, edge: str, inner: bool, expr: A.Node, at: A.Node) -> A.Node:
        if inner and self._uses_inner_degree(expr):
            self.degrees = True
        key = f"__gf_{len(self.calls)}"
        self.calls.append(_Call(key, f, edge, inner, expr))
        return A.Name(key, pos=at.pos)

    def element(self, c: _Call, i: int) -> A.Node:
        """The call's expression for element `i` of its edge (the branch's columns of that hop/node)."""
        prefix = f"__y_{c.edge}_{i}__" if c.inner else f"__x_{c.edge}_{i}__"
        own = {n for n, _ in (self.node_cols if c.inner else self.edge_cols)}

        def go(node: Any) -> Any:
            if isinstance(node, A.Name) and node.name in own:
                return A.Name(prefix + node.name, pos=node.pos)
            if (
                isinstance(node, A.Member)
                and isinstance(node.obj, A.Name)
                and node.obj.name in self.node_vars
            ):
                return A.Name(f"__n_{node.obj.name}__{node.name}", pos=node.pos)
            if isinstance(node, A.Call):
                low = node.name.lower()
                if low in NODE_FUNCTIONS and not node.args:
                    if not c.inner:
                        raise self.p.semantic(
                            f"{node.name}() without a node is valid over inner_nodes() only", node
                        )
                    return self._node_value(low, prefix, node)
                if low in CONSTANT_FUNCTIONS and not node.args:
                    return dataclasses.replace(CONSTANT_FUNCTIONS[low](), pos=node.pos)
            return _walk(node, go)

        return go(c.expr)  # type: ignore[no-any-return]


def _bag(cols: list[tuple[str, str]], prefix: str, at: A.Node) -> A.Node:
    """`bag_pack("p1", <prefix>p1, ...)` over the element's properties (internal columns left out)."""
    args: list[A.Node] = []
    for name, _ in cols:
        if not name.startswith("__"):
            args += [A.Literal(name, "string", pos=at.pos), A.Name(prefix + name, pos=at.pos)]
    return A.Call("bag_pack", args, pos=at.pos)


def _walk(node: Any, go: Callable[[Any], Any]) -> Any:
    if isinstance(node, A.Node):
        changes = {f.name: go(getattr(node, f.name)) for f in dataclasses.fields(node) if f.name != "pos"}
        return dataclasses.replace(node, **changes)
    if isinstance(node, list):
        return [go(x) for x in node]
    if isinstance(node, tuple):
        return tuple(go(x) for x in node)
    if isinstance(node, dict):
        return {k: go(v) for k, v in node.items()}
    return node


# ---------------------------------------------------------------- the graph's tables, as the joins see them


def _same(g: Graph, cond: exp.Expression, a: str, b: str) -> exp.Expression:
    """`cond` (two ids equal), and on a partitioned graph the two rows' partitions equal too."""
    if g.partition is None:
        return cond
    return exp.And(this=cond, expression=exp.EQ(this=col(g.partition, a), expression=col(g.partition, b)))


def _nodes_table(p: Planner, g: Graph, degrees: bool) -> tuple[exp.Select, list[tuple[str, str]]]:
    """The nodes (with their in/out degrees when a degree function is used)."""
    if not degrees:
        return g.nodes.sql, list(g.nodes.cols)
    sql = exp.select(
        *[col(n, "n") for n, _ in g.nodes.cols],
        *[
            alias(exp.Coalesce(this=col("c", d), expressions=[exp.Literal.number(0)]), name)
            for d, name in (("di", "__deg_in"), ("do", "__deg_out"))
        ],
    ).from_(g.nodes.sql.subquery("n"), copy=False)
    part = [g.partition] if g.partition else []
    for end, d in ((g.target, "di"), (g.source, "do")):  # each node's count of edges in / out
        counted = (
            exp.select(
                alias(col(end), "__k"), *[col(c) for c in part], alias(exp.Count(this=exp.Star()), "c")
            )
            .from_(g.edges.sql.subquery(p.fresh("e")), copy=False)
            .group_by(col(end), *[col(c) for c in part], copy=False)
        )
        on = _same(g, exp.EQ(this=col(g.key, "n"), expression=col("__k", d)), "n", d)
        sql = sql.join(counted.subquery(d), on=on, join_type="LEFT", copy=False)
    return sql, [*g.nodes.cols, ("__deg_in", "long"), ("__deg_out", "long")]


def _oriented_edges(
    p: Planner, g: Graph, shared: Callable[[exp.Select], exp.Select]
) -> dict[str, exp.Select]:
    """The edges numbered (`__eid`) and oriented (`__f` -> `__t`) for each direction of a pattern edge."""
    order = exp.Order(expressions=[exp.Ordered(this=col(n), nulls_first=True) for n, _ in g.edges.cols])
    numbered = shared(
        exp.select(exp.Star(), alias(exp.Window(this=exp.RowNumber(), order=order), "__eid")).from_(
            g.edges.sql.subquery(p.fresh("e")), copy=False
        )
    )

    def oriented(f: str, t: str) -> exp.Select:
        return exp.select(exp.Star(), alias(col(f), "__f"), alias(col(t), "__t")).from_(
            numbered.subquery(p.fresh("e")), copy=False
        )

    out = oriented(g.source, g.target)
    back = oriented(g.target, g.source)
    reverse_only = back.where(
        exp.NullSafeNEQ(this=col(g.source), expression=col(g.target)), copy=True
    )  # a self-loop is walked once
    both = exp.select(exp.Star()).from_(
        exp.union(out.copy(), reverse_only, distinct=False).subquery(p.fresh("e")), copy=False
    )
    return {"out": out, "in": back, "any": both}


# ---------------------------------------------------------------- one join chain per combination of lengths


def _branch(
    m: _Match,
    combo: tuple[int, ...],
    tables_of: dict[str, exp.Select],
    nodes_sql: exp.Select,
    cycles: str,
    shortest: bool,
    patterns: list[tuple[list[str], list[A.GraphEdge]]],
    env: Env,
) -> exp.Select:
    p, g = m.p, m.g
    tables: list[exp.Expression] = []
    conds: list[exp.Expression] = []
    proj: list[exp.Expression] = []
    cols: list[tuple[str, str]] = []

    def add(e: exp.Expression, name: str, kind: str) -> None:
        proj.append(alias(e, name))
        cols.append((name, kind))

    for v in m.node_vars:
        tables.append(nodes_sql.subquery(f"n_{v}"))
        for c, t in m.node_cols:
            add(col(c, f"n_{v}"), f"__n_{v}__{c}", t)
    inner_used = {c.edge for c in m.calls if c.inner}
    hop_aliases: dict[str, list[str]] = {}
    every: list[str] = []
    for e, hops in zip(m.edges, combo, strict=True):
        aliases = [f"e_{e.name}_{i}" for i in range(hops)]
        hop_aliases[e.name] = aliases
        every += aliases
        for al in aliases:
            tables.append(tables_of[e.edge.direction].subquery(al))
        start, end = col(g.key, f"n_{e.a}"), col(g.key, f"n_{e.b}")
        if hops == 0:
            conds.append(_same(g, exp.EQ(this=start, expression=end), f"n_{e.a}", f"n_{e.b}"))
        else:
            conds.append(
                _same(g, exp.EQ(this=col("__f", aliases[0]), expression=start), aliases[0], f"n_{e.a}")
            )
            for x, y in itertools.pairwise(aliases):
                conds.append(_same(g, exp.EQ(this=col("__t", x), expression=col("__f", y)), x, y))
            conds.append(
                _same(g, exp.EQ(this=col("__t", aliases[-1]), expression=end), aliases[-1], f"n_{e.b}")
            )
        if e.name in inner_used:
            join = m.inner_needs_nodes(e.name)
            for j in range(hops - 1):
                inner = f"i_{e.name}_{j}"
                if not join:  # only the id of the inner nodes is used: the hop's end is enough
                    add(col("__t", aliases[j]), f"__y_{e.name}_{j}__{g.key}", dict(m.node_cols)[g.key])
                    continue
                tables.append(nodes_sql.subquery(inner))
                conds.append(
                    _same(
                        g,
                        exp.EQ(this=col(g.key, inner), expression=col("__t", aliases[j])),
                        inner,
                        aliases[j],
                    )
                )
                for c, t in m.node_cols:
                    add(col(c, inner), f"__y_{e.name}_{j}__{c}", t)
        if not e.edge.variable:
            for c, t in m.edge_cols:
                add(col(c, aliases[0]), f"__e_{e.name}__{c}", t)
        else:
            for i, al in enumerate(aliases):
                for c, t in m.edge_cols:
                    add(col(c, al), f"__x_{e.name}_{i}__{c}", t)
        add(exp.Cast(this=exp.Literal.number(hops), to=dtype("BIGINT")), f"__len_{e.name}", "long")
    if cycles == "unique_edges":
        for x, y in itertools.combinations(every, 2):
            conds.append(exp.NEQ(this=col("__eid", x), expression=col("__eid", y)))
    elif cycles == "none":
        for names, path in patterns:
            seq: list[tuple[str | None, exp.Expression]] = [(names[0], col(g.key, f"n_{names[0]}"))]
            for i, pe in enumerate(path):
                name = next(x.name for x in m.edges if x.edge is pe)
                seq += [(None, col("__t", al)) for al in hop_aliases[name][:-1]]
                if hop_aliases[name]:  # after a zero-length edge the next node is the same node
                    seq.append((names[i + 1], col(g.key, f"n_{names[i + 1]}")))
            for (na, xa), (nb, xb) in itertools.combinations(seq, 2):
                # a node named twice in one sequence is a cycle by construction: none matches
                same = na is not None and na == nb
                conds.append(exp.false() if same else exp.NullSafeNEQ(this=xa, expression=xb))
    if shortest:
        ids = [col("__eid", al) for al in every]
        path_ids = (
            call("list_value", *ids)
            if ids
            else exp.Cast(this=exp.Array(expressions=[]), to=dtype("BIGINT[]"))
        )
        add(path_ids, "__path", "dynamic")
    inner_sql = exp.select(*proj).from_(tables[0], copy=False)
    for table in tables[1:]:
        inner_sql = inner_sql.join(table, join_type="CROSS", copy=False)
    if conds:
        inner_sql = inner_sql.where(exp.and_(*conds), copy=False)
    # the graph functions, unrolled over this branch's hops
    inner_rel = Rel(inner_sql, cols)
    scope = p.scope_of(inner_rel, env)
    keep = [n for n, _ in cols if not n.startswith(("__x_", "__y_"))]
    out: list[exp.Expression] = [col(n) for n in keep]
    for gf in m.calls:
        length = combo[[e.name for e in m.edges].index(gf.edge)]
        count = max(length - 1, 0) if gf.inner else length
        values = [p.compile(m.element(gf, i), scope) for i in range(count)]
        out.append(alias(gf.fn.reduce(values), gf.key))
    return exp.select(*out).from_(inner_sql.subquery(p.fresh(), copy=False), copy=False)


def lower_graph_match(p: Planner, rel: Rel, op: A.GraphMatch, env: Env) -> Rel:
    g = rel.graph
    if g is None:
        what = "graph-shortest-paths" if op.shortest else "graph-match"
        raise p.semantic(f"{what} needs a graph: put make-graph before it", op)
    node_vars: list[str] = []
    edges: list[_Edge] = []
    for names, path in op.patterns:
        for n in names:
            if n not in node_vars:
                node_vars.append(n)
        for i, e in enumerate(path):
            edges.append(_Edge(e.name or f"__anon{len(edges)}", e, names[i], names[i + 1]))
    m = _Match(p, g, node_vars, edges, list(g.nodes.cols), list(g.edges.cols))
    where = m.rewrite(op.where) if op.where is not None else None
    items = [_named(m, item) for item in op.project]
    items = m.rewrite(items)
    ctes: list[tuple[str, exp.Select]] = []

    def shared(sql: exp.Select) -> exp.Select:
        """`sql` computed once for the whole match (a CTE: every hop and node reads the same rows)."""
        name = p.fresh("graph")
        ctes.append((name, sql))
        return exp.select(exp.Star()).from_(exp.to_table(name), copy=False)

    nodes_sql, m.node_cols = _nodes_table(p, g, m.degrees)
    nodes_sql = shared(nodes_sql)
    tables_of = {k: shared(v) for k, v in _oriented_edges(p, g, shared).items()}
    lengths = [range(e.edge.low, e.edge.high + 1) for e in edges]
    combos = list(itertools.product(*lengths))
    if len(combos) > MAX_BRANCHES:
        raise p.semantic(
            f"the pattern's variable-length edges unroll to {len(combos)} join chains (at most {MAX_BRANCHES})",
            op,
        )
    cycles = "none" if op.shortest else op.cycles  # a shortest path never comes back to a node it left
    selects = [
        _branch(m, combo, tables_of, nodes_sql, cycles, op.shortest, op.patterns, env) for combo in combos
    ]
    out_cols = _branch_order(m)  # the branches' column order
    if op.shortest:
        out_cols.append(("__path", "dynamic"))
    out_cols += [(c.key, c.fn.type) for c in m.calls]
    matched = union_all(p, selects, out_cols)
    for name, sql in ctes:
        matched.sql.with_(name, as_=sql, copy=False)
    scope_rel = matched
    if where is not None:
        cond = as_bool(p.compile(where, p.scope_of(matched, env)))
        scope_rel = Rel(p.filter(matched, cond), out_cols)
    if op.shortest:  # per pair of end nodes of the first pattern, the shortest match
        first_names = op.patterns[0][0]
        keys = [col(f"__n_{first_names[0]}__{g.key}"), col(f"__n_{first_names[-1]}__{g.key}")]
        if g.partition is not None:
            keys.append(col(f"__n_{first_names[0]}__{g.partition}"))
        total: exp.Expression = exp.Literal.number(0)
        for edge in edges:
            total = exp.Add(this=total, expression=col(f"__len_{edge.name}"))
        order = (
            [exp.Ordered(this=total)]
            if op.all_paths
            else [exp.Ordered(this=total), exp.Ordered(this=col("__path"))]
        )
        rank = exp.Window(
            this=exp.Anonymous(this="rank") if op.all_paths else exp.RowNumber(),
            partition_by=keys,
            order=exp.Order(expressions=order),
        )
        ranked = p.select(scope_rel, [*p.star(scope_rel), alias(rank, "__rank")])
        scope_rel = Rel(
            exp.select(*[col(n) for n, _ in out_cols])
            .from_(ranked.subquery(p.fresh(), copy=False), copy=False)
            .where(exp.EQ(this=col("__rank"), expression=exp.Literal.number(1)), copy=False),
            out_cols,
        )
    done = assignments(p, scope_rel, items, p.scope_of(scope_rel, env), keep=False)
    named = [(_public_name(n), v) for n, v in done]
    return Rel(p.select(scope_rel, [alias(v.sql, n) for n, v in named]), [(n, v.type) for n, v in named])


def _branch_order(m: _Match) -> list[tuple[str, str]]:
    cols = [(f"__n_{v}__{c}", t) for v in m.node_vars for c, t in m.node_cols]
    for e in m.edges:
        if not e.edge.variable:
            cols += [(f"__e_{e.name}__{c}", t) for c, t in m.edge_cols]
        cols.append((f"__len_{e.name}", "long"))
    return cols


def _named(m: _Match, item: A.Assign) -> A.Assign:
    """Kusto's names for unnamed graph projections: `n.prop` is `n_prop`, `node_degree_in(n)` its function."""
    if item.names:
        return item
    expr = item.expr
    if isinstance(expr, A.Call) and expr.name.lower() in (*NODE_FUNCTIONS, *CONSTANT_FUNCTIONS):
        return A.Assign([expr.name], expr, pos=item.pos)
    if isinstance(expr, A.Name) and (expr.name in m.node_vars or any(e.name == expr.name for e in m.edges)):
        return A.Assign([expr.name], expr, pos=item.pos)  # `project a`: the node's bag, named a
    return item


def _public_name(name: str) -> str:
    found = _INTERNAL.match(name)
    return f"{found.group(1)}_{found.group(2)}" if found else name
