"""Functions computed in Python (kql/pyfuncs): the UDF call, its typed result, and compile-time folding."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.ir import Compiler, Function, TypeRule
from huntvault.kql.pyfuncs import IMPLS, UDF_NAME, apply, clean, format_datetime
from huntvault.kql.values import SQL_TYPES, S, T, call, dtype, literal, to_dynamic


def _json_text(c: Compiler, v: T) -> exp.Expression:
    """An argument as JSON text (scalars through the dialect: Spark's to_json takes no scalar)."""
    if v.type == "dynamic" or (v.is_const and v.const is None):
        return to_dynamic(v).sql
    if v.type == "bool":
        return c.planner.dialect.to_json(exp.Cast(this=v.sql, to=dtype("BOOLEAN")))
    if (
        v.type == "datetime"
    ):  # its text as a JSON string already (to_json again would quote it twice on Spark)
        return to_dynamic(v).sql
    return c.planner.dialect.to_json(v.sql)


def _jsonable(v: T) -> Any:
    if isinstance(v.const, datetime):
        return format_datetime(v.const)
    if isinstance(v.const, timedelta):
        return v.const // timedelta(microseconds=1)
    return v.const


def _arg_type(v: T) -> str:
    return "null" if v.type == "null" else v.type


def fold(name: str, args: list[T], result: str) -> T | None:
    """The value of a call whose arguments are all constants, computed now (None: not foldable)."""
    if not all(a.is_const for a in args):
        return None
    got = apply(name, [_arg_type(a) for a in args], [_jsonable(a) for a in args])
    if got is None:  # strings are never null in Kusto: a failed string function is ""
        return literal("", result) if result == "string" else literal(None, result)
    if result == "timespan" and isinstance(got, timedelta):
        got = got // timedelta(microseconds=1)
    if result == "dynamic":
        got = clean(got)
    if result in ("real", "decimal") and not isinstance(got, int | float):
        return None
    if result == "datetime" and not isinstance(got, datetime):
        return literal(None, result)
    value = literal(got, result)
    return T(value.sql, result, value.const)


def py_value(c: Compiler, name: str, args: list[T], result: str) -> T:
    """`name(args)` through the kql_fn UDF, typed `result` (folded when every argument is constant)."""
    folded = fold(name, args, result)
    if folded is not None:
        return folded
    types = ",".join(_arg_type(a) for a in args) + "->" + result
    values = call("json_array", *[_json_text(c, a) for a in args])
    udf = call(UDF_NAME, S(name), S(types), exp.Cast(this=values, to=dtype("VARCHAR")))
    if result == "string":  # never null
        return T(exp.Coalesce(this=udf, expressions=[S("")]), result)
    if result == "guid":
        return T(udf, result)
    if result == "dynamic":
        return T(exp.Cast(this=udf, to=dtype("JSON")), result)
    return T(exp.TryCast(this=udf, to=dtype(SQL_TYPES[result])), result)


def py_function(name: str, arity: tuple[int, int | None], returns: str | TypeRule) -> Function:
    """A table entry for a function whose body is `pyfuncs.IMPLS[name]`."""
    if name not in IMPLS:
        raise ValueError(f"no Python implementation for {name!r}")

    def lower(c: Compiler, args: list[T], node: A.Call) -> T:
        kind = returns if isinstance(returns, str) else returns(args)
        return py_value(c, name, args, kind)

    return Function(lower, arity, returns)
