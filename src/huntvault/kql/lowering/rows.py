"""Tabular lowerings computed in Python: the input's rows go to a `kql/pyfuncs` body as one JSON list (the
kql_fn UDF, once per query) and its result rows come back as a table of typed columns (DuckDB and Spark)."""

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
    text = call("json_extract_string", value, S("$"))
    if kql_type in ("string", "guid"):  # null stays null (on Spark too): a wildcard may take its place
        is_null = exp.EQ(this=exp.Cast(this=value.copy(), to=dtype("VARCHAR")), expression=S("null"))
        return exp.Case(ifs=[exp.If(this=is_null, true=exp.Null())], default=text)
    if kql_type == "timespan":
        return exp.TryCast(this=text, to=dtype("BIGINT"))
    if kql_type == "datetime":
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
    table of `out` columns; a null cell of a column in `wildcards` shows that wildcard instead. The
    implementation puts each row's position first: the rows come back in its order."""
    d = p.dialect
    row = exp.Anonymous(this="json_array", expressions=[to_dynamic(v).sql for v in inputs])
    listed = exp.Filter(this=call("list", row), expression=exp.Where(this=exp.true()))
    rows = exp.Cast(this=exp.Cast(this=listed, to=dtype("JSON[]")), to=dtype("JSON"))
    args = exp.Anonymous(this="json_array", expressions=[rows, literal(options, "dynamic").sql])
    udf = call(UDF_NAME, S(impl), S("dynamic,dynamic->dynamic"), exp.Cast(this=args, to=dtype("VARCHAR")))
    inner = p.select(rel, [alias(exp.Cast(this=udf, to=dtype("JSON")), "__rows")])
    unnested = exp.select(alias(exp.Unnest(expressions=[d.json_list(col("__rows"))]), "__row")).from_(
        inner.subquery(p.fresh(), copy=False), copy=False
    )
    proj: list[exp.Expression] = []
    for i, (name, kind) in enumerate(out, start=1):
        cell = _cell(d.json_extract(col("__row"), S(f"$[{i}]")), kind)
        wild = (wildcards or {}).get(name)
        if wild is not None:
            cell = exp.Coalesce(this=cell, expressions=[wild.sql])
        proj.append(alias(cell, name))
    position = exp.TryCast(this=call("json_extract_string", col("__row"), S("$[0]")), to=dtype("BIGINT"))
    sql = (
        exp.select(*proj)
        .from_(unnested.subquery(p.fresh(), copy=False), copy=False)
        .order_by(position, copy=False)
    )
    return Rel(sql, list(out))


def grouped_rows(p: Planner, rel: Rel, keys: list[T], weight: T | None) -> tuple[Rel, list[T]]:
    """The input grouped by `keys` (the mining reads each distinct row once): one row per distinct key
    tuple with `__w` (the summed weight, or the row count) and `__n` (the row count) after the keys.
    Returns the grouped relation and its columns as values, in that order."""
    names = [f"__k{i}" for i in range(len(keys))]
    measure = exp.Sum(this=weight.sql) if weight is not None else exp.Count(this=exp.Star())
    proj: list[exp.Expression] = [alias(k.sql, n) for k, n in zip(keys, names, strict=True)]
    proj += [alias(measure, "__w"), alias(exp.Count(this=exp.Star()), "__n")]
    sql = p.select(rel, proj)
    if keys:
        sql = sql.group_by(*[k.sql.copy() for k in keys], copy=False)
    kinds = [*[k.type for k in keys], "real" if weight is not None else "long", "long"]
    cols = list(zip([*names, "__w", "__n"], kinds, strict=True))
    return Rel(sql, cols), [T(col(n), t) for n, t in cols]
