"""Special forms: functions whose arguments reach the lowering as syntax (toscalar, materialize,
column_ifexists, pack_all), and the Defender built-ins that cannot run offline."""

from __future__ import annotations

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.ir import Compiler, Env, Offline, Special
from huntvault.kql.lowering.fold import folded_scalar
from huntvault.kql.lowering.pycall import py_value
from huntvault.kql.lowering.tables import Overlay
from huntvault.kql.values import S, T, call, literal, to_dynamic


def r_toscalar(c: Compiler, node: A.Call) -> T:
    arg = node.args[0]
    p = c.planner
    if not p.is_tabular(arg, c.scope):
        v = c.compile(arg)
        if v.is_const:
            return v
        # evaluated once for the whole query (`toscalar(new_guid())` is one guid on every row)
        return T(exp.Subquery(this=exp.select(v.sql)), v.type, name=v.name)
    for name in _row_context_names(arg, c.scope.env):
        raise c.err(f"toscalar(): can't use '{name}' as it is defined outside its row-context scope", node)
    rel = p.relation(arg, c.scope.env)
    folded = folded_scalar(p, rel)  # computed once, at compile time: the query gets a constant
    if folded is not None:
        return folded
    name, kind = rel.cols[0]
    sub = exp.select(exp.column(name, quoted=True)).from_(rel.sql.subquery(p.fresh("ts"))).limit(1)
    return T(exp.Subquery(this=sub), kind)


def _row_context_names(arg: A.Node, env: Env) -> list[str]:
    """Names `arg` reads that are bound to a row's columns (a function parameter given a column): toscalar
    runs once per query, so it cannot read them (the toscalar page's limitation)."""
    out: list[str] = []
    for item in A.walk(arg):
        if isinstance(item, A.Name):
            b = env.get(item.name)
            v = b.value if b is not None else None
            free = v is not None and not isinstance(v.sql, exp.Subquery)
            if (
                free
                and v is not None
                and any(c.find_ancestor(exp.Subquery) is None for c in v.sql.find_all(exp.Column))
            ):
                out.append(item.name)
    return out


def r_materialize(c: Compiler, node: A.Call) -> T:
    return c.compile(node.args[0])


def r_column_ifexists(c: Compiler, node: A.Call) -> T:
    name = node.args[0]
    if isinstance(name, A.Literal) and isinstance(name.value, str) and name.value in c.scope.cols:
        v = c.scope.cols[name.value]
        return T(v.sql, v.type, name=name.value)
    return c.compile(node.args[1])


def r_tuple(c: Compiler, node: A.Call) -> T:
    raise c.err("a parenthesised list is only valid after in / has_any / has_all", node)


def _pack(entries: list[tuple[str, T]]) -> T:
    pairs: list[exp.Expression] = []
    for name, v in entries:
        pairs += [S(name), to_dynamic(T(v.sql, v.type)).sql]
    return T(call("json_object", *pairs), "dynamic")


def r_pack_all(c: Compiler, node: A.Call) -> T:
    skip = False
    if node.args:
        flag = c.compile(node.args[0])
        skip = bool(flag.is_const and flag.const)
    cols = c.scope.cols
    if isinstance(cols, Overlay):  # the input row: not the columns the same extend assigns before it
        cols = cols.base
    entries = [(name, T(v.sql, v.type)) for name, v in cols.items()]
    packed = _pack(entries)
    return py_value(c, "bag_drop_empty", [packed], "dynamic") if skip else packed


def r_bag_pack_columns(c: Compiler, node: A.Call) -> T:
    """bag_pack_columns(a, b...): a bag of the named columns."""
    entries: list[tuple[str, T]] = []
    for arg in node.args:
        v = c.compile(arg)
        if not isinstance(arg, A.Name | A.Member) or not v.name:
            raise c.err("bag_pack_columns() takes column names", arg)
        entries.append((v.name, v))
    return _pack(entries)


def r_column_names_of(c: Compiler, node: A.Call) -> T:
    """column_names_of(T): the tabular expression's column names, as a constant array."""
    arg = node.args[0]
    p = c.planner
    if not p.is_tabular(arg, c.scope):
        raise c.err("column_names_of() takes a tabular expression", arg)
    rel = p.relation(arg, c.scope.env)
    return literal([name for name, _ in rel.cols], "dynamic")


def r_ingestion_time(c: Compiler, node: A.Call) -> T:
    """The archive keeps no ingestion-time policy: null, as Kusto answers for such tables."""
    return literal(None, "datetime")


SPECIALS: dict[str, Special] = {
    "toscalar": Special(r_toscalar, (1, 1)),
    "materialize": Special(r_materialize, (1, 1)),
    "column_ifexists": Special(r_column_ifexists, (2, 2)),
    "__tuple": Special(r_tuple),
    "pack_all": Special(r_pack_all, (0, 1)),
    "bag_pack_columns": Special(r_bag_pack_columns, (1, None)),
    "column_names_of": Special(r_column_names_of, (1, 1)),
    "ingestion_time": Special(r_ingestion_time, (0, 0)),
}

#: Defender built-ins that need Microsoft's back end: they fail by name, offline.
OFFLINE: dict[str, Offline] = {
    "fileprofile": Offline("FileProfile() needs Defender's file-reputation back end"),
    "devicefromip": Offline("DeviceFromIP() needs Defender's IP-to-device back end"),
    "assignedipaddresses": Offline("AssignedIPAddresses() needs Defender's device back end"),
    "seenby": Offline("SeenBy() needs Defender's device back end"),
    # cluster metadata: an offline archive has no cluster, principal or cursor (extents: functions/metadata.py)
    "current_cluster_endpoint": Offline("current_cluster_endpoint() needs a Kusto cluster"),
    "current_database": Offline("current_database() needs a Kusto cluster"),
    "current_principal": Offline("current_principal() needs a Kusto cluster's identity"),
    "current_principal_details": Offline("current_principal_details() needs a Kusto cluster's identity"),
    "current_principal_is_member_of": Offline("current_principal_is_member_of() needs Microsoft Entra ID"),
    "cursor_after": Offline("cursor_after() needs a Kusto database cursor"),
    "graph": Offline("graph() reads a persistent graph model of a Kusto database (make-graph builds one)"),
    "cursor_before_or_at": Offline("cursor_before_or_at() needs a Kusto database cursor"),
    "cursor_current": Offline("cursor_current() needs a Kusto database cursor"),
    "geo_info_from_ip_address": Offline("geo_info_from_ip_address() needs Microsoft's IP geolocation data"),
}
