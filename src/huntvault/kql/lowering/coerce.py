"""Kusto's implicit conversions between operands: comparison pairs, common types of branches, lower-casing."""

from __future__ import annotations

from datetime import timedelta

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.ir import BinaryLowering, Compiler
from huntvault.kql.values import NUMERIC, SQL_TYPES, T, convert, literal, null_of, to_dynamic, to_string


def type_argument(v: T) -> str | None:
    """The KQL type a `typeof(...)` (or type-name string) argument names, None when it names none."""
    name = v.const if v.is_const and isinstance(v.const, str) else None
    return name if name in SQL_TYPES and name != "null" else None


def coerce_pair(a: T, b: T) -> tuple[T, T]:
    """Bring two operands of a comparison to a common type, as Kusto's implicit conversions do."""
    if a.type == b.type or "null" in (a.type, b.type):
        return a, b
    if a.type == "dynamic" and b.type != "dynamic":
        return convert(a, b.type if b.type != "guid" else "string"), b
    if b.type == "dynamic" and a.type != "dynamic":
        return a, convert(b, a.type if a.type != "guid" else "string")
    if a.type in NUMERIC and b.type in NUMERIC:
        return a, b
    if {a.type, b.type} <= {"string", "guid"}:
        return a, b
    if a.type == "datetime" and b.type in ("string", "guid"):
        return a, convert(b, "datetime")
    if b.type == "datetime" and a.type in ("string", "guid"):
        return convert(a, "datetime"), b
    if a.type in ("string", "guid"):
        return a, to_string(b)
    if b.type in ("string", "guid"):
        return to_string(a), b
    if a.type == "bool" and b.type in NUMERIC:
        return convert(a, "long"), b
    if b.type == "bool" and a.type in NUMERIC:
        return a, convert(b, "long")
    return a, b


def unify(values: list[T]) -> list[T]:
    """Values of several branches (iff, case, coalesce, min_of) brought to one type."""
    types = {v.type for v in values if v.type != "null"}
    if len(types) <= 1:
        kind = types.pop() if types else "string"
        return [null_of(kind) if v.type == "null" else v for v in values]
    if types <= set(NUMERIC):
        return [convert(v, "real") if v.type != "null" else null_of("real") for v in values]
    if "dynamic" in types:
        others = types - {"dynamic"}
        if len(others) == 1:  # iff(c, d[0], "text"): the dynamic side takes the scalar side's type
            kind = others.pop()
            return [convert(v, kind) if v.type != "null" else null_of(kind) for v in values]
        return [to_dynamic(v) for v in values]
    return [to_string(v) for v in values]


def lower_str(v: T) -> exp.Expression:
    """The value as lower-case text (constants folded)."""
    if v.is_const and isinstance(v.const, str):
        return exp.Literal.string(v.const.lower())
    return exp.Lower(this=to_string(v).sql)


def negate(f: BinaryLowering) -> BinaryLowering:
    """The negated operator (`!~` of `=~`, `!has` of `has`...)."""

    def lower(c: Compiler, a: T, b: T, node: A.Binary) -> T:
        inner = f(c, a, b, node)
        return T(exp.Not(this=exp.Paren(this=inner.sql)), "bool")

    return lower


def shifted(c: Compiler, when: T, span: T) -> T:
    """A datetime moved by a timespan (folded when both are constants)."""
    if when.is_const and span.is_const and when.const is not None and isinstance(span.const, (int, float)):
        return literal(when.const + timedelta(microseconds=span.const), "datetime")
    return T(c.planner.dialect.add_micros(when.sql, span.sql), "datetime")
