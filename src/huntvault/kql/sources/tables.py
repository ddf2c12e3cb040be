"""Sources over several tables: union, find, search (a free-text term over every column)."""

from __future__ import annotations

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.ir import Env, Planner, Rel, Source, source
from huntvault.kql.lowering.tables import search_tables, searchable, union_of, union_rels
from huntvault.kql.values import T, alias, col, to_dynamic


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


def lower_find(p: Planner, node: A.FindSource, env: Env) -> Rel:
    rels: list[tuple[str, Rel]] = []
    for label, t in search_tables(p, node.tables, env):
        r = p.relation(t, env)
        pred = searchable(p, r, node.predicate, env)
        if pred is None:
            continue
        wanted = node.project
        keep = [(n, ty) for n, ty in r.cols if wanted is None or n in wanted]
        kept = {n for n, _ in keep}
        extra = [(n, ty) for n, ty in r.cols if n not in kept]
        proj: list[exp.Expression] = [col(n) for n, _ in keep]
        if wanted is None:
            pairs: list[exp.Expression] = []
            for n, ty in extra:
                pairs += [exp.Literal.string(n), to_dynamic(T(col(n), ty)).sql]
            proj.append(alias(exp.Anonymous(this="json_object", expressions=pairs), "pack_"))
            keep = [*keep, ("pack_", "dynamic")]
        rels.append((label, Rel(p.select(r, proj).where(pred, copy=False), keep)))
    if not rels:
        raise p.semantic("find: no table can match", node)
    source_col = "source_"
    if "withsource" in node.options and isinstance(node.options["withsource"], A.Name):
        source_col = node.options["withsource"].name
    return union_rels(p, rels, "outer", source_col)


SOURCES: list[Source] = [
    source(A.UnionSource, lower_union),
    source(A.SearchSource, lower_search),
    source(A.FindSource, lower_find),
]
