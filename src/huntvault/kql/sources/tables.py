"""Sources over several tables: union, find, search (a free-text term over every column)."""

from __future__ import annotations

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.ir import Env, Planner, Rel, Source, source
from huntvault.kql.lowering.tables import search_tables, searchable, union_of, union_rels
from huntvault.kql.values import T, alias, col, null_of, to_dynamic


def lower_union(p: Planner, node: A.UnionSource, env: Env) -> Rel:
    return union_of(p, node.tables, node.options, env, None, node)


def lower_search(p: Planner, node: A.SearchSource, env: Env) -> Rel:
    rels: list[tuple[str, Rel]] = []
    kind = node.options.get("kind")
    case_sensitive = isinstance(kind, A.Name) and kind.name.lower() == "case_sensitive"
    for label, t in search_tables(p, node.tables, env):
        r = p.relation(t, env)
        pred = searchable(p, r, node.predicate, env, case_sensitive)
        if pred is None:
            continue  # a table without the named columns cannot match
        rels.append((label, Rel(p.select(r, p.star(r)).where(pred, copy=False), r.cols)))
    if not rels:
        raise p.semantic("search: no table can match", node)
    return union_rels(p, rels, "outer", "$table")


def _names(node: object) -> set[str]:
    """The names an expression reads (columns or lets)."""
    return {item.name for item in A.walk(node) if isinstance(item, A.Name)}


def _for_table(pred: A.Node, cols: set[str], env: Env) -> A.Node:
    """find's predicate over one table: a term that reads a column the table lacks is false there
    (the find page: each table keeps the terms over its own columns)."""
    if isinstance(pred, A.Binary) and pred.op in ("and", "or"):
        return A.Binary(
            pred.op, _for_table(pred.left, cols, env), _for_table(pred.right, cols, env), pos=pred.pos
        )
    if any(n not in cols and n not in env for n in _names(pred)):
        return A.Literal(False, "bool", pos=pred.pos)
    return pred


def _bag(names: list[tuple[str, str]]) -> exp.Expression:
    pairs: list[exp.Expression] = []
    for n, ty in names:
        pairs += [exp.Literal.string(n), to_dynamic(T(col(n), ty)).sql]
    return exp.Anonymous(this="json_object", expressions=pairs)


def lower_find(p: Planner, node: A.FindSource, env: Env) -> Rel:
    """find: the matching rows of each table; with `project` the named columns (null where a table lacks
    one) and `pack_all()` as pack_ of the others, else the columns every table has and pack_ of the rest."""
    found: list[tuple[str, Rel, exp.Expression]] = []
    for label, t in search_tables(p, node.tables, env):
        r = p.relation(t, env)
        pred = searchable(p, r, _for_table(node.predicate, {n for n, _ in r.cols}, env), env)
        if pred is not None:
            found.append((label, r, pred))
    if not found:
        raise p.semantic("find: no table can match", node)
    wanted = [n for n in node.project if n != "pack_all()"] if node.project is not None else None
    pack = node.project is None or "pack_all()" in node.project
    types: dict[str, str] = {}
    for _, r, _ in found:
        for n, ty in r.cols:
            types.setdefault(n, ty)
    if wanted is None:
        common = set.intersection(*[{n for n, _ in r.cols} for _, r, _ in found])
        wanted = [n for n, _ in found[0][1].cols if n in common]
    cols = [(n, types.get(n, "string")) for n in wanted]
    rels: list[tuple[str, Rel]] = []
    for label, r, pred in found:
        have = r.types()
        proj: list[exp.Expression] = [col(n) if n in have else alias(null_of(ty).sql, n) for n, ty in cols]
        out = list(cols)
        if pack:
            proj.append(alias(_bag([(n, ty) for n, ty in r.cols if n not in wanted]), "pack_"))
            out.append(("pack_", "dynamic"))
        rels.append((label, Rel(p.select(r, proj).where(pred, copy=False), out)))
    source_col = "source_"
    if "withsource" in node.options and isinstance(node.options["withsource"], A.Name):
        source_col = node.options["withsource"].name
    return union_rels(p, rels, "outer", source_col)


SOURCES: list[Source] = [
    source(A.UnionSource, lower_union),
    source(A.SearchSource, lower_search),
    source(A.FindSource, lower_find),
]
