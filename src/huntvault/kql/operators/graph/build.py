"""Graph operators: make-graph, graph-mark-components, graph-to-table, and the parsing of graph-match /
graph-shortest-paths (lowered in match.py).

make-graph keeps the edges (the relation's SQL) and the nodes: the nodes table of `with T on K` plus, as
Kusto does, every node met only on an edge (its properties null); without a nodes table, the edges' ends
in order of first appearance. graph-mark-components labels each node with its (weakly or strongly)
connected component: a recursive reachability query over the edges (DuckDB only)."""

from __future__ import annotations

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.ir import Env, Graph, Operator, Planner, Rel, operator
from huntvault.kql.lowering.tables import union_all
from huntvault.kql.operators.graph.match import MAX_HOPS, lower_graph_match
from huntvault.kql.syntax import Cursor, Token
from huntvault.kql.syntax.expressions import assignments as parse_assignments
from huntvault.kql.syntax.expressions import options, parse_expr, parse_pipeline
from huntvault.kql.values import SQL_TYPES, alias, col, dtype, null_of

#: graph-match's cycles= values (Kusto's): all, none (no node twice), unique_edges (no edge twice; default)
CYCLES = ("all", "none", "unique_edges")
#: graph-mark-components kinds: weak (edges either way) or strong (both ways, following directions)
COMPONENT_KINDS = ("weak", "strong")


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
    partition = None
    body = None
    if c.at_word("partitioned") and c.peek().kind == "punct" and c.peek().value == "-":
        c.advance()
        c.expect("-")
        c.expect_word("by")
        partition = c.identifier("the partition column")
        c.expect("(", "'(' and the graph operators to run on each partition")
        body = parse_pipeline(c, allow_implicit=True)
        c.expect(")")
        if not isinstance(body, A.Pipeline) or body.source is not None or not body.ops:
            raise c.error("partitioned-by takes graph operators in parentheses", t)
        if not isinstance(body.ops[0], (A.GraphMatch, A.GraphToTable, A.GraphMarkComponents)):
            raise c.error("partitioned-by's operators start with a graph operator (graph-match...)", t)
    return A.MakeGraph(source, target, nodes, node_id, partition, body, pos=t.pos)


def _numbered(p: Planner, rel: Rel, name: str) -> exp.Select:
    """rel with its row number (the relation's own order) as `name`."""
    keep = exp.Order(
        expressions=[exp.Ordered(this=exp.Literal.number(1))]
    )  # no reordering (Spark needs an ORDER BY)
    return exp.select(exp.Star(), alias(exp.Window(this=exp.RowNumber(), order=keep), name)).from_(
        rel.sql.subquery(p.fresh(), copy=True), copy=False
    )


def _edge_ends(p: Planner, edges: Rel, source: str, target: str, key: str, part: str | None) -> exp.Select:
    """Every end of every edge as `key` (with its partition as `__p`), with its order of appearance `__o`
    (source before target)."""
    numbered = _numbered(p, edges, "__r")
    ends = []
    for column, shift in ((source, 0), (target, 1)):
        two_r = exp.Mul(this=col("__r"), expression=exp.Literal.number(2))
        ends.append(
            exp.select(
                alias(col(column), key),
                alias(exp.Add(this=two_r, expression=exp.Literal.number(shift)), "__o"),
                *([alias(col(part), "__p")] if part else []),
            )
            .from_(numbered.subquery(p.fresh(), copy=True), copy=False)
            .where(exp.Not(this=exp.Is(this=col(column), expression=exp.Null())), copy=False)
        )
    return exp.select(exp.Star()).from_(exp.union(*ends, distinct=False).subquery(p.fresh()), copy=False)


