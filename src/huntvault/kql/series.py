"""The grouped operators that need several SQL steps: make-series, top-nested, mv-apply, and evaluate pivot."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.aggregates import AGGREGATES, default_name
from huntvault.kql.scalar import ExprCompiler
from huntvault.kql.values import T, alias, anon, col, literal, to_dynamic, to_string

if TYPE_CHECKING:
    from huntvault.kql.plan import Planner, Rel


def _rel(sql: exp.Select, cols: list[tuple[str, str]]) -> Rel:
    from huntvault.kql.plan import Rel

    return Rel(sql, cols)


def _agg(p: Planner, rel: Rel, env: dict[str, Any], item: A.Assign, counter: list[int]) -> tuple[str, T]:
    scope = p.scope_of(rel, env).child(aggregates=[])
    v = ExprCompiler(scope).compile(item.expr)
    if not scope.aggregates:
        raise p.semantic("expected an aggregate function", item.expr)
    if item.names:
        return item.names[0], v
    expr = item.expr
    if isinstance(expr, A.Call) and expr.name.lower() in AGGREGATES:
        arg = expr.args[0] if expr.args else None
        derived = p.compile(arg, p.scope_of(rel, env)).name if isinstance(arg, (A.Name, A.Member)) else None
        return default_name(expr, derived), v
    counter[0] += 1
    return f"Column{counter[0]}", v


def make_series(p: Planner, rel: Rel, op: A.MakeSeries, env: dict[str, Any]) -> Rel:
    """One row per `by` group: each aggregate as an array over the bins, and the bin starts as an array."""
    d = p.dialect
    scope = p.scope_of(rel, env)
    axis = p.compile(op.on, scope)
    axis_name = axis.name or "Column1"
    step = p.compile(op.step, scope)
    if axis.type != "datetime":
        raise p.error_unsupported("make-series supports a datetime axis only", op.on)
    base, _ = p.wrap(rel)
    if op.start is not None:
        start_us = d.epoch_us(p.compile(op.start, scope).sql)
    else:
        start_us = exp.Subquery(this=exp.select(exp.Min(this=d.epoch_us(axis.sql.copy()))).from_(base.copy(), copy=False))
    if op.end is not None:
        end_us = d.epoch_us(p.compile(op.end, scope).sql)
    else:
        end_us = exp.Add(this=exp.Subquery(this=exp.select(exp.Max(this=d.epoch_us(axis.sql.copy()))).from_(base.copy(), copy=False)),
                         expression=step.sql.copy())
    nbins = exp.Cast(this=anon("ceil", exp.Div(this=exp.Cast(this=exp.Sub(this=end_us, expression=start_us.copy()),
                                                                     to=exp.DataType.build("DOUBLE")), expression=step.sql)),
                     to=exp.DataType.build("BIGINT"))
    keys: list[tuple[str, T]] = []
    for i, item in enumerate(op.by, start=1):
        v = p.compile(item.expr, scope)
        keys.append((item.names[0] if item.names else (v.name or f"Column{i}"), v))
    counter = [0]
    aggs: list[tuple[str, T, T]] = []
    for item, default in op.aggs:
        name, v = _agg(p, rel, env, item, counter)
        dv = p.compile(default, scope) if default is not None else literal(0, "long")
        aggs.append((name, v, dv))
    binexpr = exp.Cast(this=anon("floor", exp.Div(this=exp.Sub(this=d.epoch_us(axis.sql.copy()), expression=start_us.copy()),
                                                      expression=step.sql.copy())), to=exp.DataType.build("BIGINT"))
    in_range = exp.And(this=exp.GTE(this=d.epoch_us(axis.sql.copy()), expression=start_us.copy()),
                       expression=exp.LT(this=d.epoch_us(axis.sql.copy()), expression=end_us.copy()))
    agg_sql = exp.select(*[alias(v.sql, n) for n, v in keys], alias(binexpr, "__bin"), *[alias(v.sql, n) for n, v, _ in aggs]).from_(
        base.copy(), copy=False).where(in_range, copy=False).group_by(*[v.sql.copy() for _, v in keys], binexpr.copy(), copy=False)
    key_sql = exp.select(*[alias(v.sql.copy(), n) for n, v in keys] or [alias(exp.Literal.number(1), "__one")]).from_(base.copy(), copy=False).distinct(copy=False)
    grid = exp.select(*[col(n, "k") for n, _ in keys], col("__bin", "g")).from_(key_sql.subquery("k"), copy=False).join(
        exp.Unnest(expressions=[anon("range", exp.Literal.number(0), nbins)], alias=exp.TableAlias(this=exp.to_identifier("g"), columns=[exp.to_identifier("__bin")])),
        join_type="CROSS")
    on: exp.Expression = exp.EQ(this=col("__bin", "gr"), expression=col("__bin", "a"))
    for n, _ in keys:
        on = exp.And(this=on, expression=exp.NullSafeEQ(this=col(n, "gr"), expression=col(n, "a")))
    joined = exp.select(*[col(n, "gr") for n, _ in keys], col("__bin", "gr"), *[col(n, "a") for n, _, _ in aggs]).from_(
        grid.subquery("gr"), copy=False).join(agg_sql.subquery("a"), on=on, join_type="LEFT", copy=False)
    order = exp.Order(expressions=[exp.Ordered(this=col("__bin"))])
    outs: list[exp.Expression] = [col(n) for n, _ in keys]
    cols: list[tuple[str, str]] = [(n, v.type) for n, v in keys]
    for n, v, dv in aggs:
        value = to_dynamic(T(exp.Coalesce(this=col(n), expressions=[dv.sql]), v.type)).sql
        outs.append(alias(anon("to_json", anon("list", exp.WithinGroup(this=value, expression=order.copy())) if False else
                               anon("list", value, )), n))
        cols.append((n, "dynamic"))
    stamp = to_string(T(d.from_epoch_us(exp.Add(this=start_us.copy(), expression=exp.Mul(this=col("__bin"), expression=step.sql.copy()))), "datetime")).sql
    outs.append(alias(anon("to_json", anon("list", stamp)), axis_name))
    cols.append((axis_name, "dynamic"))
    ordered = exp.select(exp.Star()).from_(joined.subquery(p.fresh()), copy=False).order_by(col("__bin"), copy=False)
    final = exp.select(*outs).from_(ordered.subquery(p.fresh()), copy=False)
    if keys:
        final = final.group_by(*[col(n) for n, _ in keys], copy=False)
    return _rel(final, cols)


def top_nested(p: Planner, rel: Rel, op: A.TopNested, env: dict[str, Any]) -> Rel:
    """Each level groups by the keys so far and keeps the top N groups within its parent group."""
    scope = p.scope_of(rel, env)
    base_sub, _ = p.wrap(rel)
    keys: list[tuple[str, T]] = []
    out_cols: list[tuple[str, str]] = []
    level_sqls: list[tuple[exp.Select, list[str]]] = []
    for level in op.levels:
        if level.others is not None:
            raise p.error_unsupported("top-nested ... with others is not supported", level)
        v = p.compile(level.of.expr, scope)
        name = level.of.names[0] if level.of.names else (v.name or f"Column{len(keys) + 1}")
        keys.append((name, v))
        agg_scope = scope.child(aggregates=[])
        av = ExprCompiler(agg_scope).compile(level.agg.expr)
        agg_name = level.agg.names[0] if level.agg.names else f"aggregated_{name}"
        parents = [col(n) for n, _ in keys[:-1]]
        grouped = exp.select(*[alias(k.sql.copy(), n) for n, k in keys], alias(av.sql, agg_name)).from_(base_sub.copy(), copy=False).group_by(
            *[k.sql.copy() for _, k in keys], copy=False)
        rn = exp.Window(this=anon("row_number"), partition_by=parents or None,
                        order=exp.Order(expressions=[exp.Ordered(this=col(agg_name), desc=level.desc, nulls_first=False)]))
        ranked = exp.select(exp.Star(), alias(rn, "__rn")).from_(grouped.subquery(p.fresh()), copy=False)
        kept = exp.select(*[col(n) for n, _ in keys], col(agg_name)).from_(ranked.subquery(p.fresh()), copy=False)
        if level.count is not None:
            n = level.count
            count = p.compile(n, scope)
            kept = kept.where(exp.LTE(this=col("__rn"), expression=count.sql), copy=False)
        level_sqls.append((kept, [k for k, _ in keys]))
        out_cols += [(name, v.type), (agg_name, av.type)]
    # join the levels: each level's keys must survive in every parent level
    first, _ = level_sqls[0]
    query = first
    alias_prev = p.fresh("n")
    query_sub = query.subquery(alias_prev)
    current_cols = [out_cols[0][0], out_cols[1][0]]
    sel: exp.Select = exp.select(*[col(c, alias_prev) for c in current_cols]).from_(query_sub, copy=False)
    for i, (lsql, lkeys) in enumerate(level_sqls[1:], start=1):
        la = p.fresh("n")
        on: exp.Expression | None = None
        for k in lkeys[:-1]:
            cond = exp.NullSafeEQ(this=col(k, alias_prev), expression=col(k, la))
            on = cond if on is None else exp.And(this=on, expression=cond)
        new_cols = [out_cols[2 * i][0], out_cols[2 * i + 1][0]]
        sel = exp.select(*[col(c, alias_prev) for c in current_cols], *[col(c, la) for c in new_cols]).from_(
            sel.subquery(alias_prev) if i > 1 else query_sub.copy(), copy=False).join(lsql.subquery(la), on=on, join_type="INNER", copy=False)
        if i > 1:
            pass
        current_cols += new_cols
        wrapped = p.fresh("n")
        sel = exp.select(*[col(c) for c in current_cols]).from_(sel.subquery(wrapped), copy=False)
        alias_prev = p.fresh("n")
        sel = exp.select(*[col(c) for c in current_cols]).from_(sel.subquery(alias_prev), copy=False)
        query_sub = sel.subquery(alias_prev)
        sel = exp.select(*[col(c, alias_prev) for c in current_cols]).from_(query_sub, copy=False)
    return _rel(exp.select(*[col(c) for c, _ in out_cols]).from_(sel.subquery(p.fresh()), copy=False), out_cols)


def mv_apply(p: Planner, rel: Rel, op: A.MvApply, env: dict[str, Any]) -> Rel:
    """Each row's array becomes a small table, the subquery runs on it (a LATERAL join), results join the row."""
    from huntvault.kql.plan import Rel

    if p.dialect.name != "duckdb":
        raise p.error_unsupported("mv-apply runs on the DuckDB engine only", op)
    outer = p.fresh("o")
    scope = p.scope_of(rel, env, table=outer)
    d = p.dialect
    names: list[str] = []
    unnests: list[exp.Expression] = []
    types: list[str] = []
    for item in op.items:
        v = p.compile(item.expr, scope)
        name = item.name or v.name or "Column1"
        j = v.sql if v.type == "dynamic" else d.try_json(v.sql)
        unnests.append(alias(exp.Unnest(expressions=[d.json_list(j)]), name))
        names.append(name)
        types.append(item.to_type or "dynamic")
    inner_raw = exp.select(*unnests)
    conv: list[exp.Expression] = []
    from huntvault.kql.values import convert

    for n, t in zip(names, types, strict=True):
        conv.append(alias(convert(T(col(n), "dynamic"), t).sql if t != "dynamic" else col(n), n))
    inner = Rel(exp.select(*conv).from_(inner_raw.subquery(p.fresh()), copy=False), list(zip(names, types, strict=True)))
    applied = p.src_pipeline(op.body, env, implicit=inner)
    inner_alias = p.fresh("i")
    keep = [(n, t) for n, t in rel.cols if n not in dict(applied.cols) and n not in names]
    proj = [col(n, outer) for n, _ in keep] + [col(n, inner_alias) for n, _ in applied.cols]
    lateral = exp.Lateral(this=exp.Subquery(this=applied.sql), alias=exp.TableAlias(this=exp.to_identifier(inner_alias)))
    sql = exp.select(*proj).from_(rel.sql.subquery(outer), copy=False).join(lateral, join_type="CROSS", copy=False)
    return Rel(exp.select(*[col(n) for n, _ in keep + applied.cols]).from_(sql.subquery(p.fresh()), copy=False), keep + applied.cols)


