"""join and lookup: Kusto's join kinds (innerunique by default), `$left`/`$right` keys and column renaming."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.scalar import ExprCompiler, Scope
from huntvault.kql.values import T, alias, anon, col

if TYPE_CHECKING:
    from huntvault.kql.plan import Planner, Rel


def join(p: Planner, left: Rel, op: A.Join, env: dict[str, Any]) -> Rel:
    from huntvault.kql.plan import Rel

    right = p.relation(op.right, env)
    kind = {
        "anti": "leftanti",
        "leftantisemi": "leftanti",
        "rightantisemi": "rightanti",
        "semi": "leftsemi",
        "outer": "leftouter",
    }.get(op.kind, op.kind)
    lt, rt = p.fresh("l"), p.fresh("r")
    lscope = {n: T(col(n, lt), t) for n, t in left.cols}
    rscope = {n: T(col(n, rt), t) for n, t in right.cols}
    conds: list[exp.Expression] = []
    lkeys: list[str] = []
    rkeys: list[str] = []
    scope = Scope({}, env, p, sides={"$left": lscope, "$right": rscope})
    for cond in op.on:
        if isinstance(cond, A.Name):
            if cond.name not in lscope or cond.name not in rscope:
                raise p.semantic(f"join key {cond.name!r} must exist on both sides", cond)
            a, b = lscope[cond.name], rscope[cond.name]
            lkeys.append(cond.name)
            rkeys.append(cond.name)
        elif isinstance(cond, A.Binary) and cond.op == "==":
            a = ExprCompiler(scope).compile(cond.left)
            b = ExprCompiler(scope).compile(cond.right)
            if _side(cond.left) == "$right" and _side(cond.right) == "$left":
                a, b = b, a
            if isinstance(cond.left, A.Member):
                lkeys.append(
                    cond.left.name
                    if _side(cond.left) == "$left"
                    else cond.right.name
                    if isinstance(cond.right, A.Member)
                    else ""
                )
        else:
            raise p.semantic("join conditions are column names or $left.a == $right.b", cond)
        if a.type != b.type and "dynamic" in (a.type, b.type):
            from huntvault.kql.values import to_string

            a, b = to_string(a), to_string(b)
        conds.append(exp.EQ(this=a.sql, expression=b.sql))
    if not conds:
        raise p.semantic("join needs an `on` clause", op)
    on: exp.Expression = conds[0]
    for c2 in conds[1:]:
        on = exp.And(this=on, expression=c2)
    lsrc = left
    if kind == "innerunique":
        lsrc = dedupe(p, left, [c.this.copy() for c in conds], lt)
        kind = "inner"
    lsub = lsrc.sql.subquery(lt)
    rsub = right.sql.subquery(rt)
    if kind in ("leftanti", "leftsemi", "rightanti", "rightsemi"):
        keep_left = kind.startswith("left")
        keep, _other = (left, right) if keep_left else (right, left)
        ksub, osub = (lsub, rsub) if keep_left else (rsub, lsub)
        kt = lt if keep_left else rt
        exists = exp.Exists(
            this=exp.select(exp.Literal.number(1)).from_(osub, copy=False).where(on, copy=False)
        )
        pred = exists if kind.endswith("semi") else exp.Not(this=exists)
        sql = exp.select(*[col(n, kt) for n, _ in keep.cols]).from_(ksub, copy=False).where(pred, copy=False)
        cols = list(keep.cols)
        return Rel(exp.select(*[col(n) for n, _ in cols]).from_(sql.subquery(p.fresh()), copy=False), cols)
    taken = {n for n, _ in left.cols}
    proj: list[exp.Expression] = [alias(col(n, lt), n) for n, _ in left.cols]
    cols = list(left.cols)
    lookup_keys = set(lkeys) if op.lookup else set()
    for n, t in right.cols:
        if op.lookup and n in lookup_keys:
            continue
        out = n
        if out in taken:
            i = 1
            while f"{n}{i}" in taken:
                i += 1
            out = f"{n}{i}"
        taken.add(out)
        proj.append(alias(col(n, rt), out))
        cols.append((out, t))
    side = {"inner": "", "leftouter": "LEFT", "rightouter": "RIGHT", "fullouter": "FULL"}.get(kind)
    if side is None:
        raise p.semantic(f"unknown join kind {op.kind!r}", op)
    join_kind = "INNER" if not side else "OUTER"
    sql = (
        exp.select(*proj)
        .from_(lsub, copy=False)
        .join(rsub, on=on, join_type=f"{side} {join_kind}".strip(), copy=False)
    )
    return Rel(sql, cols)


def _side(node: A.Node) -> str | None:
    if isinstance(node, A.Member) and isinstance(node.obj, A.Name):
        return node.obj.name
    return None


def dedupe(p: Planner, rel: Rel, key_exprs: list[exp.Expression], table: str) -> Rel:
    """innerunique: one left row per join key (the first met), before an inner join."""
    from huntvault.kql.plan import Rel

    keys = [k.transform(lambda n: col(n.name) if isinstance(n, exp.Column) else n) for k in key_exprs]
    rn = exp.Window(
        this=anon("row_number"),
        partition_by=keys,
        order=exp.Order(expressions=[exp.Ordered(this=k.copy()) for k in keys]),
    )
    inner = p.select(rel, [*p.star(rel), alias(rn, "__rn")])
    sql = (
        exp.select(*[col(n) for n, _ in rel.cols])
        .from_(inner.subquery(p.fresh()), copy=False)
        .where(exp.EQ(this=col("__rn"), expression=exp.Literal.number(1)))
    )
    return Rel(sql, rel.cols)