def _node_tables(p: Planner, op: A.MakeGraph, env: Env) -> tuple[Rel, str]:
    """The nodes of `with T1 on K1 [, T2 on K2]`, keyed by K1; with two tables, one node per id whose
    properties are the union of both tables' columns (a value from either where they conflict, as in Kusto)."""
    rels: list[tuple[Rel, str]] = []
    for table, key in op.nodes:
        given = p.relation(table, env)
        if key not in given.types():
            raise p.semantic(f"make-graph: the nodes have no column {key!r}", table)
        if op.partition and op.partition not in given.types():
            raise p.semantic(f"make-graph partitioned-by: the nodes have no column {op.partition!r}", table)
        rels.append((given, key))
    if len(rels) == 1:
        return rels[0]
    key = rels[0][1]
    cols: dict[str, str] = {}
    for given, _ in rels:
        for name, kind in given.cols:
            cols.setdefault(name, kind)
    parts = []
    for i, (given, own) in enumerate(rels):
        have = given.types()
        proj = [
            alias(exp.Cast(this=col(own), to=dtype(SQL_TYPES.get(kind, "VARCHAR"))), name)
            if name == key
            else alias(col(name), name)
            if name in have
            else alias(null_of(kind).sql, name)
            for name, kind in cols.items()
        ]
        parts.append(p.select(given, [*proj, alias(exp.Literal.number(i), "__t")]))
    both = union_all(p, parts, [*cols.items(), ("__t", "long")])
    merged = (
        exp.select(
            *[col(n) if n == key else alias(exp.AnyValue(this=col(n)), n) for n in cols],
        )
        .from_(both.sql.subquery(p.fresh(), copy=False), copy=False)
        .group_by(col(key), *([col(op.partition)] if op.partition else []), copy=False)
        .order_by(exp.Min(this=col("__t")), copy=False)
    )
    return Rel(merged, list(cols.items())), key


def lower_make_graph(p: Planner, rel: Rel, op: A.MakeGraph, env: Env) -> Rel:
    types = rel.types()
    for name in (op.source, op.target, *([op.partition] if op.partition else [])):
        if name not in types:
            raise p.semantic(f"make-graph: unknown column {name!r}", op)
    part = op.partition
    if op.nodes:
        given, key = _node_tables(p, op, env)
        # nodes met only on edges are nodes too (their properties null), as in Kusto
        ends = _edge_ends(p, rel, op.source, op.target, "__k", part)
        known = p.fresh()
        same: exp.Expression = exp.EQ(this=col(key, known), expression=col("__k"))
        if part:
            same = exp.And(this=same, expression=exp.EQ(this=col(part, known), expression=col("__p")))
        missing = (
            exp.select(col("__k"), *([col("__p")] if part else []))
            .from_(ends.subquery(p.fresh(), copy=False), copy=False)
            .where(
                exp.Not(
                    this=exp.Exists(
                        this=exp.select(exp.Literal.number(1))
                        .from_(given.sql.subquery(known, copy=True), copy=False)
                        .where(same, copy=False)
                    )
                ),
                copy=False,
            )
            .group_by(col("__k"), *([col("__p")] if part else []), copy=False)
            .order_by(exp.Min(this=col("__o")), copy=False)
        )
        filler = [
            alias(
                exp.Cast(this=col("__k"), to=dtype(SQL_TYPES.get(t, "VARCHAR")))
                if n == key
                else col("__p")
                if n == part
                else null_of(t).sql,
                n,
            )
            for n, t in given.cols
        ]
        extra = exp.select(*filler).from_(missing.subquery(p.fresh(), copy=False), copy=False)
        nodes = union_all(p, [p.select(given, [col(n) for n, _ in given.cols]), extra], list(given.cols))
    else:
        key = op.node_id or "NodeId"
        kind = types[op.source]
        ends = _edge_ends(p, rel, op.source, op.target, key, part)
        first = (
            exp.select(col(key), *([alias(col("__p"), part)] if part else []))
            .from_(ends.subquery(p.fresh(), copy=False), copy=False)
            .group_by(col(key), *([col("__p")] if part else []), copy=False)
            .order_by(exp.Min(this=col("__o")), copy=False)
        )
        nodes = Rel(first, [(key, kind), *([(part, types[part])] if part else [])])
    graph = Graph(nodes, Rel(rel.sql, list(rel.cols), rel.order), key, op.source, op.target, part)
    out = Rel(rel.sql, list(rel.cols), rel.order, graph)
    if op.body is None:
        return out
    assert isinstance(op.body, A.Pipeline)
    return p.pipeline(op.body, env, implicit=out)


def _graph_of(p: Planner, rel: Rel, op: A.Node, what: str) -> Graph:
    if rel.graph is None:
        raise p.semantic(f"{what} needs a graph: put make-graph before it", op)
    return rel.graph


