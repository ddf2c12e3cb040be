"""Statistics: percentile(s), stdev/variance (+ population and _if forms), hll, binary_all_and/or."""

from __future__ import annotations

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.ir import AggLowering, Aggregate, Compiler
from huntvault.kql.lowering.aggregation import numeric, only_if
from huntvault.kql.values import T, call, to_string


def _fraction(c: Compiler, v: T, node: A.Call) -> exp.Expression:
    if not v.is_const or not isinstance(v.const, (int, float)) or isinstance(v.const, bool):
        raise c.err(f"{node.name}() needs constant percentages", node)
    return exp.Literal.number(float(v.const) / 100.0)


def a_percentile(c: Compiler, args: list[T], node: A.Call) -> T:
    v = numeric(args[0])
    out = call("quantile_disc", v.sql, _fraction(c, args[1], node))
    return T(out, v.type if v.type != "int" else "long")


def a_percentiles(c: Compiler, args: list[T], node: A.Call) -> T:
    v = numeric(args[0])
    ps = [_fraction(c, a, node) for a in args[1:]]
    return T(call("to_json", call("quantile_disc", v.sql, exp.Array(expressions=ps))), "dynamic")


def stat(name: str) -> AggLowering:
    def lower(c: Compiler, args: list[T], node: A.Call) -> T:
        return T(call(name, numeric(args[0]).sql), "real")

    return lower


def statif(name: str) -> AggLowering:
    def lower(c: Compiler, args: list[T], node: A.Call) -> T:
        return T(only_if(call(name, numeric(args[0]).sql), args[1]), "real")

    return lower


def a_hll(c: Compiler, args: list[T], node: A.Call) -> T:
    return T(call("to_json", call("list", exp.Distinct(expressions=[to_string(args[0]).sql]))), "dynamic")


def a_binary_all(op: str) -> AggLowering:
    def lower(c: Compiler, args: list[T], node: A.Call) -> T:
        return T(call(op, args[0].sql), "long")

    return lower


AGGREGATES: dict[str, Aggregate] = {
    "percentile": Aggregate(a_percentile, "percentile_", arity=(2, 2)),
    "stdev": Aggregate(stat("stddev_samp"), "stdev_", empty="0", arity=(1, 1), returns="real"),
    "stdevp": Aggregate(stat("stddev_pop"), "stdevp_", arity=(1, 1), returns="real"),
    "stdevif": Aggregate(statif("stddev_samp"), "stdevif_", empty="0", arity=(2, 2), returns="real"),
    "variance": Aggregate(stat("var_samp"), "variance_", empty="0", arity=(1, 1), returns="real"),
    "variancep": Aggregate(stat("var_pop"), "variancep_", arity=(1, 1), returns="real"),
    "varianceif": Aggregate(statif("var_samp"), "varianceif_", empty="0", arity=(2, 2), returns="real"),
    "hll": Aggregate(a_hll, "hll_", arity=(1, 2), returns="dynamic"),
    "binary_all_or": Aggregate(a_binary_all("bit_or"), "binary_all_or_", arity=(1, 1), returns="long"),
    "binary_all_and": Aggregate(a_binary_all("bit_and"), "binary_all_and_", arity=(1, 1), returns="long"),
}
