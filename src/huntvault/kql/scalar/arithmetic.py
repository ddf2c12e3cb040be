"""Arithmetic operators (+ - * / %) over numbers, timespans and datetimes, with constant folding."""

from __future__ import annotations

from datetime import timedelta

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.ir import BinaryLowering, Compiler
from huntvault.kql.values import NUMERIC, T, convert, dtype, fn, literal, promote


def _numbers(a: T, b: T, spans: bool = False) -> tuple[T, T]:
    """Dynamic operands take part as reals; with `spans` (+ and -), as timespans beside a timespan (a
    dynamic holds a timespan as its text, `"1.00:00:00"`)."""

    def number(v: T, other: T) -> T:
        if v.type != "dynamic":
            return v
        return convert(v, "timespan" if spans and other.type == "timespan" else "real")

    return number(a, b), number(b, a)


def _micros(value: exp.Expression, a: T, b: T) -> exp.Expression:
    """A timespan result stays whole microseconds when the other operand is a real."""
    if "real" in (a.type, b.type) or "decimal" in (a.type, b.type):
        return exp.Cast(this=value, to=dtype("BIGINT"))
    return value


def _known(a: T, b: T) -> bool:
    return a.is_const and b.is_const and a.const is not None and b.const is not None


def arith_add(c: Compiler, a: T, b: T, node: A.Node) -> T:
    if _known(a, b):
        if a.type == "datetime" and b.type == "timespan":
            return literal(a.const + timedelta(microseconds=b.const), "datetime")
        if a.type == "timespan" and b.type == "datetime":
            return literal(b.const + timedelta(microseconds=a.const), "datetime")
        if a.type == b.type == "timespan":
            return literal(a.const + b.const, "timespan")
    d = c.planner.dialect
    if a.type == "datetime" and b.type in ("timespan", *NUMERIC):
        return T(d.add_micros(a.sql, b.sql), "datetime")
    if b.type == "datetime" and a.type in ("timespan", *NUMERIC):
        return T(d.add_micros(b.sql, a.sql), "datetime")
    a, b = _numbers(a, b, spans=True)
    if a.type == "timespan" or b.type == "timespan":
        return T(_micros(exp.Add(this=a.sql, expression=b.sql), a, b), "timespan")
    if a.type in ("string", "guid") or b.type in ("string", "guid"):
        raise c.err("'+' does not concatenate strings in KQL; use strcat()", node)
    return T(exp.Add(this=a.sql, expression=b.sql), promote(a.type, b.type))


def arith_sub(c: Compiler, a: T, b: T, node: A.Binary) -> T:
    d = c.planner.dialect
    if _known(a, b):
        if a.type == "datetime" and b.type == "timespan":
            return literal(a.const - timedelta(microseconds=b.const), "datetime")
        if a.type == b.type == "datetime":
            return literal((a.const - b.const) / timedelta(microseconds=1), "timespan")
        if a.type == b.type == "timespan":
            return literal(a.const - b.const, "timespan")
    if a.type == "datetime" and b.type == "datetime":
        return T(exp.Sub(this=d.epoch_us(a.sql), expression=d.epoch_us(b.sql)), "timespan")
    if a.type == "datetime" and b.type in ("timespan", *NUMERIC):
        return T(d.add_micros(a.sql, exp.Neg(this=exp.Paren(this=b.sql))), "datetime")
    a, b = _numbers(a, b, spans=True)
    if a.type == "timespan" or b.type == "timespan":
        return T(_micros(exp.Sub(this=a.sql, expression=b.sql), a, b), "timespan")
    return T(exp.Sub(this=a.sql, expression=b.sql), promote(a.type, b.type))


def _number(v: T) -> bool:
    return (
        v.type in (*NUMERIC, "timespan")
        and isinstance(v.const, (int, float))
        and not isinstance(v.const, bool)
    )


def arith_mul(c: Compiler, a: T, b: T, node: A.Binary) -> T:
    if _known(a, b) and "timespan" in (a.type, b.type) and _number(a) and _number(b):
        return literal(a.const * b.const, "timespan")
    a, b = _numbers(a, b)
    if "timespan" in (a.type, b.type):
        return T(exp.Cast(this=exp.Mul(this=a.sql, expression=b.sql), to=dtype("BIGINT")), "timespan")
    return T(exp.Mul(this=a.sql, expression=b.sql), promote(a.type, b.type))


def arith_div(c: Compiler, a: T, b: T, node: A.Binary) -> T:
    a, b = _numbers(a, b)
    if a.type == "timespan" and b.type == "timespan":
        return T(exp.Div(this=exp.Cast(this=a.sql, to=dtype("DOUBLE")), expression=b.sql), "real")
    if a.type == "timespan":
        return T(exp.Cast(this=exp.Div(this=a.sql, expression=b.sql), to=dtype("BIGINT")), "timespan")
    kind = promote(a.type, b.type)
    if kind == "long":
        by = exp.Nullif(this=b.sql, expression=exp.Literal.number(0))  # a long division by zero is null
        q = exp.Div(this=exp.Cast(this=a.sql, to=dtype("DOUBLE")), expression=by)
        return T(exp.TryCast(this=fn("trunc", q), to=dtype("BIGINT")), "long")
    return T(exp.Div(this=exp.Cast(this=a.sql, to=dtype("DOUBLE")), expression=b.sql), "real")


def arith_mod(c: Compiler, a: T, b: T, node: A.Binary) -> T:
    """Kusto's `%` is never negative, whatever the operands' signs: -14 % 12 and -14 % -12 are 10."""
    kind = "timespan" if "timespan" in (a.type, b.type) else promote(a.type, b.type)
    d = exp.Abs(this=b.sql)
    m = exp.Mod(
        this=exp.Paren(this=exp.Add(this=exp.Paren(this=exp.Mod(this=a.sql, expression=d)), expression=d)),
        expression=d,
    )
    return T(m, kind)


BINARY: dict[str, BinaryLowering] = {
    "+": arith_add,
    "-": arith_sub,
    "*": arith_mul,
    "/": arith_div,
    "%": arith_mod,
}
