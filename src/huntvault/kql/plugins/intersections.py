"""dcount_intersect: the distinct counts of the intersections S1, S1∩S2, ... of sets given as hll() values."""

from __future__ import annotations

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.ir import Env, Planner, Plugin, Rel
from huntvault.kql.plugins.timeline import duckdb_only
from huntvault.kql.values import alias, call, col, dtype

#: the plugin takes 2 to 16 hll values (the dcount_intersect page)
MIN_SETS, MAX_SETS = 2, 16


def lower_dcount_intersect(p: Planner, rel: Rel, node: A.Call, env: Env) -> Rel:
    """dcount_intersect(hll_1, ..., hll_n): the row's columns, then s0..s(n-1), s_k the distinct count of
    the intersection of the first k+1 sets."""
    if not MIN_SETS <= len(node.args) <= MAX_SETS or node.named:
        raise p.semantic(
            f"dcount_intersect() takes {MIN_SETS} to {MAX_SETS} hll values (from hll() or hll_merge())", node
        )
    scope = p.scope_of(rel, env)
    sets: list[exp.Expression] = []
    for arg in node.args:
        v = p.compile(arg, scope)
        if v.type not in ("dynamic", "unknown"):
            raise p.semantic(f"dcount_intersect(): expected an hll value (dynamic), got {v.type}", arg)
        # an hll value holds the distinct values as JSON; compared by their JSON text
        as_texts = call(
            "list_transform",
            exp.TryCast(this=v.sql, to=dtype("JSON[]")),
            exp.Lambda(
                this=exp.Cast(this=exp.column("hv_"), to=dtype("VARCHAR")),
                expressions=[exp.to_identifier("hv_")],
            ),
        )
        sets.append(call("list_distinct", as_texts))
    taken = {n for n, _ in rel.cols}
    outs: list[exp.Expression] = [col(n) for n, _ in rel.cols]
    cols = list(rel.cols)
    acc = sets[0]
    for k, s in enumerate(sets):
        if k:
            acc = call("list_intersect", acc, s)
        name = f"s{k}"
        if name in taken:
            raise p.semantic(f"dcount_intersect(): the input already has a column named {name}", node)
        count = exp.Cast(
            this=exp.Coalesce(this=call("len", acc.copy()), expressions=[exp.Literal.number(0)]),
            to=dtype("BIGINT"),
        )
        outs.append(alias(count, name))
        cols.append((name, "long"))
    return Rel(p.select(rel, outs), cols)


PLUGINS: dict[str, Plugin] = {
    "dcount_intersect": Plugin(lower_dcount_intersect, spark=duckdb_only)
}  # DuckDB list functions
