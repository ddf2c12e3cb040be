"""Operators over groups that need several SQL steps: make-series, top-nested (with others), partition."""

from __future__ import annotations

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.ir import Binding, Env, Operator, Planner, Rel, Scope, operator
from huntvault.kql.lowering.tables import default_aggregate_name, numbered, sets_need_positions, union_rels
from huntvault.kql.syntax import Cursor, Token
from huntvault.kql.syntax.expressions import assignment, assignments, options, parse_expr, parse_pipeline
from huntvault.kql.values import T, alias, call, col, convert, dtype, literal, null_of, to_dynamic, to_string


def parse_make_series(c: Cursor, t: Token) -> A.Node:
    aggs: list[tuple[A.Assign, A.Node | None]] = []
    nonempty = False
    while True:
        opts = options(c, {"kind"})
        if not opts:
            break
        kind = opts.get("kind")
        if kind is not None:
            if not (isinstance(kind, A.Name) and kind.name.lower() == "nonempty"):
                raise c.error("make-series kind= takes nonempty", t)
            nonempty = True
    while True:
        a = assignment(c)
        default = None
        if c.accept_word("default"):
            c.expect("=")
            default = parse_expr(c)
        aggs.append((a, default))
        if not c.accept(","):
            break
    c.expect_word("on")
    in_range = False
    if c.tok.kind == "ident" and c.peek().kind == "ident" and str(c.peek().value).lower() == "in":
        n = c.tok  # `on Axis in range(start, stop, step)`: the axis is a column name, `in` is no list test
        on: A.Node = A.Name(c.identifier("an axis column"), pos=n.pos)
    else:
        on = parse_expr(c)
    start = end = None
    if c.accept_word("in"):
        in_range = True
        c.expect_word("range")
        c.expect("(")
        start = parse_expr(c)
        c.expect(",")
        end = parse_expr(c)
        c.expect(",")
        step = parse_expr(c)
        c.expect(")")
    else:
        if c.accept_word("from"):
            start = parse_expr(c)
        if c.accept_word("to"):
            end = parse_expr(c)
        c.expect_word("step")
        step = parse_expr(c)
    by: list[A.Assign] = []
    if c.accept_word("by"):
        by = assignments(c)
    return A.MakeSeries(aggs, on, start, end, step, by, nonempty, in_range, pos=t.pos)


def parse_top_nested(c: Cursor, t: Token) -> A.Node:
    levels = []
    while True:
        s = c.tok
        count = None if c.at_word("of") else parse_expr(c)
        c.expect_word("of")
        of = assignment(c)
        others = None
        if c.accept_word("with"):
            c.expect_word("others")
            c.expect("=")
            others = parse_expr(c)
        c.expect_word("by")
        agg = assignment(c)
        desc = True
        if c.accept_word("asc"):
            desc = False
        else:
            c.accept_word("desc")
        levels.append(A.TopNestedLevel(count, of, others, agg, desc, pos=s.pos))
        if not c.accept(","):
            break
        if c.dashed_word() == "top-nested":
            c.consume_dashed("top-nested")
    return A.TopNested(levels, pos=t.pos)


def parse_partition(c: Cursor, t: Token) -> A.Node:
    options(c, set())
    c.expect_word("by")
    column = c.identifier("a column")
    options(c, set())
    if c.accept("{"):  # legacy strategy: a subquery with its own source, reading the key as a value
        body = parse_pipeline(c)
        c.expect("}")
    else:
        c.expect("(")
        body = parse_pipeline(c, allow_implicit=True)
        c.expect(")")
    if not isinstance(body, A.Pipeline):
        body = A.Pipeline(body, [], pos=body.pos)
    return A.Partition(column, body, pos=t.pos)


def _agg(p: Planner, rel: Rel, env: Env, item: A.Assign, counter: list[int]) -> tuple[str, T]:
    scope = p.scope_of(rel, env).with_aggregates([])
    v = p.compile(item.expr, scope)
    if not scope.aggregates:
        raise p.semantic("expected an aggregate function", item.expr)
    if item.names:
        return item.names[0], v
    expr = item.expr
    if isinstance(expr, A.Call) and p.aggregate(expr.name.lower()) is not None:
        arg = expr.args[0] if expr.args else None
        derived = p.compile(arg, p.scope_of(rel, env)).name if isinstance(arg, (A.Name, A.Member)) else None
        return default_aggregate_name(p, expr, derived), v
    counter[0] += 1
    return f"Column{counter[0]}", v


