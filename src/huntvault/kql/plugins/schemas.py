"""Plugins that reshape whole tables: schema_merge (getschema outputs merged) and narrow (a row per cell)."""

from __future__ import annotations

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.ir import Env, Planner, Plugin, Rel
from huntvault.kql.lowering.tables import union_all
from huntvault.kql.values import T, alias, col, literal, to_string

_SEP = "\x1f"
_SCHEMA = [
    ("ColumnName", "string"),
    ("ColumnOrdinal", "int"),
    ("DataType", "string"),
    ("ColumnType", "string"),
]
_OUT_OF_ORDER = "ERROR(columns are out of order)"


def lower_schema_merge(p: Planner, rel: Rel, node: A.Call, env: Env) -> Rel:
    """schema_merge([PreserveOrder=true]) over rows of `getschema` outputs (each schema's ordinals start at 0):
    columns in the order they are met, a new column at its own ordinal; with PreserveOrder a column met at
    different ordinals is an error row (ordinal -1) after the others."""
    have = dict(rel.cols)
    if any(n not in have for n, _ in _SCHEMA):
        raise p.semantic(
            "schema_merge() needs getschema's columns (ColumnName, ColumnOrdinal, DataType, ColumnType)", node
        )
    preserve = True
    setting = node.named.get("PreserveOrder") or (node.args[0] if node.args else None)
    if setting is not None:
        v = p.compile(setting, p.scope_of(rel, env))
        if not (v.is_const and isinstance(v.const, bool)):
            raise p.semantic("schema_merge(): PreserveOrder must be true or false", setting)
        preserve = v.const
    parts = [to_string(T(col(n), have[n])).sql for n, _ in _SCHEMA]
    text: exp.Expression = parts[0]
    for part in parts[1:]:
        text = exp.DPipe(this=exp.DPipe(this=text, expression=exp.Literal.string(_SEP)), expression=part)
    rows = [r.split(_SEP) for r in p.discover(p.select(rel, [alias(text, "r")]))]
    merged: list[str] = []
    first: dict[str, tuple[int, str, str]] = {}
    broken: list[str] = []
    for name, ordinal, dotnet, kind in rows:
        at = int(ordinal or 0)
        if name not in first:
            first[name] = (at, dotnet, kind)
            merged.insert(min(at, len(merged)), name)
        elif preserve and first[name][0] != at and name not in broken:
            broken.append(name)
    out: list[exp.Select] = []
    good = [n for n in merged if n not in broken]
    for i, name in enumerate(good):
        _, dotnet, kind = first[name]
        out.append(_schema_row(name, i, dotnet, kind))
    for name in broken:
        out.append(_schema_row(name, -1, f"ERROR(unknown CSL type:{_OUT_OF_ORDER})", _OUT_OF_ORDER))
    if not out:
        empty = exp.select(*[alias(literal(None, t).sql, n) for n, t in _SCHEMA]).where(
            exp.false(), copy=False
        )
        return Rel(empty, list(_SCHEMA))
    return union_all(p, out, list(_SCHEMA))


def _schema_row(name: str, ordinal: int, dotnet: str, kind: str) -> exp.Select:
    values = [name, ordinal, dotnet, kind]
    return exp.select(*[alias(literal(v, t).sql, n) for v, (n, t) in zip(values, _SCHEMA, strict=True)])


def lower_narrow(p: Planner, rel: Rel, node: A.Call, env: Env) -> Rel:
    """narrow(): one row per cell, (Row, Column, Value) with the row's 0-based number and the value as text."""
    if node.args:
        raise p.semantic("narrow() takes no arguments", node)
    numbered = p.select(
        rel,
        [
            *p.star(rel),
            alias(
                exp.Sub(
                    this=exp.Window(
                        this=exp.RowNumber(),
                        order=exp.Order(expressions=[exp.Ordered(this=exp.Literal.number(1))]),
                    ),
                    expression=exp.Literal.number(1),
                ),
                "__row",
            ),
        ],
    )
    sub, _ = p.wrap(Rel(numbered, [*rel.cols, ("__row", "long")]))
    name = p.fresh("narrow")
    cte = exp.select("*").from_(sub, copy=False)
    selects: list[exp.Select] = []
    for n, t in rel.cols:
        selects.append(
            exp.select(
                alias(col("__row"), "Row"),
                alias(exp.Literal.string(n), "Column"),
                alias(to_string(T(col(n), t)).sql, "Value"),
            ).from_(exp.Table(this=exp.to_identifier(name)), copy=False)
        )
    cols = [("Row", "long"), ("Column", "string"), ("Value", "string")]
    if not selects:
        return Rel(
            exp.select(*[alias(literal(None, t).sql, n) for n, t in cols]).where(exp.false(), copy=False),
            cols,
        )
    out = union_all(p, selects, cols)
    return Rel(out.sql.with_(name, as_=cte, copy=False), cols)


PLUGINS: dict[str, Plugin] = {
    "schema_merge": Plugin(lower_schema_merge),
    "narrow": Plugin(lower_narrow),
}
