"""Covariance, weighted and array percentiles, t-digests, hll merges, buildschema, binary_all_xor and the
remaining _if forms; the digests keep the exact sorted values (so percentile_tdigest is exact)."""

from __future__ import annotations

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.ir import AggLowering, Aggregate, Compiler
from huntvault.kql.lowering.aggregation import numeric, only_if
from huntvault.kql.lowering.pycall import py_value
from huntvault.kql.values import T, call, fn, literal, to_dynamic, to_string


def duckdb_only(c: Compiler, args: list[T], node: A.Call) -> T:
    """The Spark lowering of an aggregate that runs on DuckDB only: a clear error naming it."""
    raise c.planner.unsupported(f"{node.name}() runs on the DuckDB engine only", node)


def covariance(name: str, conditional: bool) -> AggLowering:
    def lower(c: Compiler, args: list[T], node: A.Call) -> T:
        x, y = numeric(args[0]).sql, numeric(args[1]).sql
        value = call(name, exp.Cast(this=y, to=exp.DataType.build("DOUBLE")), x)
        return T(only_if(value, args[2]) if conditional else value, "real")

    return lower


def stat_if(name: str) -> AggLowering:
    def lower(c: Compiler, args: list[T], node: A.Call) -> T:
        return T(only_if(call(name, numeric(args[0]).sql), args[1]), "real")

    return lower


def a_binary_all_xor(c: Compiler, args: list[T], node: A.Call) -> T:
    return T(call("bit_xor", args[0].sql), "long")


def a_count_distinctif(c: Compiler, args: list[T], node: A.Call) -> T:
    key = to_string(args[0]).sql if args[0].type == "dynamic" else args[0].sql
    return T(only_if(exp.Count(this=exp.Distinct(expressions=[key])), args[1]), "long")


def _percents(c: Compiler, args: list[T], node: A.Call) -> list[float]:
    out: list[float] = []
    for a in args:
        values = a.const if isinstance(a.const, list) else [a.const]
        for v in values:
            if not isinstance(v, int | float) or isinstance(v, bool):
                raise c.err(f"{node.name}() needs constant percentages (numbers from 0 to 100)", node)
            out.append(float(v))
    return out


def _suffix(p: float) -> str:
    return str(int(p)) if p == int(p) else str(p).replace(".", "_")


def a_percentiles_array(c: Compiler, args: list[T], node: A.Call) -> T:
    v = numeric(args[0])
    ps = [exp.Literal.number(p / 100.0) for p in _percents(c, args[1:], node)]
    return T(call("to_json", call("quantile_disc", v.sql, exp.Array(expressions=ps))), "dynamic")


def a_percentiles(c: Compiler, args: list[T], node: A.Call) -> T:
    """percentiles(x, 50, 95): one column per percentage (percentile_x_50, percentile_x_95)."""
    whole = a_percentiles_array(c, args, node)
    arg = args[0].name or "x"
    parts: list[tuple[str, T]] = []
    kind = args[0].type if args[0].type in ("long", "real", "datetime", "timespan") else "real"
    for p in _percents(c, args[1:], node):
        item = call("quantile_disc", numeric(args[0]).sql, exp.Literal.number(p / 100.0))
        parts.append((f"percentile_{arg}_{_suffix(p)}", T(item, kind)))
    return T(whole.sql, "dynamic", parts=parts)


def _pairs(x: T, w: T) -> T:
    pair = call("json_array", to_dynamic(numeric(x)).sql, to_dynamic(w).sql)
    return T(fn("to_json", call("list", pair)), "dynamic")


def a_percentilew(c: Compiler, args: list[T], node: A.Call) -> T:
    ps = literal(_percents(c, args[2:], node), "dynamic")
    got = py_value(c, "percentilesw", [_pairs(args[0], args[1]), ps], "dynamic")
    return T(c.planner.dialect.json_extract(got.sql, exp.Literal.string("$[0]")), "dynamic")


def a_percentilesw_array(c: Compiler, args: list[T], node: A.Call) -> T:
    ps = literal(_percents(c, args[2:], node), "dynamic")
    return py_value(c, "percentilesw", [_pairs(args[0], args[1]), ps], "dynamic")


