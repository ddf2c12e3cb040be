"""Array expansion: mv-expand (bags, several columns, with_itemindex, limit) and mv-apply (a subquery per row)."""

from __future__ import annotations

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.ir import Env, Operator, Planner, Rel, operator
from huntvault.kql.lowering.tables import const_int
from huntvault.kql.syntax import Cursor, Token
from huntvault.kql.syntax.expressions import assignment, options, parse_expr, parse_pipeline
from huntvault.kql.values import T, alias, call, col, convert, dtype, to_dynamic

JSON = dtype("JSON")
#: the legacy `mvexpand` keeps at most this many items per row
LEGACY_LIMIT = 128


def _items(c: Cursor) -> list[A.MvExpandItem]:
    items = []
    while True:
        s = c.tok
        a = assignment(c)
        to_type = None
        if c.accept_word("to"):
            c.expect_word("typeof")
            c.expect("(")
            to_type = c.type_name()
            c.expect(")")
        items.append(A.MvExpandItem(a.names[0] if a.names else None, a.expr, to_type, pos=s.pos))
        if not c.accept(","):
            return items


def parse_mv_expand(c: Cursor, t: Token) -> A.Node:
    legacy = str(t.value).lower() == "mvexpand"
    opts = options(c, {"bagexpansion", "with_itemindex", "kind"})
    items = _items(c)
    limit = parse_expr(c) if c.accept_word("limit") else None
    return A.MvExpand(items, opts, limit, legacy, pos=t.pos)


def _item_list(p: Planner, j: exp.Expression, pairs: bool) -> exp.Expression:
    """A dynamic value's items: an array's elements, a bag's properties (one-key bags, or [key, value]
    pairs when `pairs`), a scalar as itself."""
    d = p.dialect
    jt = d.json_type(j)
    return exp.Case(
        ifs=[
            exp.If(this=exp.EQ(this=jt, expression=exp.Literal.string("ARRAY")), true=d.json_list(j.copy())),
            exp.If(
                this=exp.EQ(this=jt.copy(), expression=exp.Literal.string("OBJECT")),
                true=d.bag_entries(j, pairs),
            ),
        ],
        default=call("list_value", exp.Cast(this=j.copy(), to=JSON.copy())),
    )


def lower_mv_expand(p: Planner, rel: Rel, op: A.MvExpand, env: Env) -> Rel:
    scope = p.scope_of(rel, env)
    d = p.dialect
    bagmode = None
    for key in ("bagexpansion", "kind"):  # `kind=array` is the documented spelling of bagexpansion=array
        chosen = op.options.get(key)
        if isinstance(chosen, A.Name):
            bagmode = chosen.name.lower()
    index_col = None
    if "with_itemindex" in op.options and isinstance(op.options["with_itemindex"], A.Name):
        index_col = op.options["with_itemindex"].name
    expanded: list[tuple[str, str | None, exp.Expression]] = []
    sources: list[exp.Expression] = []  # each expanded value computed once, below the UNNEST
    for i, item in enumerate(op.items):
        v = p.compile(item.expr, scope)
        name = item.name or v.name or "Column1"
        j = (
            v.sql
            if v.type == "dynamic"
            else (d.try_json(v.sql) if v.type in ("string", "guid") else to_dynamic(v).sql)
        )
        if not isinstance(j, exp.Column):
            sources.append(alias(j, f"__mvsrc{i}"))
            j = col(f"__mvsrc{i}")
        expanded.append((name, item.to_type, d.expand_items(j, bagmode == "array")))
    names = {n for n, _, _ in expanded}
    keep = [(n, t) for n, t in rel.cols if n not in names]
    if sources:
        rel = Rel(p.select(rel, [*p.star(rel), *sources]), rel.cols, rel.order)
    limit = None
    if op.limit is not None:
        limit = const_int(p, op.limit, env)
    elif op.legacy:
        limit = LEGACY_LIMIT
    source, _ = p.wrap(rel)
    lists = [items for _, _, items in expanded]
    sub = d.zip_unnest(source, [n for n, _ in keep], lists, bool(index_col) or limit is not None)
    outer: list[exp.Expression] = []
    cols: list[tuple[str, str]] = []
    known = rel.types()
    mapping: dict[str, tuple[exp.Expression, str]] = {}
    for i, (n, to_type, _) in enumerate(expanded):
        v = T(col(f"__mv{i}"), "dynamic")
        if to_type:
            v = convert(v, to_type)
        mapping[n] = (v.sql, to_type or "dynamic")
    for n, t in rel.cols:
        if n in mapping:
            outer.append(alias(mapping[n][0], n))
            cols.append((n, mapping[n][1]))
        else:
            outer.append(col(n))
            cols.append((n, t))
    for n, (e, t) in mapping.items():
        if n not in known:
            outer.append(alias(e, n))
            cols.append((n, t))
    if index_col:
        outer.append(alias(col("__mvidx"), index_col))
        cols.append((index_col, "long"))
    sql = exp.select(*outer).from_(sub.subquery(p.fresh(), copy=False), copy=False)
    if limit is not None:
        sql = sql.where(exp.LT(this=col("__mvidx"), expression=exp.Literal.number(limit)), copy=False)
    return Rel(sql, cols)


