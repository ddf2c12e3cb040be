"""Math and rounding: abs, round, sqrt, log*, exp, pow, ceiling, sign, min_of/max_of, rand, bin/floor, bin_at."""

from __future__ import annotations

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.ir import Compiler, Function, Lowering, same_as
from huntvault.kql.lowering.coerce import unify
from huntvault.kql.values import N, T, call, convert, dtype


def math_fn(name: str, kind: str = "real", arity: tuple[int, int] = (1, 1)) -> Function:
    def lower(c: Compiler, args: list[T], node: A.Call) -> T:
        return T(call(name, *(convert(a, "real").sql if a.type == "dynamic" else a.sql for a in args)), kind)

    return Function(lower, arity, kind)


def f_abs(c: Compiler, args: list[T], node: A.Call) -> T:
    return T(exp.Abs(this=args[0].sql), args[0].type)


def f_round(c: Compiler, args: list[T], node: A.Call) -> T:
    digits = exp.Cast(this=args[1].sql, to=dtype("INT")) if len(args) > 1 else N(0)
    return T(call("round", exp.Cast(this=args[0].sql, to=dtype("DOUBLE")), digits), "real")


def f_minmax_of(name: str) -> Lowering:
    def lower(c: Compiler, args: list[T], node: A.Call) -> T:
        values = unify(args)
        return T(call(name, *(v.sql for v in values)), values[0].type)

    return lower


def f_rand(c: Compiler, args: list[T], node: A.Call) -> T:
    value = call("random")
    if args:  # rand(n): an integer in [0, n)
        scaled = call("floor", exp.Mul(this=value, expression=args[0].sql))
        return T(exp.Cast(this=scaled, to=dtype("BIGINT")), "long")
    return T(value, "real")


def f_bin(c: Compiler, args: list[T], node: A.Call) -> T:
    v, size = args
    d = c.planner.dialect
    if v.type == "datetime":
        us = d.epoch_us(v.sql)
        floored = exp.Mul(this=call("floor", exp.Div(this=us, expression=size.sql)), expression=size.sql)
        return T(d.from_epoch_us(floored), "datetime", name=v.name)
    if v.type == "timespan":
        floored = exp.Mul(this=call("floor", exp.Div(this=v.sql, expression=size.sql)), expression=size.sql)
        return T(exp.Cast(this=floored, to=dtype("BIGINT")), "timespan", name=v.name)
    kind = "real" if "real" in (v.type, size.type) else "long"
    as_double = exp.Cast(this=v.sql, to=dtype("DOUBLE"))
    floor = exp.Mul(this=call("floor", exp.Div(this=as_double, expression=size.sql)), expression=size.sql)
    return T(
        exp.Cast(this=floor, to=dtype("BIGINT" if kind == "long" else "DOUBLE")),
        kind,
        name=v.name,
    )


def f_bin_at(c: Compiler, args: list[T], node: A.Call) -> T:
    v, size, at = args
    d = c.planner.dialect
    if v.type == "datetime":
        us = exp.Sub(this=d.epoch_us(v.sql), expression=d.epoch_us(at.sql))
        b = exp.Mul(this=call("floor", exp.Div(this=us, expression=size.sql)), expression=size.sql)
        return T(d.from_epoch_us(exp.Add(this=b, expression=d.epoch_us(at.sql))), "datetime", name=v.name)
    diff = exp.Sub(this=v.sql, expression=at.sql)
    b2 = exp.Add(
        this=exp.Mul(this=call("floor", exp.Div(this=diff, expression=size.sql)), expression=size.sql),
        expression=at.sql,
    )
    kind = dtype("DOUBLE" if v.type == "real" else "BIGINT")
    return T(exp.Cast(this=b2, to=kind), v.type, name=v.name)


FUNCTIONS: dict[str, Function] = {
    "abs": Function(f_abs, (1, 1), same_as(0)),
    "round": Function(f_round, (1, 2), "real"),
    "sqrt": math_fn("sqrt"),
    "log": math_fn("ln"),
    "log10": math_fn("log10"),
    "log2": math_fn("log2"),
    "exp": math_fn("exp"),
    "pow": math_fn("pow", arity=(2, 2)),
    "power": math_fn("pow", arity=(2, 2)),
    "ceiling": math_fn("ceiling"),
    "sign": math_fn("sign", "long"),
    "max_of": Function(f_minmax_of("greatest"), (1, 64), None),
    "min_of": Function(f_minmax_of("least"), (1, 64), None),
    "rand": Function(f_rand, (0, 1), None),
    "bin": Function(f_bin, (2, 2), None, keeps_name=False),
    "floor": Function(f_bin, (2, 2), None),
    "bin_at": Function(f_bin_at, (3, 3), None),
}
