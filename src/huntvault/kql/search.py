"""find and search across archive tables: a free-text term predicate over every string column."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.scalar import Scope, term_match
from huntvault.kql.values import T, alias, col, to_dynamic, to_string

if TYPE_CHECKING:
    from huntvault.kql.plan import Planner, Rel


def search_predicate(p: Planner, pred: A.Node, rel: Rel, scope: Scope) -> exp.Expression:
    """A bare string literal searches every column for the term; anything else is an ordinary predicate."""
    from huntvault.kql.scalar import ExprCompiler

    if isinstance(pred, A.Literal) and isinstance(pred.value, str):
        ors: list[exp.Expression] = []
        for n, t in rel.cols:
            hay = to_string(T(col(n), t))
            ors.append(
                term_match(
                    ExprCompiler(scope),
                    hay,
                    T(exp.Literal.string(pred.value), "string", pred.value),
                    "has",
                    False,
                )
            )
        if not ors:
            return exp.false()
        out = ors[0]
        for o in ors[1:]:
            out = exp.Or(this=out, expression=o)
        return exp.Paren(this=out)
    if isinstance(pred, A.Binary) and pred.op in ("and", "or"):
        a = search_predicate(p, pred.left, rel, scope)
        b = search_predicate(p, pred.right, rel, scope)
        return (exp.And if pred.op == "and" else exp.Or)(this=exp.Paren(this=a), expression=exp.Paren(this=b))
    return ExprCompiler(scope).compile(pred).sql


def _tables(p: Planner, tables: list[A.Node], env: dict[str, Any]) -> list[tuple[str, A.Node]]:
    if tables:
        return p.expand_tables(tables, True, env)
    return [(n, A.Name(n)) for n in p.catalog.table_names() if p.catalog.columns(n)]


def search_source(p: Planner, node: A.SearchSource, env: dict[str, Any]) -> Rel:
    rels: list[tuple[str, Rel]] = []
    for label, t in _tables(p, node.tables, env):
        r = p.relation(t, env)
        scope = p.scope_of(r, env)
        try:
            pred = search_predicate(p, node.predicate, r, scope)
        except Exception:
            continue  # a table without the named columns cannot match
        from huntvault.kql.plan import Rel

        rels.append((label, Rel(p.select(r, p.star(r)).where(pred, copy=False), r.cols)))
    if not rels:
        raise p.semantic("search: no table can match", node)
    return p.union_rels(rels, "outer", "$table")


def find(p: Planner, node: A.FindSource, env: dict[str, Any]) -> Rel:
    from huntvault.kql.plan import Rel

    rels: list[tuple[str, Rel]] = []
    for label, t in _tables(p, node.tables, env):
        r = p.relation(t, env)
        scope = p.scope_of(r, env)
        try:
            pred = search_predicate(p, node.predicate, r, scope)
        except Exception:
            continue
        wanted = node.project
        keep = [(n, ty) for n, ty in r.cols if wanted is None or n in wanted]
        extra = [(n, ty) for n, ty in r.cols if n not in dict(keep)]
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
    source = "source_"
    if "withsource" in node.options and isinstance(node.options["withsource"], A.Name):
        source = node.options["withsource"].name
    return p.union_rels(rels, "outer", source)
