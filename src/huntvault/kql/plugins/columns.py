"""Plugins that turn values into columns: bag_unpack (a bag's keys) and pivot (a column's values).

Both find their new columns with a small first query (`Planner.discover`)."""

from __future__ import annotations

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.ir import Env, Planner, Plugin, Rel
from huntvault.kql.values import SQL_TYPES, T, alias, call, col, to_string

#: bag_unpack's optional arguments, in positional order after the column
_UNPACK_OPTIONS = ["OutputColumnPrefix", "columnsConflict", "ignoredProperties"]
_CONFLICTS = ("error", "replace_source", "keep_source")
#: a slot's JSON type (DuckDB's json_type) -> the column's KQL type, when every row agrees
_SLOT_TYPES = {"BIGINT": "long", "UBIGINT": "long", "DOUBLE": "real", "VARCHAR": "string", "BOOLEAN": "bool"}
_SEP = "\x1f"


def _unpack_options(p: Planner, rel: Rel, node: A.Call, env: Env) -> dict[str, T]:
    scope = p.scope_of(rel, env)
    given: dict[str, T] = {}
    for i, arg in enumerate(node.args[1:]):
        if i >= len(_UNPACK_OPTIONS):
            raise p.semantic("bag_unpack(): too many arguments", arg)
        given[_UNPACK_OPTIONS[i]] = p.compile(arg, scope)
    for key, arg in node.named.items():
        if key not in _UNPACK_OPTIONS:
            raise p.semantic(
                f"bag_unpack(): unknown argument {key!r} (expected one of {', '.join(_UNPACK_OPTIONS)})", arg
            )
        given[key] = p.compile(arg, scope)
    for key, v in given.items():
        want = "dynamic" if key == "ignoredProperties" else "string"
        if not v.is_const or (v.const is not None and v.type != want):
            raise p.semantic(f"bag_unpack(): {key} must be a constant {want}", _option_node(node, key))
    conflict = given.get("columnsConflict")
    if conflict is not None and conflict.const not in _CONFLICTS:
        raise p.semantic(
            f"bag_unpack(): columnsConflict must be one of {', '.join(_CONFLICTS)}",
            _option_node(node, "columnsConflict"),
        )
    return given


def _option_node(node: A.Call, key: str) -> A.Node:
    if key in node.named:
        return node.named[key]
    at = _UNPACK_OPTIONS.index(key) + 1
    return node.args[at] if at < len(node.args) else node


def lower_bag_unpack(p: Planner, rel: Rel, node: A.Call, env: Env) -> Rel:
    """bag_unpack(Column [, OutputColumnPrefix] [, columnsConflict] [, ignoredProperties]): the input's other
    columns, then one column per top-level slot of the bags (sorted by name, prefixed), typed as the slot when
    every row agrees (long, real, string, bool), dynamic otherwise. A slot named as an input column is an error
    (columnsConflict='error', the default), takes the column's place (replace_source) or is the input column's
    value (keep_source)."""
    if not node.args or not isinstance(node.args[0], A.Name):
        raise p.semantic("bag_unpack() needs the dynamic column to unpack", node)
    column = node.args[0].name
    if column not in dict(rel.cols):
        raise p.semantic(f"bag_unpack: unknown column {column!r}", node.args[0])
    options = _unpack_options(p, rel, node, env)
    prefix = str(options["OutputColumnPrefix"].const or "") if "OutputColumnPrefix" in options else ""
    conflict = str(options["columnsConflict"].const) if "columnsConflict" in options else "error"
    ignored_v = options.get("ignoredProperties")
    ignored_list = ignored_v.const if ignored_v is not None and isinstance(ignored_v.const, list) else []
    ignored = {str(x) for x in ignored_list}
    d = p.dialect
    j = T(col(column), dict(rel.cols)[column])
    src = j.sql if j.type == "dynamic" else d.try_json(j.sql)
    if d.name == "spark":  # no json_type: every slot is dynamic
        probe = p.select(rel, [alias(exp.Unnest(expressions=[call("json_keys", src)]), "k")]).distinct(
            copy=False
        )
        slots = {k: "dynamic" for k in p.discover(probe)}
    else:
        slots = _slot_types(p, rel, src)
    keys = sorted(k for k in slots if k not in ignored)
    have = dict(rel.cols)
    names = {k: prefix + k for k in keys}
    clashes = [k for k in keys if names[k] in have and names[k] != column]
    if clashes and conflict == "error":
        raise p.semantic(
            f"bag_unpack(): the slot {names[clashes[0]]!r} is already a column of the input"
            " (columnsConflict='replace_source' or 'keep_source' resolves it)",
            node,
        )
    moved = {names[k] for k in clashes}
    proj: list[exp.Expression] = [col(n) for n, _ in rel.cols if n != column and n not in moved]
    cols = [(n, t) for n, t in rel.cols if n != column and n not in moved]
    for k in keys:
        name = names[k]
        if k in clashes and conflict == "keep_source":
            proj.append(col(name))
            cols.append((name, have[name]))
            continue
        path = exp.Literal.string('$."' + k.replace('"', '\\"') + '"')
        kind = slots[k]
        value: exp.Expression = call("json_extract", src.copy(), path)
        if kind != "dynamic":
            text = call("json_extract_string", src.copy(), path)
            value = (
                text if kind == "string" else exp.TryCast(this=text, to=exp.DataType.build(SQL_TYPES[kind]))
            )
        proj.append(alias(value, name))
        cols.append((name, kind))
    return Rel(p.select(rel, proj), cols)


