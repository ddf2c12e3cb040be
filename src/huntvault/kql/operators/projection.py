"""Column operators: project (+ -away, -keep, -rename, -reorder, -smart), extend, serialize, distinct, count,
getschema, render."""

from __future__ import annotations

import fnmatch
import re

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.ir import Env, Operator, Planner, Rel, Scope, operator
from huntvault.kql.lowering.tables import assignments, matches
from huntvault.kql.syntax import Cursor, Token
from huntvault.kql.syntax.expressions import assignments as parse_assignments
from huntvault.kql.syntax.expressions import parse_expr
from huntvault.kql.values import alias, col, literal


def parse_project(c: Cursor, t: Token) -> A.Node:
    return A.Project(parse_assignments(c), pos=t.pos)


def lower_project(p: Planner, rel: Rel, op: A.Project, env: Env) -> Rel:
    items = assignments(p, rel, op.items, p.scope_of(rel, env), keep=False)
    return Rel(p.select(rel, [alias(v.sql, n) for n, v in items]), [(n, v.type) for n, v in items])


def parse_extend(c: Cursor, t: Token) -> A.Node:
    return A.Extend(parse_assignments(c), pos=t.pos)


def lower_extend(p: Planner, rel: Rel, op: A.Extend, env: Env) -> Rel:
    items = assignments(p, rel, op.items, p.scope_of(rel, env), keep=True)
    new = dict(items)
    known = rel.types()
    if not any(n in known for n in new):  # only new columns: `*` and them (a chain of extends stays linear)
        added = [alias(v.sql, n) for n, v in items]
        sql = p.select(rel, [*p.star(rel), *added])
        if rel.order and any(v.sql.find(exp.Window) is not None for _, v in items):
            # a window (row_cumsum, row_window_session...) may deliver rows in another order: keep the serialized one
            sql = sql.order_by(*[o.copy() for o in rel.order], copy=False)
        return Rel(sql, [*rel.cols, *[(n, v.type) for n, v in items]], rel.order)
    proj: list[exp.Expression] = []
    cols: list[tuple[str, str]] = []
    for n, t in rel.cols:
        if n in new:
            proj.append(alias(new[n].sql, n))
            cols.append((n, new[n].type))
        else:
            proj.append(col(n))
            cols.append((n, t))
    for n, v in items:
        if n not in known:
            proj.append(alias(v.sql, n))
            cols.append((n, v.type))
    return Rel(p.select(rel, proj), cols, rel.order)


def parse_serialize(c: Cursor, t: Token) -> A.Node:
    items: list[A.Assign] = []
    if not c.at_end():
        items = parse_assignments(c)
    return A.Serialize(items, pos=t.pos)


def lower_serialize(p: Planner, rel: Rel, op: A.Serialize, env: Env) -> Rel:
    if not op.items:
        return rel
    return lower_extend(p, rel, A.Extend(op.items, pos=op.pos), env)


def parse_project_away(c: Cursor, t: Token) -> A.Node:
    return A.ProjectAway(c.name_patterns(), pos=t.pos)


def lower_project_away(p: Planner, rel: Rel, op: A.ProjectAway, env: Env) -> Rel:
    cols = [(n, t) for n, t in rel.cols if not matches(n, op.patterns)]
    if not cols:
        raise p.semantic("project-away removes every column: a table needs at least one", op)
    return Rel(p.select(rel, [col(n) for n, _ in cols]), cols, rel.order)


def parse_project_keep(c: Cursor, t: Token) -> A.Node:
    return A.ProjectKeep(c.name_patterns(), pos=t.pos)


def lower_project_keep(p: Planner, rel: Rel, op: A.ProjectKeep, env: Env) -> Rel:
    cols = [(n, t) for n, t in rel.cols if matches(n, op.patterns)]
    if not cols:
        raise p.semantic("project-keep matches no column: a table needs at least one", op)
    return Rel(p.select(rel, [col(n) for n, _ in cols]), cols, rel.order)


def parse_project_rename(c: Cursor, t: Token) -> A.Node:
    pairs = []
    while True:
        new = c.identifier("the new column name")
        c.expect("=")
        old = c.identifier("the column to rename")
        pairs.append((new, old))
        if not c.accept(","):
            return A.ProjectRename(pairs, pos=t.pos)


