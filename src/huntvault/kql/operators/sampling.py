"""Operators that keep a few rows or values: sample-distinct, top-hitters, consume."""

from __future__ import annotations

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.ir import Env, Operator, Planner, Rel, operator
from huntvault.kql.lowering.tables import const_int, derived_name
from huntvault.kql.syntax import Cursor, Token
from huntvault.kql.syntax.expressions import options, parse_expr
from huntvault.kql.values import alias, col


def parse_sample_distinct(c: Cursor, t: Token) -> A.Node:
    options(c, set())
    count = parse_expr(c)
    c.expect_word("of")
    return A.SampleDistinct(count, parse_expr(c), pos=t.pos)


def lower_sample_distinct(p: Planner, rel: Rel, op: A.SampleDistinct, env: Env) -> Rel:
    """Up to N distinct values of the column (which ones is unspecified, as in Kusto)."""
    n = const_int(p, op.count, env)
    v = p.compile(op.column, p.scope_of(rel, env))
    name = derived_name(p, op.column, v) or "Column1"
    sql = p.select(rel, [alias(v.sql, name)]).distinct(copy=False).limit(n, copy=False)
    return Rel(sql, [(name, v.type)])


def parse_top_hitters(c: Cursor, t: Token) -> A.Node:
    count = parse_expr(c)
    c.expect_word("of")
    column = parse_expr(c)
    by = parse_expr(c) if c.accept_word("by") else None
    return A.TopHitters(count, column, by, pos=t.pos)


def lower_top_hitters(p: Planner, rel: Rel, op: A.TopHitters, env: Env) -> Rel:
    """The N values of the column with the most rows (`approximate_count_X`) or the largest sum of the `by`
    expression (`approximate_sum_Y`), largest first; exact counts here."""
    n = const_int(p, op.count, env)
    scope = p.scope_of(rel, env)
    v = p.compile(op.column, scope)
    name = derived_name(p, op.column, v) or "Column1"
    if op.by is None:
        measure: exp.Expression = exp.Count(this=exp.Star())
        out, kind = f"approximate_count_{name}", "long"
    else:
        w = p.compile(op.by, scope)
        if w.type not in ("long", "int", "real", "decimal", "timespan"):
            raise p.semantic("top-hitters ... by needs a number to sum", op.by)
        measure = exp.Sum(this=w.sql)
        by_name = derived_name(p, op.by, w) or "Column1"
        kind = "real" if w.type in ("real", "decimal") else "long"
        out = f"approximate_sum_{by_name}"
        measure = convert_sum(measure, kind)
    sql = (
        p.select(rel, [alias(v.sql, name), alias(measure, out)])
        .group_by(v.sql.copy(), copy=False)
        .order_by(exp.Ordered(this=col(out), desc=True), copy=False)
        .limit(n, copy=False)
    )
    return Rel(sql, [(name, v.type), (out, kind)], [exp.Ordered(this=col(out), desc=True)])


def convert_sum(measure: exp.Expression, kind: str) -> exp.Expression:
    return exp.Cast(this=measure, to=exp.DataType.build("BIGINT" if kind == "long" else "DOUBLE"))


def parse_consume(c: Cursor, t: Token) -> A.Node:
    options(c, {"decodeblocks"})
    return A.Consume(pos=t.pos)


def lower_consume(p: Planner, rel: Rel, op: A.Consume, env: Env) -> Rel:
    """The rows are consumed: nothing comes back."""
    return Rel(p.select(rel, p.star(rel)).where(exp.false(), copy=False), list(rel.cols))


OPERATORS: list[Operator] = [
    operator(A.SampleDistinct, {"sample-distinct": parse_sample_distinct}, lower_sample_distinct),
    operator(A.TopHitters, {"top-hitters": parse_top_hitters}, lower_top_hitters),
    operator(A.Consume, {"consume": parse_consume}, lower_consume),
]