def _count(c: Cursor) -> int:
    t = c.advance()
    if t.kind != "number" or not isinstance(t.value, int):
        raise c.error("expected a whole number of hops", t)
    return t.value


def _pattern(c: Cursor, anon: list[int]) -> tuple[list[str], list[A.GraphEdge]]:
    def node() -> str:
        c.expect("(")
        if c.accept(")"):  # an anonymous node: `()`
            anon[0] += 1
            return f"__node{anon[0]}"
        name = c.identifier("a node name")
        c.expect(")")
        return name

    names = [node()]
    edges: list[A.GraphEdge] = []
    while c.at("-") or c.at("<"):
        at = c.tok
        incoming = bool(c.accept("<"))
        c.expect("-")
        name = None
        low = high = 1
        variable = False
        if c.accept("["):
            name = c.identifier("an edge name") if c.tok.kind == "ident" else None
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
        if not 0 <= low <= high <= MAX_HOPS:
            raise c.error(f"a variable edge's length is min..max with 0 <= min <= max <= {MAX_HOPS}", at)
        direction = "in" if incoming else "out" if outgoing else "any"
        edges.append(A.GraphEdge(name, direction, low, high, variable, pos=at.pos))
        names.append(node())
    return names, edges


def _parse_match(c: Cursor, t: Token, shortest: bool) -> A.Node:
    opts = options(c, {"cycles", "output"})
    output = opts.get("output")
    all_paths = isinstance(output, A.Name) and output.name.lower() == "all"
    cycles = "unique_edges"
    if "cycles" in opts:
        given = opts["cycles"]
        if not isinstance(given, A.Name) or given.name.lower() not in CYCLES:
            raise c.error(f"cycles= takes one of {', '.join(CYCLES)}", t)
        cycles = given.name.lower()
    anon = [0]
    patterns = [_pattern(c, anon)]
    while c.accept(","):
        patterns.append(_pattern(c, anon))
    where = parse_expr(c) if c.accept_word("where") else None
    c.expect_word("project")
    return A.GraphMatch(patterns, where, parse_assignments(c), shortest, all_paths, cycles, pos=t.pos)


def parse_graph_match(c: Cursor, t: Token) -> A.Node:
    return _parse_match(c, t, False)


def parse_graph_shortest_paths(c: Cursor, t: Token) -> A.Node:
    return _parse_match(c, t, True)


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
    """The nodes or edges as a table; `with_node_id` / `with_source_id` / `with_target_id` add Kusto's
    internal node id, which is `hash()` of the node's key (the reference's outputs are those hashes)."""
    g = _graph_of(p, rel, op, "graph-to-table")
    if op.kind == "nodes":
        base = g.nodes
        wanted = [("with_node_id", g.key)]
    else:
        base = g.edges
        wanted = [("with_source_id", g.source), ("with_target_id", g.target)]
    scope = p.scope_of(base, env)
    extra: list[tuple[exp.Expression, tuple[str, str]]] = []
    for opt, column in wanted:
        if opt in op.options:
            node_id = p.compile(A.Call("hash", [A.Name(column, pos=op.pos)], pos=op.pos), scope)
            extra.append((alias(node_id.sql, op.options[opt]), (op.options[opt], node_id.type)))
    proj: list[exp.Expression] = [e for e, _ in extra] + [col(n) for n, _ in base.cols]
    return Rel(p.select(base, proj), [c for _, c in extra] + list(base.cols))


def parse_graph_mark_components(c: Cursor, t: Token) -> A.Node:
    kind, component_id = "weak", "ComponentId"
    while c.tok.kind == "ident" and c.peek().kind == "punct" and c.peek().value == "=":
        at = c.tok
        option = c.identifier().lower()
        if option not in ("kind", "with_component_id"):
            raise c.error(f"graph-mark-components has no option {option!r} (kind, with_component_id)", at)
        c.expect("=")
        value = c.identifier("a name")
        if option == "kind":
            if value.lower() not in COMPONENT_KINDS:
                raise c.error(f"graph-mark-components kind= takes {' or '.join(COMPONENT_KINDS)}", at)
            kind = value.lower()
        else:
            component_id = value
    return A.GraphMarkComponents(kind, component_id, pos=t.pos)


