"""Conversions: tostring, toint/tolong/toreal/tobool/toguid..., todatetime, totimespan, todecimal, tohex."""

from __future__ import annotations

from sqlglot import exp

from huntvault.errors import KqlSyntaxError
from huntvault.kql import ast as A
from huntvault.kql.ir import Compiler, Function
from huntvault.kql.syntax import parse_datetime_text, parse_timespan_text
from huntvault.kql.values import NUMERIC, N, T, call, convert, dtype, literal, null_of, to_string


def conv(kql_type: str, keeps_name: bool = True) -> Function:
    """to<type>(x): null when the value does not convert; the to... spellings keep the argument's name."""

    def lower(c: Compiler, args: list[T], node: A.Call) -> T:
        return convert(args[0], kql_type)

    result = "string" if kql_type in ("string", "guid") else kql_type
    return Function(lower, (1, 1), result, keeps_name=keeps_name)


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
    s = to_string(v).sql
    as_interval = exp.TryCast(this=s, to=dtype("INTERVAL"))
    micros = exp.Mul(this=call("epoch", as_interval), expression=N(1_000_000))
    return T(exp.Cast(this=micros, to=dtype("BIGINT")), "timespan")


def f_todatetime(c: Compiler, args: list[T], node: A.Call) -> T:
    v = args[0]
    if v.is_const and isinstance(v.const, str):
        try:
            return literal(parse_datetime_text(v.const), "datetime")
        except KqlSyntaxError:
            return null_of("datetime")
    return convert(v, "datetime")


def f_todecimal(c: Compiler, args: list[T], node: A.Call) -> T:
    return convert(args[0], "real")


def f_tohex(c: Compiler, args: list[T], node: A.Call) -> T:
    return T(exp.Lower(this=call("hex", args[0].sql)), "string")


FUNCTIONS: dict[str, Function] = {
    "tostring": Function(f_tostring, (1, 1), "string", keeps_name=True),
    "totimespan": Function(f_totimespan, (1, 1), "timespan", keeps_name=True),
    "time": Function(f_totimespan, (1, 1), "timespan"),
    "todatetime": Function(f_todatetime, (1, 1), "datetime", keeps_name=True),
    "todecimal": Function(f_todecimal, (1, 1), "real", keeps_name=True),
    "tohex": Function(f_tohex, (1, 2), "string"),
    "toint": conv("int"),
    "tolong": conv("long"),
    "todouble": conv("real"),
    "toreal": conv("real"),
    "tobool": conv("bool"),
    "toboolean": conv("bool"),
    "toguid": conv("guid"),
    "int": conv("int", keeps_name=False),
    "long": conv("long", keeps_name=False),
    "real": conv("real", keeps_name=False),
    "double": conv("real", keeps_name=False),
    "bool": conv("bool", keeps_name=False),
    "string": conv("string", keeps_name=False),
}