def _slot_types(p: Planner, rel: Rel, src: exp.Expression) -> dict[str, str]:
    """Each top-level slot of the bags and its type: the one JSON type of its non-null values, or dynamic."""
    keyed = p.select(
        rel, [alias(exp.Unnest(expressions=[call("json_keys", src)]), "k"), alias(src.copy(), "b")]
    )
    typed = (
        exp.select(
            alias(
                exp.DPipe(
                    this=exp.DPipe(this=col("k"), expression=exp.Literal.string(_SEP)),
                    expression=exp.Coalesce(
                        this=call(
                            "json_type",
                            call(
                                "json_extract",
                                col("b"),
                                exp.DPipe(
                                    this=exp.Literal.string('$."'),
                                    expression=exp.DPipe(
                                        this=exp.Anonymous(
                                            this="replace",
                                            expressions=[
                                                col("k"),
                                                exp.Literal.string('"'),
                                                exp.Literal.string('\\"'),
                                            ],
                                        ),
                                        expression=exp.Literal.string('"'),
                                    ),
                                ),
                            ),
                        ),
                        expressions=[exp.Literal.string("NULL")],
                    ),
                ),
                "r",
            )
        )
        .from_(keyed.subquery(p.fresh(), copy=False), copy=False)
        .distinct(copy=False)
    )
    seen: dict[str, set[str]] = {}
    for row in p.discover(typed):
        key, _, kind = row.rpartition(_SEP)
        seen.setdefault(key, set())
        if kind != "NULL":
            seen[key].add(kind)
    out: dict[str, str] = {}
    for key, kinds in seen.items():
        mapped = {_SLOT_TYPES.get(k, "dynamic") for k in kinds}
        out[key] = mapped.pop() if len(mapped) == 1 else "dynamic"
    return out


def lower_pivot(p: Planner, rel: Rel, node: A.Call, env: Env) -> Rel:
    """evaluate pivot(Column, agg(x), keys...): one output column per distinct value of Column."""
    if not node.args or not isinstance(node.args[0], A.Name):
        raise p.semantic("pivot() needs the column whose values become columns", node)
    pcol = node.args[0].name
    scope = p.scope_of(rel, env)
    pv = p.compile(node.args[0], scope)
    agg_node = node.args[1] if len(node.args) > 1 else A.Call("count", [], pos=node.pos)
    key_nodes = node.args[2:]
    keys = (
        [n.name for n in key_nodes if isinstance(n, A.Name)]
        if key_nodes
        else [
            n
            for n, _ in rel.cols
            if n != pcol
            and not (
                isinstance(agg_node, A.Call)
                and any(isinstance(a, A.Name) and a.name == n for a in agg_node.args)
            )
        ]
    )
    probe = p.select(rel, [alias(to_string(pv).sql, "v")]).distinct(copy=False)
    values = sorted(p.discover(probe))
    agg_scope = scope.with_aggregates([])
    top = p.aggregate(agg_node.name.lower()) if isinstance(agg_node, A.Call) else None
    empty = top.empty if top is not None else None
    out: list[exp.Expression] = [col(k) for k in keys]
    cols = [(k, dict(rel.cols)[k]) for k in keys]
    for value in values:
        v = p.compile(agg_node, agg_scope)

        def only(node: exp.Expression, value: str = value) -> exp.Expression:
            is_value = exp.EQ(this=to_string(pv).sql, expression=exp.Literal.string(value))
            if isinstance(node, exp.Filter):  # an aggregate that filters already (make_list): both conditions
                where = node.expression
                cond = where.this if isinstance(where, exp.Where) else where
                return exp.Filter(this=node.this, expression=exp.Where(this=exp.and_(cond, is_value)))
            if not isinstance(node, (exp.AggFunc, exp.Count)) or isinstance(node.parent, exp.Filter):
                return node
            return exp.Filter(this=node, expression=exp.Where(this=is_value))

        filtered = v.sql.transform(only)
        if (
            empty is not None
        ):  # a cell without rows: count-like 0, lists [] (the reference's sum cells show 0)
            filtered = exp.Coalesce(this=filtered, expressions=[_empty_cell(empty, v.type)])
        out.append(alias(filtered, value))
        cols.append((value, v.type))
    sql = p.select(rel, out)
    if keys:
        sql = sql.group_by(*[col(k) for k in keys], copy=False)
    return Rel(sql, cols)


def _empty_cell(empty: str, kql_type: str) -> exp.Expression:
    if empty == "0":
        return exp.Cast(this=exp.Literal.number(0), to=exp.DataType.build(SQL_TYPES.get(kql_type, "BIGINT")))
    return exp.Cast(this=exp.Literal.string(empty), to=exp.DataType.build("JSON"))


PLUGINS: dict[str, Plugin] = {
    "bag_unpack": Plugin(lower_bag_unpack),
    "pivot": Plugin(lower_pivot),
}
