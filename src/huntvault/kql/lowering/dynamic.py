"""Dynamic (JSON) values in SQL: any value as JSON, JSON arrays as SQL lists, order-keeping distinct."""

from __future__ import annotations

from sqlglot import exp

from huntvault.kql.ir import Compiler
from huntvault.kql.values import T, call, dtype, to_dynamic

#: DuckDB's list of JSON values
JSON_LIST = dtype("JSON[]")
#: DuckDB's list of doubles (series)
DOUBLES = dtype("DOUBLE[]")


def dyn(c: Compiler, v: T) -> exp.Expression:
    """The value as JSON: dynamic as is, string columns parsed (null when not JSON), others converted."""
    if v.type == "dynamic":
        return v.sql
    if v.type in ("string", "guid") and not v.is_const:
        return c.planner.dialect.try_json(v.sql)
    return to_dynamic(v).sql


def json_list(c: Compiler, v: T) -> exp.Expression:
    """The value as a SQL list of JSON elements (null unless it is a JSON array)."""
    return exp.TryCast(this=dyn(c, v), to=JSON_LIST.copy())


def doubles(c: Compiler, v: T) -> exp.Expression:
    """A series (JSON array of numbers) as a SQL list of doubles (null when it is not one)."""
    return exp.TryCast(this=dyn(c, v), to=DOUBLES.copy())


def ordered_distinct(lst: exp.Expression) -> exp.Expression:
    """Distinct list items in first-seen order (DuckDB's list_distinct does not keep the order)."""
    lam = exp.Lambda(
        this=exp.EQ(this=call("list_position", lst.copy(), exp.column("x")), expression=exp.column("i")),
        expressions=[exp.to_identifier("x"), exp.to_identifier("i")],
    )
    return call("list_filter", lst, lam)
