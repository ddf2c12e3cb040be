"""Tabular values folded into constants at compile time: `toscalar(...)` and the lists of `in` / `has_any`
over a tabular expression are computed once (a small first query, `Planner.discover`) and become literals,
so the main query gets the constant-list fast paths (one term regex, an IN list, statistics pruning)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlglot import exp

from huntvault.errors import KqlError
from huntvault.kql.ir import Planner, Rel
from huntvault.kql.values import T, col, literal, null_of

#: a tabular list longer than this stays a subquery (its SQL would grow with the data)
FOLD_CAP = 10_000


def _decode(text: str, kind: str) -> Any:
    if kind in ("long", "int"):
        return int(text)
    if kind in ("real", "decimal"):
        return float(text)
    if kind == "bool":
        return text.lower() == "true"
    if kind == "timespan":
        return int(float(text))
    if kind == "datetime":
        value = datetime.fromisoformat(text)
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if kind == "dynamic":
        return json.loads(text)
    return text


def fetch_first_column(p: Planner, rel: Rel, cap: int) -> list[Any] | None:
    """The non-null values of rel's first column (decoded to Python), None when there are more than `cap`
    or the query cannot run on its own (it refers to an outer row)."""
    name, kind = rel.cols[0]
    query = p.select(rel, [col(name)]).limit(cap + 1, copy=False)
    try:
        texts = p.discover(query)
    except KqlError:
        return None
    if len(texts) > cap:
        return None
    try:
        return [_decode(t, kind) for t in texts]
    except ValueError:
        return None


def folded_scalar(p: Planner, rel: Rel) -> T | None:
    """toscalar(): the first row's first value as a literal (None: not foldable)."""
    values = fetch_first_column(p, Rel(p.select(rel, [exp.Star()]).limit(1, copy=False), rel.cols), 1)
    if values is None:
        return None
    kind = rel.cols[0][1]
    if not values:
        return null_of(kind)
    return literal(values[0], kind)


def folded_list(p: Planner, rel: Rel) -> list[T] | None:
    """The items of `x in (T)` / `has_any (T)`: every value of T's first column, arrays flattened (a
    `summarize make_set(X)` table gives its set's items)."""
    values = fetch_first_column(p, rel, FOLD_CAP)
    if values is None:
        return None
    kind = rel.cols[0][1]
    out: list[T] = []
    for v in values:
        items = v if kind == "dynamic" and isinstance(v, list) else [v]
        for x in items:
            if x is None:
                continue
            if kind != "dynamic":
                out.append(literal(x, kind))
            elif isinstance(x, bool):
                out.append(literal(x, "bool"))
            elif isinstance(x, int):
                out.append(literal(x, "long"))
            elif isinstance(x, float):
                out.append(literal(x, "real"))
            elif isinstance(x, str):
                out.append(literal(x, "string"))
            else:
                out.append(literal(x, "dynamic"))
        if len(out) > FOLD_CAP:
            return None
    return out
