"""Operators that end a query with several result tables: fork (one per subquery) and facet (one per column,
plus the `with` table). The hunt's table is the first; `HuntResult.tables` has them all by name."""

from __future__ import annotations

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.ir import Env, Operator, Planner, Rel, operator
from huntvault.kql.syntax import Cursor, Token
from huntvault.kql.syntax.expressions import parse_operator, parse_pipeline
from huntvault.kql.values import alias, col

#: the operators a fork subquery may use (the reference's list)
FORK_OPERATORS: tuple[type[A.Node], ...] = (
    A.As,
    A.Count,
    A.Extend,
    A.Parse,
    A.Where,
    A.Take,
    A.Project,
    A.ProjectAway,
    A.ProjectKeep,
    A.ProjectRename,
    A.ProjectReorder,
    A.Summarize,
    A.Top,
    A.TopNested,
    A.Sort,
    A.MvExpand,
    A.Reduce,
)


def _body(c: Cursor) -> A.Pipeline:
    start = c.expect("(")
    word = (c.dashed_word() or "").lower()
    if word in c.operators and c.peek(1 + 2 * word.count("-")).value == ")":  # `(count)`: one bare operator
        op = parse_operator(c)
        c.expect(")")
        return A.Pipeline(None, [op], pos=op.pos)
    body = parse_pipeline(c, allow_implicit=True)
    c.expect(")")
    if not isinstance(body, A.Pipeline) or body.source is not None:
        raise c.error("expected a subquery of operators, such as (where x > 1 | take 10)", start)
    return body


def parse_fork(c: Cursor, t: Token) -> A.Node:
    legs: list[A.ForkLeg] = []
    while True:
        at = c.tok
        name = None
        if c.tok.kind == "ident" and c.peek().kind == "punct" and c.peek().value == "=":
            name = c.identifier("a result name")
            c.expect("=")
        elif not c.at("("):
            break
        legs.append(A.ForkLeg(name, _body(c), pos=at.pos))
    if not legs:
        raise c.error("fork needs at least one subquery in parentheses: fork (where x > 1) (take 10)")
    return A.Fork(legs, pos=t.pos)


def _leg_name(leg: A.ForkLeg, index: int) -> str:
    if leg.name is not None:
        return leg.name
    named = [op.name for op in leg.body.ops if isinstance(op, A.As)]
    return named[-1] if named else f"GenericResult{index}"


def _several(p: Planner, results: list[tuple[str, Rel, A.Node]]) -> Rel:
    seen: set[str] = set()
    for name, _, node in results:
        if name in seen:
            raise p.semantic(f"two result tables are named {name!r}", node)
        seen.add(name)
    first = results[0][1]
    return Rel(first.sql, first.cols, first.order, results=[(n, r) for n, r, _ in results])


def _copy(rel: Rel) -> Rel:
    """The input again for one more table (each table's SQL is its own tree)."""
    return Rel(rel.sql.copy(), list(rel.cols), [o.copy() for o in rel.order] if rel.order else None)


def lower_fork(p: Planner, rel: Rel, op: A.Fork, env: Env) -> Rel:
    """Each subquery runs over the input; unnamed results are GenericResult1, GenericResult2... by position."""
    results: list[tuple[str, Rel, A.Node]] = []
    for i, leg in enumerate(op.legs, start=1):
        for inner in leg.body.ops:
            if not isinstance(inner, FORK_OPERATORS):
                raise p.semantic(
                    f"fork subqueries take as, count, extend, parse, where, take, project*, summarize, top, "
                    f"top-nested, sort, mv-expand and reduce; not {type(inner).__name__.lower()}",
                    inner,
                )
        results.append((_leg_name(leg, i), p.pipeline(leg.body, env, implicit=_copy(rel)), leg))
    return _several(p, results)


def parse_facet(c: Cursor, t: Token) -> A.Node:
    c.expect_word("by")
    columns: list[A.Name] = []
    while True:
        at = c.tok
        columns.append(A.Name(c.identifier("a column name"), pos=at.pos))
        if not c.accept(","):
            break
    body = _body(c) if c.accept_word("with") else None
    return A.Facet(columns, body, pos=t.pos)


def lower_facet(p: Planner, rel: Rel, op: A.Facet, env: Env) -> Rel:
    """The `with` table first (named WithResult), then per column its values and `count_<column>`."""
    results: list[tuple[str, Rel, A.Node]] = []
    if op.body is not None:
        results.append(("WithResult", p.pipeline(op.body, env, implicit=_copy(rel)), op.body))
    types = rel.types()
    for column in op.columns:
        if column.name not in types:
            raise p.semantic(f"facet by: unknown column {column.name!r}", column)
        counted = f"count_{column.name}"
        src = _copy(rel)
        sql = p.select(src, [col(column.name), alias(exp.Count(this=exp.Star()), counted)]).group_by(
            col(column.name), copy=False
        )
        results.append(
            (column.name, Rel(sql, [(column.name, types[column.name]), (counted, "long")]), column)
        )
    return _several(p, results)


OPERATORS: list[Operator] = [
    operator(A.Fork, {"fork": parse_fork}, lower_fork),
    operator(A.Facet, {"facet": parse_facet}, lower_facet),
]
