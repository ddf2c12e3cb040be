"""Tabular lowerings computed in Python: the input's rows go to a `kql/pyfuncs` body as one JSON list (the
kql_fn UDF, once per query) and its result rows come back as a table of typed columns (DuckDB only)."""

from __future__ import annotations

from typing import Any

from sqlglot import exp

from huntvault.kql.ir import Planner, Rel
from huntvault.kql.pyfuncs import UDF_NAME
from huntvault.kql.values import SQL_TYPES, S, T, alias, call, col, convert, dtype, literal, to_dynamic


def _cell(value: exp.Expression, kql_type: str) -> exp.Expression:
    """A JSON cell as a value of its KQL type (timespans travel as microseconds)."""
    if kql_type == "dynamic":
        return value
    if kql_type in ("string", "guid"):  # null stays null: a wildcard may take its place
        return call("json_extract_string", value, S("$"))
    if kql_type == "timespan":
        return exp.TryCast(this=call("json_extract_string", value, S("$")), to=dtype("BIGINT"))
    if kql_type == "datetime":
        text = call("json_extract_string", value, S("$"))
        return exp.TryCast(this=text, to=dtype(SQL_TYPES["datetime"]))
    return convert(T(value, "dynamic"), kql_type).sql


def python_rows(
    p: Planner,
    rel: Rel,
    impl: str,
    inputs: list[T],
    options: dict[str, Any],
    out: list[tuple[str, str]],
    wildcards: dict[str, T] | None = None,
) -> Rel:
    """`pyfuncs.IMPLS[impl](rows, options)` over the input rows (each the list of `inputs`' values) as a
    table of `out` columns; a null cell of a column in `wildcards` shows that wildcard instead."""
    row = exp.Anonymous(this="json_array", expressions=[to_dynamic(v).sql for v in inputs])
    rows = call("to_json", call("list", row))
    args = exp.Anonymous(this="json_array", expressions=[rows, literal(options, "dynamic").sql])
    udf = call(UDF_NAME, S(impl), S("dynamic,dynamic->dynamic"), exp.Cast(this=args, to=dtype("VARCHAR")))
    listed = exp.Cast(this=exp.Cast(this=udf, to=dtype("JSON")), to=dtype("JSON[]"))
    inner = p.select(rel, [alias(listed, "__rows")])
    lst = col("__rows")
    unnested = exp.select(
        alias(exp.Unnest(expressions=[lst]), "__row"),
        alias(exp.Unnest(expressions=[call("range", call("len", lst.copy()))]), "__ord"),
    ).from_(inner.subquery(p.fresh(), copy=False), copy=False)
    proj: list[exp.Expression] = []
    for i, (name, kind) in enumerate(out):
        cell = _cell(call("json_extract", col("__row"), S(f"$[{i}]")), kind)
        wild = (wildcards or {}).get(name)
        if wild is not None:
            cell = exp.Coalesce(this=cell, expressions=[wild.sql])
        proj.append(alias(cell, name))
    sql = (
        exp.select(*proj)
        .from_(unnested.subquery(p.fresh(), copy=False), copy=False)
        .order_by(col("__ord"), copy=False)
    )
    return Rel(sql, list(out))
