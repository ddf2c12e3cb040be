"""Record metadata that has an offline answer: estimate_data_size (from the values' types and lengths),
extent_id and extent_tags (the archive has no Kusto extents: every record is "calculated data")."""

from __future__ import annotations

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.ir import Compiler, Special
from huntvault.kql.values import T, call, dtype, literal, to_string

#: the fixed size in bytes of a value of each fixed-width type (strings and dynamic values count their text)
FIXED_SIZES: dict[str, int] = {
    "bool": 1,
    "int": 4,
    "long": 8,
    "real": 8,
    "datetime": 8,
    "timespan": 8,
    "decimal": 16,
    "guid": 16,
}


def _size(c: Compiler, v: T) -> exp.Expression:
    """One value's estimated size: its type's width, or its UTF-8 text's length; 0 for null."""
    fixed = FIXED_SIZES.get(v.type)
    if fixed is not None:
        size: exp.Expression = exp.Literal.number(fixed)
        return exp.Case(
            ifs=[exp.If(this=exp.Is(this=v.sql, expression=exp.Null()), true=exp.Literal.number(0))],
            default=size,
        )
    text = to_string(v).sql
    length = call("strlen" if c.planner.dialect.name == "duckdb" else "octet_length", text)
    return exp.Coalesce(this=length, expressions=[exp.Literal.number(0)])


def r_estimate_data_size(c: Compiler, node: A.Call) -> T:
    """estimate_data_size(*) / estimate_data_size(col, ...): the bytes of the row's (chosen) columns."""
    values: list[T] = []
    for arg in node.args:
        if isinstance(arg, A.Star):
            values += [T(v.sql, v.type) for v in c.scope.cols.values()]
        else:
            values.append(c.compile(arg))
    if not values:
        raise c.err("estimate_data_size() takes columns or *", node)
    total = _size(c, values[0])
    for v in values[1:]:
        total = exp.Add(this=total, expression=_size(c, v))
    return T(exp.Cast(this=total, to=dtype("BIGINT")), "long")


def r_extent_id(c: Compiler, node: A.Call) -> T:
    """The empty guid: the archive's records are not in Kusto data shards (Kusto's answer for calculated data)."""
    return literal("00000000-0000-0000-0000-000000000000", "guid")


def r_extent_tags(c: Compiler, node: A.Call) -> T:
    """An empty array: no data shard, no tags (Kusto's answer for calculated data)."""
    return literal([], "dynamic")


SPECIALS: dict[str, Special] = {
    "estimate_data_size": Special(r_estimate_data_size, (1, None)),
    "extent_id": Special(r_extent_id, (0, 0)),
    "extentid": Special(r_extent_id, (0, 0)),
    "extent_tags": Special(r_extent_tags, (0, 0)),
    "extenttags": Special(r_extent_tags, (0, 0)),
}
