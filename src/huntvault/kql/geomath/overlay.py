"""Polygon overlay (union, intersection): the topology from shapely in longitude/latitude, every new
vertex moved to where the two geodesic edges that make it really cross (Kusto's edges are geodesics)."""

from __future__ import annotations

import math
from collections.abc import Callable

import shapely
from shapely import geometry as sg

from huntvault.kql.geomath.sphere import Poly, Pt, Vec, angle, arcs_cross, to_pt, to_vec

Rings = list[list[Pt]]


def _edges(polys: list[Poly]) -> list[tuple[Pt, Pt]]:
    return [(r[i], r[i + 1]) for poly in polys for r in poly for i in range(len(r) - 1)]


def _seg_dist(p: Pt, a: Pt, b: Pt) -> float:
    ax, ay = b[0] - a[0], b[1] - a[1]
    n = ax * ax + ay * ay
    t = 0.0 if n == 0 else max(0.0, min(1.0, ((p[0] - a[0]) * ax + (p[1] - a[1]) * ay) / n))
    return math.hypot(p[0] - a[0] - t * ax, p[1] - a[1] - t * ay)


def _fixer(polys: list[Poly]) -> Callable[[Pt], Pt]:
    """A function moving an overlay vertex that is no input vertex to its geodesic crossing."""
    known = {p for poly in polys for r in poly for p in r}
    edges = _edges(polys)

    def fix(p: Pt) -> Pt:
        if p in known:
            return p
        near = [e for e in edges if _seg_dist(p, *e) < 1e-9]
        best: Pt = p
        best_d = math.inf
        target = to_vec(p)
        for i in range(len(near)):
            for j in range(i + 1, len(near)):
                a, b = near[i]
                c, d = near[j]
                for x in arcs_cross(to_vec(a), to_vec(b), to_vec(c), to_vec(d)):
                    dist = angle(x, target)
                    if dist < best_d and dist < 1e-4:
                        best, best_d = _pt(x), dist
        return best

    return fix


def _pt(v: Vec) -> Pt:
    return to_pt(v)


def to_shapely(polys: list[Poly]) -> sg.MultiPolygon:
    return sg.MultiPolygon([sg.Polygon(p[0], p[1:]) for p in polys])


def from_shapely(g: shapely.Geometry, inputs: list[Poly]) -> list[Poly]:
    """The polygons of an overlay result, counterclockwise shells, vertices on the geodesic crossings."""
    fix = _fixer(inputs)
    out: list[Poly] = []
    parts = list(getattr(g, "geoms", [g]))
    for part in parts:
        if not isinstance(part, sg.Polygon) or part.is_empty:
            continue
        part = shapely.geometry.polygon.orient(part, 1.0)
        rings = [part.exterior, *part.interiors]
        out.append([[fix((float(x), float(y))) for x, y, *_ in r.coords] for r in rings])
    return out


def union(polys: list[Poly]) -> list[Poly]:
    """The union of polygons (overlapping areas once)."""
    if len(polys) == 1:
        return polys
    merged = shapely.unary_union([sg.Polygon(p[0], p[1:]).buffer(0) for p in polys])
    return from_shapely(merged, polys)


def intersection(a: list[Poly], b: list[Poly]) -> tuple[list[Pt], list[list[Pt]], list[Poly]]:
    """The intersection of two (multi)polygons: the points and lines where they only touch, and the polygons."""
    got = to_shapely(a).buffer(0).intersection(to_shapely(b).buffer(0))
    fix = _fixer(a + b)
    points: list[Pt] = []
    lines: list[list[Pt]] = []
    stack = [got]
    while stack:
        g = stack.pop(0)
        if g.is_empty:
            continue
        if isinstance(g, (sg.MultiPoint, sg.MultiLineString, sg.GeometryCollection)):
            stack.extend(g.geoms)
        elif isinstance(g, sg.Point):
            points.append(fix((float(g.x), float(g.y))))
        elif isinstance(g, sg.LineString):
            lines.append([fix((float(x), float(y))) for x, y, *_ in g.coords])
    return points, lines, from_shapely(got, a + b)
