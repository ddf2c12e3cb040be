"""Counting, sums, averages, extremes and any: count, dcount, sum, avg, min, max, take_any, arg_max/arg_min."""

from __future__ import annotations

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.ir import AggLowering, Aggregate, Compiler
from huntvault.kql.lowering.aggregation import numeric, only_if
from huntvault.kql.values import T, call, dtype, to_string


def a_count(c: Compiler, args: list[T], node: A.Call) -> T:
    # count(x) counts every row, nulls included (the summarize page: "includes null values in its count")
    return T(exp.Count(this=exp.Star()), "long")


def a_countif(c: Compiler, args: list[T], node: A.Call) -> T:
    return T(only_if(exp.Count(this=exp.Star()), args[0]), "long")


def _distinct_key(v: T) -> exp.Expression:
    return to_string(v).sql if v.type == "dynamic" else v.sql


def a_dcount(c: Compiler, args: list[T], node: A.Call) -> T:
    return T(exp.Count(this=exp.Distinct(expressions=[_distinct_key(args[0])])), "long")


def a_dcountif(c: Compiler, args: list[T], node: A.Call) -> T:
    return T(only_if(exp.Count(this=exp.Distinct(expressions=[_distinct_key(args[0])])), args[1]), "long")


def _sum_type(v: T) -> str:
    return "timespan" if v.type == "timespan" else ("long" if v.type in ("int", "long") else "real")


def _sum_of(total: exp.Expression, kind: str) -> T:
    """A sum of no (non-null) values is 0, not null (the bin page's padded days sum to 0)."""
    zero = exp.Literal.number("0.0" if kind == "real" else "0")
    out: exp.Expression = exp.Coalesce(this=total, expressions=[zero])
    if kind != "real":
        out = exp.Cast(this=out, to=dtype("BIGINT"))
    return T(out, kind)


def a_sum(c: Compiler, args: list[T], node: A.Call) -> T:
    v = numeric(args[0])
    return _sum_of(exp.Sum(this=v.sql), _sum_type(v))


def a_sumif(c: Compiler, args: list[T], node: A.Call) -> T:
    v = numeric(args[0])
    return _sum_of(only_if(exp.Sum(this=v.sql), args[1]), _sum_type(v))


def a_avg(c: Compiler, args: list[T], node: A.Call) -> T:
    v = numeric(args[0])
    if v.type == "timespan":
        return T(exp.Cast(this=exp.Avg(this=v.sql), to=dtype("BIGINT")), "timespan")
    # Kusto divides the sum by the count of non-null values: none gives NaN (0/0), not null
    none = exp.EQ(this=exp.Count(this=v.sql.copy()), expression=exp.Literal.number(0))
    nan = exp.Cast(this=exp.Literal.string("NaN"), to=dtype("DOUBLE"))
    return T(exp.Case(ifs=[exp.If(this=none, true=nan)], default=exp.Avg(this=v.sql)), "real")


def a_avgif(c: Compiler, args: list[T], node: A.Call) -> T:
    return T(only_if(exp.Avg(this=numeric(args[0]).sql), args[1]), "real")


def a_minmax(cls: type[exp.Expression]) -> AggLowering:
    def lower(c: Compiler, args: list[T], node: A.Call) -> T:
        v = args[0]
        if v.type == "dynamic":
            v = to_string(v)
        return T(cls(this=v.sql), v.type)

    return lower


def a_minmaxif(cls: type[exp.Expression]) -> AggLowering:
    def lower(c: Compiler, args: list[T], node: A.Call) -> T:
        return T(only_if(cls(this=args[0].sql), args[1]), args[0].type)

    return lower


def a_any(c: Compiler, args: list[T], node: A.Call) -> T:
    v = args[0]
    return T(call("arbitrary", v.sql), v.type)


def a_anyif(c: Compiler, args: list[T], node: A.Call) -> T:
    return T(only_if(call("arbitrary", args[0].sql), args[1]), args[0].type)


AGGREGATES: dict[str, Aggregate] = {
    "count": Aggregate(a_count, "count_", named_by_arg=False, empty="0", arity=(0, 1), returns="long"),
    "countif": Aggregate(a_countif, "countif_", named_by_arg=False, empty="0", arity=(1, 1), returns="long"),
    "count_distinct": Aggregate(a_dcount, "count_distinct_", empty="0", arity=(1, 1), returns="long"),
    "dcount": Aggregate(a_dcount, "dcount_", empty="0", arity=(1, 2), returns="long"),
    "dcountif": Aggregate(a_dcountif, "dcountif_", empty="0", arity=(2, 3), returns="long"),
    "sum": Aggregate(a_sum, "sum_", empty="0", arity=(1, 1)),
    "sumif": Aggregate(a_sumif, "sumif_", empty="0", arity=(2, 2)),
    "avg": Aggregate(a_avg, "avg_", arity=(1, 1)),
    "avgif": Aggregate(a_avgif, "avgif_", arity=(2, 2), returns="real"),
    "min": Aggregate(a_minmax(exp.Min), "min_", arity=(1, 1)),
    "max": Aggregate(a_minmax(exp.Max), "max_", arity=(1, 1)),
    "minif": Aggregate(a_minmaxif(exp.Min), "minif_", arity=(2, 2)),
    "maxif": Aggregate(a_minmaxif(exp.Max), "maxif_", arity=(2, 2)),
    # take_any/any are expanded by summarize (several columns from one row); listed for name lookup
    "any": Aggregate(a_any, "any_", arity=(1, None), extreme="any"),
    "take_any": Aggregate(a_any, "", arity=(1, None), extreme="any"),
    "anyif": Aggregate(a_anyif, "anyif_", arity=(2, 2)),
    "take_anyif": Aggregate(a_anyif, "", arity=(2, 2)),  # named as its column (the take_anyif page)
    # arg_max/arg_min are expanded by summarize itself (several output columns); listed for name lookup
    "arg_max": Aggregate(a_any, "max_", arity=(1, None), extreme="max"),
    "argmax": Aggregate(a_any, "max_", arity=(1, None), extreme="max"),
    "arg_min": Aggregate(a_any, "min_", arity=(1, None), extreme="min"),
    "argmin": Aggregate(a_any, "min_", arity=(1, None), extreme="min"),
}
