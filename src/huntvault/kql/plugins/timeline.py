"""Plugins over a timeline or the serialized rows: rows_near, rolling_percentile, sliding_window_counts,
active_users_count (activity_counts_metrics is with the other activity plugins, in engagement.py). Each is one SQL template (`lowering.template`) over the input with internal column
names; times are handled as epoch microseconds and given back as datetimes."""

from __future__ import annotations

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.ir import Env, Planner, Plugin, Rel
from huntvault.kql.lowering.template import from_template
from huntvault.kql.lowering.timelines import check_window_count, column_name, compile_args, micros
from huntvault.kql.values import T, alias, as_bool, col


def _input(p: Planner, rel: Rel, items: list[tuple[str, exp.Expression]]) -> exp.Select:
    return p.select(rel, [alias(e, n) for n, e in items])


def lower_rows_near(p: Planner, rel: Rel, node: A.Call, env: Env) -> Rel:
    """rows_near(predicate, before [, after]): the rows from `before` rows before to `after` rows after a row
    where the predicate holds, in the input's order (serialized rows): a row is kept when a hit lies within
    `after` rows before it or `before` rows after it."""
    args = compile_args(p, rel, node, env, 2, 3)
    pred, before = args[0], args[1]
    after = args[2] if len(args) > 2 else before
    for v in (before, after):
        if not (v.is_const and isinstance(v.const, int) and v.const >= 0):
            raise p.semantic("rows_near(): the row counts must be non-negative constant integers", node)
    order = [o.copy() for o in rel.order] if rel.order else [exp.Ordered(this=exp.Literal.number(1))]
    numbered = p.select(
        rel,
        [
            *p.star(rel),
            alias(exp.Window(this=exp.RowNumber(), order=exp.Order(expressions=order)), "__rn"),
            alias(
                exp.Case(
                    ifs=[exp.If(this=as_bool(pred), true=exp.Literal.number(1))],
                    default=exp.Literal.number(0),
                ),
                "__hit",
            ),
        ],
    )
    sql = from_template(
        f"SELECT * FROM (SELECT *, MAX(__hit) OVER (ORDER BY __rn ROWS BETWEEN {int(after.const)} PRECEDING"
        f" AND {int(before.const)} FOLLOWING) AS __near FROM inp) AS n WHERE __near = 1 ORDER BY __rn",
        {"inp": numbered},
    )
    out = exp.select(*[col(n) for n, _ in rel.cols]).from_(sql.subquery(p.fresh(), copy=False), copy=False)
    return Rel(out, list(rel.cols))


#: the nearest-rank percentile of x.__v at __q: DuckDB's QUANTILE_DISC, Spark's PERCENTILE_DISC WITHIN GROUP
_PERCENTILE = {False: "QUANTILE_DISC(x.__v, __q)", True: "PERCENTILE_DISC(__q) WITHIN GROUP (ORDER BY x.__v)"}


