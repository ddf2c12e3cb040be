"""List operators: `in`, `in~`, `!in`, `!in~` and `has_any`, `has_all` (+ `_cs`, `!`) over constants,
tabular expressions and dynamic arrays."""

from __future__ import annotations

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.ir import Compiler, ListLowering
from huntvault.kql.lowering.coerce import coerce_pair, lower_str
from huntvault.kql.lowering.terms import any_terms, term_match
from huntvault.kql.values import S, T, call, fn, literal, to_string


def flatten_items(c: Compiler, items: list[A.Node]) -> tuple[list[T], list[exp.Select], list[T]]:
    """Constants (dynamic arrays flattened), subqueries (tabular items) and runtime dynamic lists."""
    consts: list[T] = []
    subqueries: list[exp.Select] = []
    runtime: list[T] = []
    p = c.planner
    for item in items:
        if p.is_tabular(item, c.scope):
            rel = p.relation(item, c.scope.env)
            first = rel.cols[0][0]
            subqueries.append(
                exp.select(exp.column(first, quoted=True)).from_(
                    rel.sql.subquery(p.fresh("in"), copy=False), copy=False
                )
            )
            continue
        v = c.compile(item)
        if v.is_const and v.type == "dynamic" and isinstance(v.const, list):
            for x in v.const:
                if isinstance(x, bool):
                    consts.append(literal(x, "bool"))
                elif isinstance(x, int):
                    consts.append(literal(x, "long"))
                elif isinstance(x, float):
                    consts.append(literal(x, "real"))
                elif x is None:
                    continue
                else:
                    consts.append(literal(str(x), "string"))
        elif v.type == "dynamic" and not v.is_const:
            runtime.append(v)
        else:
            consts.append(v)
    return consts, subqueries, runtime


def _item(v: T) -> exp.Expression:
    """A list item as SQL: a constant number as a bare literal (the list takes the left side's type;
    a CAST per item would triple the nodes of a 10,000-item list)."""
    if (
        v.is_const
        and v.type in ("long", "int")
        and isinstance(v.const, int)
        and not isinstance(v.const, bool)
    ):
        return exp.Literal.number(v.const)
    return v.sql


def _either(parts: list[exp.Expression], negated: bool) -> T:
    out = parts[0]
    for p in parts[1:]:
        out = exp.Or(this=out, expression=p)
    if negated:
        return T(exp.Not(this=exp.Paren(this=out)), "bool")
    return T(exp.Paren(this=out), "bool")


def in_list(c: Compiler, node: A.ListOp) -> T:
    """in / in~ / !in / !in~."""
    left = c.compile(node.left)
    consts, subqueries, runtime = flatten_items(c, node.items)
    negated = node.op.startswith("!")
    ci = node.op.lstrip("!") == "in~"
    parts: list[exp.Expression] = []
    if consts:
        vals: list[exp.Expression] = []
        lhs = left
        for v in consts:
            a, b = coerce_pair(left, v)
            lhs = a
            vals.append(lower_str(b) if ci else _item(b))
        lsql = lower_str(lhs) if ci else lhs.sql
        parts.append(exp.In(this=lsql, expressions=vals))
    for sq in subqueries:
        lsql = lower_str(left) if ci else to_string(left).sql if left.type == "dynamic" else left.sql
        if ci:
            inner = sq.copy()
            inner.set("expressions", [exp.Lower(this=inner.expressions[0])])
            sq = inner
        parts.append(exp.In(this=lsql, query=exp.Subquery(this=sq)))
    for r in runtime:
        lst = c.planner.dialect.json_list(r.sql)
        lam_body: exp.Expression = call("json_extract_string", exp.column("x"), S("$"))
        if ci:
            lam_body = exp.Lower(this=lam_body)
        vals_list = call(
            "list_transform", lst, exp.Lambda(this=lam_body, expressions=[exp.to_identifier("x")])
        )
        contained = call("list_contains", vals_list, lower_str(left) if ci else to_string(left).sql)
        parts.append(fn("coalesce", contained, exp.false()))
    if not parts:
        return literal(negated, "bool")
    return _either(parts, negated)


def has_list(c: Compiler, node: A.ListOp) -> T:
    """has_any / has_all (+ _cs, !): term tests against every needle."""
    left = c.compile(node.left)
    consts, subqueries, runtime = flatten_items(c, node.items)
    negated = node.op.startswith("!")
    base = node.op.lstrip("!")
    hay = to_string(left)
    case_sensitive = base.endswith("_cs")
    any_ = base.startswith("has_any")
    d = c.planner.dialect
    if subqueries:
        raise c.err(f"{base} over a tabular expression is not supported; use toscalar(make_set(...))", node)
    tests: list[exp.Expression]
    if any_ and consts and all(n.is_const for n in consts):
        tests = any_terms(d, hay, [str(n.const) for n in consts if n.const is not None], case_sensitive)
    else:
        tests = [term_match(d, hay, n, "has", case_sensitive) for n in consts]
    for r in runtime:
        lst = d.json_list(r.sql)
        needle = T(call("json_extract_string", exp.column("x"), S("$")), "string")
        lam = exp.Lambda(
            this=term_match(d, hay, needle, "has", case_sensitive), expressions=[exp.to_identifier("x")]
        )
        folded = call("list_bool_or" if any_ else "list_bool_and", call("list_transform", lst, lam))
        tests.append(fn("coalesce", folded, exp.false()))
    if not tests:
        return literal(not any_, "bool")
    joiner = exp.Or if any_ else exp.And
    out = tests[0]
    for t in tests[1:]:
        out = joiner(this=out, expression=t)
    if negated:
        return T(exp.Not(this=exp.Paren(this=out)), "bool")
    return T(exp.Paren(this=out), "bool")


LISTS: dict[str, ListLowering] = {
    **{op: in_list for op in ("in", "!in", "in~", "!in~")},
    **{op: has_list for op in ("has_any", "!has_any", "has_all", "!has_all", "has_any_cs")},
}
