"""Comparison operators (==, !=, <, <=, >, >=, =~, !~) and `between`, with Kusto's implicit conversions."""

from __future__ import annotations

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.ir import BinaryLowering, Compiler
from huntvault.kql.lowering.coerce import coerce_pair, lower_str, negate, shifted
from huntvault.kql.values import T, to_string


def compare(cls: type[exp.Expression]) -> BinaryLowering:
    def lower(c: Compiler, a: T, b: T, node: A.Binary) -> T:
        a, b = coerce_pair(a, b)
        return T(cls(this=a.sql, expression=b.sql), "bool")

    return lower


def ci_equal(c: Compiler, a: T, b: T, node: A.Binary) -> T:
    return T(exp.EQ(this=lower_str(a), expression=lower_str(b)), "bool")


def equality(c: Compiler, a: T, b: T, node: A.Binary) -> T:
    a, b = coerce_pair(a, b)
    if a.type == "dynamic" and b.type == "dynamic":
        a, b = to_string(a), to_string(b)
    return T(exp.EQ(this=a.sql, expression=b.sql), "bool")


def inequality(c: Compiler, a: T, b: T, node: A.Binary) -> T:
    a, b = coerce_pair(a, b)
    if a.type == "dynamic" and b.type == "dynamic":
        a, b = to_string(a), to_string(b)
    return T(exp.NEQ(this=a.sql, expression=b.sql), "bool")


def between(c: Compiler, node: A.Between) -> T:
    """`x between (lo .. hi)` (inclusive); a datetime with a timespan upper bound means lo + span."""
    v = c.compile(node.expr)
    lo = c.compile(node.low)
    hi = c.compile(node.high)
    if v.type == "datetime" and hi.type == "timespan":
        hi = shifted(c, lo, hi)
    v, lo = coerce_pair(v, lo)
    v, hi = coerce_pair(v, hi)
    expr: exp.Expression = exp.Between(this=v.sql, low=lo.sql, high=hi.sql)
    if node.negated:
        expr = exp.Not(this=exp.Paren(this=expr))
    return T(expr, "bool")


BINARY: dict[str, BinaryLowering] = {
    "==": equality,
    "!=": inequality,
    "<": compare(exp.LT),
    "<=": compare(exp.LTE),
    ">": compare(exp.GT),
    ">=": compare(exp.GTE),
    "=~": ci_equal,
    "!~": negate(ci_equal),
}
