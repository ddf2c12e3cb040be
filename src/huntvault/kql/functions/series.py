"""The series_* functions: element-wise arithmetic in SQL (DuckDB), the rest through the kql_series UDF
(the same Python function registered on DuckDB and on Spark, kql/seriesmath.py)."""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.ir import Compiler, Function, Lowering
from huntvault.kql.lowering.dynamic import doubles, dyn
from huntvault.kql.lowering.pycall import py_function
from huntvault.kql.seriesmath import UDF_NAME
from huntvault.kql.values import N, S, T, call, dtype, fn, literal, to_dynamic


def duckdb_only(c: Compiler, args: list[T], node: A.Call) -> T:
    """The Spark lowering of a function that runs on DuckDB only: a clear error naming it."""
    raise c.planner.unsupported(f"{node.name}() runs on the DuckDB engine only", node)


def _is_series(v: T) -> bool:
    return v.type == "dynamic" and not (v.is_const and not isinstance(v.const, list))


def _json_text(c: Compiler, v: T) -> exp.Expression:
    """A UDF argument as JSON text (scalars through the dialect: Spark's to_json takes no scalar)."""
    if v.type == "dynamic" or (v.is_const and v.const is None):
        return to_dynamic(v).sql
    if (
        v.type == "datetime"
    ):  # its text as a JSON string already (to_json again would quote it twice on Spark)
        return to_dynamic(v).sql
    return c.planner.dialect.to_json(v.sql)


def _udf(c: Compiler, name: str, series: T, extra: list[T]) -> exp.Expression:
    args = call("json_array", *[_json_text(c, a) for a in extra])
    udf = call(
        UDF_NAME,
        S(name),
        exp.Cast(this=dyn(c, series), to=dtype("VARCHAR")),
        exp.Cast(this=args, to=dtype("VARCHAR")),
    )
    return exp.Cast(this=udf, to=dtype("JSON"))


def _prefix(node: A.Call, args: list[T]) -> str:
    """`series_stats_x` for a column x; `series_stats_` for an expression, so its parts are `series_stats__min`
    (the name the series_fit_poly page's example reads back)."""
    arg = args[0].name if args and args[0].name else ""
    return f"{node.name.lower()}_{arg}"


def udf_array(name: str, lo: int, hi: int | None) -> Function:
    """A function returning one dynamic array (or bag)."""

    def lower(c: Compiler, args: list[T], node: A.Call) -> T:
        return T(_udf(c, name, args[0], args[1:]), "dynamic")

    return Function(lower, (lo, hi), "dynamic")


def udf_parts(
    name: str, lo: int, hi: int | None, parts: list[tuple[str, str]], bag: bool = False
) -> Function:
    """A function returning several columns (one per statistic), or one bag when `bag` (the *_dynamic variants)."""

    def lower(c: Compiler, args: list[T], node: A.Call) -> T:
        whole = _udf(c, name, args[0], args[1:])
        if bag:
            return T(whole, "dynamic")
        prefix = _prefix(node, args)
        out: list[tuple[str, T]] = []
        for key, kind in parts:
            got = call("json_extract", whole.copy(), S(f"$.{key}"))
            if kind != "dynamic":
                got = exp.TryCast(this=got, to=dtype("BIGINT" if kind == "long" else "DOUBLE"))
            out.append((f"{prefix}_{key}", T(got, kind)))
        first = out[0][1]
        return T(first.sql, first.type, parts=out)

    return Function(lower, (lo, hi), "dynamic" if bag else parts[0][1])


BINARY_OPS: dict[str, Callable[[exp.Expression, exp.Expression], exp.Expression]] = {
    "series_add": lambda a, b: exp.Add(this=a, expression=b),
    "series_subtract": lambda a, b: exp.Sub(this=a, expression=b),
    "series_multiply": lambda a, b: exp.Mul(this=a, expression=b),
    "series_divide": lambda a, b: exp.Div(this=a, expression=b),
    "series_pow": lambda a, b: call("pow", a, b),
    "series_greater": lambda a, b: exp.GT(this=a, expression=b),
    "series_greater_equals": lambda a, b: exp.GTE(this=a, expression=b),
    "series_less": lambda a, b: exp.LT(this=a, expression=b),
    "series_less_equals": lambda a, b: exp.LTE(this=a, expression=b),
    "series_equals": lambda a, b: exp.EQ(this=a, expression=b),
    "series_not_equals": lambda a, b: exp.NEQ(this=a, expression=b),
}


