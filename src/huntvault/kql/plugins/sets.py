"""Plugins over a whole input at once: dcount_intersect (distinct counts of intersected hll() sets) and
preview (the first rows)."""

from __future__ import annotations

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.ir import Env, Planner, Plugin, Rel
from huntvault.kql.lowering.template import from_template
from huntvault.kql.values import alias, col

#: dcount_intersect takes 2 to 16 hll values
_SETS = (2, 16)


def lower_dcount_intersect(p: Planner, rel: Rel, node: A.Call, env: Env) -> Rel:
    """dcount_intersect(hll_1, hll_2 [, ...]): one row, s0 .. s(n-1): the distinct count of S1, of S1 ∩ S2,
    ..., of S1 ∩ ... ∩ Sn, where Si merges the hll() values of column i over all the input rows. Our hll()
    holds its distinct values exactly, so the counts are exact."""
    least, most = _SETS
    if node.named:
        raise p.semantic("dcount_intersect() takes no named arguments", next(iter(node.named.values())))
    if not least <= len(node.args) <= most:
        raise p.semantic(
            f"dcount_intersect() takes {least} to {most} hll() values, got {len(node.args)}", node
        )
    scope = p.scope_of(rel, env)
    values = [p.compile(a, scope) for a in node.args]
    for arg, v in zip(node.args, values, strict=True):
        if v.type != "dynamic":
            raise p.semantic(f"dcount_intersect(): the arguments must be hll() values, not {v.type}", arg)
    inp = p.select(rel, [alias(p.dialect.json_list(v.sql), f"__h{i}") for i, v in enumerate(values)])
    merged = ", ".join(f"LIST_DISTINCT(FLATTEN(LIST(__h{i}))) AS __m{i}" for i in range(len(values)))
    inter = ["__m0"]
    for i in range(1, len(values)):
        inter.append(f"ARRAY_INTERSECT({inter[-1]}, __m{i})")
    counts = ", ".join(f"CAST(COALESCE(ARRAY_LENGTH({e}), 0) AS BIGINT) AS s{i}" for i, e in enumerate(inter))
    sql = from_template(f"SELECT {counts} FROM (SELECT {merged} FROM inp) AS m", {"inp": inp})
    cols = [(f"s{i}", "long") for i in range(len(values))]
    out = exp.select(*[col(n) for n, _ in cols]).from_(sql.subquery(p.fresh(), copy=False), copy=False)
    return Rel(out, cols)


def lower_preview(p: Planner, rel: Rel, node: A.Call, env: Env) -> Rel:
    """preview(NumberOfRows): the first NumberOfRows rows. Kusto also returns a second table with the input's
    row count; a hunt has one result table, so that one is left out (`count` gives it)."""
    if len(node.args) != 1 or node.named:
        raise p.semantic("preview() takes one argument, the number of rows", node)
    n = p.compile(node.args[0], p.scope_of(rel, env))
    if not (n.is_const and isinstance(n.const, int) and not isinstance(n.const, bool) and n.const >= 0):
        raise p.semantic(
            "preview(): the number of rows must be a non-negative constant integer", node.args[0]
        )
    out = p.select(rel, p.star(rel)).limit(exp.Literal.number(int(n.const)), copy=False)
    return Rel(out, list(rel.cols), rel.order)


PLUGINS: dict[str, Plugin] = {
    "dcount_intersect": Plugin(lower_dcount_intersect),
    "preview": Plugin(lower_preview),
}
