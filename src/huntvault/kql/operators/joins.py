"""join and lookup: Kusto's join kinds (innerunique by default), `$left`/`$right` keys and column renaming."""

from __future__ import annotations

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.ir import Env, Operator, Planner, Rel, Scope, operator
from huntvault.kql.lowering.tables import unique
from huntvault.kql.syntax import Cursor, Token
from huntvault.kql.syntax.expressions import options, parse_expr, parse_pipeline, parse_postfix
from huntvault.kql.values import T, alias, col, to_string

JOIN_KINDS = {
    "innerunique",
    "inner",
    "leftouter",
    "rightouter",
    "fullouter",
    "leftanti",
    "anti",
    "leftantisemi",
    "rightanti",
    "rightantisemi",
    "leftsemi",
    "semi",
    "rightsemi",
    "outer",
}
#: join kind spellings -> the kind lowered
KIND_ALIASES = {
    "anti": "leftanti",
    "leftantisemi": "leftanti",
    "rightantisemi": "rightanti",
    "semi": "leftsemi",
    "outer": "leftouter",
}


def _right(c: Cursor) -> A.Node:
    if c.at("("):
        s = c.advance()
        inner = parse_pipeline(c)
        c.expect(")")
        if isinstance(inner, A.Pipeline):
            return inner
        return A.Pipeline(inner, [], pos=s.pos)
    return parse_postfix(c)


def _split_and(e: A.Node) -> list[A.Node]:
    out: list[A.Node] = []
    stack = [e]
    while stack:
        node = stack.pop()
        if isinstance(node, A.Binary) and node.op == "and":
            stack += [node.right, node.left]
        else:
            out.append(node)
    return out


def _conditions(c: Cursor) -> list[A.Node]:
    conds: list[A.Node] = []
    while True:
        conds.extend(_split_and(parse_expr(c)))
        if not c.accept(","):
            return conds


def parse_join(c: Cursor, t: Token) -> A.Node:
    opts = options(c, {"kind", "withsource"})
    kind = "innerunique"
    if "kind" in opts:
        k = opts.pop("kind")
        if not isinstance(k, A.Name) or k.name.lower() not in JOIN_KINDS:
            raise c.error_at("unknown join kind", k.pos)
        kind = k.name.lower()
    right = _right(c)
    opts.update(options(c, {"kind"}))
    on: list[A.Node] = []
    if c.accept_word("on") or c.accept_word("where"):
        on = _conditions(c)
    return A.Join(kind, right, on, opts, pos=t.pos)


def parse_lookup(c: Cursor, t: Token) -> A.Node:
    opts = options(c, {"kind"})
    kind = "leftouter"
    if "kind" in opts:
        k = opts.pop("kind")
        kind = k.name.lower() if isinstance(k, A.Name) else "leftouter"
    right = _right(c)
    c.expect_word("on")
    return A.Join(kind, right, _conditions(c), opts, lookup=True, pos=t.pos)


def _side(node: A.Node) -> str | None:
    if isinstance(node, A.Member) and isinstance(node.obj, A.Name):
        return node.obj.name
    return None


def lower_join(p: Planner, left: Rel, op: A.Join, env: Env) -> Rel:
    right = p.relation(op.right, env)
    kind = KIND_ALIASES.get(op.kind, op.kind)
    lt, rt = p.fresh("l"), p.fresh("r")
    lscope = {n: T(col(n, lt), t) for n, t in left.cols}
    rscope = {n: T(col(n, rt), t) for n, t in right.cols}
    conds: list[exp.Expression] = []
    lkeys: list[str] = []
    scope = Scope({}, env, p, sides={"$left": lscope, "$right": rscope})
    for cond in op.on:
        if isinstance(cond, A.Name):
            if cond.name not in lscope or cond.name not in rscope:
                raise p.semantic(f"join key {cond.name!r} must exist on both sides", cond)
            a, b = lscope[cond.name], rscope[cond.name]
            lkeys.append(cond.name)
        elif isinstance(cond, A.Binary) and cond.op == "==":
            a = p.compile(cond.left, scope)
            b = p.compile(cond.right, scope)
            if _side(cond.left) == "$right" and _side(cond.right) == "$left":
                a, b = b, a
            if isinstance(cond.left, A.Member):
                if _side(cond.left) == "$left":
                    lkeys.append(cond.left.name)
                else:
                    lkeys.append(cond.right.name if isinstance(cond.right, A.Member) else "")
        else:
            raise p.semantic("join conditions are column names or $left.a == $right.b", cond)
        if a.type != b.type and "dynamic" in (a.type, b.type):
            a, b = to_string(a), to_string(b)
        conds.append(exp.EQ(this=a.sql, expression=b.sql))
    if not conds:
        raise p.semantic("join needs an `on` clause", op)
    on: exp.Expression = conds[0]
    for c2 in conds[1:]:
        on = exp.And(this=on, expression=c2)
    lsrc = left
    if kind == "innerunique":
        lsrc = dedupe(p, left, [c.this.copy() for c in conds])
        kind = "inner"
    lsub = lsrc.sql.subquery(lt, copy=False)
    rsub = right.sql.subquery(rt, copy=False)
    if kind in ("leftanti", "leftsemi", "rightanti", "rightsemi"):
        keep_left = kind.startswith("left")
        keep = left if keep_left else right
        ksub, osub = (lsub, rsub) if keep_left else (rsub, lsub)
        kt = lt if keep_left else rt
        exists = exp.Exists(
            this=exp.select(exp.Literal.number(1)).from_(osub, copy=False).where(on, copy=False)
        )
        pred = exists if kind.endswith("semi") else exp.Not(this=exists)
        sql = exp.select(*[col(n, kt) for n, _ in keep.cols]).from_(ksub, copy=False).where(pred, copy=False)
        cols = list(keep.cols)
        return Rel(
            exp.select(*[col(n) for n, _ in cols]).from_(sql.subquery(p.fresh(), copy=False), copy=False),
            cols,
        )
    taken = {n for n, _ in left.cols}
    proj: list[exp.Expression] = [alias(col(n, lt), n) for n, _ in left.cols]
    cols = list(left.cols)
    lookup_keys = set(lkeys) if op.lookup else set()
    for n, t in right.cols:
        if op.lookup and n in lookup_keys:
            continue
        out = unique(n, taken)
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


def dedupe(p: Planner, rel: Rel, key_exprs: list[exp.Expression]) -> Rel:
    """innerunique: one left row per join key (the first met), before an inner join."""
    keys = [k.transform(lambda n: col(n.name) if isinstance(n, exp.Column) else n) for k in key_exprs]
    sub, _ = p.wrap(rel)
    return Rel(p.dialect.one_per_key(sub, [n for n, _ in rel.cols], keys), rel.cols)


OPERATORS: list[Operator] = [
    operator(A.Join, {"join": parse_join, "lookup": parse_lookup}, lower_join),
]
