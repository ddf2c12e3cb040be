"""Plugins that turn values into columns: bag_unpack (a bag's keys) and pivot (a column's values).

Both find their new columns with a small first query (`Planner.discover`)."""

from __future__ import annotations

import json

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.ir import Env, Planner, Plugin, Rel
from huntvault.kql.values import T, alias, call, col, to_string

#: bag_unpack's columnsConflict values: what a key named as an input column does
CONFLICTS = ("error", "replace_source", "keep_source")


def _bag_unpack_options(p: Planner, node: A.Call, env: Env, rel: Rel) -> tuple[str, str, set[str]]:
    """OutputColumnPrefix, columnsConflict and ignoredProperties, each by position or by name."""
    names = ("OutputColumnPrefix", "columnsConflict", "ignoredProperties")
    given: dict[str, A.Node] = dict(zip(names, node.args[1:], strict=False))
    for key, value in node.named.items():
        match = next((n for n in names if n.lower() == key.lower()), None)
        if match is None:
            raise p.semantic(f"bag_unpack(): unknown option {key!r} (expected {', '.join(names)})", value)
        given[match] = value
    scope = p.scope_of(rel, env)
    consts: dict[str, object] = {}
    for key, value in given.items():
        v = p.compile(value, scope)
        if not v.is_const:
            raise p.semantic(f"bag_unpack(): {key} must be a constant", value)
        consts[key] = v.const
    prefix = consts.get("OutputColumnPrefix") or ""
    conflict = consts.get("columnsConflict") or "error"
    if not isinstance(prefix, str):
        raise p.semantic("bag_unpack(): OutputColumnPrefix must be a string", given["OutputColumnPrefix"])
    if conflict not in CONFLICTS:
        raise p.semantic(
            f"bag_unpack(): columnsConflict must be one of {', '.join(CONFLICTS)}", given["columnsConflict"]
        )
    ignored_value = consts.get("ignoredProperties")
    ignored: set[str] = set()
    if ignored_value is not None:
        items = json.loads(ignored_value) if isinstance(ignored_value, str) else ignored_value
        if not isinstance(items, list):
            raise p.semantic(
                "bag_unpack(): ignoredProperties must be a dynamic array", given["ignoredProperties"]
            )
        ignored = {str(i) for i in items}
    return prefix, str(conflict), ignored


def lower_bag_unpack(p: Planner, rel: Rel, node: A.Call, env: Env) -> Rel:
    """bag_unpack(Column [, OutputColumnPrefix] [, columnsConflict] [, ignoredProperties]): the input's
    columns without Column, then one column per top-level key (sorted), prefixed; a key named as an input
    column is an error, or replaces it (replace_source), or is dropped (keep_source)."""
    if not node.args or not isinstance(node.args[0], A.Name):
        raise p.semantic("bag_unpack() needs the dynamic column to unpack", node)
    column = node.args[0].name
    if column not in dict(rel.cols):
        raise p.semantic(f"bag_unpack: unknown column {column!r}", node)
    prefix, conflict, ignored = _bag_unpack_options(p, node, env, rel)
    d = p.dialect
    j = T(col(column), dict(rel.cols)[column])
    src = j.sql if j.type == "dynamic" else d.try_json(j.sql)
    probe = p.select(rel, [alias(exp.Unnest(expressions=[call("json_keys", src)]), "k")]).distinct(copy=False)
    keys = [k for k in sorted(p.discover(probe)) if k not in ignored]
    names = {prefix + k for k in keys}
    clash = [n for n, _ in rel.cols if n != column and n in names]
    if clash and conflict == "error":
        raise p.semantic(
            f"bag_unpack(): the bag's key {clash[0]!r} is already a column"
            " (columnsConflict='replace_source' or 'keep_source' decides)",
            node,
        )
    dropped = set(clash) if conflict == "replace_source" else set()
    proj: list[exp.Expression] = [col(n) for n, _ in rel.cols if n != column and n not in dropped]
    cols = [(n, t) for n, t in rel.cols if n != column and n not in dropped]
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
