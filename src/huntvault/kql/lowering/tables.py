"""Tabular building blocks shared by operators and sources: naming, assignments, unions, search predicates."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterator, Mapping

from sqlglot import exp

from huntvault.errors import KqlError, KqlSemanticError
from huntvault.kql import ast as A
from huntvault.kql.ir import Env, Planner, Rel, Scope
from huntvault.kql.values import T, alias, as_bool, call, col, null_of, to_string

# ---------------------------------------------------------------- names


def unique(name: str, taken: set[str]) -> str:
    """`name`, or `name1`, `name2`... when taken (Kusto's rule for colliding result columns)."""
    if name not in taken:
        return name
    i = 1
    while f"{name}{i}" in taken:
        i += 1
    return f"{name}{i}"


def matches(name: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, pat) for pat in patterns)


def derived_name(p: Planner, node: A.Node, v: T) -> str | None:
    """The column name Kusto derives from an expression (`x`, `x_y` for `x.y`, a conversion's argument)."""
    if isinstance(node, A.Name):
        return node.name
    if isinstance(node, (A.Member, A.Index)):
        return v.name
    if isinstance(node, A.Call):
        fn = p.function(node.name.lower())
        if fn is not None and fn.keeps_name:
            return v.name  # `project tostring(x.y)` is named x_y, as in Kusto
    return None


def first_column_name(node: A.Node) -> str | None:
    """`summarize by bin(Timestamp, 1h)` / `by format_datetime(Timestamp, ..)` are named after their column."""
    while isinstance(node, A.Call) and node.args:
        node = node.args[0]
    if isinstance(node, A.Name):
        return node.name
    return None


def aggregate_inside(p: Planner, node: A.Node) -> A.Call | None:
    """`tostring(makeset(x))` is named like its aggregate (`set_x`)."""
    while isinstance(node, A.Call):
        if p.aggregate(node.name.lower()) is not None:
            return node
        if not node.args:
            return None
        node = node.args[0]
    return None


def default_aggregate_name(p: Planner, node: A.Call, derived: str | None) -> str:
    """Kusto's default result name of an aggregate call: `count_`, `dcount_X`, `percentile_X_95`."""
    agg = p.aggregate(node.name.lower())
    assert agg is not None  # callers pass aggregate calls
    if not agg.named_by_arg and not (node.name.lower() == "count" and derived):
        return agg.prefix
    suffix = derived or ""
    for extra in node.args[1 : agg.name_args]:
        if isinstance(extra, A.Name):
            suffix += "_" + extra.name
    if node.name.lower() == "percentile" and len(node.args) > 1 and isinstance(node.args[1], A.Literal):
        suffix += "_" + str(node.args[1].value).replace(".", "_")
    # an aggregate named after its column (take_anyif) over an expression: its own name
    return agg.prefix + suffix or f"{node.name.lower()}_"


# ---------------------------------------------------------------- values


def const_int(p: Planner, node: A.Node, env: Env) -> int:
    """A constant number argument (take 10, top 5, limit 128)."""
    v = p.compile(node, Scope({}, env, p))
    value = v.const if v.is_const else _computed_number(p, v)
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value != value:
        raise p.semantic("expected a constant number", node)
    if abs(value) >= 2**63:
        raise p.semantic("the number is out of range", node)
    return int(value)


def _computed_number(p: Planner, v: T) -> float | None:
    """A numeric expression over constants the compiler does not fold (`top 2 * n`), computed by a small
    first query (it reads no column: the scope it was compiled in has none)."""
    if v.type not in ("int", "long", "real", "decimal"):
        return None
    try:
        texts = p.discover(exp.select(alias(v.sql.copy(), "v")))
    except KqlError:
        return None
    try:
        return float(texts[0]) if texts else None
    except ValueError:
        return None


def opt_bool(node: A.Node | None) -> bool:
    if isinstance(node, A.Literal):
        return bool(node.value)
    if isinstance(node, A.Name):
        return node.name.lower() == "true"
    return False


def opt_name(node: A.Node | None) -> str | None:
    if isinstance(node, A.Name):
        return node.name
    if isinstance(node, A.Literal) and isinstance(node.value, str):
        return node.value
    return None