def lower_graph_mark_components(p: Planner, rel: Rel, op: A.GraphMarkComponents, env: Env) -> Rel:
    """Each node's component: the nodes it reaches (both ways for strong components), the component
    numbered 0, 1, ... in the order of its first node."""
    g = _graph_of(p, rel, op, "graph-mark-components")
    if g.partition is not None:
        raise p.unsupported("graph-mark-components on a partitioned graph is not supported", op)
    if op.component_id in dict(g.nodes.cols):
        raise p.semantic(f"graph-mark-components: the nodes already have a property {op.component_id!r}", op)
    numbered = _numbered(p, g.nodes, "__o")
    steps = [(g.source, g.target)] + ([(g.target, g.source)] if op.kind == "weak" else [])
    hops = (
        exp.union(
            *[
                exp.select(alias(col(f), "f"), alias(col(t), "t")).from_(
                    g.edges.sql.subquery(p.fresh()), copy=False
                )
                for f, t in steps
            ],
            distinct=False,
        )
        if len(steps) > 1
        else exp.select(alias(col(g.source), "f"), alias(col(g.target), "t")).from_(
            g.edges.sql.subquery(p.fresh()), copy=False
        )
    )
    start = exp.select(alias(col(g.key), "a"), alias(col(g.key), "b")).from_(
        g.nodes.sql.subquery(p.fresh()), copy=False
    )
    step = (
        exp.select(col("a", "r"), alias(col("t", "h"), "b"))
        .from_(exp.to_table("__reach").as_("r"), copy=False)
        .join(hops.subquery("h"), on=exp.EQ(this=col("b", "r"), expression=col("f", "h")), copy=False)
    )
    reach = exp.union(start, step, distinct=True)
    pairs = exp.to_table("__reach").as_("r")
    comp = exp.select(col("a", "r"), alias(exp.Min(this=col("__o", "o")), "c")).from_(pairs, copy=False)
    if op.kind == "strong":  # b is in a's component when each reaches the other
        comp = comp.join(
            exp.to_table("__reach").as_("s"),
            on=exp.and_(
                exp.EQ(this=col("a", "r"), expression=col("b", "s")),
                exp.EQ(this=col("b", "r"), expression=col("a", "s")),
            ),
            copy=False,
        )
    comp = comp.join(
        numbered.subquery("o"), on=exp.EQ(this=col("b", "r"), expression=col(g.key, "o")), copy=False
    ).group_by(col("a", "r"), copy=False)
    rank = exp.Sub(
        this=exp.Window(
            this=exp.Anonymous(this="dense_rank"),
            order=exp.Order(expressions=[exp.Ordered(this=col("c", "k"))]),
        ),
        expression=exp.Literal.number(1),
    )
    marked = (
        exp.select(
            *[col(n, "n") for n, _ in g.nodes.cols],
            alias(exp.Cast(this=rank, to=dtype("BIGINT")), op.component_id),
        )
        .from_(numbered.subquery("n"), copy=False)
        .join(
            comp.subquery("k"),
            on=exp.EQ(this=col(g.key, "n"), expression=col("a", "k")),
            join_type="LEFT",
            copy=False,
        )
        .order_by(col("__o", "n"), copy=False)
        .with_("__reach", as_=reach, recursive=True, copy=False)
    )
    nodes = Rel(marked, [*g.nodes.cols, (op.component_id, "long")])
    graph = Graph(nodes, g.edges, g.key, g.source, g.target)
    return Rel(rel.sql, list(rel.cols), rel.order, graph)


def spark_graph_mark_components(p: Planner, rel: Rel, op: A.GraphMarkComponents, env: Env) -> Rel:
    raise p.unsupported("graph-mark-components runs on the DuckDB engine only (a recursive query)", op)


OPERATORS: list[Operator] = [
    operator(A.MakeGraph, {"make-graph": parse_make_graph}, lower_make_graph),
    operator(
        A.GraphMatch,
        {"graph-match": parse_graph_match, "graph-shortest-paths": parse_graph_shortest_paths},
        lower_graph_match,
    ),
    operator(A.GraphToTable, {"graph-to-table": parse_graph_to_table}, lower_graph_to_table),
    operator(
        A.GraphMarkComponents,
        {"graph-mark-components": parse_graph_mark_components},
        lower_graph_mark_components,
        spark_graph_mark_components,
    ),
]