_NUMBERS = ("int", "long", "real", "decimal")
_AXIS_TYPES = ("datetime", "timespan", *_NUMBERS)


def _floor_to(micros: exp.Expression, step: exp.Expression) -> exp.Expression:
    """`micros` down to a multiple of `step` (bin())."""
    return exp.Mul(
        this=exp.Cast(this=call("floor", exp.Div(this=micros, expression=step.copy())), to=dtype("BIGINT")),
        expression=step.copy(),
    )


def lower_make_series(p: Planner, rel: Rel, op: A.MakeSeries, env: Env) -> Rel:
    """One row per `by` group: each aggregate as an array over the bins, and the bin starts as an array."""
    d = p.dialect
    if sets_need_positions(p, rel, [item.expr for item, _ in op.aggs], env, whole=True):
        rel = numbered(p, rel)  # make_set's first-seen order, the same on every run
    scope = p.scope_of(rel, env)
    axis = p.compile(op.on, scope)
    axis_name = axis.name or "Column1"
    step = p.compile(op.step, scope)
    if axis.type not in _AXIS_TYPES:
        raise p.semantic(f"make-series needs a datetime, timespan or numeric axis, not {axis.type}", op.on)
    if (axis.type in _NUMBERS) != (step.type in _NUMBERS) or step.type not in (*_NUMBERS, "timespan"):
        want = "a number" if axis.type in _NUMBERS else "a timespan"
        raise p.semantic(f"make-series step of a {axis.type} axis must be {want}", op.step)

    def line(v: exp.Expression) -> exp.Expression:
        """An axis value on the number line the bins are cut from (a datetime as epoch microseconds;
        a timespan is microseconds already)."""
        return d.epoch_us(v) if axis.type == "datetime" else v

    bounds = [p.compile(b, scope) for b in (op.start, op.end) if b is not None]
    base, _ = p.wrap(rel)
    start_us: exp.Expression
    if op.start is not None:
        start_us = line(p.compile(op.start, scope).sql)
    else:
        start_us = exp.Subquery(
            this=exp.select(exp.Min(this=line(axis.sql.copy()))).from_(base.copy(), copy=False)
        )
    if op.in_range and op.start is not None:  # the alternate syntax bins with bin(), not bin_at(start)
        start_us = _floor_to(start_us, step.sql)
    end_us: exp.Expression
    if op.end is not None and op.in_range:  # ... and its stop is inclusive
        end_us = exp.Add(
            this=_floor_to(line(p.compile(op.end, scope).sql), step.sql), expression=step.sql.copy()
        )
    elif op.end is not None:
        end_us = line(p.compile(op.end, scope).sql)
    else:
        end_us = exp.Add(
            this=exp.Subquery(
                this=exp.select(exp.Max(this=line(axis.sql.copy()))).from_(base.copy(), copy=False)
            ),
            expression=step.sql.copy(),
        )
    nbins = exp.Cast(
        this=call(
            "ceil",
            exp.Div(
                this=exp.Cast(this=exp.Sub(this=end_us, expression=start_us.copy()), to=dtype("DOUBLE")),
                expression=step.sql,
            ),
        ),
        to=dtype("BIGINT"),
    )
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
    binexpr = exp.Cast(
        this=call(
            "floor",
            exp.Div(
                this=exp.Sub(this=line(axis.sql.copy()), expression=start_us.copy()),
                expression=step.sql.copy(),
            ),
        ),
        to=dtype("BIGINT"),
    )
    in_range = exp.And(
        this=exp.GTE(this=line(axis.sql.copy()), expression=start_us.copy()),
        expression=exp.LT(this=line(axis.sql.copy()), expression=end_us.copy()),
    )
    agg_sql = (
        exp.select(
            *[alias(v.sql, n) for n, v in keys],
            alias(binexpr, "__bin"),
            *[alias(v.sql, n) for n, v, _ in aggs],
        )
        .from_(base.copy(), copy=False)
        .where(in_range, copy=False)
        .group_by(*[v.sql.copy() for _, v in keys], binexpr.copy(), copy=False)
    )
    key_sql = (
        exp.select(*[alias(v.sql.copy(), n) for n, v in keys] or [alias(exp.Literal.number(1), "__one")])
        .from_(base.copy(), copy=False)
        .distinct(copy=False)
    )
    if not keys and op.nonempty:  # one series of defaults even when no row comes in
        key_sql = exp.select(alias(exp.Literal.number(1), "__one"))
    grid = (
        exp.select(*[col(n, "k") for n, _ in keys], col("__bin", "g"))
        .from_(key_sql.subquery("k"), copy=False)
        .join(
            exp.Unnest(
                expressions=[call("range", exp.Literal.number(0), nbins)],
                alias=exp.TableAlias(this=exp.to_identifier("g"), columns=[exp.to_identifier("__bin")]),
            ),
            join_type="CROSS",
        )
    )
    on: exp.Expression = exp.EQ(this=col("__bin", "gr"), expression=col("__bin", "a"))
    for n, _ in keys:
        on = exp.And(this=on, expression=exp.NullSafeEQ(this=col(n, "gr"), expression=col(n, "a")))
    joined = (
        exp.select(*[col(n, "gr") for n, _ in keys], col("__bin", "gr"), *[col(n, "a") for n, _, _ in aggs])
        .from_(grid.subquery("gr"), copy=False)
        .join(agg_sql.subquery("a"), on=on, join_type="LEFT", copy=False)
    )
    outs: list[exp.Expression] = [col(n) for n, _ in keys]
    cols: list[tuple[str, str]] = [(n, v.type) for n, v in keys]
    for n, v, dv in aggs:
        raw = T(exp.Coalesce(this=col(n), expressions=[dv.sql]), v.type)
        if d.name != "duckdb" and v.type in ("dynamic", "datetime", "timespan"):
            raise p.unsupported(f"make-series of a {v.type} aggregate runs on the DuckDB engine only", op)
        as_json = to_dynamic(T(raw.sql.copy(), raw.type)).sql
        outs.append(alias(d.json_list_in_order(raw.sql, as_json, col("__bin")), n))
        cols.append((n, "dynamic"))
    point = exp.Add(this=start_us.copy(), expression=exp.Mul(this=col("__bin"), expression=step.sql.copy()))
    if axis.type == "datetime":
        stamp = T(to_string(T(d.from_epoch_us(point), "datetime")).sql, "string")
    elif axis.type == "timespan":
        stamp = T(point, "timespan")
    else:  # the bin starts keep a whole-number axis whole unless a bound or the step is fractional
        whole = all(v.type in ("int", "long") for v in (axis, step, *bounds))
        stamp = T(point, "long" if whole else "real")
    raw_stamp = to_string(stamp).sql if stamp.type == "timespan" else stamp.sql
    outs.append(alias(d.json_list_in_order(raw_stamp, to_dynamic(stamp).sql, col("__bin")), axis_name))
    cols.append((axis_name, "dynamic"))
    ordered = (
        exp.select(exp.Star())
        .from_(joined.subquery(p.fresh()), copy=False)
        .order_by(col("__bin"), copy=False)
    )
    final = exp.select(*outs).from_(ordered.subquery(p.fresh()), copy=False)
    if keys:
        final = final.group_by(*[col(n) for n, _ in keys], copy=False)
    elif not op.nonempty:  # an empty input makes no series (unless kind=nonempty)
        final = final.having(
            exp.GT(this=exp.Count(this=exp.Star()), expression=exp.Literal.number(0)), copy=False
        )
    return Rel(final, cols)


