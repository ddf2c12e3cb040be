"""summarize: group keys, aggregates (Kusto's default names), arg_max/arg_min expanded into columns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.ir import Env, Operator, Planner, Rel, Scope, SetInput, operator
from huntvault.kql.lowering.tables import (
    aggregate_inside,
    default_aggregate_name,
    first_column_name,
    numbered,
    sets_need_positions,
    sort_keys_of,
    unique,
)
from huntvault.kql.syntax import Cursor, Token
from huntvault.kql.syntax.expressions import assignments, options
from huntvault.kql.values import T, alias, call, col, dtype, ident


def parse_summarize(c: Cursor, t: Token) -> A.Node:
    opts = options(c, {"hint.shufflekey", "hint.strategy", "hint.num_partitions"})
    aggs: list[A.Assign] = []
    if not c.at_word("by") and not c.at_end():
        aggs = assignments(c)
    by: list[A.Assign] = []
    if c.accept_word("by"):
        by = assignments(c)
    return A.Summarize(aggs, by, opts, pos=t.pos)


def _empty_value(sql: exp.Expression, v: T) -> exp.Expression:
    """count-like aggregates give 0 on empty input without `by` (one row, as in Kusto)."""
    zero = exp.Cast(this=exp.Literal.number(0), to=dtype("BIGINT" if v.type != "real" else "DOUBLE"))
    return exp.Coalesce(this=sql, expressions=[zero])


def lower_summarize(p: Planner, rel: Rel, op: A.Summarize, env: Env) -> Rel:
    source = rel  # its columns are what `*` means (take_any(*), arg_max(x, *))
    if sets_need_positions(p, rel, [item.expr for item in op.aggs], env, whole=False):
        rel = numbered(p, rel)
    scope = p.scope_of(rel, env)
    keys: list[tuple[str, T]] = []
    counter = 0
    for item in op.by:
        v = p.compile(item.expr, scope)
        name = item.names[0] if item.names else (v.name if v.name else None)
        if not item.names and name is None:
            name = first_column_name(item.expr)
        if name is None:
            counter += 1
            name = f"Column{counter}"
        keys.append((name, v))
    taken = {n for n, _ in keys}
    out = _Output(
        inner=[alias(v.sql, n) for n, v in keys],
        outer=[col(n) for n, _ in keys],
        cols=[(n, v.type) for n, v in keys],
        taken=taken,
    )
    has_struct = False
    sets: list[_Set] = []
    for item in op.aggs:
        expr = item.expr
        agg = p.aggregate(expr.name.lower()) if isinstance(expr, A.Call) else None
        if isinstance(expr, A.Call) and agg is not None and agg.extreme is not None:
            has_struct = True
            arg_extreme(p, source, scope, item, expr, agg.extreme, keys, out)
            continue
        agg_scope = scope.with_aggregates([])
        v = p.compile(expr, agg_scope)
        if not agg_scope.aggregates:
            raise p.semantic(
                "summarize needs an aggregate function here (count(), dcount(), make_set()...)", expr
            )
        if v.parts:  # several results (percentiles: percentile_x_50, percentile_x_95...), one column each
            for i, (part_name, part) in enumerate(v.parts):
                names = item.names or []
                name = unique(names[i] if i < len(names) else part_name, out.taken)
                out.taken.add(name)
                out.inner.append(alias(part.sql, name))
                out.outer.append(col(name))
                out.cols.append((name, part.type))
            continue
        inner_agg = aggregate_inside(p, expr) if isinstance(expr, A.Call) else None
        if item.names:
            name = item.names[0]
        elif inner_agg is not None:
            expr = inner_agg
            arg = expr.args[0] if expr.args else None
            derived = (
                p.compile(arg, scope).name if isinstance(arg, (A.Name, A.Member, A.Index, A.Call)) else None
            )
            name = default_aggregate_name(p, expr, derived)
        else:
            counter += 1
            name = f"Column{counter}"
        name = unique(name, out.taken)
        out.taken.add(name)
        collects = _first_seen(p, scope, item.expr)
        if collects is not None:  # make_set: its own two-level pre-aggregation, joined on the keys
            sets.append(_Set(name, collects, p.fresh("ms")))
            out.outer.append(alias(sets[-1].result(), name))
            out.cols.append((name, v.type))
            continue
        sql = v.sql
        top = p.aggregate(expr.name.lower()) if isinstance(expr, A.Call) else None
        if not keys and top is not None and top.empty == "0":
            sql = _empty_value(sql, v)
        out.inner.append(alias(sql, name))
        out.outer.append(col(name))
        out.cols.append((name, v.type))
    sub, _ = p.wrap(rel)
    if sets:
        return Rel(_with_sets(p, sub, keys, out, sets, sort_keys_of(rel)), out.cols)
    sql = exp.select(*out.inner).from_(sub, copy=False)
    if keys:
        sql = sql.group_by(*[v.sql.copy() for _, v in keys], copy=False)
    if has_struct:
        sql = exp.select(*out.outer).from_(sql.subquery(p.fresh(), copy=False), copy=False)
    return Rel(sql, out.cols)


def _first_seen(p: Planner, scope: Scope, expr: A.Node) -> SetInput | None:
    """What a make_set/make_set_if that is the whole aggregate expression collects, on DuckDB (None: the
    aggregate's one-level lowering, as on Spark and inside expressions)."""
    if p.dialect.name != "duckdb" or not isinstance(expr, A.Call) or expr.name in scope.env:
        return None
    agg = p.aggregate(expr.name.lower())
    if agg is None or agg.first_seen is None:
        return None
    return agg.first_seen([p.compile(a, scope) for a in expr.args])


@dataclass
class _Set:
    """A first-seen set aggregate of this summarize: its output column, what it collects, and the alias
    of its pre-aggregated subquery (also the name of that subquery's list column)."""

    name: str
    collects: SetInput
    alias: str

    def result(self) -> exp.Expression:
        """The dynamic value: the group's list (sliced to the size limit), `[]` for a group without items."""
        values: exp.Expression = col(self.alias, self.alias)
        if self.collects.limit is not None:
            values = call("list_slice", values, exp.Literal.number(1), self.collects.limit.copy())
        as_json = exp.Cast(this=exp.Cast(this=values, to=dtype("JSON[]")), to=dtype("JSON"))
        return exp.Coalesce(
            this=as_json, expressions=[exp.Cast(this=exp.Literal.string("[]"), to=dtype("JSON"))]
        )


def _with_sets(
    p: Planner,
    sub: exp.Subquery,
    keys: list[tuple[str, T]],
    out: _Output,
    sets: list[_Set],
    order: list[exp.Ordered] | None = None,
) -> exp.Select:
    """summarize with first-seen sets (make_set keeps Kusto's first-seen order), in two levels per set: the
    first row position of each (keys, value), then per group one list ordered by it (`list(v ORDER BY
    first)`). One pass over the input numbers its rows (`row_number() OVER ()`: the order the rows arrive,
    as a one-level `list()` sees them; `OVER (ORDER BY keys)` after a sort: its order, on any plan) and computes the keys; the other aggregates group it as usual; each
    set's subquery is joined to them on the keys (null keys match). Without other aggregates the first
    set's subquery keeps every group itself (a group without items has a null value) and carries the
    others."""
    pos = p.fresh("pos")
    knames = [p.fresh("k") for _ in keys]
    src_name = p.fresh("src")
    keyed = exp.select(
        exp.Star(),
        *[alias(v.sql.copy(), k) for (_, v), k in zip(keys, knames, strict=True)],
        alias(exp.Window(this=exp.RowNumber(), order=exp.Order(expressions=order) if order else None), pos),
    ).from_(sub, copy=False)

    def source() -> exp.Table:
        return exp.Table(this=ident(src_name))

    others = out.inner[len(keys) :]
    carrier = None if others else sets[0]
    parts: list[tuple[exp.Select, str]] = []  # (subquery, alias) joined in order
    if carrier is None:
        main_name = p.fresh("mg")
        main = exp.select(*[alias(col(k), n) for (n, _), k in zip(keys, knames, strict=True)], *others)
        main = main.from_(source(), copy=False)
        if keys:
            main = main.group_by(*[col(k) for k in knames], copy=False)
        parts.append((main, main_name))
        base_keys = [col(n, main_name) for n, _ in keys]
        outer_keys = [alias(col(n, main_name), n) for n, _ in keys]
    else:
        base_keys = [col(k, carrier.alias) for k in knames]
        outer_keys = [alias(col(k, carrier.alias), n) for (n, _), k in zip(keys, knames, strict=True)]
    for s in sets:
        parts.append((_set_subquery(p, source, knames, pos, s, carries=s is carrier), s.alias))
    first, first_name = parts[0]
    sql = exp.select(*outer_keys, *out.outer[len(keys) :]).from_(
        first.subquery(first_name, copy=False), copy=False
    )
    for part, name in parts[1:]:
        on = [
            exp.NullSafeEQ(this=b.copy(), expression=col(k, name))
            for b, k in zip(base_keys, knames, strict=True)
        ]
        sql = sql.join(
            part.subquery(name, copy=False),
            on=exp.and_(*on) if on else None,
            join_type="left" if on else "cross",
            copy=False,
        )
    sql = sql.with_(src_name, as_=keyed, copy=False)
    # the WITH stays inside: the query's own CTEs (lets, which the input may read) go on the outside
    return exp.select(exp.Star()).from_(sql.subquery(p.fresh(), copy=False), copy=False)


def _set_subquery(
    p: Planner, source: Callable[[], exp.Table], knames: list[str], pos: str, s: _Set, carries: bool
) -> exp.Select:
    """One set's two levels over the numbered input: (keys, item, first position) then (keys, list). A set
    that carries the groups keeps the rows it skips as a null item, so every group has a row."""
    c = s.collects
    keys = [col(k) for k in knames]
    item_name, first = "hv_item", "hv_first"
    if c.flatten:  # a dynamic value: an array adds its elements, in their order, at its row's position
        as_list = exp.Case(
            ifs=[
                exp.If(
                    this=exp.EQ(
                        this=call("json_type", c.item.copy()), expression=exp.Literal.string("ARRAY")
                    ),
                    true=exp.Cast(this=c.item.copy(), to=dtype("JSON[]")),
                )
            ],
            default=exp.Array(expressions=[c.item.copy()]),
        )
        lists = exp.select(*keys, alias(as_list, "hv_list"), col(pos)).from_(source(), copy=False)
        if carries:  # a skipped row, or one adding no element, still gives its group one (null) item
            lists = lists.select(alias(c.where.copy(), "hv_keep"), copy=False)
            keep = exp.And(
                this=col("hv_keep"),
                expression=exp.GT(this=call("len", col("hv_list")), expression=exp.Literal.number(0)),
            )
            nulls = exp.Array(expressions=[exp.Null()])
            listed: exp.Expression = exp.Case(ifs=[exp.If(this=keep, true=col("hv_list"))], default=nulls)
        else:
            lists = lists.where(c.where.copy(), copy=False)
            listed = col("hv_list")
        rows = exp.select(
            *[col(k) for k in knames],
            alias(call("unnest", listed), item_name),
            alias(call("generate_subscripts", listed.copy(), exp.Literal.number(1)), "hv_index"),
            col(pos),
        ).from_(lists.subquery(p.fresh(), copy=False), copy=False)
        position: exp.Expression = call(
            "struct_pack",
            exp.PropertyEQ(this=exp.to_identifier("p"), expression=col(pos)),
            exp.PropertyEQ(this=exp.to_identifier("i"), expression=col("hv_index")),
        )
    else:
        item = c.item.copy()
        if carries:
            item = exp.Case(ifs=[exp.If(this=c.where.copy(), true=item)])
        rows = exp.select(*keys, alias(item, item_name), col(pos)).from_(source(), copy=False)
        if not carries:
            rows = rows.where(c.where.copy(), copy=False)
        position = col(pos)
    firsts = exp.select(*[col(k) for k in knames], col(item_name), alias(call("min", position), first))
    firsts = firsts.from_(rows.subquery(p.fresh(), copy=False), copy=False)
    firsts = firsts.group_by(*[col(k) for k in knames], col(item_name), copy=False)
    ordered: exp.Expression = call(
        "list", exp.Order(this=col(item_name), expressions=[exp.Ordered(this=col(first))])
    )
    ordered = exp.Filter(
        this=ordered,
        expression=exp.Where(this=exp.Not(this=exp.Is(this=col(item_name), expression=exp.Null()))),
    )
    grouped = exp.select(*[col(k) for k in knames], alias(ordered, s.alias))
    grouped = grouped.from_(firsts.subquery(p.fresh(), copy=False), copy=False)
    if knames:
        grouped = grouped.group_by(*[col(k) for k in knames], copy=False)
    return grouped


@dataclass
class _Output:
    """The SELECT being built: aggregate-level projections, the outer projections, columns, names taken."""

    inner: list[exp.Expression]
    outer: list[exp.Expression]
    cols: list[tuple[str, str]]
    taken: set[str]


def arg_extreme(
    p: Planner,
    rel: Rel,
    scope: Scope,
    item: A.Assign,
    expr: A.Call,
    kind: str,
    keys: list[tuple[str, T]],
    out: _Output,
) -> None:
    """arg_max(by, cols...)/arg_min: one struct of the row's values per group, unpacked into columns.
    take_any(a, b...)/take_any(*) (kind "any"): the values of one row of the group, named as the columns
    (the legacy any() adds `any_`)."""
    if not expr.args:
        raise p.semantic(f"{expr.name}() needs the expression to maximise", expr)
    if kind == "any":
        take_any(p, rel, scope, item, expr, keys, out)
        return
    target = p.compile(expr.args[0], scope)
    target_name = target.name if isinstance(expr.args[0], (A.Name, A.Member)) and target.name else f"{kind}_"
    fields: list[tuple[str, T]] = [(target_name, target)]
    key_names = {n for n, _ in keys}
    for a in expr.args[1:]:
        if isinstance(a, A.Star):
            for n, t in rel.cols:
                if n not in key_names and n != target_name and n not in {f for f, _ in fields}:
                    fields.append((n, T(col(n), t)))
        else:
            v = p.compile(a, scope)
            fields.append((v.name or f"{kind}_{len(fields)}", v))
    if item.names:
        for i, n in enumerate(item.names[: len(fields)]):
            fields[i] = (n, fields[i][1])
    struct_name = p.fresh("am")
    packed = call(
        "struct_pack",
        *[
            exp.PropertyEQ(this=exp.to_identifier(f"f{i}"), expression=v.sql)
            for i, (_, v) in enumerate(fields)
        ],
    )
    func = "arg_max" if kind == "max" else "arg_min"
    # a group whose target is null on every row still gives a row (its first one), as Kusto does
    chosen = exp.Coalesce(this=call(func, packed, target.sql), expressions=[call("first", packed.copy())])
    out.inner.append(alias(chosen, struct_name))
    for i, (n, v) in enumerate(fields):
        name = unique(n, out.taken)
        out.taken.add(name)
        out.outer.append(alias(call("struct_extract", col(struct_name), exp.Literal.string(f"f{i}")), name))
        out.cols.append((name, v.type))


def take_any(
    p: Planner, rel: Rel, scope: Scope, item: A.Assign, expr: A.Call, keys: list[tuple[str, T]], out: _Output
) -> None:
    key_names = {n for n, _ in keys}
    fields: list[tuple[str, T]] = []
    for a in expr.args:
        if isinstance(a, A.Star):
            fields += [(n, T(col(n), t)) for n, t in rel.cols if n not in key_names]
        else:
            v = p.compile(a, scope)
            fields.append((v.name or f"any_{len(fields)}", v))
    prefix = "any_" if expr.name.lower() == "any" else ""
    fields = [(prefix + n, v) for n, v in fields]
    if item.names:
        for i, n in enumerate(item.names[: len(fields)]):
            fields[i] = (n, fields[i][1])
    if len(fields) == 1:  # one column: a non-null value when the group has one (any_value skips nulls)
        name, v = fields[0]
        name = unique(name, out.taken)
        out.taken.add(name)
        value = call("any_value", v.sql)
        if v.type == "string":  # and a non-empty one
            nonempty = exp.Filter(
                this=call("any_value", v.sql.copy()),
                expression=exp.Where(this=exp.NEQ(this=v.sql.copy(), expression=exp.Literal.string(""))),
            )
            value = exp.Coalesce(this=nonempty, expressions=[value])
        out.inner.append(alias(value, name))
        out.outer.append(col(name))
        out.cols.append((name, v.type))
        return
    struct_name = p.fresh("ta")
    packed = call(
        "struct_pack",
        *[
            exp.PropertyEQ(this=exp.to_identifier(f"f{i}"), expression=v.sql)
            for i, (_, v) in enumerate(fields)
        ],
    )
    out.inner.append(alias(call("first", packed), struct_name))
    for i, (n, v) in enumerate(fields):
        name = unique(n, out.taken)
        out.taken.add(name)
        out.outer.append(alias(call("struct_extract", col(struct_name), exp.Literal.string(f"f{i}")), name))
        out.cols.append((name, v.type))


OPERATORS: list[Operator] = [
    operator(A.Summarize, {"summarize": parse_summarize}, lower_summarize),
]
