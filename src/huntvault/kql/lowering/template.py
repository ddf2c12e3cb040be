"""SQL templates of tabular building blocks: constant SQL text parsed by sqlglot, whose named tables and
`__name` columns are replaced by trees (the input relation, compiled values): user text never enters the SQL."""

from __future__ import annotations

from functools import lru_cache

import sqlglot
from sqlglot import exp


@lru_cache(maxsize=64)
def _parsed(sql: str) -> exp.Expression:
    tree = sqlglot.parse_one(sql, read="duckdb")
    assert isinstance(tree, exp.Expression)
    return tree


def from_template(
    sql: str, tables: dict[str, exp.Expression], values: dict[str, exp.Expression] | None = None
) -> exp.Select:
    """The template's tree with each table named in `tables` replaced by that query (as a subquery with the
    table's alias) and each unqualified column named in `values` replaced by that expression."""
    given = values or {}

    def substitute(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Table) and not node.args.get("db") and node.name in tables:
            query = tables[node.name].copy()
            assert isinstance(query, exp.Query)
            return query.subquery(node.alias_or_name, copy=False)
        if isinstance(node, exp.Column) and not node.table and node.name in given:
            return exp.Paren(this=given[node.name].copy())
        return node

    out = _parsed(sql).copy().transform(substitute, copy=False)
    assert isinstance(out, exp.Select)
    return out