def lower_rolling_percentile(p: Planner, rel: Rel, node: A.Call, env: Env) -> Rel:
    """rolling_percentile(Value, Percentile, Index, BinSize, BinsToTake [, dims...]): per bin (and dimension
    values), the nearest-rank percentile of the values of that bin and the BinsToTake-1 bins before it."""
    args = compile_args(p, rel, node, env, 5, 64)
    value, pct, index, size, take = args[:5]
    if not (take.is_const and isinstance(take.const, int) and take.const > 0):
        raise p.semantic("rolling_percentile(): BinsToTake must be a positive constant integer", node)
    if not (pct.is_const and isinstance(pct.const, (int, float))):
        raise p.semantic("rolling_percentile(): the percentile must be a constant number", node)
    dims = args[5:]
    dim_names = [column_name(n, f"dim{i}") for i, n in enumerate(node.args[5:])]
    index_name = column_name(node.args[2], "Index")
    value_name = column_name(node.args[0], "value")
    pct_text = f"{pct.const:g}".replace(".", "_")
    out_name = f"rolling_{take.const}_percentile_{value_name}_{pct_text}"
    keys = [f"__d{i}" for i in range(len(dims))]
    items = [("__v", value.sql), ("__b", exp.Paren(this=micros(p, index)))] + [
        (k, d.sql) for k, d in zip(keys, dims, strict=True)
    ]
    bin_expr = "FLOOR(__b / __size) * __size"
    inp = _input(p, rel, items)
    dim_sel = "".join(f", {k}" for k in keys)
    dim_join = "".join(f" AND x.{k} IS NOT DISTINCT FROM g.{k}" for k in keys)
    dim_out = "".join(f", g.{k}" for k in keys)
    sql = from_template(
        f"SELECT g.__bin{dim_out}, {_PERCENTILE[p.dialect.name == 'spark']} AS __p FROM"
        f" (SELECT DISTINCT {bin_expr} AS __bin{dim_sel} FROM inp) AS g"
        f" JOIN (SELECT __v, {bin_expr} AS __bin{dim_sel} FROM inp) AS x"
        f" ON x.__bin > g.__bin - __take * __size AND x.__bin <= g.__bin{dim_join}"
        f" GROUP BY g.__bin{dim_out}",
        {"inp": inp},
        {
            "__size": exp.Cast(this=size.sql, to=exp.DataType.build("DOUBLE")),
            "__take": exp.Literal.number(int(take.const)),
            "__q": exp.Literal.number(float(pct.const) / 100.0),
        },
    )
    index_out: exp.Expression = col("__bin")
    if index.type == "datetime":
        index_out = p.dialect.from_epoch_us(index_out)
    elif index.type in ("long", "int", "timespan"):
        index_out = exp.Cast(this=index_out, to=exp.DataType.build("BIGINT"))
    proj = [alias(index_out, index_name)] + [alias(col(k), n) for k, n in zip(keys, dim_names, strict=True)]
    proj.append(alias(col("__p"), out_name))
    cols = [(index_name, index.type)] + [(n, d.type) for n, d in zip(dim_names, dims, strict=True)]
    cols.append((out_name, value.type if value.type in ("long", "int", "real") else "real"))
    return Rel(exp.select(*proj).from_(sql.subquery(p.fresh(), copy=False), copy=False), cols)


def _timeline(p: Planner, node: A.Call, args: list[T], at: int) -> None:
    for v in args[at:]:
        if not v.is_const or v.const is None:
            raise p.semantic(f"{node.name}(): the window arguments must be constants", node)


def lower_sliding_window_counts(p: Planner, rel: Rel, node: A.Call, env: Env) -> Rel:
    """sliding_window_counts(Id, Time, Start, End, Lookback, Bin [, dims]): per bin from Start to End, the
    count and distinct count of Id over the Lookback window that ends with the bin."""
    args = compile_args(p, rel, node, env, 6, 64)
    ident_v, time, start, end, lookback, size = args[:6]
    _timeline(p, node, args[:6], 2)
    check_window_count(p, node, start, end, size)
    dims = args[6:]
    dim_names = [column_name(n, f"dim{i}") for i, n in enumerate(node.args[6:])]
    keys = [f"__d{i}" for i in range(len(dims))]
    items = [("__id", ident_v.sql), ("__t", micros(p, time))] + [
        (k, d.sql) for k, d in zip(keys, dims, strict=True)
    ]
    dim_sel = "".join(f", {k}" for k in keys)
    dim_join = "".join(f" AND x.{k} IS NOT DISTINCT FROM g.{k}" for k in keys)
    dim_out = "".join(f", g.{k}" for k in keys)
    sql = from_template(
        f"SELECT g.__b{dim_out}, COUNT(x.__id) AS __count, COUNT(DISTINCT x.__id) AS __dcount FROM"
        f" (SELECT r.__b{dim_sel} FROM (SELECT UNNEST(GENERATE_SERIES(CAST(__start AS BIGINT),"
        f" CAST(__end AS BIGINT), CAST(__size AS BIGINT))) AS __b) AS r"
        f" CROSS JOIN (SELECT DISTINCT 1 AS __one{dim_sel} FROM inp) AS k) AS g"
        f" LEFT JOIN inp AS x ON x.__t >= g.__b - __lookback + __size AND x.__t < g.__b + __size{dim_join}"
        f" GROUP BY g.__b{dim_out}",
        {"inp": _input(p, rel, items)},
        {
            "__start": micros(p, start),
            "__end": micros(p, end),
            "__size": size.sql,
            "__lookback": lookback.sql,
        },
    )
    time_name = column_name(node.args[1], "Timestamp")
    proj = [alias(p.dialect.from_epoch_us(col("__b")), time_name)]
    proj += [alias(col(k), n) for k, n in zip(keys, dim_names, strict=True)]
    proj += [alias(col("__count"), "Count"), alias(col("__dcount"), "dcount")]
    cols = [(time_name, "datetime"), *[(n, d.type) for n, d in zip(dim_names, dims, strict=True)]]
    cols += [("Count", "long"), ("dcount", "long")]
    return Rel(exp.select(*proj).from_(sql.subquery(p.fresh(), copy=False), copy=False), cols)


