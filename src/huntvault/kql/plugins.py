"""evaluate plugins (a table): bag_unpack, discovering the bag's keys with a first query."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.values import T, alias, anon, col

if TYPE_CHECKING:
    from huntvault.kql.plan import Planner, Rel


def bag_unpack(p: Planner, rel: Rel, call: A.Call, env: dict[str, Any]) -> Rel:
    from huntvault.kql.plan import Rel

    if not call.args or not isinstance(call.args[0], A.Name):
        raise p.semantic("bag_unpack() needs the dynamic column to unpack", call)
    column = call.args[0].name
    prefix = ""
    if len(call.args) > 1 and isinstance(call.args[1], A.Literal):
        prefix = str(call.args[1].value)
    if column not in dict(rel.cols):
        raise p.semantic(f"bag_unpack: unknown column {column!r}", call)
    d = p.dialect
    j = T(col(column), dict(rel.cols)[column])
    src = j.sql if j.type == "dynamic" else d.try_json(j.sql)
    probe = p.select(rel, [alias(exp.Unnest(expressions=[anon("json_keys", src)]), "k")]).distinct(copy=False)
    keys = sorted(p.discover(probe))
    proj: list[exp.Expression] = [col(n) for n, _ in rel.cols if n != column]
    cols = [(n, t) for n, t in rel.cols if n != column]
    taken = {n for n, _ in cols}
    for k in keys:
        name = prefix + k
        if name in taken:
            continue
        path = exp.Literal.string('$."' + k.replace('"', '\\"') + '"')
        proj.append(alias(anon("json_extract", src.copy(), path), name))
        cols.append((name, "dynamic"))
    return Rel(p.select(rel, proj), cols)


def pivot(p: Planner, rel: Rel, call: A.Call, env: dict[str, Any]) -> Rel:
    from huntvault.kql.series import pivot as lower

    return lower(p, rel, call, env)


PLUGINS: dict[str, Callable[[Planner, Rel, A.Call, dict[str, Any]], Rel]] = {
    "bag_unpack": bag_unpack,
    "pivot": pivot,
}
