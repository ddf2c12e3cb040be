"""summarize: group keys, aggregates (Kusto's default names), arg_max/arg_min expanded into columns."""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.ir import Env, Operator, Planner, Rel, Scope, operator
from huntvault.kql.lowering.tables import aggregate_inside, default_aggregate_name, first_column_name, unique
from huntvault.kql.syntax import Cursor, Token
from huntvault.kql.syntax.expressions import assignments, options
from huntvault.kql.values import T, alias, call, col, dtype


def parse_summarize(c: Cursor, t: Token) -> A.Node:
    opts = options(c, {"hint.shufflekey", "hint.strategy", "hint.num_partitions"})
    aggs: list[A.Assign] = []
    if not c.at_word("by") and not c.at_end():
        aggs = assignments(c)
    by: list[A.Assign] = []
    if c.accept_word("by"):
        by = assignments(c)
    return A.Summarize(aggs, by, opts, pos=t.pos)


def _empty_value(sql: exp.Expression, v: T) -> exp.Expression:
    """count-like aggregates give 0 on empty input without `by` (one row, as in Kusto)."""
    zero = exp.Cast(this=exp.Literal.number(0), to=dtype("BIGINT" if v.type != "real" else "DOUBLE"))
    return exp.Coalesce(this=sql, expressions=[zero])


def lower_summarize(p: Planner, rel: Rel, op: A.Summarize, env: Env) -> Rel:
    scope = p.scope_of(rel, env)
    keys: list[tuple[str, T]] = []
    counter = 0
    for item in op.by:
        v = p.compile(item.expr, scope)
        name = item.names[0] if item.names else (v.name if v.name else None)
        if not item.names and name is None:
            name = first_column_name(item.expr)
        if name is None:
            counter += 1
            name = f"Column{counter}"
        keys.append((name, v))
    taken = {n for n, _ in keys}
    out = _Output(
        inner=[alias(v.sql, n) for n, v in keys],
        outer=[col(n) for n, _ in keys],
        cols=[(n, v.type) for n, v in keys],
        taken=taken,
    )
    has_struct = False
    for item in op.aggs:
        expr = item.expr
        agg = p.aggregate(expr.name.lower()) if isinstance(expr, A.Call) else None
        if isinstance(expr, A.Call) and agg is not None and agg.extreme is not None:
            has_struct = True
            arg_extreme(p, rel, scope, item, expr, agg.extreme, keys, out)
            continue
        agg_scope = scope.with_aggregates([])
        v = p.compile(expr, agg_scope)
        if not agg_scope.aggregates:
            raise p.semantic(
                "summarize needs an aggregate function here (count(), dcount(), make_set()...)", expr
            )
        inner_agg = aggregate_inside(p, expr) if isinstance(expr, A.Call) else None
        if item.names:
            name = item.names[0]
        elif inner_agg is not None:
            expr = inner_agg
            arg = expr.args[0] if expr.args else None
            derived = p.compile(arg, scope).name if isinstance(arg, (A.Name, A.Member, A.Index)) else None
            name = default_aggregate_name(p, expr, derived)
        else:
            counter += 1
            name = f"Column{counter}"
        name = unique(name, out.taken)
        out.taken.add(name)
        sql = v.sql
        top = p.aggregate(expr.name.lower()) if isinstance(expr, A.Call) else None
        if not keys and top is not None and top.empty == "0":
            sql = _empty_value(sql, v)
        out.inner.append(alias(sql, name))
        out.outer.append(col(name))
        out.cols.append((name, v.type))
    sub, _ = p.wrap(rel)
    sql = exp.select(*out.inner).from_(sub, copy=False)
    if keys:
        sql = sql.group_by(*[v.sql.copy() for _, v in keys], copy=False)
    if has_struct:
        sql = exp.select(*out.outer).from_(sql.subquery(p.fresh(), copy=False), copy=False)
    return Rel(sql, out.cols)


@dataclass
class _Output:
    """The SELECT being built: aggregate-level projections, the outer projections, columns, names taken."""

    inner: list[exp.Expression]
    outer: list[exp.Expression]
    cols: list[tuple[str, str]]
    taken: set[str]


def arg_extreme(
    p: Planner,
    rel: Rel,
    scope: Scope,
    item: A.Assign,
    expr: A.Call,
    kind: str,
    keys: list[tuple[str, T]],
    out: _Output,
) -> None:
    """arg_max(by, cols...)/arg_min: one struct of the row's values per group, unpacked into columns."""
    if not expr.args:
        raise p.semantic(f"{expr.name}() needs the expression to maximise", expr)
    target = p.compile(expr.args[0], scope)
    target_name = target.name if isinstance(expr.args[0], (A.Name, A.Member)) and target.name else f"{kind}_"
    fields: list[tuple[str, T]] = [(target_name, target)]
    key_names = {n for n, _ in keys}
    for a in expr.args[1:]:
        if isinstance(a, A.Star):
            for n, t in rel.cols:
                if n not in key_names and n != target_name and n not in {f for f, _ in fields}:
                    fields.append((n, T(col(n), t)))
        else:
            v = p.compile(a, scope)
            fields.append((v.name or f"{kind}_{len(fields)}", v))
    if item.names:
        for i, n in enumerate(item.names[: len(fields)]):
            fields[i] = (n, fields[i][1])
    struct_name = p.fresh("am")
    packed = call(
        "struct_pack",
        *[
            exp.PropertyEQ(this=exp.to_identifier(f"f{i}"), expression=v.sql)
            for i, (_, v) in enumerate(fields)
        ],
    )
    func = "arg_max" if kind == "max" else "arg_min"
    out.inner.append(alias(call(func, packed, target.sql), struct_name))
    for i, (n, v) in enumerate(fields):
        name = unique(n, out.taken)
        out.taken.add(name)
        out.outer.append(alias(call("struct_extract", col(struct_name), exp.Literal.string(f"f{i}")), name))
        out.cols.append((name, v.type))


OPERATORS: list[Operator] = [
    operator(A.Summarize, {"summarize": parse_summarize}, lower_summarize),
]
