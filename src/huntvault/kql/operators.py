"""The tabular operator table: each pipe operator (where, summarize, join, mv-expand...) lowered over a Rel."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.aggregates import AGGREGATES, ARG_EXTREMES, default_name
from huntvault.kql.scalar import ExprCompiler, Scope
from huntvault.kql.values import (
    T,
    alias,
    anon,
    as_bool,
    col,
    convert,
    literal,
    null_of,
    to_dynamic,
    to_string,
)

if TYPE_CHECKING:
    from huntvault.kql.plan import Planner, Rel


def _rel(sql: exp.Select, cols: list[tuple[str, str]], order: list[exp.Ordered] | None = None) -> Rel:
    from huntvault.kql.plan import Rel

    return Rel(sql, cols, order)


def unique(name: str, taken: set[str]) -> str:
    if name not in taken:
        return name
    i = 1
    while f"{name}{i}" in taken:
        i += 1
    return f"{name}{i}"


def op_where(p: Planner, rel: Rel, op: A.Where, env: dict[str, Any]) -> Rel:
    scope = p.scope_of(rel, env)
    pred = p.compile(op.predicate, scope)
    cond = as_bool(pred)
    if cond.find(exp.Window) is not None:
        # SQL cannot filter on a window function (row_number(), prev()...): compute it first
        inner = p.select(rel, [*p.star(rel), alias(cond, "__keep")])
        sql = (
            exp.select(*p.star(rel))
            .from_(inner.subquery(p.fresh()), copy=False)
            .where(col("__keep"), copy=False)
        )
        return _rel(sql, rel.cols, rel.order)
    sql = p.select(rel, p.star(rel)).where(cond, copy=False)
    return _rel(sql, rel.cols, rel.order)


def derived_name(node: A.Node, v: T) -> str | None:
    if isinstance(node, A.Name):
        return node.name
    if isinstance(node, (A.Member, A.Index)):
        return v.name
    if isinstance(node, A.Call) and node.name.lower() in NAME_KEEPING:
        return v.name  # `project tostring(x.y)` is named x_y, as in Kusto
    return None


#: conversions whose result keeps the name of their argument in project / extend
NAME_KEEPING = {
    "tostring",
    "toint",
    "tolong",
    "todouble",
    "toreal",
    "tobool",
    "toboolean",
    "todatetime",
    "totimespan",
    "toguid",
    "todecimal",
}


def assignments(
    p: Planner, rel: Rel, items: list[A.Assign], scope: Scope, keep: bool
) -> tuple[list[tuple[str, T]], Scope]:
    """Compile `name = expr` items in order; later items see earlier ones (inlined)."""
    out: list[tuple[str, T]] = []
    counter = 0
    taken = {n for n, _ in rel.cols} if keep else set()
    for item in items:
        v = p.compile(item.expr, scope)
        if v.parts is not None:  # a function with several results: one column each, named or Kusto's defaults
            names = item.names or [n for n, _ in v.parts]
            for pname, part in zip(names, [t for _, t in v.parts], strict=False):
                out = [(n, t) for n, t in out if n != pname] + [(pname, part)]
                scope = scope.child(cols={**scope.cols, pname: T(exp.Paren(this=part.sql.copy()), part.type)})
            continue
        if item.names and len(item.names) > 1:
            raise p.semantic("a tuple assignment is only valid with arg_max/arg_min in summarize", item)
        name = item.names[0] if item.names else derived_name(item.expr, v)
        if name is None:
            counter += 1
            name = f"Column{counter}"
            while name in taken or any(n == name for n, _ in out):
                counter += 1
                name = f"Column{counter}"
        if v.type == "null":
            v = null_of("string")
        out = [(n, t) for n, t in out if n != name] + [(name, v)]
        scope = scope.child(cols={**scope.cols, name: T(exp.Paren(this=v.sql.copy()), v.type, v.const)})
    return out, scope


def op_project(p: Planner, rel: Rel, op: A.Project, env: dict[str, Any]) -> Rel:
    scope = p.scope_of(rel, env)
    items, _ = assignments(p, rel, op.items, scope, keep=False)
    sql = p.select(rel, [alias(v.sql, n) for n, v in items])
    return _rel(sql, [(n, v.type) for n, v in items])


def op_extend(p: Planner, rel: Rel, op: A.Extend, env: dict[str, Any]) -> Rel:
    scope = p.scope_of(rel, env)
    items, _ = assignments(p, rel, op.items, scope, keep=True)
    new = dict(items)
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
        if n not in dict(rel.cols):
            proj.append(alias(v.sql, n))
            cols.append((n, v.type))
    return _rel(p.select(rel, proj), cols, rel.order)


def matches(name: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, pat) for pat in patterns)


def op_project_away(p: Planner, rel: Rel, op: A.ProjectAway, env: dict[str, Any]) -> Rel:
    cols = [(n, t) for n, t in rel.cols if not matches(n, op.patterns)]
    return _rel(p.select(rel, [col(n) for n, _ in cols]), cols, rel.order)


def op_project_keep(p: Planner, rel: Rel, op: A.ProjectKeep, env: dict[str, Any]) -> Rel:
    cols = [(n, t) for n, t in rel.cols if matches(n, op.patterns)]
    return _rel(p.select(rel, [col(n) for n, _ in cols]), cols, rel.order)


def op_project_rename(p: Planner, rel: Rel, op: A.ProjectRename, env: dict[str, Any]) -> Rel:
    mapping = {old: new for new, old in op.pairs}
    for old in mapping:
        if old not in dict(rel.cols):
            raise p.semantic(f"project-rename: unknown column {old!r}", op)
    cols = [(mapping.get(n, n), t) for n, t in rel.cols]
    return _rel(p.select(rel, [alias(col(n), mapping.get(n, n)) for n, _ in rel.cols]), cols, rel.order)


def op_project_reorder(p: Planner, rel: Rel, op: A.ProjectReorder, env: dict[str, Any]) -> Rel:
    first: list[tuple[str, str]] = []
    for pat, order in op.patterns:
        found = [(n, t) for n, t in rel.cols if fnmatch.fnmatchcase(n, pat) and (n, t) not in first]
        if order in ("asc", "granny-asc"):
            found.sort(key=lambda c: c[0])
        elif order in ("desc", "granny-desc"):
            found.sort(key=lambda c: c[0], reverse=True)
        first += found
    cols = first + [c for c in rel.cols if c not in first]
    return _rel(p.select(rel, [col(n) for n, _ in cols]), cols, rel.order)


def first_column_name(node: A.Node) -> str | None:
    """`summarize by bin(Timestamp, 1h)` / `by format_datetime(Timestamp, ..)` are named after their column."""
    while isinstance(node, A.Call) and node.args:
        node = node.args[0]
    if isinstance(node, A.Name):
        return node.name
    return None


def aggregate_inside(node: A.Node) -> A.Call | None:
    """`tostring(makeset(x))` is named like its aggregate (`set_x`)."""
    while isinstance(node, A.Call):
        if node.name.lower() in AGGREGATES:
            return node
        if not node.args:
            return None
        node = node.args[0]
    return None


def op_summarize(p: Planner, rel: Rel, op: A.Summarize, env: dict[str, Any]) -> Rel:
    scope = p.scope_of(rel, env)
    keys: list[tuple[str, T]] = []
    counter = 0
    for item in op.by:
        v = p.compile(item.expr, scope)
        name = item.names[0] if item.names else (v.name if v.name else None)
        if not item.names and name is None:
            name = first_column_name(item.expr)
        if name is None:
            counter += 1
            name = f"Column{counter}"
        keys.append((name, v))
    taken = {n for n, _ in keys}
    inner: list[exp.Expression] = [alias(v.sql, n) for n, v in keys]
    outer: list[exp.Expression] = [col(n) for n, _ in keys]
    cols: list[tuple[str, str]] = [(n, v.type) for n, v in keys]
    has_struct = False
    for item in op.aggs:
        expr = item.expr
        if isinstance(expr, A.Call) and expr.name.lower() in ARG_EXTREMES:
            has_struct = True
            arg_extreme(p, rel, scope, item, expr, keys, inner, outer, cols, taken)
            continue
        agg_scope = scope.child(aggregates=[])
        v = ExprCompiler(agg_scope).compile(expr)
        if not agg_scope.aggregates:
            raise p.semantic(
                "summarize needs an aggregate function here (count(), dcount(), make_set()...)", expr
            )
        inner_agg = aggregate_inside(expr) if isinstance(expr, A.Call) else None
        if item.names:
            name = item.names[0]
        elif inner_agg is not None:
            expr = inner_agg
            arg = expr.args[0] if expr.args else None
            derived = None
            if isinstance(arg, (A.Name, A.Member, A.Index)):
                derived = p.compile(arg, scope).name
            name = default_name(expr, derived)
        else:
            counter += 1
            name = f"Column{counter}"
        name = unique(name, taken)
        taken.add(name)
        sql = v.sql
        if not keys and isinstance(expr, A.Call) and expr.name.lower() in AGGREGATES:
            empty = AGGREGATES[expr.name.lower()].empty
            if empty == "0":
                sql = exp.Coalesce(
                    this=sql,
                    expressions=[
                        exp.Cast(
                            this=exp.Literal.number(0),
                            to=exp.DataType.build("BIGINT" if v.type != "real" else "DOUBLE"),
                        )
                    ],
                )
        inner.append(alias(sql, name))
        outer.append(col(name))
        cols.append((name, v.type))
    sub, _ = p.wrap(rel)
    sql = exp.select(*inner).from_(sub, copy=False)
    if keys:
        sql = sql.group_by(*[v.sql.copy() for _, v in keys], copy=False)
    if has_struct:
        sql = exp.select(*outer).from_(sql.subquery(p.fresh()), copy=False)
    return _rel(sql, cols)


def arg_extreme(
    p: Planner,
    rel: Rel,
    scope: Scope,
    item: A.Assign,
    expr: A.Call,
    keys: list[tuple[str, T]],
    inner: list[exp.Expression],
    outer: list[exp.Expression],
    cols: list[tuple[str, str]],
    taken: set[str],
) -> None:
    kind = ARG_EXTREMES[expr.name.lower()]
    if not expr.args:
        raise p.semantic(f"{expr.name}() needs the expression to maximise", expr)
    target = p.compile(expr.args[0], scope)
    target_name = target.name if isinstance(expr.args[0], (A.Name, A.Member)) and target.name else f"{kind}_"
    fields: list[tuple[str, T]] = [(target_name, target)]
    key_names = {n for n, _ in keys}
    for a in expr.args[1:]:
        if isinstance(a, A.Star):
            for n, t in rel.cols:
                if n not in key_names and n != target_name and n not in {f for f, _ in fields}:
                    fields.append((n, T(col(n), t)))
        else:
            v = p.compile(a, scope)
            fields.append((v.name or f"{kind}_{len(fields)}", v))
    if item.names:
        for i, n in enumerate(item.names[: len(fields)]):
            fields[i] = (n, fields[i][1])
    struct_name = p.fresh("am")
    packed = anon(
        "struct_pack",
        *[
            exp.PropertyEQ(this=exp.to_identifier(f"f{i}"), expression=v.sql)
            for i, (_, v) in enumerate(fields)
        ],
    )
    func = "arg_max" if kind == "max" else "arg_min"
    inner.append(alias(anon(func, packed, target.sql), struct_name))
    for i, (n, v) in enumerate(fields):
        out = unique(n, taken)
        taken.add(out)
        outer.append(alias(anon("struct_extract", col(struct_name), exp.Literal.string(f"f{i}")), out))
        cols.append((out, v.type))


def op_count(p: Planner, rel: Rel, op: A.Count, env: dict[str, Any]) -> Rel:
    return _rel(p.select(rel, [alias(exp.Count(this=exp.Star()), "Count")]), [("Count", "long")])


def op_distinct(p: Planner, rel: Rel, op: A.Distinct, env: dict[str, Any]) -> Rel:
    if len(op.items) == 1 and isinstance(op.items[0], A.Star):
        return _rel(p.select(rel, p.star(rel)).distinct(copy=False), rel.cols)
    scope = p.scope_of(rel, env)
    items, _ = assignments(p, rel, [A.Assign(None, e, pos=e.pos) for e in op.items], scope, keep=False)
    return _rel(
        p.select(rel, [alias(v.sql, n) for n, v in items]).distinct(copy=False),
        [(n, v.type) for n, v in items],
    )


def const_int(p: Planner, node: A.Node, env: dict[str, Any]) -> int:
    v = p.compile(node, Scope({}, env, p))
    if not v.is_const or not isinstance(v.const, (int, float)):
        raise p.semantic("expected a constant number", node)
    return int(v.const)


def op_take(p: Planner, rel: Rel, op: A.Take, env: dict[str, Any]) -> Rel:
    n = const_int(p, op.count, env)
    return _rel(p.select(rel, p.star(rel)).limit(n, copy=False), rel.cols, rel.order)


def op_sample(p: Planner, rel: Rel, op: A.Sample, env: dict[str, Any]) -> Rel:
    n = const_int(p, op.count, env)
    return _rel(
        p.select(rel, p.star(rel)).order_by(anon("random"), copy=False).limit(n, copy=False), rel.cols
    )


def sort_keys(p: Planner, rel: Rel, keys: list[A.SortKey], env: dict[str, Any]) -> list[exp.Ordered]:
    scope = p.scope_of(rel, env)
    out = []
    for k in keys:
        v = p.compile(k.expr, scope)
        sql = to_string(v).sql if v.type == "dynamic" else v.sql
        nulls_first = k.nulls_first if k.nulls_first is not None else not k.desc
        out.append(exp.Ordered(this=sql, desc=k.desc, nulls_first=nulls_first))
    return out


def op_sort(p: Planner, rel: Rel, op: A.Sort, env: dict[str, Any]) -> Rel:
    keys = sort_keys(p, rel, op.keys, env)
    sql = p.select(rel, p.star(rel)).order_by(*keys, copy=False)
    plain = [k for k in keys if isinstance(k.this, exp.Column)]
    return _rel(sql, rel.cols, [k.copy() for k in plain] if len(plain) == len(keys) else None)


def op_top(p: Planner, rel: Rel, op: A.Top, env: dict[str, Any]) -> Rel:
    n = const_int(p, op.count, env)
    keys = sort_keys(p, rel, op.keys, env)
    sql = p.select(rel, p.star(rel)).order_by(*keys, copy=False).limit(n, copy=False)
    plain = [k for k in keys if isinstance(k.this, exp.Column)]
    return _rel(sql, rel.cols, [k.copy() for k in plain] if len(plain) == len(keys) else None)


def op_serialize(p: Planner, rel: Rel, op: A.Serialize, env: dict[str, Any]) -> Rel:
    if not op.items:
        return rel
    return op_extend(p, rel, A.Extend(op.items, pos=op.pos), env)


def op_render(p: Planner, rel: Rel, op: A.Render, env: dict[str, Any]) -> Rel:
    p.render = {"visualization": op.chart, **{k: v for k, v in op.properties.items()}}
    return rel


def op_getschema(p: Planner, rel: Rel, op: A.GetSchema, env: dict[str, Any]) -> Rel:
    from huntvault.kql.values import SQL_TYPES

    rows = []
    dotnet = {
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
    for i, (n, t) in enumerate(rel.cols):
        rows.append(
            exp.select(
                alias(exp.Literal.string(n), "ColumnName"),
                alias(literal(i, "long").sql, "ColumnOrdinal"),
                alias(exp.Literal.string(dotnet.get(t, t)), "DataType"),
                alias(exp.Literal.string(t), "ColumnType"),
            )
        )
    del SQL_TYPES
    cols = [
        ("ColumnName", "string"),
        ("ColumnOrdinal", "long"),
        ("DataType", "string"),
        ("ColumnType", "string"),
    ]
    query: exp.Query = rows[0]
    for r in rows[1:]:
        query = exp.union(query, r, distinct=False)  # type: ignore[assignment]
    return _rel(exp.select(*[col(n) for n, _ in cols]).from_(query.subquery(p.fresh()), copy=False), cols)


def op_invoke(p: Planner, rel: Rel, op: A.Invoke, env: dict[str, Any]) -> Rel:
    from huntvault.kql.plan import Binding

    b = env.get(op.call.name)
    if not isinstance(b, Binding) or b.func is None:
        raise p.semantic(f"invoke: unknown function {op.call.name!r}", op)
    fenv = p.call_env(op.call.name, b, op.call, p.scope_of(rel, env), implicit=rel)
    return p.relation(b.func.body, fenv)


def op_union(p: Planner, rel: Rel, op: A.UnionOp, env: dict[str, Any]) -> Rel:
    return p.union_of(op.tables, op.options, env, rel, op)


def op_search(p: Planner, rel: Rel, op: A.SearchOp, env: dict[str, Any]) -> Rel:
    from huntvault.kql.search import search_predicate

    scope = p.scope_of(rel, env)
    pred = search_predicate(p, op.predicate, rel, scope)
    return _rel(p.select(rel, p.star(rel)).where(pred, copy=False), rel.cols, rel.order)


def op_parse(p: Planner, rel: Rel, op: A.Parse, env: dict[str, Any]) -> Rel:
    scope = p.scope_of(rel, env)
    src = to_string(p.compile(op.expr, scope)).sql
    pattern = "(?s)" if op.kind != "regex" or "s" in op.flags else ""
    if "i" in op.flags.lower() or "U" in op.flags:
        pattern += "(?i)" if "i" in op.flags.lower() else ""
    if op.kind != "regex":
        pattern += "^"
    groups: list[tuple[str, str]] = []
    parts = op.parts
    for i, part in enumerate(parts):
        if part.literal is not None:
            pattern += part.literal if op.kind == "regex" else re.escape(part.literal)
        elif part.column is not None:
            kind = part.type or "string"
            last = i == len(parts) - 1
            if kind in ("long", "int"):
                body = r"-?\d+"
            elif kind in ("real", "decimal"):
                body = r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"
            elif op.kind == "regex":
                body = ".*?" if not last else ".*"
            else:
                body = ".*" if last else ".*?"
            pattern += f"({body})"
            groups.append((part.column, kind))
        else:
            pattern += ".*?" if i < len(parts) - 1 else ".*"
    if op.kind == "regex" and not pattern.endswith("$"):
        pass
    d = p.dialect
    matched = d.regex_match(src, exp.Literal.string(pattern))
    new: dict[str, tuple[exp.Expression, str]] = {}
    for gi, (name, kind) in enumerate(groups, start=1):
        raw = T(
            exp.Case(
                ifs=[exp.If(this=matched, true=d.regex_extract(src, exp.Literal.string(pattern), gi))],
                default=exp.Literal.string(""),
            ),
            "string",
        )
        value = raw if kind == "string" else convert(raw, kind)
        new[name] = (value.sql, kind)
    proj: list[exp.Expression] = []
    cols: list[tuple[str, str]] = []
    for n, t in rel.cols:
        if n in new:
            proj.append(alias(new[n][0], n))
            cols.append((n, new[n][1]))
        else:
            proj.append(col(n))
            cols.append((n, t))
    for n, (e, t) in new.items():
        if n not in dict(rel.cols):
            proj.append(alias(e, n))
            cols.append((n, t))
    sql = p.select(rel, proj)
    if op.where:
        sql = sql.where(matched.copy(), copy=False)
    return _rel(sql, cols, rel.order)


def op_mv_expand(p: Planner, rel: Rel, op: A.MvExpand, env: dict[str, Any]) -> Rel:
    scope = p.scope_of(rel, env)
    d = p.dialect
    bagmode = None
    if "bagexpansion" in op.options and isinstance(op.options["bagexpansion"], A.Name):
        bagmode = op.options["bagexpansion"].name.lower()
    index_col = None
    if "with_itemindex" in op.options and isinstance(op.options["with_itemindex"], A.Name):
        index_col = op.options["with_itemindex"].name
    expanded: list[tuple[str, str | None, exp.Expression]] = []
    for item in op.items:
        v = p.compile(item.expr, scope)
        name = item.name or v.name or "Column1"
        j = (
            v.sql
            if v.type == "dynamic"
            else (d.try_json(v.sql) if v.type in ("string", "guid") else to_dynamic(v).sql)
        )
        jt = d.json_type(j)
        bag_items = d.bag_entries(j, bagmode == "array")
        lst = exp.Case(
            ifs=[
                exp.If(
                    this=exp.EQ(this=jt, expression=exp.Literal.string("ARRAY")), true=d.json_list(j.copy())
                ),
                exp.If(this=exp.EQ(this=jt.copy(), expression=exp.Literal.string("OBJECT")), true=bag_items),
            ],
            default=anon(
                "list_value", exp.Cast(this=j.copy(), to=exp.DataType.build("JSON", dialect="duckdb"))
            ),
        )
        expanded.append((name, item.to_type, lst))
    names = {n for n, _, _ in expanded}
    keep = [(n, t) for n, t in rel.cols if n not in names]
    inner: list[exp.Expression] = [col(n) for n, _ in keep]
    for i, (_, _, items) in enumerate(expanded):
        inner.append(alias(exp.Unnest(expressions=[items]), f"__mv{i}"))
    limit = None
    if op.limit is not None:
        limit = const_int(p, op.limit, env)
    elif op.legacy:
        limit = 128
    if index_col or limit is not None:
        first = expanded[0][2].copy()
        inner.append(alias(exp.Unnest(expressions=[anon("range", anon("len", first))]), "__mvidx"))
    sub = p.select(rel, inner)
    outer: list[exp.Expression] = []
    cols: list[tuple[str, str]] = []
    order = [n for n, _ in rel.cols]
    mapping: dict[str, tuple[exp.Expression, str]] = {}
    for i, (n, to_type, _) in enumerate(expanded):
        v = T(col(f"__mv{i}"), "dynamic")
        if to_type:
            v = convert(v, to_type)
        mapping[n] = (v.sql, to_type or "dynamic")
    for n in order:
        if n in mapping:
            outer.append(alias(mapping[n][0], n))
            cols.append((n, mapping[n][1]))
        else:
            outer.append(col(n))
            cols.append((n, dict(rel.cols)[n]))
    for n, (e, t) in mapping.items():
        if n not in order:
            outer.append(alias(e, n))
            cols.append((n, t))
    if index_col:
        outer.append(alias(col("__mvidx"), index_col))
        cols.append((index_col, "long"))
    sql = exp.select(*outer).from_(sub.subquery(p.fresh()), copy=False)
    if limit is not None:
        sql = sql.where(exp.LT(this=col("__mvidx"), expression=exp.Literal.number(limit)))
    return _rel(sql, cols)


def op_evaluate(p: Planner, rel: Rel, op: A.Evaluate, env: dict[str, Any]) -> Rel:
    from huntvault.kql.plugins import PLUGINS

    plugin = PLUGINS.get(op.call.name.lower())
    if plugin is None:
        raise p.error_unsupported(f"evaluate {op.call.name}() is not supported", op)
    return plugin(p, rel, op.call, env)


def op_join(p: Planner, rel: Rel, op: A.Join, env: dict[str, Any]) -> Rel:
    from huntvault.kql.joins import join

    return join(p, rel, op, env)


def unsupported(name: str) -> Callable[[Planner, Rel, Any, dict[str, Any]], Rel]:
    def lower(p: Planner, rel: Rel, op: Any, env: dict[str, Any]) -> Rel:
        raise p.error_unsupported(f"the {name} operator is not supported yet", op)

    return lower


def op_top_nested(p: Planner, rel: Rel, op: A.TopNested, env: dict[str, Any]) -> Rel:
    from huntvault.kql.series import top_nested

    return top_nested(p, rel, op, env)


def op_make_series(p: Planner, rel: Rel, op: A.MakeSeries, env: dict[str, Any]) -> Rel:
    from huntvault.kql.series import make_series

    return make_series(p, rel, op, env)


def op_partition(p: Planner, rel: Rel, op: A.Partition, env: dict[str, Any]) -> Rel:
    from huntvault.kql.series import partition

    return partition(p, rel, op, env)


def op_mv_apply(p: Planner, rel: Rel, op: A.MvApply, env: dict[str, Any]) -> Rel:
    from huntvault.kql.series import mv_apply

    return mv_apply(p, rel, op, env)


OPERATORS: dict[type, Callable[[Planner, Rel, Any, dict[str, Any]], Rel]] = {
    A.Where: op_where,
    A.Project: op_project,
    A.Extend: op_extend,
    A.ProjectAway: op_project_away,
    A.ProjectKeep: op_project_keep,
    A.ProjectRename: op_project_rename,
    A.ProjectReorder: op_project_reorder,
    A.Summarize: op_summarize,
    A.Count: op_count,
    A.Distinct: op_distinct,
    A.Take: op_take,
    A.Sample: op_sample,
    A.Sort: op_sort,
    A.Top: op_top,
    A.Serialize: op_serialize,
    A.Render: op_render,
    A.GetSchema: op_getschema,
    A.Invoke: op_invoke,
    A.UnionOp: op_union,
    A.SearchOp: op_search,
    A.Parse: op_parse,
    A.MvExpand: op_mv_expand,
    A.Evaluate: op_evaluate,
    A.Join: op_join,
    A.TopNested: op_top_nested,
    A.MakeSeries: op_make_series,
    A.MvApply: op_mv_apply,
    A.Partition: op_partition,
}
