"""Plugins that turn values into columns: bag_unpack (a bag's keys) and pivot (a column's values).

Both find their new columns with a small first query (`Planner.discover`)."""

from __future__ import annotations

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.ir import Env, Planner, Plugin, Rel
from huntvault.kql.values import T, alias, call, col, to_string


def lower_bag_unpack(p: Planner, rel: Rel, node: A.Call, env: Env) -> Rel:
    if not node.args or not isinstance(node.args[0], A.Name):
        raise p.semantic("bag_unpack() needs the dynamic column to unpack", node)
    column = node.args[0].name
    prefix = ""
    if len(node.args) > 1 and isinstance(node.args[1], A.Literal):
        prefix = str(node.args[1].value)
    if column not in dict(rel.cols):
        raise p.semantic(f"bag_unpack: unknown column {column!r}", node)
    d = p.dialect
    j = T(col(column), dict(rel.cols)[column])
    src = j.sql if j.type == "dynamic" else d.try_json(j.sql)
    probe = p.select(rel, [alias(exp.Unnest(expressions=[call("json_keys", src)]), "k")]).distinct(copy=False)
    keys = sorted(p.discover(probe))
    proj: list[exp.Expression] = [col(n) for n, _ in rel.cols if n != column]
    cols = [(n, t) for n, t in rel.cols if n != column]
    taken = {n for n, _ in cols}
    for k in keys:
        name = prefix + k
        if name in taken:
            continue
        path = exp.Literal.string('$."' + k.replace('"', '\\"') + '"')
        proj.append(alias(call("json_extract", src.copy(), path), name))
        cols.append((name, "dynamic"))
    return Rel(p.select(rel, proj), cols)


def lower_pivot(p: Planner, rel: Rel, node: A.Call, env: Env) -> Rel:
    """evaluate pivot(Column, agg(x), keys...): one output column per distinct value of Column."""
    if not node.args or not isinstance(node.args[0], A.Name):
        raise p.semantic("pivot() needs the column whose values become columns", node)
    pcol = node.args[0].name
    scope = p.scope_of(rel, env)
    pv = p.compile(node.args[0], scope)
    agg_node = node.args[1] if len(node.args) > 1 else A.Call("count", [], pos=node.pos)
    key_nodes = node.args[2:]
    keys = (
        [n.name for n in key_nodes if isinstance(n, A.Name)]
        if key_nodes
        else [
            n
            for n, _ in rel.cols
            if n != pcol
            and not (
                isinstance(agg_node, A.Call)
                and any(isinstance(a, A.Name) and a.name == n for a in agg_node.args)
            )
        ]
    )
    probe = p.select(rel, [alias(to_string(pv).sql, "v")]).distinct(copy=False)
    values = sorted(p.discover(probe))
    agg_scope = scope.with_aggregates([])
    out: list[exp.Expression] = [col(k) for k in keys]
    cols = [(k, dict(rel.cols)[k]) for k in keys]
    for value in values:
        v = p.compile(agg_node, agg_scope)

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
    return Rel(sql, cols)


PLUGINS: dict[str, Plugin] = {
    "bag_unpack": Plugin(lower_bag_unpack),
    "pivot": Plugin(lower_pivot),
}
