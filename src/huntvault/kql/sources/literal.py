"""Sources made of literals: datatable, print, range."""

from __future__ import annotations

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.ir import Env, Planner, Rel, Scope, Source, source
from huntvault.kql.lowering.tables import union_all
from huntvault.kql.values import T, alias, call, col, convert, dtype, null_of


def coerce_literal(v: T, kind: str) -> T:
    """A datatable cell as its column's type."""
    if v.type == kind or (kind in ("long", "int") and v.type in ("long", "int")):
        return v
    if v.type == "null" or (v.is_const and v.const is None):
        return null_of(kind)
    if kind in ("real", "decimal") and v.type in ("long", "int"):
        return T(exp.Cast(this=v.sql, to=dtype("DOUBLE")), "real")
    return convert(v, kind)


def lower_datatable(p: Planner, node: A.Datatable, env: Env) -> Rel:
    ncols = len(node.columns)
    if ncols == 0 or len(node.values) % ncols:
        raise p.semantic(f"datatable has {len(node.values)} values for {ncols} columns", node)
    scope = Scope({}, env, p)
    rows: list[exp.Select] = []
    for r in range(0, len(node.values), ncols):
        cells = []
        for cdecl, vnode in zip(node.columns, node.values[r : r + ncols], strict=True):
            v = p.compile(vnode, scope)
            cells.append(alias(coerce_literal(v, cdecl.type).sql, cdecl.name))
        rows.append(exp.select(*cells))
    cols = [(c.name, c.type) for c in node.columns]
    if not rows:
        empty = exp.select(*[alias(null_of(t).sql, n) for n, t in cols]).where(exp.false(), copy=False)
        return Rel(empty, cols)
    if p.dialect.name == "duckdb" and len(rows) > 1:
        # one VALUES list keeps the rows in their written order (a UNION ALL's branches may interleave:
        # make_list, take_any and arg_max's first row follow that order, as Kusto's do)
        values = exp.Values(
            expressions=[exp.Tuple(expressions=[cell.this for cell in r.expressions]) for r in rows],
            alias=exp.TableAlias(
                this=exp.to_identifier(p.fresh()),
                columns=[exp.to_identifier(n, quoted=True) for n, _ in cols],
            ),
        )
        return Rel(exp.select(*[col(n) for n, _ in cols]).from_(values, copy=False), cols)
    return union_all(p, rows, cols)


def lower_print(p: Planner, node: A.PrintSource, env: Env) -> Rel:
    scope = Scope({}, env, p)
    items, cols = [], []
    for i, (name, expr) in enumerate(node.items):
        v = p.compile(expr, scope)
        if v.parts is not None and name is None:  # several results (array_sort_asc(a1, a2)): one column each
            for pname, part in v.parts:
                items.append(alias(part.sql, pname))
                cols.append((pname, part.type))
            continue
        out = (
            name or f"print_{i}"
        )  # print has no columns: a bare name is a let value, not a column to name after
        items.append(alias(v.sql, out))
        cols.append((out, v.type if v.type != "null" else "string"))
    return Rel(exp.select(*items), cols)


def _count(start: exp.Expression, span: exp.Expression, step: exp.Expression) -> list[exp.Expression]:
    """range() arguments for `floor(span / step) + 1` integers from 0."""
    n = exp.Div(this=exp.Sub(this=span, expression=start), expression=step)
    total = exp.Add(
        this=exp.Cast(this=call("floor", n), to=dtype("BIGINT")),
        expression=exp.Literal.number(1),
    )
    return [exp.Literal.number(0), total]


def _past(stop: exp.Expression, step: exp.Expression) -> exp.Expression:
    """The exclusive bound one past `stop` in the step's direction (a descending range counts down to it)."""
    down = exp.LT(this=step.copy(), expression=exp.Literal.number(0))
    return exp.Case(
        ifs=[exp.If(this=down, true=exp.Sub(this=stop.copy(), expression=exp.Literal.number(1)))],
        default=exp.Add(this=stop, expression=exp.Literal.number(1)),
    )


def lower_range(p: Planner, node: A.RangeSource, env: Env) -> Rel:
    scope = Scope({}, env, p)
    start, stop, step = (p.compile(n, scope) for n in (node.start, node.stop, node.step))
    if step.is_const and step.const in (0, 0.0):
        raise p.semantic("range step must not be zero", node.step)
    d = p.dialect
    if start.type == "datetime":
        value = d.add_micros(start.sql, exp.Mul(this=col("i"), expression=step.sql))
        sql = exp.select(alias(value, node.column)).from_(
            d.integers(*_count(d.epoch_us(start.sql), d.epoch_us(stop.sql), step.sql))
        )
        return Rel(sql, [(node.column, "datetime")])
    kind = (
        "real"
        if "real" in (start.type, stop.type, step.type)
        else ("timespan" if start.type == "timespan" else "long")
    )
    if kind == "real":
        value = exp.Add(this=start.sql, expression=exp.Mul(this=col("i"), expression=step.sql))
        sql = exp.select(alias(value, node.column)).from_(d.integers(*_count(start.sql, stop.sql, step.sql)))
        return Rel(sql, [(node.column, "real")])
    sql = exp.select(alias(exp.Cast(this=col("i"), to=dtype("BIGINT")), node.column)).from_(
        d.integers(start.sql, _past(stop.sql, step.sql), step.sql)
    )
    return Rel(sql, [(node.column, kind)])


SOURCES: list[Source] = [
    source(A.Datatable, lower_datatable),
    source(A.PrintSource, lower_print),
    source(A.RangeSource, lower_range),
]
