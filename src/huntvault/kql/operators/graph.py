"""Graph operators: make-graph, graph-match, graph-shortest-paths, graph-to-table, lowered to joins.

A pattern's fixed edges are joins of the edges table; a variable-length edge `[e*1..3]` is a union over
its lengths (one join chain per length), `map(e, prop)` the list of `prop` along the path and
`array_length(e)` its length. graph-shortest-paths keeps, per pair of end nodes, the shortest match."""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.ir import Env, Graph, Operator, Planner, Rel, operator
from huntvault.kql.lowering.tables import assignments, union_all
from huntvault.kql.syntax import Cursor, Token
from huntvault.kql.syntax.expressions import assignments as parse_assignments
from huntvault.kql.syntax.expressions import options, parse_expr
from huntvault.kql.values import alias, as_bool, call, col, fn

#: the longest variable-length edge unrolled (Kusto's own limit on a variable edge's length)
MAX_HOPS = 10


def parse_make_graph(c: Cursor, t: Token) -> A.Node:
    source = c.identifier("the source column")
    for p in ("-", "-", ">"):
        c.expect(p, "'-->' between the source and target columns")
    target = c.identifier("the target column")
    nodes: list[tuple[A.Node, str]] = []
    node_id = None
    if c.accept_word("with"):
        while True:
            table = parse_expr(c)
            c.expect_word("on")
            nodes.append((table, c.identifier("the nodes' key column")))
            if not c.accept(","):
                break
    elif c.accept_word("with_node_id"):
        c.expect("=")
        node_id = c.identifier("a column name")
    return A.MakeGraph(source, target, nodes, node_id, pos=t.pos)


def lower_make_graph(p: Planner, rel: Rel, op: A.MakeGraph, env: Env) -> Rel:
    types = rel.types()
    for name in (op.source, op.target):
        if name not in types:
            raise p.semantic(f"make-graph: unknown column {name!r}", op)
    if op.nodes:
        table, key = op.nodes[0]
        nodes = p.relation(table, env)
        if key not in nodes.types():
            raise p.semantic(f"make-graph: the nodes have no column {key!r}", table)
        if len(op.nodes) > 1:
            raise p.unsupported("make-graph with several node tables is not supported", op)
    else:
        key = op.node_id or "NodeId"
        kind = types[op.source]
        ends = [p.select(rel, [alias(col(n), key)]) for n in (op.source, op.target)]
        both = union_all(p, ends, [(key, kind)])
        nodes = Rel(p.select(both, [col(key)]).distinct(copy=False), [(key, kind)])
    graph = Graph(nodes, Rel(rel.sql, list(rel.cols), rel.order), key, op.source, op.target)
    return Rel(rel.sql, list(rel.cols), rel.order, graph)


def _graph_of(p: Planner, rel: Rel, op: A.Node, what: str) -> Graph:
    if rel.graph is None:
        raise p.semantic(f"{what} needs a graph: put make-graph before it", op)
    return rel.graph


def _count(c: Cursor) -> int:
    t = c.advance()
    if t.kind != "number" or not isinstance(t.value, int):
        raise c.error("expected a whole number of hops", t)
    return t.value


def _pattern(c: Cursor) -> tuple[list[str], list[A.GraphEdge]]:
    def node() -> str:
        c.expect("(")
        name = c.identifier("a node name")
        c.expect(")")
        return name

    names = [node()]
    edges: list[A.GraphEdge] = []
    while c.at("-") or c.at("<"):
        at = c.tok
        incoming = bool(c.accept("<"))
        c.expect("-")
        c.expect("[")
        name = c.identifier("an edge name") if c.tok.kind == "ident" else None
        low = high = 1
        variable = False
        if c.accept("*"):
            variable = True
            low = _count(c)
            c.expect("..")
            high = _count(c)
        c.expect("]")
        c.expect("-")
        outgoing = bool(c.accept(">"))
        if incoming and outgoing:
            raise c.error("an edge cannot point both ways", at)
        if not 1 <= low <= high <= MAX_HOPS:
            raise c.error(f"a variable edge's length is 1..{MAX_HOPS}", at)
        direction = "in" if incoming else "out" if outgoing else "any"
        edges.append(A.GraphEdge(name, direction, low, high, variable, pos=at.pos))
        names.append(node())
    return names, edges


def _parse_match(c: Cursor, t: Token, shortest: bool) -> A.Node:
    opts = options(c, {"cycles", "output"})
    output = opts.get("output")
    all_paths = isinstance(output, A.Name) and output.name.lower() == "all"
    patterns = [_pattern(c)]
    while c.accept(","):
        patterns.append(_pattern(c))
    where = parse_expr(c) if c.accept_word("where") else None
    c.expect_word("project")
    return A.GraphMatch(patterns, where, parse_assignments(c), shortest, all_paths, pos=t.pos)