def a_percentilesw(c: Compiler, args: list[T], node: A.Call) -> T:
    whole = a_percentilesw_array(c, args, node)
    arg = args[0].name or "x"
    parts = [
        (
            f"percentile_{arg}_{_suffix(p)}",
            T(c.planner.dialect.json_extract(whole.sql.copy(), exp.Literal.string(f"$[{i}]")), "dynamic"),
        )
        for i, p in enumerate(_percents(c, args[2:], node))
    ]
    return T(whole.sql, "dynamic", parts=parts)


def _values(v: T, cond: T | None = None) -> T:
    value: exp.Expression = call("list", to_dynamic(v).sql)
    if cond is not None:
        value = only_if(value, cond)
    return T(fn("to_json", value), "dynamic")


def a_tdigest(c: Compiler, args: list[T], node: A.Call) -> T:
    return py_value(c, "tdigest", [_values(numeric(args[0]))], "dynamic")


def a_tdigest_merge(c: Compiler, args: list[T], node: A.Call) -> T:
    return py_value(c, "tdigest_merge", [_values(args[0])], "dynamic")


def a_hll_if(c: Compiler, args: list[T], node: A.Call) -> T:
    distinct = call("list", exp.Distinct(expressions=[to_string(args[0]).sql]))
    return T(call("to_json", only_if(distinct, args[1])), "dynamic")


def a_hll_merge(c: Compiler, args: list[T], node: A.Call) -> T:
    return py_value(c, "hll_merge", [_values(args[0])], "dynamic")


def a_buildschema(c: Compiler, args: list[T], node: A.Call) -> T:
    return py_value(c, "buildschema", [_values(args[0])], "dynamic")


AGGREGATES: dict[str, Aggregate] = {
    "percentiles": Aggregate(a_percentiles, "percentiles_", arity=(2, None)),
    "covariance": Aggregate(covariance("covar_samp", False), "covariance_", arity=(2, 2), returns="real", name_args=2),
    "covariancep": Aggregate(covariance("covar_pop", False), "covariancep_", arity=(2, 2), returns="real", name_args=2),
    "covarianceif": Aggregate(covariance("covar_samp", True), "covarianceif_", arity=(3, 3), returns="real", name_args=2),
    "covariancepif": Aggregate(covariance("covar_pop", True), "covariancepif_", arity=(3, 3), returns="real", name_args=2),
    "stdevpif": Aggregate(stat_if("stddev_pop"), "stdevpif_", arity=(2, 2), returns="real"),
    "variancepif": Aggregate(stat_if("var_pop"), "variancepif_", arity=(2, 2), returns="real"),
    "binary_all_xor": Aggregate(a_binary_all_xor, "binary_all_xor_", arity=(1, 1), returns="long"),
    "count_distinctif": Aggregate(a_count_distinctif, "count_distinctif_", empty="0", arity=(2, 2), returns="long"),
    "percentiles_array": Aggregate(a_percentiles_array, "percentiles_", arity=(2, None), returns="dynamic"),
    "percentilew": Aggregate(a_percentilew, "percentilew_", arity=(3, 3), spark=duckdb_only),
    "percentilesw": Aggregate(a_percentilesw, "percentilesw_", arity=(3, None), spark=duckdb_only),
    "percentilesw_array": Aggregate(a_percentilesw_array, "percentile_", arity=(3, None), returns="dynamic", spark=duckdb_only),
    "tdigest": Aggregate(a_tdigest, "tdigest_", arity=(1, 2), returns="dynamic", spark=duckdb_only),
    # named merge_tdigests_X whichever spelling is used (the tdigest_merge page's output)
    "tdigest_merge": Aggregate(a_tdigest_merge, "merge_tdigests_", arity=(1, 1), returns="dynamic", spark=duckdb_only),
    "merge_tdigest": Aggregate(a_tdigest_merge, "merge_tdigests_", arity=(1, 1), returns="dynamic", spark=duckdb_only),
    "merge_tdigests": Aggregate(a_tdigest_merge, "merge_tdigests_", arity=(1, 1), returns="dynamic", spark=duckdb_only),
    "hll_if": Aggregate(a_hll_if, "hll_if_", arity=(2, 3), returns="dynamic"),
    "hll_merge": Aggregate(a_hll_merge, "hll_merge_", arity=(1, 1), returns="dynamic", spark=duckdb_only),
    "buildschema": Aggregate(a_buildschema, "schema_", arity=(1, 1), returns="dynamic", spark=duckdb_only),
}  # fmt: skip