def element_wise(name: str) -> Lowering:
    """Element by element over two series (or a series and a scalar); the result has the longer length, missing
    elements are null. Lowered to list_transform over the indexes."""
    op = BINARY_OPS[name]

    def lower(c: Compiler, args: list[T], node: A.Call) -> T:
        idx = exp.column("__i")

        def side(v: T) -> tuple[exp.Expression, exp.Expression | None]:
            if _is_series(v):
                lst = doubles(c, v)
                return exp.Bracket(this=lst.copy(), expressions=[idx.copy()]), call("len", lst)
            return exp.Cast(this=v.sql, to=dtype("DOUBLE")), None

        (a, alen), (b, blen) = side(args[0]), side(args[1])
        lens = [x for x in (alen, blen) if x is not None]
        if not lens:
            raise c.err(f"{node.name}() needs at least one series (dynamic array) argument", node)
        length = lens[0] if len(lens) == 1 else call("greatest", *lens)
        lam = exp.Lambda(this=op(a, b), expressions=[exp.to_identifier("__i")])
        body = call("list_transform", call("range", N(1), exp.Add(this=length, expression=N(1))), lam)
        return T(fn("to_json", body), "dynamic")

    return lower


def element_wise_udf(name: str) -> Lowering:
    """The element-wise functions where SQL has no list lambdas over two lists (Spark): the kql_series UDF
    with the series first, the other argument and whether it is the left operand."""

    def lower(c: Compiler, args: list[T], node: A.Call) -> T:
        flipped = not _is_series(args[0])
        series, other = (args[1], args[0]) if flipped else (args[0], args[1])
        if not _is_series(series):
            raise c.err(f"{node.name}() needs at least one series (dynamic array) argument", node)
        return T(_udf(c, name, series, [other, literal(flipped, "bool")]), "dynamic")

    return lower


def f_fill_const(c: Compiler, args: list[T], node: A.Call) -> T:
    """series_fill_const(series, constant [, missing_value_placeholder]): missing (null or the placeholder) -> constant."""
    x = exp.column("__x")
    missing: exp.Expression = exp.Is(this=x.copy(), expression=exp.Null())
    if len(args) == 3 and args[2].type != "null":
        placeholder = exp.Cast(this=args[2].sql, to=dtype("DOUBLE"))
        missing = exp.Or(this=missing, expression=exp.EQ(this=x.copy(), expression=placeholder))
    value = exp.Cast(this=args[1].sql, to=dtype("DOUBLE"))
    lam = exp.Lambda(
        this=exp.Case(ifs=[exp.If(this=missing, true=value)], default=x.copy()),
        expressions=[exp.to_identifier("__x")],
    )
    return T(fn("to_json", call("list_transform", doubles(c, args[0]), lam)), "dynamic")


STATS = [
    ("min", "real"),
    ("min_idx", "long"),
    ("max", "real"),
    ("max_idx", "long"),
    ("avg", "real"),
    ("stdev", "real"),
    ("variance", "real"),
]
FIT = [
    ("rsquare", "real"),
    ("slope", "real"),
    ("variance", "real"),
    ("rvariance", "real"),
    ("interception", "real"),
    ("line_fit", "dynamic"),
]
DECOMPOSE = [("baseline", "dynamic"), ("seasonal", "dynamic"), ("trend", "dynamic"), ("residual", "dynamic")]
ANOMALIES = [("ad_flag", "dynamic"), ("ad_score", "dynamic"), ("baseline", "dynamic")]
PERIODS = [("periods", "dynamic"), ("scores", "dynamic")]
FIT_2LINES = [
    ("rsquare", "real"),
    ("split_idx", "long"),
    ("variance", "real"),
    ("rvariance", "real"),
    ("line_fit", "dynamic"),
    ("right_rsquare", "real"),
    ("right_slope", "real"),
    ("right_interception", "real"),
    ("right_variance", "real"),
    ("right_rvariance", "real"),
    ("left_rsquare", "real"),
    ("left_slope", "real"),
    ("left_interception", "real"),
    ("left_variance", "real"),
    ("left_rvariance", "real"),
]
FIT_POLY = [
    ("rsquare", "real"),
    ("coefficients", "dynamic"),
    ("variance", "real"),
    ("rvariance", "real"),
    ("poly_fit", "dynamic"),
]
COMPLEX = [("real", "dynamic"), ("imag", "dynamic")]