def _keys_match(keys: list[str], left: str, right: str) -> exp.Expression | None:
    on: exp.Expression | None = None
    for k in keys:
        cond = exp.NullSafeEQ(this=col(k, left), expression=col(k, right))
        on = cond if on is None else exp.And(this=on, expression=cond)
    return on


def lower_top_nested(p: Planner, rel: Rel, op: A.TopNested, env: Env) -> Rel:
    """Each level groups by the keys so far and keeps the top N groups within its parent group; a level
    `with others = C` adds, under each kept parent, one row (key C) aggregating the groups it did not keep,
    with the deeper levels' columns null."""
    if sets_need_positions(p, rel, [level.agg.expr for level in op.levels], env, whole=True):
        rel = numbered(p, rel)  # make_set's first-seen order, the same on every run
    scope = p.scope_of(rel, env)
    base_sub, _ = p.wrap(rel)
    keys: list[tuple[str, T]] = []
    out_cols: list[tuple[str, str]] = []
    kept_levels: list[exp.Select] = []
    aggs: list[tuple[str, T]] = []
    for level in op.levels:
        v = p.compile(level.of.expr, scope)
        name = level.of.names[0] if level.of.names else (v.name or f"Column{len(keys) + 1}")
        keys.append((name, v))
        av = p.compile(level.agg.expr, scope.with_aggregates([]))
        agg_name = level.agg.names[0] if level.agg.names else f"aggregated_{name}"
        aggs.append((agg_name, av))
        parents = [col(n) for n, _ in keys[:-1]]
        grouped = (
            exp.select(*[alias(k.sql.copy(), n) for n, k in keys], alias(av.sql.copy(), agg_name))
            .from_(base_sub.copy(), copy=False)
            .group_by(*[k.sql.copy() for _, k in keys], copy=False)
        )
        rn = exp.Window(
            this=call("row_number"),
            partition_by=parents or None,
            order=exp.Order(
                expressions=[exp.Ordered(this=col(agg_name), desc=level.desc, nulls_first=False)]
            ),
        )
        ranked = exp.select(exp.Star(), alias(rn, "__rn")).from_(grouped.subquery(p.fresh()), copy=False)
        kept = exp.select(*[col(n) for n, _ in keys], col(agg_name)).from_(
            ranked.subquery(p.fresh()), copy=False
        )
        if level.count is not None:
            kept = kept.where(
                exp.LTE(this=col("__rn"), expression=p.compile(level.count, scope).sql), copy=False
            )
        kept_levels.append(kept)
        out_cols += [(name, v.type), (agg_name, av.type)]
    # the chain of kept rows: level i joins level i-1 on the parent keys
    chains: list[exp.Select] = []
    chain_cols: list[str] = []
    chain: exp.Select | None = None
    for i, kept in enumerate(kept_levels):
        new_cols = [out_cols[2 * i][0], out_cols[2 * i + 1][0]]
        if chain is None:
            chain = exp.select(*[col(c) for c in new_cols]).from_(kept.subquery(p.fresh()), copy=False)
        else:
            la, ra = p.fresh("n"), p.fresh("n")
            on = _keys_match([n for n, _ in keys[:i]], la, ra)
            chain = (
                exp.select(*[col(c, la) for c in chain_cols], *[col(c, ra) for c in new_cols])
                .from_(chain.subquery(la), copy=False)
                .join(kept.subquery(ra), on=on, join_type="INNER", copy=False)
            )
        chain_cols += new_cols
        chains.append(chain)
    assert chain is not None
    parts: list[exp.Select] = [
        exp.select(*[col(c) for c, _ in out_cols]).from_(chain.subquery(p.fresh()), copy=False)
    ]
    for i, level in enumerate(op.levels):
        if level.others is None:
            continue
        parts.append(
            _others_rows(
                p,
                scope,
                level,
                i,
                keys,
                aggs,
                out_cols,
                base_sub,
                kept_levels[i],
                chains[i - 1] if i else None,
            )
        )
    final: exp.Expression = parts[0]
    for extra in parts[1:]:
        final = exp.union(final, extra, distinct=False)
    if len(parts) > 1:
        final = exp.select(*[col(c) for c, _ in out_cols]).from_(
            exp.Subquery(this=final, alias=exp.TableAlias(this=exp.to_identifier(p.fresh()))), copy=False
        )
    assert isinstance(final, exp.Select)
    return Rel(final, out_cols)


