"""Cheaper filters: a `where` moved below the `extend` that computes its columns, and simplified as a WHERE.

Both rewrites keep the rows exactly. A WHERE keeps a row only when its condition is true, so a part
that is null where Kusto's value is false (both drop the row) may be written without what turned the
null into false: `coalesce(x, '') = 'a'` is `x = 'a'` there (the rules of `SIMPLIFY`). And a filter
over `SELECT *, e AS a FROM s` is the same filter, with `a` replaced by `e`, inside `s`: the engine
then filters before it computes the new columns, and the simplified condition reaches the scan.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from huntvault.kql.ir import Rel

#: one simplification of a condition part that only has to be true exactly when the original is
Simplify = Callable[[exp.Expression], exp.Expression | None]


def _literal(node: exp.Expression | None) -> bool:
    return isinstance(node, exp.Literal)


def _differ(a: exp.Expression, b: exp.Expression) -> bool:
    """Two literals surely unequal as SQL values: two different strings, or two numbers of different
    value (`0` and `0.0` are equal; a string and a number are not known to differ)."""
    assert isinstance(a, exp.Literal) and isinstance(b, exp.Literal)
    if a.is_string and b.is_string:
        return bool(a.this != b.this)
    if a.is_number and b.is_number:
        try:
            return float(a.this) != float(b.this)
        except ValueError:
            return False
    return False


def _defaulted(node: exp.Expression | None) -> tuple[exp.Expression, exp.Expression] | None:
    """`coalesce(x, literal)` as (x, literal)."""
    if isinstance(node, exp.Paren):
        node = node.this
    if not isinstance(node, exp.Coalesce) or len(node.expressions) != 1:
        return None
    fallback = node.expressions[0]
    return (node.this, fallback) if _literal(fallback) else None


def _eq_default(node: exp.Expression) -> exp.Expression | None:
    """`coalesce(x, d) = c` with literals d != c: the row passes exactly when `x = c`."""
    if not isinstance(node, exp.EQ):
        return None
    for side, other in ((node.this, node.expression), (node.expression, node.this)):
        got = _defaulted(side)
        if got is not None and _literal(other) and _differ(got[1], other):
            return exp.EQ(this=got[0].copy(), expression=other.copy())
    return None


def _in_default(node: exp.Expression) -> exp.Expression | None:
    """`coalesce(x, d) IN (c1, c2...)` with literals, d not among them: exactly when `x IN (...)`."""
    if not isinstance(node, exp.In) or node.args.get("query") or node.args.get("unnest"):
        return None
    got = _defaulted(node.this)
    items = node.expressions
    if got is None or not items or not all(_literal(i) for i in items):
        return None
    if not all(_differ(got[1], i) for i in items):
        return None
    return exp.In(this=got[0].copy(), expressions=[i.copy() for i in items])


#: the simplifications, tried in order on every part of a condition that is AND/OR-ed (never under NOT)
SIMPLIFY: list[Simplify] = [_eq_default, _in_default]


def null_rejecting(cond: exp.Expression) -> exp.Expression:
    """A WHERE condition with its AND/OR-ed parts simplified (a null part drops the row as false does)."""
    if isinstance(cond, (exp.And, exp.Or)):
        left, right = null_rejecting(cond.this), null_rejecting(cond.expression)
        if left is cond.this and right is cond.expression:
            return cond
        return cond.__class__(this=left, expression=right)
    if isinstance(cond, exp.Paren):
        inner = null_rejecting(cond.this)
        return cond if inner is cond.this else exp.Paren(this=inner)
    for rule in SIMPLIFY:
        simpler = rule(cond)
        if simpler is not None:
            return simpler
    return cond


#: sqlglot's SELECT argument names for FROM and WITH (`from_`/`with_` since sqlglot 26, `from`/`with` before)
FROM_KEY = "from_" if "from_" in exp.Select.arg_types else "from"
WITH_KEY = "with_" if "with_" in exp.Select.arg_types else "with"
#: nodes whose value is not a function of the row's columns alone: an extend computing one keeps the filter above it
_NOT_PER_ROW = (exp.Window, exp.AggFunc, exp.Select, exp.Subquery, exp.Rand, exp.Uuid, exp.Lambda)
#: SELECT parts after which rows are no longer the FROM's rows one for one
_NOT_A_PROJECTION = (
    "where",
    "group",
    "having",
    "qualify",
    "order",
    "limit",
    "offset",
    "distinct",
    "joins",
    "laterals",
    WITH_KEY,
)


def below_extend(
    rel: Rel, cond: exp.Expression
) -> tuple[Rel, exp.Expression, Callable[[exp.Select], exp.Select]] | None:
    """When rel is `SELECT *, e1 AS a1... FROM (s) AS t` (an extend of new columns): s as a Rel, the
    condition over s's columns (each `a` replaced by its `e`), and how to put the extend back on top
    of the filtered s. None when the filter must stay where it is."""
    sql = rel.sql
    if not isinstance(sql, exp.Select) or any(sql.args.get(k) for k in _NOT_A_PROJECTION):
        return None
    source = sql.args.get(FROM_KEY)
    sub = source.this if isinstance(source, exp.From) else None
    if not isinstance(sub, exp.Subquery) or not isinstance(sub.this, exp.Select):
        return None
    first, *added = sql.expressions
    if not isinstance(first, exp.Star) or any(first.args.get(k) for k in ("except", "replace", "rename")):
        return None
    if not added or not all(isinstance(a, exp.Alias) for a in added) or len(added) > len(rel.cols):
        return None
    defs = {a.alias: a.this for a in added}
    if not any(not c.table and c.name in defs for c in cond.find_all(exp.Column)):
        return None  # the filter reads none of the new columns: the engine moves it as well as we would
    inner_cols = rel.cols[: len(rel.cols) - len(added)]
    if [n for n, _ in rel.cols[len(inner_cols) :]] != list(defs) or any(n in defs for n, _ in inner_cols):
        return None
    if any(e.find(*_NOT_PER_ROW) is not None for e in defs.values()):
        return None
    if cond.find(*_NOT_PER_ROW) is not None:
        return None

    def substitute(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Column) and not node.table and node.name in defs:
            return exp.Paren(this=defs[node.name].copy())
        return node

    moved = cond.copy().transform(substitute, copy=False)
    alias = sub.alias

    def rebuild(filtered: exp.Select) -> exp.Select:
        return exp.Select(**{**sql.args, FROM_KEY: exp.From(this=filtered.subquery(alias, copy=False))})

    return Rel(sub.this, list(inner_cols), rel.order), moved, rebuild