FUNCTIONS: dict[str, Function] = {
    **{
        name: Function(element_wise(name), (2, 2), "dynamic", spark=element_wise_udf(name))
        for name in BINARY_OPS
    },
    "series_fill_const": Function(f_fill_const, (2, 3), "dynamic", spark=duckdb_only),
    "series_stats": udf_parts("series_stats", 1, 2, STATS),
    "series_stats_dynamic": udf_parts("series_stats", 1, 2, STATS, bag=True),
    "series_fit_line": udf_parts("series_fit_line", 1, 1, FIT),
    "series_fit_line_dynamic": udf_parts("series_fit_line", 1, 1, FIT, bag=True),
    "series_decompose": udf_parts("series_decompose", 1, 5, DECOMPOSE),
    "series_decompose_anomalies": udf_parts("series_decompose_anomalies", 1, 7, ANOMALIES),
    "series_periods_detect": udf_parts("series_periods_detect", 1, 4, PERIODS),
    "series_outliers": udf_array("series_outliers", 1, 5),
    "series_fill_forward": udf_array("series_fill_forward", 1, 2),
    "series_fill_backward": udf_array("series_fill_backward", 1, 2),
    "series_fill_linear": udf_array("series_fill_linear", 1, 4),
    "series_fir": udf_array("series_fir", 2, 4),
    "series_iir": udf_array("series_iir", 3, 3),
    "series_abs": py_function("series_abs", (1, 1), "dynamic"),
    "series_acos": py_function("series_acos", (1, 1), "dynamic"),
    "series_asin": py_function("series_asin", (1, 1), "dynamic"),
    "series_atan": py_function("series_atan", (1, 1), "dynamic"),
    "series_ceiling": py_function("series_ceiling", (1, 1), "dynamic"),
    "series_cos": py_function("series_cos", (1, 1), "dynamic"),
    "series_cot": py_function("series_cot", (1, 1), "dynamic"),
    "series_exp": py_function("series_exp", (1, 1), "dynamic"),
    "series_floor": py_function("series_floor", (1, 1), "dynamic"),
    "series_log": py_function("series_log", (1, 1), "dynamic"),
    "series_sign": py_function("series_sign", (1, 1), "dynamic"),
    "series_sin": py_function("series_sin", (1, 1), "dynamic"),
    "series_tan": py_function("series_tan", (1, 1), "dynamic"),
    "series_dot_product": py_function("series_dot_product", (2, 2), "real"),
    "series_magnitude": py_function("series_magnitude", (1, 1), "real"),
    "series_cosine_similarity": py_function("series_cosine_similarity", (2, 4), "real"),
    "series_pearson_correlation": py_function("series_pearson_correlation", (2, 2), "real"),
    "series_sum": py_function("series_sum", (1, 1), "real"),
    "series_product": py_function("series_product", (1, 1), "real"),
    "series_fit_poly": udf_parts("series_fit_poly", 1, 3, FIT_POLY),
    "series_fit_2lines": udf_parts("series_fit_2lines", 1, 1, FIT_2LINES),
    "series_fit_2lines_dynamic": udf_parts("series_fit_2lines", 1, 1, FIT_2LINES, bag=True),
    "series_periods_validate": udf_parts("series_periods_validate", 2, None, PERIODS),
    "series_seasonal": udf_array("series_seasonal", 1, 2),
    "series_decompose_forecast": udf_parts("series_decompose_forecast", 2, 5, DECOMPOSE),
    "series_fft": udf_parts("series_fft", 1, 2, COMPLEX),
    "series_ifft": udf_parts("series_ifft", 2, 2, COMPLEX),
}