def parse_graph_match(c: Cursor, t: Token) -> A.Node:
    return _parse_match(c, t, False)


def parse_graph_shortest_paths(c: Cursor, t: Token) -> A.Node:
    return _parse_match(c, t, True)


def _rewrite(node: Any, nodes: set[str], fixed: set[str], variable: set[str]) -> Any:
    """`n.prop` / `e.prop` / `map(e, prop)` / `array_length(e)` as the union's internal column names."""
    if isinstance(node, A.Member) and isinstance(node.obj, A.Name):
        if node.obj.name in nodes:
            return A.Name(f"__n_{node.obj.name}__{node.name}", pos=node.pos)
        if node.obj.name in fixed:
            return A.Name(f"__e_{node.obj.name}__{node.name}", pos=node.pos)
    if isinstance(node, A.Call) and node.args and isinstance(node.args[0], A.Name):
        low, first = node.name.lower(), node.args[0].name
        if low == "map" and first in variable and len(node.args) == 2 and isinstance(node.args[1], A.Name):
            return A.Name(f"__map_{first}__{node.args[1].name}", pos=node.pos)
        if low == "array_length" and first in variable and len(node.args) == 1:
            return A.Name(f"__len_{first}", pos=node.pos)
    if isinstance(node, A.Node):
        changes = {
            f.name: _rewrite(getattr(node, f.name), nodes, fixed, variable)
            for f in dataclasses.fields(node)
            if f.name != "pos"
        }
        return dataclasses.replace(node, **changes)
    if isinstance(node, list):
        return [_rewrite(x, nodes, fixed, variable) for x in node]
    if isinstance(node, tuple):
        return tuple(_rewrite(x, nodes, fixed, variable) for x in node)
    if isinstance(node, dict):
        return {k: _rewrite(v, nodes, fixed, variable) for k, v in node.items()}
    return node


def lower_graph_match(p: Planner, rel: Rel, op: A.GraphMatch, env: Env) -> Rel:
    g = _graph_of(p, rel, op, "graph-shortest-paths" if op.shortest else "graph-match")
    node_vars: list[str] = []
    edges: list[tuple[str, A.GraphEdge, str, str]] = []  # (name, edge, from node, to node)
    for names, path in op.patterns:
        for n in names:
            if n not in node_vars:
                node_vars.append(n)
        for i, e in enumerate(path):
            edges.append((e.name or f"__anon{len(edges)}", e, names[i], names[i + 1]))
    fixed = {name for name, e, _, _ in edges if not e.variable}
    variable = {name for name, e, _, _ in edges if e.variable}
    node_cols, edge_cols = g.nodes.cols, g.edges.cols
    out_cols: list[tuple[str, str]] = [(f"__n_{v}__{c}", t) for v in node_vars for c, t in node_cols]
    out_cols += [(f"__e_{e}__{c}", t) for e, _, _, _ in edges if e in fixed for c, t in edge_cols]
    out_cols += [
        (f"__map_{e}__{c}", "dynamic") for e, _, _, _ in edges if e in variable for c, _ in edge_cols
    ]
    out_cols += [(f"__len_{e}", "long") for e, _, _, _ in edges]
    nodes_sub = g.nodes.sql
    edges_sub = g.edges.sql
    selects: list[exp.Select] = []
    lengths = [range(e.low, e.high + 1) for _, e, _, _ in edges]
    for combo in itertools.product(*lengths):
        tables: list[exp.Expression] = []
        conds: list[exp.Expression] = []
        proj: list[exp.Expression] = []
        for v in node_vars:
            tables.append(nodes_sub.subquery(f"n_{v}"))
            proj += [alias(col(c, f"n_{v}"), f"__n_{v}__{c}") for c, _ in node_cols]
        for (name, e, a, b), hops in zip(edges, combo, strict=True):
            aliases = [f"e_{name}_{i}" for i in range(hops)]
            for al in aliases:
                tables.append(edges_sub.subquery(al))
            first, last = (g.source, g.target) if e.direction != "in" else (g.target, g.source)
            if e.direction == "any" and hops == 1:
                al = aliases[0]
                forward = exp.and_(
                    exp.EQ(this=col(g.source, al), expression=col(g.key, f"n_{a}")),
                    exp.EQ(this=col(g.target, al), expression=col(g.key, f"n_{b}")),
                )
                backward = exp.and_(
                    exp.EQ(this=col(g.target, al), expression=col(g.key, f"n_{a}")),
                    exp.EQ(this=col(g.source, al), expression=col(g.key, f"n_{b}")),
                )
                conds.append(exp.Paren(this=exp.or_(forward, backward)))
            elif e.direction == "any":
                raise p.unsupported("a variable-length edge without a direction is not supported", e)
            else:
                conds.append(exp.EQ(this=col(first, aliases[0]), expression=col(g.key, f"n_{a}")))
                for x, y in itertools.pairwise(aliases):
                    conds.append(exp.EQ(this=col(last, x), expression=col(first, y)))
                conds.append(exp.EQ(this=col(last, aliases[-1]), expression=col(g.key, f"n_{b}")))
            if name in fixed:
                proj += [alias(col(c, aliases[0]), f"__e_{name}__{c}") for c, _ in edge_cols]
            else:
                for c, _ in edge_cols:
                    proj.append(
                        alias(
                            fn("to_json", call("list_value", *[col(c, al) for al in aliases])),
                            f"__map_{name}__{c}",
                        )
                    )
            proj.append(
                alias(
                    exp.Cast(this=exp.Literal.number(hops), to=exp.DataType.build("BIGINT")), f"__len_{name}"
                )
            )
        sel = exp.select(*proj).from_(tables[0], copy=False)
        for t in tables[1:]:
            sel = sel.join(t, join_type="CROSS", copy=False)
        if conds:
            sel = sel.where(exp.and_(*conds), copy=False)
        selects.append(sel)
    matched = union_all(p, selects, out_cols)
    scope_rel = matched
    if op.where is not None:
        cond = as_bool(
            p.compile(_rewrite(op.where, set(node_vars), fixed, variable), p.scope_of(matched, env))
        )
        scope_rel = Rel(p.filter(matched, cond), out_cols)
    if op.shortest:  # per pair of end nodes of the first pattern, the shortest match
        first_names = op.patterns[0][0]
        keys = [col(f"__n_{first_names[0]}__{g.key}"), col(f"__n_{first_names[-1]}__{g.key}")]
        total: exp.Expression = exp.Literal.number(0)
        for name, _, _, _ in edges:
            total = exp.Add(this=total, expression=col(f"__len_{name}"))
        rank = exp.Window(
            this=exp.Anonymous(this="rank") if op.all_paths else exp.RowNumber(),
            partition_by=keys,
            order=exp.Order(expressions=[exp.Ordered(this=total)]),
        )
        ranked = p.select(scope_rel, [*p.star(scope_rel), alias(rank, "__rank")])
        scope_rel = Rel(
            exp.select(*[col(n) for n, _ in out_cols])
            .from_(ranked.subquery(p.fresh(), copy=False), copy=False)
            .where(exp.EQ(this=col("__rank"), expression=exp.Literal.number(1)), copy=False),
            out_cols,
        )
    items = assignments(
        p,
        scope_rel,
        _rewrite(op.project, set(node_vars), fixed, variable),
        p.scope_of(scope_rel, env),
        keep=False,
    )
    return Rel(p.select(scope_rel, [alias(v.sql, n) for n, v in items]), [(n, v.type) for n, v in items])


