"""List operators (in, in~, has_any, has_all) and scalar call dispatch: user functions, raw, aggregates, the table."""

from __future__ import annotations

import re
from collections.abc import Callable

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.functions import OFFLINE_FUNCTIONS, S
from huntvault.kql.functions_more import FUNCTIONS
from huntvault.kql.scalar import ExprCompiler, coerce_pair, lower_str, term_match, term_regex
from huntvault.kql.values import T, anon, fn, literal, to_dynamic, to_string

RawLowering = Callable[[ExprCompiler, A.Call], T]


# ------------------------------------------------------------------ list operators


def flatten_items(c: ExprCompiler, items: list[A.Node]) -> tuple[list[T], list[exp.Expression], list[T]]:
    """Constants (dynamic arrays flattened), subqueries (tabular items) and runtime dynamic lists."""
    consts: list[T] = []
    subqueries: list[exp.Expression] = []
    runtime: list[T] = []
    for item in items:
        if c.planner.is_tabular(item, c.scope):
            rel = c.planner.relation(item, c.scope.env)
            first = rel.cols[0][0]
            subqueries.append(
                exp.select(exp.column(first, quoted=True)).from_(rel.sql.subquery(c.planner.fresh("in")))
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


def list_operator(c: ExprCompiler, node: A.ListOp) -> T:
    left = c.compile(node.left)
    consts, subqueries, runtime = flatten_items(c, node.items)
    op = node.op
    negated = op.startswith("!")
    base = op.lstrip("!")
    parts: list[exp.Expression] = []
    if base in ("in", "in~"):
        ci = base == "in~"
        if consts:
            vals: list[exp.Expression] = []
            lhs = left
            for v in consts:
                a, b = coerce_pair(c, left, v)
                lhs = a
                vals.append(lower_str(b) if ci else b.sql)
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
            lam_body: exp.Expression = anon("json_extract_string", exp.column("x"), S("$"))
            if ci:
                lam_body = exp.Lower(this=lam_body)
            vals_list = anon(
                "list_transform", lst, exp.Lambda(this=lam_body, expressions=[exp.to_identifier("x")])
            )
            parts.append(
                fn(
                    "coalesce",
                    anon("list_contains", vals_list, lower_str(left) if ci else to_string(left).sql),
                    exp.false(),
                )
            )
        if not parts:
            return literal(negated, "bool")
        out = parts[0]
        for p in parts[1:]:
            out = exp.Or(this=out, expression=p)
        if negated:
            return T(exp.Not(this=exp.Paren(this=out)), "bool")
        return T(exp.Paren(this=out), "bool")
    # has_any / has_all
    hay = to_string(left)
    case_sensitive = base.endswith("_cs")
    if subqueries:
        raise c.err(f"{base} over a tabular expression is not supported; use toscalar(make_set(...))", node)
    needles = [v for v in consts]
    tests: list[exp.Expression] = []
    if base.startswith("has_any") and needles and all(n.is_const for n in needles):
        tests = any_terms(c, hay, [str(n.const) for n in needles if n.const is not None], case_sensitive)
    else:
        tests = [term_match(c, hay, n, "has", case_sensitive) for n in needles]
    for r in runtime:
        lst = c.planner.dialect.json_list(r.sql)
        lam = exp.Lambda(
            this=term_match(
                c,
                hay,
                T(anon("json_extract_string", exp.column("x"), S("$")), "string"),
                "has",
                case_sensitive,
            ),
            expressions=[exp.to_identifier("x")],
        )
        tests.append(
            fn(
                "coalesce",
                anon(
                    "list_bool_or" if base.startswith("has_any") else "list_bool_and",
                    anon("list_transform", lst, lam),
                ),
                exp.false(),
            )
        )
    if not tests:
        return literal(base.startswith("has_all"), "bool")
    joiner = exp.Or if base.startswith("has_any") else exp.And
    out = tests[0]
    for t in tests[1:]:
        out = joiner(this=out, expression=t)
    if negated:
        return T(exp.Not(this=exp.Paren(this=out)), "bool")
    return T(exp.Paren(this=out), "bool")


def any_terms(c: ExprCompiler, hay: T, needles: list[str], case_sensitive: bool) -> list[exp.Expression]:
    """has_any over constants: one alternation regex per boundary shape, plain substrings for the rest."""
    d = c.planner.dialect
    groups: dict[tuple[bool, bool], list[str]] = {}
    plain: list[str] = []
    for n in needles:
        if term_regex(n, "has", True) is None:
            plain.append(n)
            continue
        key = (n[0].isalnum(), n[-1].isalnum())
        groups.setdefault(key, []).append(n)
    tests: list[exp.Expression] = []
    target = hay.sql if case_sensitive else exp.Lower(this=hay.sql)
    for n in plain:
        tests.append(d.substring_test("contains", target, S(n if case_sensitive else n.lower())))
    for (lead, trail), ns in groups.items():
        alt = "|".join(re.escape(n) for n in ns)
        pat = (
            ("" if case_sensitive else "(?i)")
            + ("(?:^|[^\\pL\\pN])" if lead else "")
            + f"(?:{alt})"
            + ("(?:$|[^\\pL\\pN])" if trail else "")
        )
        tests.append(d.regex_match(hay.sql, S(pat)))
    return tests


# ------------------------------------------------------------------ call dispatch


def call_function(c: ExprCompiler, node: A.Call) -> T:
    name = node.name
    low = name.lower()
    planner = c.planner
    binding = c.scope.env.get(name)
    if binding is not None:
        return planner.call_user_scalar(name, binding, node, c.scope)
    if low in RAW_FUNCTIONS:
        return RAW_FUNCTIONS[low](c, node)
    if low in OFFLINE_FUNCTIONS:
        raise planner.error_unsupported(f"{OFFLINE_FUNCTIONS[low]}: not available offline", node)
    from huntvault.kql.aggregates import AGGREGATES

    if low in AGGREGATES:
        if c.scope.aggregates is None:
            raise c.err(f"aggregate {name}() is only valid in summarize (or make-series/top-nested)", node)
        return planner.aggregate_call(c, node)
    lower = FUNCTIONS.get(low)
    if lower is None:
        raise c.err(f"unknown function {name}()", node)
    args = [c.compile(a) for a in node.args]
    return lower(c, args, node)


def r_toscalar(c: ExprCompiler, node: A.Call) -> T:
    arg = node.args[0]
    if not c.planner.is_tabular(arg, c.scope):
        return c.compile(arg)
    rel = c.planner.relation(arg, c.scope.env)
    name, kind = rel.cols[0]
    sub = exp.select(exp.column(name, quoted=True)).from_(rel.sql.subquery(c.planner.fresh("ts"))).limit(1)
    return T(exp.Subquery(this=sub), kind)


def r_materialize(c: ExprCompiler, node: A.Call) -> T:
    return c.compile(node.args[0])


def r_column_ifexists(c: ExprCompiler, node: A.Call) -> T:
    name = node.args[0]
    if isinstance(name, A.Literal) and isinstance(name.value, str) and name.value in c.scope.cols:
        v = c.scope.cols[name.value]
        return T(v.sql, v.type, name=name.value)
    return c.compile(node.args[1])


def r_tuple(c: ExprCompiler, node: A.Call) -> T:
    raise c.err("a parenthesised list is only valid after in / has_any / has_all", node)


def r_isfuzzy_dummy(c: ExprCompiler, node: A.Call) -> T:
    return literal(None, "null")


def r_pack_all(c: ExprCompiler, node: A.Call) -> T:
    pairs: list[exp.Expression] = []
    for name, v in c.scope.cols.items():
        pairs += [S(name), to_dynamic(T(v.sql, v.type)).sql]
    return T(anon("json_object", *pairs), "dynamic")


RAW_FUNCTIONS: dict[str, RawLowering] = {
    "toscalar": r_toscalar,
    "materialize": r_materialize,
    "column_ifexists": r_column_ifexists,
    "__tuple": r_tuple,
    "pack_all": r_pack_all,
    "bag_pack_columns": r_pack_all,
}
