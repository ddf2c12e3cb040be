"""The aggregate function table (name -> lowering and Kusto's default result-column prefix)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.scalar import ExprCompiler
from huntvault.kql.values import NUMERIC, T, anon, as_bool, convert, to_dynamic, to_string


@dataclass(frozen=True)
class Aggregate:
    """How one aggregate lowers; `prefix` builds Kusto's default column name (`count_`, `dcount_X`)."""

    lower: Callable[[ExprCompiler, list[T]], T]
    prefix: str
    named_by_arg: bool = True
    empty: str | None = None  # value on empty input without `by` (count-like 0, lists [])


def _filter(value: exp.Expression, cond: T) -> exp.Expression:
    return exp.Filter(this=value, expression=exp.Where(this=as_bool(cond)))


def a_count(c: ExprCompiler, args: list[T]) -> T:
    if args:  # count(x) counts the rows where x is not null
        return T(exp.Count(this=args[0].sql), "long")
    return T(exp.Count(this=exp.Star()), "long")


def a_countif(c: ExprCompiler, args: list[T]) -> T:
    return T(_filter(exp.Count(this=exp.Star()), args[0]), "long")


def a_dcount(c: ExprCompiler, args: list[T]) -> T:
    v = args[0]
    inner = to_string(v).sql if v.type == "dynamic" else v.sql
    return T(exp.Count(this=exp.Distinct(expressions=[inner])), "long")


def a_dcountif(c: ExprCompiler, args: list[T]) -> T:
    v = args[0]
    inner = to_string(v).sql if v.type == "dynamic" else v.sql
    return T(_filter(exp.Count(this=exp.Distinct(expressions=[inner])), args[1]), "long")


def numeric(v: T) -> T:
    return convert(v, "real") if v.type not in (*NUMERIC, "timespan", "datetime") else v


def a_sum(c: ExprCompiler, args: list[T]) -> T:
    v = numeric(args[0])
    kind = "timespan" if v.type == "timespan" else ("long" if v.type in ("int", "long") else "real")
    out: exp.Expression = exp.Sum(this=v.sql)
    if kind != "real":
        out = exp.Cast(this=out, to=exp.DataType.build("BIGINT"))
    return T(out, kind)


def a_sumif(c: ExprCompiler, args: list[T]) -> T:
    s = a_sum(c, args[:1])
    out: exp.Expression = _filter(exp.Sum(this=numeric(args[0]).sql), args[1])
    if s.type != "real":
        out = exp.Cast(this=out, to=exp.DataType.build("BIGINT"))
    return T(out, s.type)


def a_avg(c: ExprCompiler, args: list[T]) -> T:
    v = numeric(args[0])
    if v.type == "timespan":
        return T(exp.Cast(this=exp.Avg(this=v.sql), to=exp.DataType.build("BIGINT")), "timespan")
    return T(exp.Avg(this=v.sql), "real")


def a_avgif(c: ExprCompiler, args: list[T]) -> T:
    return T(_filter(exp.Avg(this=numeric(args[0]).sql), args[1]), "real")


def a_minmax(cls: type[exp.Expression]) -> Callable[[ExprCompiler, list[T]], T]:
    def lower(c: ExprCompiler, args: list[T]) -> T:
        v = args[0]
        if v.type == "dynamic":
            v = to_string(v)
        return T(cls(this=v.sql), v.type)

    return lower


def a_minmaxif(cls: type[exp.Expression]) -> Callable[[ExprCompiler, list[T]], T]:
    def lower(c: ExprCompiler, args: list[T]) -> T:
        return T(_filter(cls(this=args[0].sql), args[1]), args[0].type)

    return lower


def _json_agg(values: exp.Expression, distinct: bool, limit: T | None) -> exp.Expression:
    agg: exp.Expression = anon("list", exp.Distinct(expressions=[values]) if distinct else values)
    if limit is not None:
        agg = anon("list_slice", agg, exp.Literal.number(1), limit.sql)
    return agg