def _others_rows(
    p: Planner,
    scope: Scope,
    level: A.TopNestedLevel,
    i: int,
    keys: list[tuple[str, T]],
    aggs: list[tuple[str, T]],
    out_cols: list[tuple[str, str]],
    base_sub: exp.Subquery,
    kept: exp.Select,
    parents: exp.Select | None,
) -> exp.Select:
    """`with others`: per kept parent, the aggregate over the rows whose level key was not kept."""
    assert level.others is not None
    other = p.compile(level.others, scope)
    key_name, key_v = keys[i]
    agg_name, agg_v = aggs[i]
    parent_keys = [n for n, _ in keys[:i]]
    raw = p.fresh("r")
    flagged = exp.select(
        exp.Star(), *[alias(k.sql.copy(), f"__k{j}") for j, (_, k) in enumerate(keys[: i + 1])]
    ).from_(base_sub.copy(), copy=False)
    ka = p.fresh("k")
    on: exp.Expression | None = None
    for j, (n, _) in enumerate(keys[: i + 1]):
        cond = exp.NullSafeEQ(this=col(f"__k{j}", raw), expression=col(n, ka))
        on = cond if on is None else exp.And(this=on, expression=cond)
    marker = exp.select(*[col(n) for n, _ in keys[: i + 1]], alias(exp.true(), "__kept")).from_(
        kept.subquery(p.fresh()), copy=False
    )
    rest = (
        exp.select(exp.Star())
        .from_(flagged.subquery(raw), copy=False)
        .join(marker.subquery(ka), on=on, join_type="LEFT", copy=False)
        .where(exp.Is(this=col("__kept", ka), expression=exp.Null()), copy=False)
    )
    rest_sub = rest.subquery(p.fresh())
    # the aggregate is compiled over the original columns, so re-evaluate it over the unkept rows
    agg_sql = agg_v.sql.copy()
    grouped = (
        exp.select(*[alias(col(f"__k{j}"), n) for j, n in enumerate(parent_keys)], alias(agg_sql, agg_name))
        .from_(rest_sub, copy=False)
        .having(exp.GT(this=exp.Count(this=exp.Star()), expression=exp.Literal.number(0)), copy=False)
    )
    if parent_keys:
        grouped = grouped.group_by(*[col(f"__k{j}") for j in range(len(parent_keys))], copy=False)
    ga = p.fresh("g")
    value = convert(other, key_v.type).sql if other.type != key_v.type else other.sql
    cols_out: list[exp.Expression] = []
    known: dict[str, exp.Expression] = {}
    inner: exp.Subquery
    if parents is not None:
        pa_ = p.fresh("p")
        joined = (
            exp.select(*[col(c, pa_) for c, _ in out_cols[: 2 * i]], col(agg_name, ga))
            .from_(parents.subquery(pa_), copy=False)
            .join(grouped.subquery(ga), on=_keys_match(parent_keys, pa_, ga), join_type="INNER", copy=False)
        )
        inner = joined.subquery(p.fresh())
        known = {c: col(c) for c, _ in out_cols[: 2 * i]}
    else:
        inner = grouped.subquery(p.fresh())
    known[key_name] = value
    known[agg_name] = col(agg_name)
    for c, t in out_cols:
        cols_out.append(alias(known[c] if c in known else null_of(t).sql, c))
    return exp.select(*cols_out).from_(inner, copy=False)