def lower_project_rename(p: Planner, rel: Rel, op: A.ProjectRename, env: Env) -> Rel:
    mapping = {old: new for new, old in op.pairs}
    known = rel.types()
    for old in mapping:
        if old not in known:
            raise p.semantic(f"project-rename: unknown column {old!r}", op)
    cols = [(mapping.get(n, n), t) for n, t in rel.cols]
    return Rel(p.select(rel, [alias(col(n), mapping.get(n, n)) for n, _ in rel.cols]), cols, rel.order)


def parse_project_reorder(c: Cursor, t: Token) -> A.Node:
    pats: list[tuple[str, str | None]] = []
    for pat in c.name_patterns():
        order = None
        dashed = (c.dashed_word() or "").lower()
        if dashed in ("granny-asc", "granny-desc"):
            c.consume_dashed(dashed)
            order = dashed
        elif c.at_word("asc", "desc"):
            order = str(c.advance().value).lower()
        pats.append((pat, order))
    return A.ProjectReorder(pats, pos=t.pos)


def _granny(name: str) -> list[tuple[int, int | str]]:
    return [(0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", name) if part]


def lower_project_reorder(p: Planner, rel: Rel, op: A.ProjectReorder, env: Env) -> Rel:
    first: list[tuple[str, str]] = []
    for pat, order in op.patterns:
        found = [(n, t) for n, t in rel.cols if fnmatch.fnmatchcase(n, pat) and (n, t) not in first]
        if order in ("asc", "desc"):
            found.sort(key=lambda c: c[0], reverse=order == "desc")
        elif order in ("granny-asc", "granny-desc"):  # digit runs compare as numbers (a3 < a20 < a100)
            found.sort(key=lambda c: _granny(c[0]), reverse=order == "granny-desc")
        first += found
    cols = first + [c for c in rel.cols if c not in first]
    return Rel(p.select(rel, [col(n) for n, _ in cols]), cols, rel.order)


def parse_distinct(c: Cursor, t: Token) -> A.Node:
    if c.at("*"):
        s = c.advance()
        return A.Distinct([A.Star(pos=s.pos)], pos=t.pos)
    items = [parse_expr(c)]
    while c.accept(","):
        items.append(parse_expr(c))
    return A.Distinct(items, pos=t.pos)


def lower_distinct(p: Planner, rel: Rel, op: A.Distinct, env: Env) -> Rel:
    if len(op.items) == 1 and isinstance(op.items[0], A.Star):
        return Rel(p.select(rel, p.star(rel)).distinct(copy=False), rel.cols)
    items = assignments(
        p, rel, [A.Assign(None, e, pos=e.pos) for e in op.items], p.scope_of(rel, env), keep=False
    )
    return Rel(
        p.select(rel, [alias(v.sql, n) for n, v in items]).distinct(copy=False),
        [(n, v.type) for n, v in items],
    )


def parse_count(c: Cursor, t: Token) -> A.Node:
    return A.Count(pos=t.pos)


def lower_count(p: Planner, rel: Rel, op: A.Count, env: Env) -> Rel:
    return Rel(p.select(rel, [alias(exp.Count(this=exp.Star()), "Count")]), [("Count", "long")])


#: KQL type -> the .NET type getschema reports
DOTNET_TYPES = {
    "string": "System.String",
    "long": "System.Int64",
    "int": "System.Int32",
    "real": "System.Double",
    "bool": "System.Boolean",
    "datetime": "System.DateTime",
    "timespan": "System.TimeSpan",
    "dynamic": "System.Object",
    "guid": "System.Guid",
    "decimal": "System.Data.SqlTypes.SqlDecimal",
}
SCHEMA_COLUMNS = [
    ("ColumnName", "string"),
    ("ColumnOrdinal", "long"),
    ("DataType", "string"),
    ("ColumnType", "string"),
]


def parse_getschema(c: Cursor, t: Token) -> A.Node:
    return A.GetSchema(pos=t.pos)


def lower_getschema(p: Planner, rel: Rel, op: A.GetSchema, env: Env) -> Rel:
    rows: list[exp.Select] = []
    for i, (n, t) in enumerate(rel.cols):
        rows.append(
            exp.select(
                alias(exp.Literal.string(n), "ColumnName"),
                alias(literal(i, "long").sql, "ColumnOrdinal"),
                alias(exp.Literal.string(DOTNET_TYPES.get(t, t)), "DataType"),
                alias(exp.Literal.string(t), "ColumnType"),
            )
        )
    if not rows:
        empty = exp.select(*[alias(literal(None, t).sql, n) for n, t in SCHEMA_COLUMNS]).where(
            exp.false(), copy=False
        )
        return Rel(empty, list(SCHEMA_COLUMNS))
    query: exp.Query = rows[0]
    for r in rows[1:]:
        query = exp.union(query, r, distinct=False, copy=False)
    sql = exp.select(*[col(n) for n, _ in SCHEMA_COLUMNS]).from_(
        query.subquery(p.fresh(), copy=False), copy=False
    )
    return Rel(sql, list(SCHEMA_COLUMNS))


def parse_render(c: Cursor, t: Token) -> A.Node:
    chart = c.identifier("a chart type")
    props: dict[str, object] = {}
    if c.accept_word("with"):
        c.expect("(")
        while not c.at(")"):
            key = c.identifier("a render property")
            c.expect("=")
            val = parse_expr(c)
            props[key] = (
                val.value if isinstance(val, A.Literal) else (val.name if isinstance(val, A.Name) else None)
            )
            if not c.accept(","):
                break
        c.expect(")")
    return A.Render(chart, props, pos=t.pos)


def lower_render(p: Planner, rel: Rel, op: A.Render, env: Env) -> Rel:
    p.render = {"visualization": op.chart, **op.properties}
    return rel


def parse_project_by_names(c: Cursor, t: Token) -> A.Node:
    args = [parse_expr(c)]
    while c.accept(","):
        args.append(parse_expr(c))
    return A.ProjectByNames(args, pos=t.pos)


def _names_of(p: Planner, node: A.Node, env: Env) -> list[str]:
    """The names (or wildcards) an argument of project-by-names stands for: a string, a dynamic array of
    strings, or `column_names_of(T)` of a tabular name."""
    if isinstance(node, A.Call) and node.name.lower() == "column_names_of" and len(node.args) == 1:
        target = node.args[0]
        if p.is_tabular(target, Scope({}, env, p)):
            return [n for n, _ in p.relation(target, env).cols]
    v = p.compile(node, p.scope_of(Rel(exp.select("1"), []), env))
    if v.is_const and isinstance(v.const, str):
        return [v.const]
    if v.is_const and isinstance(v.const, list) and all(isinstance(x, str) for x in v.const):
        return list(v.const)
    raise p.semantic("project-by-names takes constant names: strings or a dynamic array of strings", node)


def lower_project_by_names(p: Planner, rel: Rel, op: A.ProjectByNames, env: Env) -> Rel:
    """Columns in the order of the arguments; a wildcard keeps the table's order; unknown names are skipped."""
    chosen: list[str] = []
    for node in op.args:
        for pattern in _names_of(p, node, env):
            for n, _ in rel.cols:
                if fnmatch.fnmatchcase(n, pattern) and n not in chosen:
                    chosen.append(n)
    types = rel.types()
    return Rel(p.select(rel, [col(n) for n in chosen]), [(n, types[n]) for n in chosen], rel.order)


OPERATORS: list[Operator] = [
    operator(A.ProjectByNames, {"project-by-names": parse_project_by_names}, lower_project_by_names),
    operator(A.Project, {"project": parse_project, "project-smart": parse_project}, lower_project),
    operator(A.Extend, {"extend": parse_extend}, lower_extend),
    operator(A.Serialize, {"serialize": parse_serialize}, lower_serialize),
    operator(A.ProjectAway, {"project-away": parse_project_away}, lower_project_away),
    operator(A.ProjectKeep, {"project-keep": parse_project_keep}, lower_project_keep),
    operator(A.ProjectRename, {"project-rename": parse_project_rename}, lower_project_rename),
    operator(A.ProjectReorder, {"project-reorder": parse_project_reorder}, lower_project_reorder),
    operator(A.Distinct, {"distinct": parse_distinct}, lower_distinct),
    operator(A.Count, {"count": parse_count}, lower_count),
    operator(A.GetSchema, {"getschema": parse_getschema}, lower_getschema),
    operator(A.Render, {"render": parse_render}, lower_render),
]