class Overlay(Mapping[str, T]):
    """Columns assigned so far over the relation's columns (the assigned ones win)."""

    def __init__(self, top: dict[str, T], base: Mapping[str, T]) -> None:
        self.top = top
        self.base = base

    def __getitem__(self, name: str) -> T:
        return self.top[name] if name in self.top else self.base[name]

    def __contains__(self, name: object) -> bool:
        return name in self.top or name in self.base

    def __iter__(self) -> Iterator[str]:
        yield from self.top
        yield from (n for n in self.base if n not in self.top)

    def __len__(self) -> int:
        return len(self.top) + sum(1 for n in self.base if n not in self.top)


def assignments(p: Planner, rel: Rel, items: list[A.Assign], scope: Scope, keep: bool) -> list[tuple[str, T]]:
    """Compile `name = expr` items in order; later items see earlier ones (inlined)."""
    out: dict[str, T] = {}
    counter = 0
    taken = {n for n, _ in rel.cols} if keep else set()
    assigned: dict[str, T] = {}
    cols = Overlay(assigned, scope.cols)  # later items see earlier ones first
    for item in items:
        v = p.compile(item.expr, scope)
        if v.parts is not None:  # a function with several results: one column each, named or Kusto's defaults
            names = item.names or [n for n, _ in v.parts]
            for pname, part in zip(names, [t for _, t in v.parts], strict=False):
                out.pop(pname, None)
                out[pname] = part
                assigned[pname] = T(exp.Paren(this=part.sql), part.type)
            scope = scope.with_cols(cols)
            continue
        if item.names and len(item.names) > 1:
            raise p.semantic("a tuple assignment is only valid with arg_max/arg_min in summarize", item)
        name = item.names[0] if item.names else derived_name(p, item.expr, v)
        if name is None:
            counter += 1
            name = f"Column{counter}"
            while name in taken or name in out:
                counter += 1
                name = f"Column{counter}"
        if v.type == "null":
            v = null_of("string")
        out.pop(name, None)
        out[name] = v
        assigned[name] = T(exp.Paren(this=v.sql), v.type, v.const)
        scope = scope.with_cols(cols)  # one dict grows: a scope is only used before the next item
    return list(out.items())


def sort_keys(p: Planner, rel: Rel, keys: list[A.SortKey], env: Env) -> list[exp.Ordered]:
    """ORDER BY items of sort/top: dynamic keys compare as text; nulls last under desc, first under asc."""
    scope = p.scope_of(rel, env)
    out = []
    for k in keys:
        v = p.compile(k.expr, scope)
        sql = to_string(v).sql if v.type == "dynamic" else v.sql
        nulls_first = k.nulls_first if k.nulls_first is not None else not k.desc
        if v.type == "real":  # NaN sorts with the nulls (after them under nulls first, before under last)
            rank = exp.Case(
                ifs=[
                    exp.If(this=exp.Is(this=sql.copy(), expression=exp.Null()), true=exp.Literal.number(2)),
                    exp.If(this=call("isnan", sql.copy()), true=exp.Literal.number(1)),
                ],
                default=exp.Literal.number(0),
            )
            out.append(exp.Ordered(this=rank, desc=nulls_first, nulls_first=False))
        out.append(exp.Ordered(this=sql, desc=k.desc, nulls_first=nulls_first))
    return out


# ---------------------------------------------------------------- unions


def _as_name(node: A.Node) -> str | None:
    """The name a parenthesized pipeline gives itself with a last `| as Name` (union's withsource uses it)."""
    while isinstance(node, A.Pipeline) and node.ops:
        last = node.ops[-1]
        if isinstance(last, A.As):
            return last.name
        return None
    return None


def expand_tables(p: Planner, tables: list[A.Node], fuzzy: bool, env: Env) -> list[tuple[str, A.Node]]:
    """The tables a union names: wildcards against the catalog, unknown names dropped when fuzzy."""
    out: list[tuple[str, A.Node]] = []
    for t in tables:
        if isinstance(t, A.Name) and "*" in t.name:
            # a wildcard reaches the query's `view` lets (not its other lets), then the catalog's tables
            views = [n for n, b in env.items() if b.func is not None and b.func.view and not b.func.params]
            for name in views + [n for n in p.catalog.table_names() if n not in env]:
                if fnmatch.fnmatchcase(name, t.name):
                    out.append((name, A.Name(name, pos=t.pos)))
            continue
        if fuzzy and isinstance(t, A.Name) and t.name not in env and not p.is_tabular(t):
            continue
        label = t.name if isinstance(t, A.Name) else _as_name(t) or "union_arg" + str(len(out))
        out.append((label, t))
    return out


