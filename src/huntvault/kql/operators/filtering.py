"""Row filters: where/filter, search (as an operator), take/limit, sample."""

from __future__ import annotations

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.ir import Env, Operator, Planner, Rel, operator
from huntvault.kql.lowering.tables import const_int, has_star, search_predicate
from huntvault.kql.syntax import Cursor, Token
from huntvault.kql.syntax.expressions import options, parse_expr, search_expr
from huntvault.kql.values import alias, as_bool, call, col


def parse_where(c: Cursor, t: Token) -> A.Node:
    return A.Where(parse_expr(c), pos=t.pos)


def lower_where(p: Planner, rel: Rel, op: A.Where, env: Env) -> Rel:
    scope = p.scope_of(rel, env)
    if has_star(op.predicate):
        return Rel(p.filter(rel, search_predicate(p, op.predicate, rel, scope)), rel.cols, rel.order)
    cond = as_bool(p.compile(op.predicate, scope))
    if cond.find(exp.Window) is not None:
        # SQL cannot filter on a window function (row_number(), prev()...): compute it first
        inner = p.select(rel, [*p.star(rel), alias(cond, "__keep")])
        sql = (
            exp.select(*[col(n) for n, _ in rel.cols])
            .from_(inner.subquery(p.fresh(), copy=False), copy=False)
            .where(col("__keep"), copy=False)
        )
        return Rel(sql, rel.cols, rel.order)
    return Rel(p.filter(rel, cond), rel.cols, rel.order)


def parse_search(c: Cursor, t: Token) -> A.Node:
    opts = options(c, {"kind"})
    kind = opts.get("kind")
    case_sensitive = isinstance(kind, A.Name) and kind.name.lower() == "case_sensitive"
    return A.SearchOp(search_expr(c), case_sensitive, pos=t.pos)


def lower_search(p: Planner, rel: Rel, op: A.SearchOp, env: Env) -> Rel:
    pred = search_predicate(p, op.predicate, rel, p.scope_of(rel, env), op.case_sensitive)
    return Rel(p.filter(rel, pred), rel.cols, rel.order)


def parse_take(c: Cursor, t: Token) -> A.Node:
    return A.Take(parse_expr(c), pos=t.pos)


def lower_take(p: Planner, rel: Rel, op: A.Take, env: Env) -> Rel:
    n = const_int(p, op.count, env)
    return Rel(p.select(rel, p.star(rel)).limit(n, copy=False), rel.cols, rel.order)


def parse_sample(c: Cursor, t: Token) -> A.Node:
    return A.Sample(parse_expr(c), pos=t.pos)


def lower_sample(p: Planner, rel: Rel, op: A.Sample, env: Env) -> Rel:
    n = const_int(p, op.count, env)
    return Rel(p.select(rel, p.star(rel)).order_by(call("random"), copy=False).limit(n, copy=False), rel.cols)


OPERATORS: list[Operator] = [
    operator(A.Where, {"where": parse_where, "filter": parse_where}, lower_where),
    operator(A.SearchOp, {"search": parse_search}, lower_search),
    operator(A.Take, {"take": parse_take, "limit": parse_take}, lower_take),
    operator(A.Sample, {"sample": parse_sample}, lower_sample),
]