def lower_active_users_count(p: Planner, rel: Rel, node: A.Call, env: Env) -> Rel:
    """active_users_count(Id, Time, Start, End, Lookback, Period, ActivePeriods, Bin [, dims]): per bin, the
    distinct Ids with a row in the bin that was active in at least ActivePeriods distinct periods of the
    Lookback window ending with that row's period. Bins without such an Id give no row."""
    args = compile_args(p, rel, node, env, 8, 64)
    ident_v, time, start, end, lookback, period, active, size = args[:8]
    _timeline(p, node, args[:8], 2)
    check_window_count(p, node, start, end, size)
    dims = args[8:]
    dim_names = [column_name(n, f"dim{i}") for i, n in enumerate(node.args[8:])]
    keys = [f"__d{i}" for i in range(len(dims))]
    items = [("__id", ident_v.sql), ("__t", micros(p, time))] + [
        (k, d.sql) for k, d in zip(keys, dims, strict=True)
    ]
    dim_sel = "".join(f", {k}" for k in keys)
    dim_r = "".join(f", r.{k}" for k in keys)
    dim_join = "".join(f" AND q.{k} IS NOT DISTINCT FROM r.{k}" for k in keys)
    sql = from_template(
        f"SELECT __bin{dim_sel}, COUNT(DISTINCT __id) AS __dcount FROM ("
        f"SELECT r.__id, r.__bin{dim_r} FROM"
        f" (SELECT __id{dim_sel}, FLOOR(__t / __period) * __period AS __p,"
        f" __start + FLOOR((__t - __start) / __size) * __size AS __bin FROM inp"
        f" WHERE __t >= __start AND __t < __end + __size) AS r"
        f" JOIN (SELECT DISTINCT __id{dim_sel}, FLOOR(__t / __period) * __period AS __p FROM inp) AS q"
        f" ON q.__id = r.__id AND q.__p > r.__p - __lookback AND q.__p <= r.__p{dim_join}"
        f" GROUP BY r.__id, r.__bin, r.__p{dim_r} HAVING COUNT(DISTINCT q.__p) >= __active"
        f") AS a WHERE __bin <= __end GROUP BY __bin{dim_sel}",
        {"inp": _input(p, rel, items)},
        {
            "__start": micros(p, start),
            "__end": micros(p, end),
            "__size": size.sql,
            "__period": period.sql,
            "__lookback": lookback.sql,
            "__active": active.sql,
        },
    )
    time_name = column_name(node.args[1], "Timestamp")
    proj = [alias(p.dialect.from_epoch_us(col("__bin")), time_name)]
    proj += [alias(col(k), n) for k, n in zip(keys, dim_names, strict=True)]
    proj.append(alias(col("__dcount"), "dcount"))
    cols = [
        (time_name, "datetime"),
        *[(n, d.type) for n, d in zip(dim_names, dims, strict=True)],
        ("dcount", "long"),
    ]
    return Rel(exp.select(*proj).from_(sql.subquery(p.fresh(), copy=False), copy=False), cols)


PLUGINS: dict[str, Plugin] = {
    "rows_near": Plugin(lower_rows_near),
    "rolling_percentile": Plugin(lower_rolling_percentile),
    "sliding_window_counts": Plugin(lower_sliding_window_counts),
    "active_users_count": Plugin(lower_active_users_count),
}