def union_of(
    p: Planner, tables: list[A.Node], options: dict[str, A.Node], env: Env, first: Rel | None, node: A.Node
) -> Rel:
    """`union` (source or operator): the relations of every table, columns unioned by name."""
    fuzzy = opt_bool(options.get("isfuzzy"))
    kind = opt_name(options.get("kind")) or "outer"
    source_col = opt_name(options.get("withsource"))
    rels: list[tuple[str, Rel]] = []
    if first is not None:
        rels.append(("", first))
    for label, t in expand_tables(p, tables, fuzzy, env):
        try:
            rels.append((label, p.relation(t, env)))
        except KqlSemanticError:
            if not fuzzy:
                raise
    if not rels:
        raise p.semantic("union has no tables to read", node)
    return union_rels(p, rels, kind, source_col)


def union_rels(p: Planner, rels: list[tuple[str, Rel]], kind: str, source_col: str | None) -> Rel:
    """UNION ALL of relations: the column superset in first-seen order (`name_type` when types differ)."""
    names: list[str] = []
    types: dict[str, list[str]] = {}  # each name's types, in first-seen order
    for _, r in rels:
        for n, t in r.cols:
            if n not in types:
                names.append(n)
                types[n] = []
            if t not in types[n]:
                types[n].append(t)
    if kind == "inner":
        common = set.intersection(*[{n for n, _ in r.cols} for _, r in rels])
        names = [n for n in names if n in common]
    out_cols: list[tuple[str, str, str]] = []  # output name, source name, type
    taken = {n for n in names if len(types[n]) == 1} | ({source_col} if source_col else set())
    for n in names:
        ts = types[n]
        if len(ts) == 1:
            out_cols.append((n, n, ts[0]))
            continue
        for t in ts:
            out, k = f"{n}_{t}", 0
            while out in taken:  # a suffixed name that an input already has gets a number (x_long1)
                k += 1
                out = f"{n}_{t}{k}"
            taken.add(out)
            out_cols.append((out, n, t))
    selects: list[exp.Select] = []
    for label, r in rels:
        rtypes = r.types()
        proj: list[exp.Expression] = []
        if source_col:
            proj.append(alias(exp.Literal.string(label), source_col))
        for out, src, t in out_cols:
            if rtypes.get(src) == t:
                proj.append(alias(col(src), out))
            else:
                proj.append(alias(null_of(t).sql, out))
        selects.append(p.select(r, proj))
    cols = ([(source_col, "string")] if source_col else []) + [(o, t) for o, _, t in out_cols]
    return union_all(p, selects, cols)


def union_all(p: Planner, selects: list[exp.Select], cols: list[tuple[str, str]]) -> Rel:
    """Several SELECTs with the same columns as one relation (UNION ALL)."""
    if len(selects) == 1:
        return Rel(selects[0], cols)
    query: exp.Query = selects[0]
    for s in selects[1:]:
        query = exp.union(query, s, distinct=False, copy=False)
    return Rel(
        exp.select(*[col(n) for n, _ in cols]).from_(query.subquery(p.fresh(), copy=False), copy=False), cols
    )


# ---------------------------------------------------------------- search and find


def _search_term(term: str, case_sensitive: bool) -> tuple[str, A.Literal]:
    """The operator a search term stands for (the search page's table): `x` has, `x*` hasprefix,
    `*x` hassuffix, `*x*` contains, `a*b` matches regex `\\ba.*b\\b`."""
    cs = "_cs" if case_sensitive else ""
    inner = term.strip("*")
    lead, trail = term.startswith("*"), term.endswith("*")
    if "*" in inner:
        body = ".*".join(re.escape(part) for part in inner.split("*"))
        return "matches regex", A.Literal(("" if case_sensitive else "(?i)") + rf"\b{body}\b", "string")
    if lead and trail:
        return "contains" + cs, A.Literal(inner, "string")
    if trail:
        return "hasprefix" + cs, A.Literal(inner, "string")
    if lead:
        return "hassuffix" + cs, A.Literal(inner, "string")
    return "has" + cs, A.Literal(term, "string")


def _any_column(p: Planner, op: str, right: A.Node, rel: Rel, scope: Scope, at: int) -> exp.Expression:
    terms = [as_bool(p.compile(A.Binary(op, A.Name(n, pos=at), right, pos=at), scope)) for n, _ in rel.cols]
    if not terms:
        return exp.false()
    anyof = terms[0]
    for term in terms[1:]:
        anyof = exp.Or(this=anyof, expression=term)
    return exp.Paren(this=anyof)


