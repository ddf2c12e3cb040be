"""Conversions: tostring, toint/tolong/toreal/tobool/toguid..., todatetime, totimespan, todecimal, tohex."""

from __future__ import annotations

from sqlglot import exp

from huntvault.errors import KqlSyntaxError
from huntvault.kql import ast as A
from huntvault.kql.ir import Compiler, Function
from huntvault.kql.lowering.pycall import py_function, py_value
from huntvault.kql.syntax import parse_datetime_text, parse_timespan_text
from huntvault.kql.values import (
    NUMERIC,
    N,
    T,
    call,
    convert,
    dtype,
    literal,
    null_of,
    string,
    timespan_from_text,
    to_string,
)


def conv(kql_type: str, keeps_name: bool = True) -> Function:
    """to<type>(x): null when the value does not convert; the to... spellings keep the argument's name."""

    def lower(c: Compiler, args: list[T], node: A.Call) -> T:
        if kql_type in NUMERIC and args[0].type in ("timespan", "datetime"):
            return convert(as_ticks(args[0]), kql_type)
        return convert(args[0], kql_type)

    result = "string" if kql_type in ("string", "guid") else kql_type
    return Function(lower, (1, 1), result, keeps_name=keeps_name)


#: 100-ns ticks from 0001-01-01 to 1970-01-01 (Kusto's datetime as a number counts ticks from year 1)
_EPOCH_TICKS = 621_355_968_000_000_000


def as_ticks(v: T) -> T:
    """A timespan or datetime as Kusto's number for it: 100-ns ticks (from 0001-01-01 for a datetime)."""
    micros = v.sql if v.type == "timespan" else call("epoch_us", v.sql)
    ticks: exp.Expression = exp.Mul(this=exp.Cast(this=micros, to=dtype("BIGINT")), expression=N(10))
    if v.type == "datetime":
        ticks = exp.Add(this=ticks, expression=N(_EPOCH_TICKS))
    return T(exp.Paren(this=ticks), "long", name=v.name)


def f_tostring(c: Compiler, args: list[T], node: A.Call) -> T:
    out = to_string(args[0])
    return T(out.sql, "string", out.const, args[0].name)


def f_totimespan(c: Compiler, args: list[T], node: A.Call) -> T:
    v = args[0]
    if v.type == "timespan":
        return v
    if v.is_const and isinstance(v.const, str):
        try:
            return literal(parse_timespan_text(v.const), "timespan")
        except KqlSyntaxError:
            return null_of("timespan")
    if v.type in NUMERIC:
        return T(exp.Cast(this=exp.Div(this=v.sql, expression=N(10)), to=dtype("BIGINT")), "timespan")
    return T(timespan_from_text(to_string(v).sql), "timespan")


def f_todatetime(c: Compiler, args: list[T], node: A.Call) -> T:
    v = args[0]
    if v.is_const and isinstance(v.const, str):
        try:
            return literal(parse_datetime_text(v.const), "datetime")
        except KqlSyntaxError:
            return null_of("datetime")
    return convert(v, "datetime")


def f_todecimal(c: Compiler, args: list[T], node: A.Call) -> T:
    if args[0].type in ("timespan", "datetime"):
        return convert(as_ticks(args[0]), "real")
    return convert(args[0], "real")


def f_tohex(c: Compiler, args: list[T], node: A.Call) -> T:
    """tohex(value [, minLength]): negative ints are 32-bit two's complement, longs 64-bit."""
    if len(args) == 1 and args[0].type == "long":
        return T(exp.Lower(this=call("hex", args[0].sql)), "string")
    width = args[1] if len(args) > 1 else literal(0, "long")
    return py_value(c, "tohex", [args[0], width, string(args[0].type)], "string")


FUNCTIONS: dict[str, Function] = {
    "tostring": Function(f_tostring, (1, 1), "string", keeps_name=True),
    "totimespan": Function(f_totimespan, (1, 1), "timespan", keeps_name=True),
    "time": Function(f_totimespan, (1, 1), "timespan"),
    "todatetime": Function(f_todatetime, (1, 1), "datetime", keeps_name=True),
    "todate": Function(f_todatetime, (1, 1), "datetime", keeps_name=True),
    "totime": Function(f_totimespan, (1, 1), "timespan", keeps_name=True),
    "todecimal": Function(f_todecimal, (1, 1), "real", keeps_name=True),
    "tohex": Function(f_tohex, (1, 2), "string"),
    "toint": conv("int"),
    "tolong": conv("long"),
    "todouble": conv("real"),
    "toreal": conv("real"),
    "tobool": conv("bool"),
    "toboolean": conv("bool"),
    "int": conv("int", keeps_name=False),
    "long": conv("long", keeps_name=False),
    "real": conv("real", keeps_name=False),
    "double": conv("real", keeps_name=False),
    "decimal": conv("real", keeps_name=False),
    "bool": conv("bool", keeps_name=False),
    "boolean": conv("bool", keeps_name=False),
    "string": conv("string", keeps_name=False),
    "toguid": py_function("toguid", (1, 1), "guid"),
}