def make_list(distinct: bool, conditional: bool) -> Callable[[ExprCompiler, list[T]], T]:
    def lower(c: ExprCompiler, args: list[T]) -> T:
        v = args[0]
        item = to_dynamic(v).sql
        limit = None
        cond = None
        if conditional:
            cond = args[1]
            if len(args) > 2:
                limit = args[2]
        elif len(args) > 1:
            limit = args[1]
        agg = _json_agg(item, distinct, limit)
        # nulls are ignored, as in Kusto
        not_null = exp.Not(this=exp.Is(this=v.sql, expression=exp.Null()))
        where: exp.Expression = not_null
        if cond is not None:
            where = exp.And(this=not_null, expression=exp.Paren(this=as_bool(cond)))
        if isinstance(agg, exp.Anonymous) and agg.name == "list_slice":
            inner = agg.expressions[0]
            agg.set(
                "expressions",
                [exp.Filter(this=inner, expression=exp.Where(this=where)), *agg.expressions[1:]],
            )
        else:
            agg = exp.Filter(this=agg, expression=exp.Where(this=where))
        out = exp.Cast(
            this=exp.Cast(this=agg, to=exp.DataType.build("JSON[]", dialect="duckdb")),
            to=exp.DataType.build("JSON", dialect="duckdb"),
        )
        return T(
            exp.Coalesce(
                this=out,
                expressions=[
                    exp.Cast(this=exp.Literal.string("[]"), to=exp.DataType.build("JSON", dialect="duckdb"))
                ],
            ),
            "dynamic",
        )

    return lower


def a_make_bag(c: ExprCompiler, args: list[T]) -> T:
    v = args[0]
    merged = anon("json_group_structure", v.sql)
    del merged
    keys = anon(
        "json_merge_patch",
        exp.Cast(this=exp.Literal.string("{}"), to=exp.DataType.build("JSON", dialect="duckdb")),
        anon(
            "json_merge_patch",
            exp.Cast(this=exp.Literal.string("{}"), to=exp.DataType.build("JSON", dialect="duckdb")),
            v.sql,
        ),
    )
    del keys
    # reduce the list of bags into one object, later keys win
    lst = anon("list", v.sql)
    lam = exp.Lambda(
        this=anon("json_merge_patch", exp.column("acc"), exp.column("x")),
        expressions=[exp.to_identifier("acc"), exp.to_identifier("x")],
    )
    red = anon(
        "list_reduce",
        anon(
            "list_prepend",
            exp.Cast(this=exp.Literal.string("{}"), to=exp.DataType.build("JSON", dialect="duckdb")),
            exp.Filter(
                this=lst,
                expression=exp.Where(
                    this=exp.EQ(this=anon("json_type", v.sql), expression=exp.Literal.string("OBJECT"))
                ),
            ),
        ),
        lam,
    )
    return T(
        exp.Coalesce(
            this=red,
            expressions=[
                exp.Cast(this=exp.Literal.string("{}"), to=exp.DataType.build("JSON", dialect="duckdb"))
            ],
        ),
        "dynamic",
    )


def a_any(c: ExprCompiler, args: list[T]) -> T:
    v = args[0]
    return T(anon("arbitrary", v.sql), v.type)


def a_anyif(c: ExprCompiler, args: list[T]) -> T:
    return T(_filter(anon("arbitrary", args[0].sql), args[1]), args[0].type)


def a_percentile(c: ExprCompiler, args: list[T]) -> T:
    p = float(args[1].const) / 100.0
    v = numeric(args[0])
    out = anon("quantile_disc", v.sql, exp.Literal.number(p))
    return T(out, v.type if v.type != "int" else "long")


def a_percentiles(c: ExprCompiler, args: list[T]) -> T:
    v = numeric(args[0])
    ps = [exp.Literal.number(float(a.const) / 100.0) for a in args[1:]]
    return T(anon("to_json", anon("quantile_disc", v.sql, exp.Array(expressions=ps))), "dynamic")


def stat(name: str) -> Callable[[ExprCompiler, list[T]], T]:
    def lower(c: ExprCompiler, args: list[T]) -> T:
        return T(anon(name, numeric(args[0]).sql), "real")

    return lower


def statif(name: str) -> Callable[[ExprCompiler, list[T]], T]:
    def lower(c: ExprCompiler, args: list[T]) -> T:
        return T(_filter(anon(name, numeric(args[0]).sql), args[1]), "real")

    return lower