def search_predicate(
    p: Planner, pred: A.Node, rel: Rel, scope: Scope, case_sensitive: bool = False
) -> exp.Expression:
    """search's predicate: a bare string term tests every column (wildcards pick the operator), `col:"x"`
    one column, `*` alone every row, `* has "x"` every column; anything else is an ordinary predicate."""
    if isinstance(pred, A.Star):
        return exp.true()
    if isinstance(pred, A.Literal) and isinstance(pred.value, str):
        op, needle = _search_term(pred.value, case_sensitive)
        return _any_column(p, op, needle, rel, scope, pred.pos)
    if isinstance(pred, A.Binary) and pred.op == ":" and isinstance(pred.right, A.Literal):
        op, needle = _search_term(str(pred.right.value), case_sensitive)
        return as_bool(p.compile(A.Binary(op, pred.left, needle, pos=pred.pos), scope))
    if isinstance(pred, A.Binary) and isinstance(pred.left, A.Star):  # `* has "x"`: any column matches
        return _any_column(p, pred.op, pred.right, rel, scope, pred.pos)
    if isinstance(pred, A.Binary) and pred.op in ("and", "or"):
        a = search_predicate(p, pred.left, rel, scope, case_sensitive)
        b = search_predicate(p, pred.right, rel, scope, case_sensitive)
        return (exp.And if pred.op == "and" else exp.Or)(this=exp.Paren(this=a), expression=exp.Paren(this=b))
    if isinstance(pred, A.Unary) and pred.op == "not":
        return exp.Not(this=exp.Paren(this=search_predicate(p, pred.operand, rel, scope, case_sensitive)))
    return p.compile(pred, scope).sql


def has_star(pred: A.Node) -> bool:
    """Whether a predicate tests `*` (every column), as `where * has "x"` does."""
    if isinstance(pred, A.Binary):
        return isinstance(pred.left, A.Star) or (
            pred.op in ("and", "or") and (has_star(pred.left) or has_star(pred.right))
        )
    return False


def searchable(
    p: Planner, rel: Rel, pred: A.Node, env: Env, case_sensitive: bool = False
) -> exp.Expression | None:
    """The search predicate over one table, or None when the table cannot match (it lacks a named column)."""
    try:
        return search_predicate(p, pred, rel, p.scope_of(rel, env), case_sensitive)
    except KqlError:
        return None


def search_tables(p: Planner, tables: list[A.Node], env: Env) -> list[tuple[str, A.Node]]:
    """The tables of find/search: those named (wildcards expanded), or every table with columns."""
    if tables:
        return expand_tables(p, tables, True, env)
    return [(n, A.Name(n)) for n in p.catalog.table_names() if p.catalog.columns(n)]


def sort_keys_of(rel: Rel) -> list[exp.Ordered] | None:
    """The input's sort keys (a `sort` before it) while every column they read is still there."""
    if not rel.order:
        return None
    names = {x.name for o in rel.order for x in o.find_all(exp.Column)}
    return [o.copy() for o in rel.order] if names <= set(rel.types()) else None


def sets_need_positions(p: Planner, rel: Rel, exprs: list[A.Node], env: Env, whole: bool) -> bool:
    """Whether a make_set/make_set_if among `exprs` is lowered as a one-level `list()` (inside an
    expression, `array_length(make_set(x))`; every one with `whole`, as in make-series) over an input
    without usable sort keys, on DuckDB: its list needs a row position to order by."""
    if p.dialect.name != "duckdb" or sort_keys_of(rel) is not None:
        return False
    for expr in exprs:
        top = None if whole or not isinstance(expr, A.Call) else expr
        for node in A.walk(expr):
            if node is top or not isinstance(node, A.Call) or node.name in env:
                continue
            agg = p.aggregate(node.name.lower())
            if agg is not None and agg.first_seen is not None:
                return True
    return False


def numbered(p: Planner, rel: Rel) -> Rel:
    """rel with a row position column (`row_number() OVER ()`: the order the rows arrive, the same every
    run) as its sort key: the aggregates that keep an order (`list(x ORDER BY pos)`) follow it."""
    pos = p.fresh("pos")
    sub = rel.sql.subquery(p.fresh(), copy=False)
    sql = exp.select(exp.Star(), alias(exp.Window(this=exp.RowNumber()), pos)).from_(sub, copy=False)
    return Rel(sql, [*rel.cols, (pos, "long")], [exp.Ordered(this=col(pos))])