def lower_partition(p: Planner, rel: Rel, op: A.Partition, env: Env) -> Rel:
    """partition by Col (subquery): the subquery runs on each value's rows (values found by a first query)."""
    if op.by not in dict(rel.cols):
        raise p.semantic(f"partition: unknown column {op.by!r}", op)
    key_type = dict(rel.cols)[op.by]
    key = to_string(T(col(op.by), key_type))
    probe = p.select(rel, [alias(key.sql, "v")]).distinct(copy=False)
    values = sorted(p.discover(probe))
    parts: list[tuple[str, Rel]] = []
    for value in values or [""]:
        cond: exp.Expression = exp.EQ(
            this=to_string(T(col(op.by), dict(rel.cols)[op.by])).sql, expression=exp.Literal.string(value)
        )
        if not values:
            cond = exp.false()
        piece = Rel(p.select(rel, p.star(rel)).where(cond, copy=False), rel.cols)
        # the key column's value of this partition, for a subquery with its own source (`toscalar(Key)`)
        keyed = {**env, op.by: Binding(value=convert(T(exp.Literal.string(value), "string"), key_type))}
        parts.append((value, p.pipeline(op.body, keyed, implicit=piece)))
    return union_rels(p, parts, "outer", None)


OPERATORS: list[Operator] = [
    operator(A.MakeSeries, {"make-series": parse_make_series}, lower_make_series),
    operator(A.TopNested, {"top-nested": parse_top_nested}, lower_top_nested),
    operator(A.Partition, {"partition": parse_partition}, lower_partition),
]