def parse_graph_to_table(c: Cursor, t: Token) -> A.Node:
    kind = c.identifier("nodes or edges").lower()
    if kind not in ("nodes", "edges"):
        raise c.error("graph-to-table takes nodes or edges (one table)", t)
    opts: dict[str, str] = {}
    while c.tok.kind == "ident" and c.peek().kind == "punct" and c.peek().value == "=":
        key = c.identifier().lower()
        c.expect("=")
        opts[key] = c.identifier("a column name")
    if c.at(","):
        raise c.error("graph-to-table of both nodes and edges returns two tables; ask for one", c.tok)
    return A.GraphToTable(kind, opts, pos=t.pos)


def lower_graph_to_table(p: Planner, rel: Rel, op: A.GraphToTable, env: Env) -> Rel:
    g = _graph_of(p, rel, op, "graph-to-table")
    if op.kind == "nodes":
        base = g.nodes
        extra = (
            [
                (
                    alias(col(g.key), op.options["with_node_id"]),
                    (op.options["with_node_id"], dict(base.cols)[g.key]),
                )
            ]
            if "with_node_id" in op.options
            else []
        )
    else:
        base = g.edges
        extra = []
        for opt, column in (("with_source_id", g.source), ("with_target_id", g.target)):
            if opt in op.options:
                extra.append(
                    (alias(col(column), op.options[opt]), (op.options[opt], dict(base.cols)[column]))
                )
    proj: list[exp.Expression] = [e for e, _ in extra] + [col(n) for n, _ in base.cols]
    return Rel(p.select(base, proj), [c for _, c in extra] + list(base.cols))


OPERATORS: list[Operator] = [
    operator(A.MakeGraph, {"make-graph": parse_make_graph}, lower_make_graph),
    operator(
        A.GraphMatch,
        {"graph-match": parse_graph_match, "graph-shortest-paths": parse_graph_shortest_paths},
        lower_graph_match,
    ),
    operator(A.GraphToTable, {"graph-to-table": parse_graph_to_table}, lower_graph_to_table),
]
