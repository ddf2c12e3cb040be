"""The geo_* functions: every one goes through the kql_geo UDF (kql/geomath, the same Python on DuckDB
and Spark); this table gives each its arity and result type."""

from __future__ import annotations

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.geomath import UDF_NAME
from huntvault.kql.geomath.sphere import RADIUS
from huntvault.kql.ir import Compiler, Function
from huntvault.kql.values import S, T, call, dtype, to_dynamic

#: name -> (least arguments, most arguments, result type)
GEO_SIGNATURES: dict[str, tuple[int, int, str]] = {
    "geo_distance_2points": (4, 5, "real"),
    "geo_distance_point_to_line": (3, 3, "real"),
    "geo_distance_point_to_polygon": (3, 3, "real"),
    "geo_closest_point_on_line": (3, 3, "dynamic"),
    "geo_closest_point_on_polygon": (3, 3, "dynamic"),
    "geo_line_length": (1, 1, "real"),
    "geo_polygon_area": (1, 1, "real"),
    "geo_polygon_perimeter": (1, 1, "real"),
    "geo_line_centroid": (1, 1, "dynamic"),
    "geo_polygon_centroid": (1, 1, "dynamic"),
    "geo_angle": (6, 6, "real"),
    "geo_azimuth": (4, 4, "real"),
    "geo_line_interpolate_point": (2, 2, "dynamic"),
    "geo_line_locate_point": (3, 3, "real"),
    "geo_point_in_circle": (5, 5, "bool"),
    "geo_point_in_polygon": (3, 3, "bool"),
    "geo_intersects_2lines": (2, 2, "bool"),
    "geo_intersects_2polygons": (2, 2, "bool"),
    "geo_intersects_line_with_polygon": (2, 2, "bool"),
    "geo_line_densify": (1, 3, "dynamic"),
    "geo_polygon_densify": (1, 3, "dynamic"),
    "geo_point_to_geohash": (2, 3, "string"),
    "geo_geohash_to_central_point": (1, 1, "dynamic"),
    "geo_geohash_to_polygon": (1, 1, "dynamic"),
    "geo_geohash_neighbors": (1, 1, "dynamic"),
    "geo_point_to_s2cell": (2, 3, "string"),
    "geo_s2cell_to_central_point": (1, 1, "dynamic"),
    "geo_s2cell_to_polygon": (1, 1, "dynamic"),
    "geo_s2cell_neighbors": (1, 1, "dynamic"),
    "geo_point_to_h3cell": (2, 3, "string"),
    "geo_h3cell_to_central_point": (1, 1, "dynamic"),
    "geo_h3cell_to_polygon": (1, 1, "dynamic"),
    "geo_h3cell_level": (1, 1, "int"),
    "geo_h3cell_parent": (1, 2, "string"),
    "geo_h3cell_children": (1, 2, "dynamic"),
    "geo_h3cell_neighbors": (1, 1, "dynamic"),
    "geo_h3cell_rings": (2, 2, "dynamic"),
    "geo_from_wkt": (1, 1, "dynamic"),
    "geo_point_buffer": (3, 4, "dynamic"),
    "geo_line_buffer": (2, 3, "dynamic"),
    "geo_polygon_buffer": (2, 3, "dynamic"),
    "geo_intersection_2lines": (2, 2, "dynamic"),
    "geo_intersection_line_with_polygon": (2, 2, "dynamic"),
    "geo_intersection_2polygons": (2, 2, "dynamic"),
    "geo_union_lines_array": (1, 1, "dynamic"),
    "geo_union_polygons_array": (1, 1, "dynamic"),
    "geo_simplify_polygons_array": (1, 2, "dynamic"),
    "geo_line_simplify": (1, 2, "dynamic"),
    "geo_polygon_simplify": (1, 2, "dynamic"),
    "geo_line_to_s2cells": (1, 3, "dynamic"),
    "geo_polygon_to_s2cells": (1, 3, "dynamic"),
    "geo_polygon_to_h3cells": (1, 3, "dynamic"),
}

_SQL_TYPES = {"real": "DOUBLE", "bool": "BOOLEAN", "int": "INTEGER", "long": "BIGINT"}


def _json_text(c: Compiler, v: T) -> exp.Expression:
    """One UDF argument as JSON (scalars through the dialect: Spark's to_json takes no scalar)."""
    if v.type == "dynamic" or (v.is_const and v.const is None):
        return to_dynamic(v).sql
    return c.planner.dialect.to_json(to_dynamic(v).sql if v.type == "datetime" else v.sql)


