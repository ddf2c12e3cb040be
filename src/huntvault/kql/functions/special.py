"""Special forms: functions whose arguments reach the lowering as syntax (toscalar, materialize,
column_ifexists, pack_all), and the Defender built-ins that cannot run offline."""

from __future__ import annotations

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.ir import Compiler, Offline, Special
from huntvault.kql.values import S, T, call, to_dynamic


def r_toscalar(c: Compiler, node: A.Call) -> T:
    arg = node.args[0]
    p = c.planner
    if not p.is_tabular(arg, c.scope):
        return c.compile(arg)
    rel = p.relation(arg, c.scope.env)
    name, kind = rel.cols[0]
    sub = exp.select(exp.column(name, quoted=True)).from_(rel.sql.subquery(p.fresh("ts"))).limit(1)
    return T(exp.Subquery(this=sub), kind)


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


def r_pack_all(c: Compiler, node: A.Call) -> T:
    pairs: list[exp.Expression] = []
    for name, v in c.scope.cols.items():
        pairs += [S(name), to_dynamic(T(v.sql, v.type)).sql]
    return T(call("json_object", *pairs), "dynamic")


SPECIALS: dict[str, Special] = {
    "toscalar": Special(r_toscalar, (1, 1)),
    "materialize": Special(r_materialize, (1, 1)),
    "column_ifexists": Special(r_column_ifexists, (2, 2)),
    "__tuple": Special(r_tuple),
    "pack_all": Special(r_pack_all, (0, 1)),
    "bag_pack_columns": Special(r_pack_all, (0, None)),
}

#: Defender built-ins that need Microsoft's back end: they fail by name, offline.
OFFLINE: dict[str, Offline] = {
    "fileprofile": Offline("FileProfile() needs Defender's file-reputation back end"),
    "devicefromip": Offline("DeviceFromIP() needs Defender's IP-to-device back end"),
    "assignedipaddresses": Offline("AssignedIPAddresses() needs Defender's device back end"),
    "seenby": Offline("SeenBy() needs Defender's device back end"),
}
