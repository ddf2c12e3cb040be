"""Ordering: sort/order by and top (their order is what row_number/prev/next see)."""

from __future__ import annotations

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.ir import Env, Operator, Planner, Rel, operator
from huntvault.kql.lowering.tables import const_int, sort_keys
from huntvault.kql.syntax import Cursor, Token
from huntvault.kql.syntax.expressions import options, parse_expr
from huntvault.kql.syntax.expressions import sort_keys as parse_sort_keys


def _plain_order(keys: list[exp.Ordered]) -> list[exp.Ordered] | None:
    """The order later operators may rely on (row_number, prev): only when every key is a column."""
    plain = [k for k in keys if isinstance(k.this, exp.Column)]
    return [k.copy() for k in plain] if len(plain) == len(keys) else None


def parse_sort(c: Cursor, t: Token) -> A.Node:
    options(c, set())
    c.expect_word("by")
    return A.Sort(parse_sort_keys(c), pos=t.pos)


def lower_sort(p: Planner, rel: Rel, op: A.Sort, env: Env) -> Rel:
    keys = sort_keys(p, rel, op.keys, env)
    sql = p.select(rel, p.star(rel)).order_by(*keys, copy=False)
    return Rel(sql, rel.cols, _plain_order(keys))


def parse_top(c: Cursor, t: Token) -> A.Node:
    count = parse_expr(c)
    c.expect_word("by")
    return A.Top(count, parse_sort_keys(c), pos=t.pos)


def lower_top(p: Planner, rel: Rel, op: A.Top, env: Env) -> Rel:
    n = const_int(p, op.count, env)
    keys = sort_keys(p, rel, op.keys, env)
    sql = p.select(rel, p.star(rel)).order_by(*keys, copy=False).limit(n, copy=False)
    return Rel(sql, rel.cols, _plain_order(keys))


OPERATORS: list[Operator] = [
    operator(A.Sort, {"sort": parse_sort, "order": parse_sort}, lower_sort),
    operator(A.Top, {"top": parse_top}, lower_top),
]