def parse_mv_apply(c: Cursor, t: Token) -> A.Node:
    opts = options(c, {"with_itemindex"})
    items = _items(c)
    limit = parse_expr(c) if c.accept_word("limit") else None
    c.expect_word("on")
    c.expect("(")
    body = parse_pipeline(c, allow_implicit=True)
    c.expect(")")
    if not isinstance(body, A.Pipeline):
        body = A.Pipeline(None, [], pos=body.pos)
    return A.MvApply(items, opts, body, limit, pos=t.pos)


def lower_mv_apply(p: Planner, rel: Rel, op: A.MvApply, env: Env, zipped: bool = False) -> Rel:
    """Each row's array becomes a small table, the subquery runs on it (a LATERAL join), results join the row.

    `zipped` (Spark, which allows one generator per SELECT): several arrays and the item index come from one
    explode of the positions (the dialect's zip_unnest, as mv-expand), not from one UNNEST each."""
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
        unnests.append(alias(exp.Unnest(expressions=[_item_list(p, j, False)]), name))
        names.append(name)
        types.append(item.to_type or "dynamic")
    index = op.options.get("with_itemindex")
    if isinstance(index, A.Name) and unnests:
        first = unnests[0].this.expressions[0].copy()
        unnests.append(alias(exp.Unnest(expressions=[call("range", call("len", first))]), index.name))
        names.append(index.name)
        types.append("long")
    # the subquery's table: the row's own columns, one row per array item (the expanded ones replaced)
    carried = [(n, t) for n, t in rel.cols if n not in names]
    inner_raw = exp.select(*[alias(col(n, outer), n) for n, _ in carried], *unnests)
    if zipped:
        arrays = [u.this.expressions[0] for u in unnests[: len(op.items)]]
        row = exp.select(
            *[alias(col(n, outer), n) for n, _ in carried],
            *[alias(a, n) for a, n in zip(arrays, names, strict=False)],
        )
        zipped_sql = d.zip_unnest(
            row.subquery(p.fresh(), copy=False),
            [n for n, _ in carried],
            [col(n) for n in names[: len(arrays)]],
            True,
        )
        picks = [alias(col(f"__mv{i}"), n) for i, n in enumerate(names[: len(arrays)])]
        if len(names) > len(arrays):
            picks.append(alias(col("__mvidx"), names[-1]))
        inner_raw = exp.select(*[col(n) for n, _ in carried], *picks).from_(
            zipped_sql.subquery(p.fresh(), copy=False), copy=False
        )
    conv: list[exp.Expression] = [col(n) for n, _ in carried]
    for n, t in zip(names, types, strict=True):
        if isinstance(index, A.Name) and n == index.name:  # the item index is an integer already
            conv.append(alias(exp.Cast(this=col(n), to=dtype("BIGINT")), n))
        else:
            conv.append(alias(convert(T(col(n), "dynamic"), t).sql if t != "dynamic" else col(n), n))
    inner = Rel(
        exp.select(*conv).from_(inner_raw.subquery(p.fresh(), copy=False), copy=False),
        carried + list(zip(names, types, strict=True)),
    )
    applied = p.pipeline(op.body, env, implicit=inner)
    inner_alias = p.fresh("i")
    applied_names = applied.types()
    keep = [(n, t) for n, t in rel.cols if n not in applied_names and n not in names]
    proj = [col(n, outer) for n, _ in keep] + [col(n, inner_alias) for n, _ in applied.cols]
    lateral = exp.Lateral(
        this=exp.Subquery(this=applied.sql), alias=exp.TableAlias(this=exp.to_identifier(inner_alias))
    )
    sql = (
        exp.select(*proj)
        .from_(rel.sql.subquery(outer, copy=False), copy=False)
        .join(lateral, join_type="CROSS", copy=False)
    )
    return Rel(
        exp.select(*[col(n) for n, _ in keep + applied.cols]).from_(
            sql.subquery(p.fresh(), copy=False), copy=False
        ),
        keep + applied.cols,
    )


def spark_mv_apply(p: Planner, rel: Rel, op: A.MvApply, env: Env) -> Rel:
    """Spark: several arrays or with_itemindex are zipped by one explode of the positions (Spark allows one
    generator per SELECT)."""
    return lower_mv_apply(p, rel, op, env, zipped=len(op.items) > 1 or "with_itemindex" in op.options)


OPERATORS: list[Operator] = [
    operator(A.MvExpand, {"mv-expand": parse_mv_expand, "mvexpand": parse_mv_expand}, lower_mv_expand),
    operator(
        A.MvApply,
        {"mv-apply": parse_mv_apply, "mvapply": parse_mv_apply},
        lower_mv_apply,
        spark=spark_mv_apply,
    ),
]