def a_hll(c: ExprCompiler, args: list[T]) -> T:
    return T(anon("to_json", anon("list", exp.Distinct(expressions=[to_string(args[0]).sql]))), "dynamic")


def a_binary_all(op: str) -> Callable[[ExprCompiler, list[T]], T]:
    def lower(c: ExprCompiler, args: list[T]) -> T:
        return T(anon(op, args[0].sql), "long")

    return lower


AGGREGATES: dict[str, Aggregate] = {
    "count": Aggregate(a_count, "count_", named_by_arg=False, empty="0"),
    "countif": Aggregate(a_countif, "countif_", named_by_arg=False, empty="0"),
    "count_distinct": Aggregate(a_dcount, "count_distinct_", empty="0"),
    "dcount": Aggregate(a_dcount, "dcount_", empty="0"),
    "dcountif": Aggregate(a_dcountif, "dcountif_", empty="0"),
    "sum": Aggregate(a_sum, "sum_", empty="0"),
    "sumif": Aggregate(a_sumif, "sumif_", empty="0"),
    "avg": Aggregate(a_avg, "avg_"),
    "avgif": Aggregate(a_avgif, "avgif_"),
    "min": Aggregate(a_minmax(exp.Min), "min_"),
    "max": Aggregate(a_minmax(exp.Max), "max_"),
    "minif": Aggregate(a_minmaxif(exp.Min), "minif_"),
    "maxif": Aggregate(a_minmaxif(exp.Max), "maxif_"),
    "make_set": Aggregate(make_list(True, False), "set_", empty="[]"),
    "makeset": Aggregate(make_list(True, False), "set_", empty="[]"),
    "make_set_if": Aggregate(make_list(True, True), "set_", empty="[]"),
    "make_list": Aggregate(make_list(False, False), "list_", empty="[]"),
    "makelist": Aggregate(make_list(False, False), "list_", empty="[]"),
    "make_list_if": Aggregate(make_list(False, True), "list_", empty="[]"),
    "make_list_with_nulls": Aggregate(make_list(False, False), "list_", empty="[]"),
    "make_bag": Aggregate(a_make_bag, "bag_", empty="{}"),
    "make_bag_if": Aggregate(a_make_bag, "bag_", empty="{}"),
    "any": Aggregate(a_any, "any_"),
    "take_any": Aggregate(a_any, "any_"),
    "anyif": Aggregate(a_anyif, "anyif_"),
    "take_anyif": Aggregate(a_anyif, "anyif_"),
    "percentile": Aggregate(a_percentile, "percentile_"),
    "percentiles": Aggregate(a_percentiles, "percentiles_"),
    "stdev": Aggregate(stat("stddev_samp"), "stdev_", empty="0"),
    "stdevp": Aggregate(stat("stddev_pop"), "stdevp_"),
    "stdevif": Aggregate(statif("stddev_samp"), "stdevif_"),
    "variance": Aggregate(stat("var_samp"), "variance_", empty="0"),
    "variancep": Aggregate(stat("var_pop"), "variancep_"),
    "varianceif": Aggregate(statif("var_samp"), "varianceif_"),
    "hll": Aggregate(a_hll, "hll_"),
    "binary_all_or": Aggregate(a_binary_all("bit_or"), "binary_all_or_"),
    "binary_all_and": Aggregate(a_binary_all("bit_and"), "binary_all_and_"),
    # arg_max/arg_min are expanded by summarize itself (several output columns); listed for name lookup
    "arg_max": Aggregate(a_any, "max_"),
    "argmax": Aggregate(a_any, "max_"),
    "arg_min": Aggregate(a_any, "min_"),
    "argmin": Aggregate(a_any, "min_"),
}

ARG_EXTREMES = {"arg_max": "max", "argmax": "max", "arg_min": "min", "argmin": "min"}


def default_name(node: A.Call, derived: str | None) -> str:
    agg = AGGREGATES[node.name.lower()]
    if not agg.named_by_arg and not (node.name.lower() == "count" and derived):
        return agg.prefix
    suffix = derived or ""
    if node.name.lower() == "percentile" and len(node.args) > 1 and isinstance(node.args[1], A.Literal):
        suffix += "_" + str(node.args[1].value).replace(".", "_")
    return agg.prefix + suffix