def geo_call(c: Compiler, name: str, args: list[T]) -> exp.Expression:
    """kql_geo('name', json_array(args...)) as text (null when Kusto answers null)."""
    packed = call("json_array", *[_json_text(c, a) for a in args])
    return call(UDF_NAME, S(name), exp.Cast(this=packed, to=dtype("VARCHAR")))


def typed(text: exp.Expression, kind: str) -> exp.Expression:
    """The UDF's text as the function's KQL type (strings are never null in Kusto)."""
    if kind == "dynamic":
        return exp.Cast(this=text, to=dtype("JSON"))
    if kind == "string":
        return call("coalesce", text, S(""))
    return exp.TryCast(this=text, to=dtype(_SQL_TYPES[kind]))


def geo_function(name: str, lo: int, hi: int, kind: str) -> Function:
    def lower(c: Compiler, args: list[T], node: A.Call) -> T:
        return T(typed(geo_call(c, name, args), kind), kind)

    return Function(lower, (lo, hi), kind)


def _num(v: T) -> exp.Expression:
    return v.sql.copy() if v.type == "real" else exp.Cast(this=v.sql, to=dtype("DOUBLE"))


def _between(v: exp.Expression, lo: float, hi: float) -> exp.Expression:
    return exp.Between(this=v, low=exp.Literal.number(lo), high=exp.Literal.number(hi))


def _rad(v: exp.Expression) -> exp.Expression:
    return call("radians", v)


def haversine_sql(lng1: T, lat1: T, lng2: T, lat2: T) -> exp.Expression:
    """The great-circle distance on Kusto's sphere in SQL (vectorised, no UDF), null for invalid coordinates:
    the same formula as geomath's haversine."""
    x1, y1, x2, y2 = _num(lng1), _num(lat1), _num(lng2), _num(lat2)
    valid = exp.and_(
        _between(x1.copy(), -180, 180),
        _between(y1.copy(), -90, 90),
        _between(x2.copy(), -180, 180),
        _between(y2.copy(), -90, 90),
    )

    def sin2(a: exp.Expression) -> exp.Expression:
        half = call("sin", exp.Div(this=exp.Paren(this=a), expression=exp.Literal.number(2)))
        return call("pow", half, exp.Literal.number(2))

    dlat = exp.Sub(this=_rad(y2.copy()), expression=_rad(y1.copy()))
    dlng = exp.Sub(this=_rad(x2.copy()), expression=_rad(x1.copy()))
    cosines = exp.Mul(this=call("cos", _rad(y1.copy())), expression=call("cos", _rad(y2.copy())))
    h = exp.Add(this=sin2(dlat), expression=exp.Mul(this=cosines, expression=sin2(dlng)))
    root = call("least", exp.Literal.number(1), call("sqrt", h))
    dist = exp.Mul(this=exp.Literal.number(2 * RADIUS), expression=call("asin", root))
    return exp.Case(ifs=[exp.If(this=valid, true=dist)])


def _distance_2points(c: Compiler, args: list[T], node: A.Call) -> T:
    """Sphere distances in SQL; with use_spheroid (not a constant false) through the UDF."""
    if len(args) == 5 and not (args[4].is_const and args[4].const is False):
        return T(typed(geo_call(c, "geo_distance_2points", args), "real"), "real")
    return T(haversine_sql(*args[:4]), "real")


def _point_in_circle(c: Compiler, args: list[T], node: A.Call) -> T:
    """In SQL: the distance to the center within the radius (null for invalid input or a negative radius)."""
    radius = _num(args[4])
    inside = exp.LTE(this=haversine_sql(*args[:4]), expression=radius)
    bad = exp.LT(this=radius.copy(), expression=exp.Literal.number(0))
    return T(exp.Case(ifs=[exp.If(this=bad, true=exp.Null())], default=inside), "bool")


FUNCTIONS: dict[str, Function] = {
    name: geo_function(name, lo, hi, kind) for name, (lo, hi, kind) in GEO_SIGNATURES.items()
}
#: functions cheap enough to be plain SQL (vectorised in the engine) rather than a Python UDF call per row
FUNCTIONS["geo_distance_2points"] = Function(_distance_2points, (4, 5), "real")
FUNCTIONS["geo_point_in_circle"] = Function(_point_in_circle, (5, 5), "bool")
