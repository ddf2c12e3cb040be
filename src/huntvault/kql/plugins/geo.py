"""The geo lookup plugins: geo_polygon_lookup (points in polygons) and geo_line_lookup (points near
lines), joins whose condition runs through the kql_geo UDF (kql/geomath)."""

from __future__ import annotations

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.geomath import UDF_NAME
from huntvault.kql.ir import Env, Planner, Plugin, Rel, Scope
from huntvault.kql.lowering.tables import unique
from huntvault.kql.values import S, T, alias, call, col, dtype

#: the optional arguments after the required ones, in positional order. The current syntax is
#: (Lookup, longitude, latitude, key [, radius], return_unmatched, join_hint) and returns the key column;
#: the earlier one, (Lookup, key, longitude, latitude [, radius], return_unmatched, lookup_area_radius,
#: return_lookup_key), still in older documentation, returns it only with return_lookup_key = true.
OPTIONS = ["return_unmatched", "join_hint"]
LEGACY_OPTIONS = ["return_unmatched", "lookup_area_radius", "return_lookup_key"]


def _json(p: Planner, v: T) -> exp.Expression:
    return v.sql if v.type == "dynamic" else p.dialect.to_json(v.sql)


def _udf(p: Planner, name: str, args: list[T]) -> exp.Expression:
    packed = call("json_array", *[_json(p, a) for a in args])
    return call(UDF_NAME, S(name), exp.Cast(this=packed, to=dtype("VARCHAR")))


def _options(p: Planner, node: A.Call, first: int, names: list[str], scope: Scope) -> dict[str, T]:
    out: dict[str, T] = {}
    for i, arg in enumerate(node.args[first:]):
        if i >= len(names):
            raise p.semantic(f"{node.name}(): too many arguments", arg)
        out[names[i]] = p.compile(arg, scope)
    for key, arg in node.named.items():
        if key not in names:
            raise p.semantic(
                f"{node.name}(): unknown argument {key!r} (expected one of {', '.join(names)})", arg
            )
        out[key] = p.compile(arg, scope)
    return out


def _flag(p: Planner, opts: dict[str, T], key: str, node: A.Call) -> bool:
    v = opts.get(key)
    if v is None:
        return False
    if not v.is_const or not isinstance(v.const, bool):
        raise p.semantic(f"{node.name}(): {key} must be a constant bool", node)
    return v.const


def _lookup(p: Planner, left: Rel, node: A.Call, env: Env, line: bool, outer_udf_join: bool = True) -> Rel:
    least = 5 if line else 4
    if len(node.args) < least:
        raise p.semantic(
            f"{node.name}() needs the lookup table, its {'line' if line else 'polygon'} column, "
            "the longitude, the latitude, its shape column" + (" and the radius" if line else ""),
            node,
        )
    right = p.relation(node.args[0], env)
    rtypes = right.types()

    def is_key(n: A.Node) -> bool:
        return isinstance(n, A.Name) and rtypes.get(n.name) == "dynamic"

    legacy = not is_key(node.args[3]) and is_key(node.args[1])
    key = node.args[1] if legacy else node.args[3]
    if not isinstance(key, A.Name) or not is_key(key):
        raise p.semantic(
            f"{node.name}(): the shape argument must be a dynamic column of the lookup table", key
        )
    lt, rt = p.fresh("l"), p.fresh("r")
    lscope = Scope({n: T(col(n, lt), t) for n, t in left.cols}, env, p)
    lng_node, lat_node = (node.args[2], node.args[3]) if legacy else (node.args[1], node.args[2])
    lng, lat = p.compile(lng_node, lscope), p.compile(lat_node, lscope)
    shape = T(col(key.name, rt), rtypes[key.name])
    names = LEGACY_OPTIONS if legacy else OPTIONS
    if not line:
        names = (["lookup_area_radius"] if legacy else ["radius"]) + [
            n for n in names if n != "lookup_area_radius"
        ]
    opts = _options(p, node, least, names, lscope)
    radius = p.compile(node.args[4], lscope) if line else opts.get("lookup_area_radius", opts.get("radius"))
    if line and "lookup_area_radius" in opts:
        radius = opts["lookup_area_radius"]
    if radius is not None:
        fn = "geo_distance_point_to_line" if line else "geo_distance_point_to_polygon"
        dist = exp.TryCast(this=_udf(p, fn, [lng, lat, shape]), to=dtype("DOUBLE"))
        on: exp.Expression = exp.LTE(this=dist, expression=exp.Cast(this=radius.sql, to=dtype("DOUBLE")))
    else:
        on = exp.EQ(this=_udf(p, "geo_point_in_polygon", [lng, lat, shape]), expression=S("true"))
    keep_key = _flag(p, opts, "return_lookup_key", node) if legacy else True
    taken = {n for n, _ in left.cols}
    proj: list[exp.Expression] = [alias(col(n, lt), n) for n, _ in left.cols]
    cols = list(left.cols)
    for n, t in right.cols:
        if n == key.name and not keep_key:
            continue
        out = unique(n, taken)
        taken.add(out)
        proj.append(alias(col(n, rt), out))
        cols.append((out, t))
    join = "LEFT OUTER" if _flag(p, opts, "return_unmatched", node) else "INNER"
    if join != "INNER" and not outer_udf_join:
        raise p.unsupported(
            f"{node.name}() runs on the DuckDB engine only with return_unmatched=true"
            " (Spark refuses a Python UDF in an outer join's condition)",
            node,
        )
    sql = (
        exp.select(*proj)
        .from_(left.sql.subquery(lt, copy=False), copy=False)
        .join(right.sql.subquery(rt, copy=False), on=on, join_type=join, copy=False)
    )
    return Rel(sql, cols)


def lower_polygon_lookup(p: Planner, rel: Rel, node: A.Call, env: Env) -> Rel:
    """evaluate geo_polygon_lookup(Polygons, lng, lat, polygon [, radius, return_unmatched, join_hint]):
    each row joined with every polygon holding its point (or within the radius, meters)."""
    return _lookup(p, rel, node, env, line=False)


def lower_line_lookup(p: Planner, rel: Rel, node: A.Call, env: Env) -> Rel:
    """evaluate geo_line_lookup(Lines, lng, lat, line, radius [, return_unmatched, join_hint]): each row
    joined with every line within the radius (meters)."""
    return _lookup(p, rel, node, env, line=True)


def spark_polygon_lookup(p: Planner, rel: Rel, node: A.Call, env: Env) -> Rel:
    return _lookup(p, rel, node, env, line=False, outer_udf_join=False)


def spark_line_lookup(p: Planner, rel: Rel, node: A.Call, env: Env) -> Rel:
    return _lookup(p, rel, node, env, line=True, outer_udf_join=False)


PLUGINS: dict[str, Plugin] = {
    "geo_polygon_lookup": Plugin(lower_polygon_lookup, spark=spark_polygon_lookup),
    "geo_line_lookup": Plugin(lower_line_lookup, spark=spark_line_lookup),
}