def pivot(p: Planner, rel: Rel, call: A.Call, env: dict[str, Any]) -> Rel:
    """evaluate pivot(Column, agg(x), keys...): one output column per distinct value of Column."""
    if not call.args or not isinstance(call.args[0], A.Name):
        raise p.semantic("pivot() needs the column whose values become columns", call)
    pcol = call.args[0].name
    scope = p.scope_of(rel, env)
    pv = p.compile(call.args[0], scope)
    agg_node = call.args[1] if len(call.args) > 1 else A.Call("count", [], pos=call.pos)
    key_nodes = call.args[2:]
    keys = [n.name for n in key_nodes if isinstance(n, A.Name)] if key_nodes else [
        n for n, _ in rel.cols if n != pcol and not (isinstance(agg_node, A.Call) and any(isinstance(a, A.Name) and a.name == n for a in agg_node.args))]
    probe = p.select(rel, [alias(to_string(pv).sql, "v")]).distinct(copy=False)
    values = sorted(p.discover(probe))
    agg_scope = scope.child(aggregates=[])
    out: list[exp.Expression] = [col(k) for k in keys]
    cols = [(k, dict(rel.cols)[k]) for k in keys]
    for value in values:
        v = ExprCompiler(agg_scope).compile(agg_node)
        def only(node: exp.Expression, value: str = value) -> exp.Expression:
            if not isinstance(node, (exp.AggFunc, exp.Count)):
                return node
            where = exp.Where(this=exp.EQ(this=to_string(pv).sql, expression=exp.Literal.string(value)))
            return exp.Filter(this=node, expression=where)

        filtered = v.sql.transform(only)
        out.append(alias(filtered, value))
        cols.append((value, v.type))
    sql = p.select(rel, out)
    if keys:
        sql = sql.group_by(*[col(k) for k in keys], copy=False)
    return _rel(sql, cols)


def partition(p: Planner, rel: Rel, op: A.Partition, env: dict[str, Any]) -> Rel:
    """partition by Col (subquery): the subquery runs on each value's rows (values found by a first query)."""
    from huntvault.kql.plan import Rel

    if op.by not in dict(rel.cols):
        raise p.semantic(f"partition: unknown column {op.by!r}", op)
    key = to_string(T(col(op.by), dict(rel.cols)[op.by]))
    probe = p.select(rel, [alias(key.sql, "v")]).distinct(copy=False)
    values = sorted(p.discover(probe))
    parts: list[tuple[str, Rel]] = []
    for value in values or [""]:
        cond: exp.Expression = exp.EQ(this=to_string(T(col(op.by), dict(rel.cols)[op.by])).sql, expression=exp.Literal.string(value))
        if not values:
            cond = exp.false()
        piece = Rel(p.select(rel, p.star(rel)).where(cond, copy=False), rel.cols)
        parts.append((value, p.src_pipeline(op.body, env, implicit=piece)))
    return p.union_rels(parts, "outer", None)
