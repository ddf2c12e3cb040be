"""Constructive operations: intersections (geodesic), simplification (Douglas-Peucker on the sphere),
buffers (geodesic circles; corridors through a local projection), unions (planar, shapely), and
cell coverings (S2 cells that meet a shape, H3 cells whose centers are inside a polygon)."""

from __future__ import annotations

import math
from collections.abc import Callable

import h3
import numpy as np
import numpy.typing as npt
import s2sphere
import shapely
from shapely import geometry as sg
from shapely.ops import linemerge, unary_union

from huntvault.kql.geomath import overlay
from huntvault.kql.geomath.cells import s2_vertices
from huntvault.kql.geomath.measures import in_polygons, ring_area, shapes_intersect
from huntvault.kql.geomath.sphere import (
    EMPTY,
    LINES,
    POLYGONS,
    RADIUS,
    Poly,
    Pt,
    Shape,
    Vec,
    add,
    angle,
    arcs_cross,
    closest_on_arc,
    haversine,
    integer,
    line_json,
    load,
    number,
    parse,
    point_json,
    point_of,
    polygon_json,
    slerp,
    to_pt,
    to_vec,
    unit,
)

Args = list[object]
#: the most cells a covering may hold; past it the answer is null (Kusto refuses huge coverings too)
MAX_CELLS = 65536


def _opt(args: Args, i: int, default: float) -> float | None:
    if len(args) <= i:
        return default  # not given; an explicit null is invalid
    return number(args[i])


# --- intersections -----------------------------------------------------------------------------------


def _same(p: Vec, q: Vec) -> bool:
    return angle(p, q) < 1e-12


def _line_edges(shape: Shape) -> list[tuple[Vec, Vec]]:
    out: list[tuple[Vec, Vec]] = []
    for line in shape.lines:
        vs = [to_vec(p) for p in line]
        out.extend((vs[i], vs[i + 1]) for i in range(len(vs) - 1) if not _same(vs[i], vs[i + 1]))
    return out


def _snapper(*shapes: Shape) -> Callable[[Vec], Pt]:
    """Vectors back to coordinates, giving an input vertex its input coordinates exactly."""
    known = [
        (to_vec(p), p)
        for s in shapes
        for seq in [*s.lines, *[r for poly in s.polygons for r in poly]]
        for p in seq
    ]

    def snap(v: Vec) -> Pt:
        for k, p in known:
            if angle(k, v) < 1e-13:
                return p
        return to_pt(v)

    return snap


def _collect(
    points: list[Vec], segments: list[tuple[Vec, Vec]], to_pt: Callable[[Vec], Pt] = to_pt
) -> object:
    """Points and segments as one GeoJSON geometry (points on a segment are dropped)."""
    lines = _chain(segments)
    pts: list[Vec] = []
    for p in points:
        if any(_same(p, q) for q in pts):
            continue
        if any(angle(p, closest_on_arc(p, a, b)) < 1e-12 for a, b in segments):
            continue
        pts.append(p)
    parts: list[dict[str, object]] = []
    if lines:
        parts.append(line_json([[to_pt(v) for v in line] for line in lines]))
    if len(pts) == 1:
        parts.append(point_json(to_pt(pts[0])))
    elif pts:
        parts.append({"type": "MultiPoint", "coordinates": [list(to_pt(p)) for p in pts]})
    if not parts:
        return dict(EMPTY)
    if len(parts) == 1:
        return parts[0]
    return {"type": "GeometryCollection", "geometries": parts}


def _chain(segments: list[tuple[Vec, Vec]]) -> list[list[Vec]]:
    """Consecutive segments joined into lines."""
    lines: list[list[Vec]] = []
    for a, b in segments:
        if lines and _same(lines[-1][-1], a):
            lines[-1].append(b)
        else:
            lines.append([a, b])
    return lines


def intersection_2lines(args: Args) -> object:
    s1, s2 = parse(args[0], LINES), parse(args[1], LINES)
    if s1 is None or s2 is None:
        return None
    points: list[Vec] = []
    segments: list[tuple[Vec, Vec]] = []
    for a, b in _line_edges(s1):
        for c, d in _line_edges(s2):
            got = arcs_cross(a, b, c, d)
            ends = [p for i, p in enumerate(got) if not any(_same(p, q) for q in got[:i])]
            if (len(ends) == 2 and angle(unit(add(a, b)), closest_on_arc(unit(add(a, b)), c, d)) < 1e-9) or (
                len(ends) == 2 and _collinear(a, b, c, d)
            ):
                x, y = ends
                if angle(a, x) > angle(a, y):
                    x, y = y, x
                segments.append((x, y))
            else:
                points.extend(ends)
    return _collect(points, segments, _snapper(s1, s2))


def _collinear(a: Vec, b: Vec, c: Vec, d: Vec) -> bool:
    from huntvault.kql.geomath.sphere import cross, norm

    return norm(cross(unit(cross(a, b)), unit(cross(c, d)))) < 1e-12


def intersection_line_with_polygon(args: Args) -> object:
    line, poly = parse(args[0], LINES), parse(args[1], POLYGONS)
    if line is None or poly is None:
        return None
    ring_edges: list[tuple[Vec, Vec]] = []
    for p in poly.polygons:
        for r in p:
            vs = [to_vec(x) for x in r]
            ring_edges.extend((vs[i], vs[i + 1]) for i in range(len(vs) - 1))
    inside: list[tuple[Vec, Vec]] = []
    points: list[Vec] = []
    for a, b in _line_edges(line):
        cuts = [a, b]
        for c, d in ring_edges:
            cuts.extend(arcs_cross(a, b, c, d))
        cuts.sort(key=lambda v: angle(a, v))
        pieces = [(cuts[i], cuts[i + 1]) for i in range(len(cuts) - 1) if not _same(cuts[i], cuts[i + 1])]
        for x, y in pieces:
            if in_polygons(unit(add(x, y)), poly.polygons):
                inside.append((x, y))
        if not pieces and in_polygons(a, poly.polygons):
            points.append(a)
    merged: list[tuple[Vec, Vec]] = []
    for x, y in inside:  # pieces of one edge cut at ring crossings inside the polygon join again
        if merged and _same(merged[-1][1], x) and _collinear(merged[-1][0], merged[-1][1], x, y):
            merged[-1] = (merged[-1][0], y)
        else:
            merged.append((x, y))
    return _collect(points, merged, _snapper(line, poly))


# --- planar steps (shapely) ------------------------------------------------------------------------


def _to_shapely(shape: Shape) -> sg.base.BaseGeometry:
    if shape.polygons:
        return sg.MultiPolygon([sg.Polygon(p[0], p[1:]) for p in shape.polygons]).buffer(0)
    if shape.lines:
        return sg.MultiLineString(shape.lines)
    return sg.MultiPoint(shape.points)


def _from_shapely(g: sg.base.BaseGeometry) -> object:
    if g.is_empty:
        return dict(EMPTY)
    if isinstance(g, sg.Polygon):
        g = shapely.geometry.polygon.orient(g, 1.0)
        return polygon_json([[list(g.exterior.coords), *[list(i.coords) for i in g.interiors]]])
    if isinstance(g, sg.MultiPolygon):
        polys = [shapely.geometry.polygon.orient(p, 1.0) for p in g.geoms]
        return polygon_json(
            [[list(p.exterior.coords), *[list(i.coords) for i in p.interiors]] for p in polys]
        )
    if isinstance(g, sg.LineString):
        return line_json([list(g.coords)])
    if isinstance(g, sg.MultiLineString):
        return line_json([list(x.coords) for x in g.geoms])
    if isinstance(g, sg.Point):
        return point_json((g.x, g.y))
    if isinstance(g, sg.MultiPoint):
        return {"type": "MultiPoint", "coordinates": [[p.x, p.y] for p in g.geoms]}
    if isinstance(g, sg.GeometryCollection):
        return {"type": "GeometryCollection", "geometries": [_from_shapely(x) for x in g.geoms]}
    return None


def _array(v: object, kinds: frozenset[str]) -> list[Shape] | None:
    v = load(v)
    if not isinstance(v, list) or not v:
        return None
    shapes = [parse(x, kinds) for x in v]
    if any(s is None for s in shapes):
        return None
    return [s for s in shapes if s is not None]


def intersection_2polygons(args: Args) -> object:
    s1, s2 = parse(args[0], POLYGONS), parse(args[1], POLYGONS)
    if s1 is None or s2 is None:
        return None
    points, lines, polys = overlay.intersection(s1.polygons, s2.polygons)
    parts: list[dict[str, object]] = []
    if len(points) == 1:
        parts.append(point_json(points[0]))
    elif points:
        parts.append({"type": "MultiPoint", "coordinates": [list(p) for p in points]})
    if lines:
        parts.append(line_json(lines))
    if polys:
        parts.append(polygon_json(polys))
    if not parts:
        return dict(EMPTY)
    return parts[0] if len(parts) == 1 else {"type": "GeometryCollection", "geometries": parts}


def union_lines_array(args: Args) -> object:
    shapes = _array(args[0], LINES)
    if shapes is None:
        return None
    merged = unary_union([_to_shapely(s) for s in shapes])
    if isinstance(merged, sg.MultiLineString):
        merged = linemerge(merged)
    return _from_shapely(merged)


def union_polygons_array(args: Args) -> object:
    shapes = _array(args[0], POLYGONS)
    if shapes is None:
        return None
    got = overlay.union([p for s in shapes for p in s.polygons])
    return polygon_json(got) if got else None


# --- simplification ----------------------------------------------------------------------------------


def _dp(vs: list[Vec], tol: float) -> list[int]:
    """Douglas-Peucker with geodesic distances (tol in radians): the indexes of the vertices kept."""
    if len(vs) < 3:
        return list(range(len(vs)))
    keep = [False] * len(vs)
    keep[0] = keep[-1] = True
    stack = [(0, len(vs) - 1)]
    while stack:
        i, j = stack.pop()
        worst, at = -1.0, -1
        for k in range(i + 1, j):
            d = angle(vs[k], closest_on_arc(vs[k], vs[i], vs[j]))
            if d > worst:
                worst, at = d, k
        if at >= 0 and worst > tol:
            keep[at] = True
            stack.extend([(i, at), (at, j)])
    return [i for i, k in enumerate(keep) if k]


def _tolerance(args: Args, i: int) -> float | None:
    """The simplification tolerance in meters: default 10, valid from 0.1 to 10,000."""
    tol = _opt(args, i, 10.0)
    return tol if tol is not None and 0.1 <= tol <= 10000 else None


def line_simplify(args: Args) -> object:
    shape = parse(args[0], LINES)
    tol = _tolerance(args, 1)
    if shape is None or tol is None:
        return None
    out: list[list[Pt]] = []
    for line in shape.lines:
        pts = [line[i] for i in _dp([to_vec(p) for p in line], tol / RADIUS)]
        if sum(haversine(pts[i], pts[i + 1]) for i in range(len(pts) - 1)) <= tol:
            return None  # the line collapses to a point at this tolerance
        out.append(pts)
    return line_json(out)


def _simplify_ring(ring: list[Pt], tol: float) -> list[Pt] | None:
    pts = ring[:-1]
    vs = [to_vec(p) for p in pts]
    # split the ring at its first vertex and the vertex farthest from it, simplify both halves
    far = max(range(len(vs)), key=lambda k: angle(vs[0], vs[k]))
    first = _dp(vs[: far + 1], tol / RADIUS)
    second = [far + i for i in _dp([*vs[far:], vs[0]], tol / RADIUS)]
    keep = first[:-1] + second[:-1]
    out = [pts[i] for i in keep]
    if len(set(out)) < 3:
        return None
    return [*out, out[0]]


def _simplify_polys(polys: list[Poly], tol: float) -> list[Poly] | None:
    out: list[Poly] = []
    for poly in polys:
        shell = _simplify_ring(poly[0], tol)
        if shell is None:
            continue  # a polygon this small disappears at this tolerance
        holes = [h for h in (_simplify_ring(r, tol) for r in poly[1:]) if h is not None]
        out.append([shell, *holes])
    return out or None


def polygon_simplify(args: Args) -> object:
    shape = parse(args[0], POLYGONS)
    tol = _tolerance(args, 1)
    if shape is None or tol is None:
        return None
    got = _simplify_polys(overlay.union(shape.polygons), tol)
    return None if got is None else polygon_json(got)


def simplify_polygons_array(args: Args) -> object:
    shapes = _array(args[0], POLYGONS)
    tol = _tolerance(args, 1)
    if shapes is None or tol is None:
        return None
    polys = overlay.union([p for s in shapes for p in s.polygons])
    if not polys:
        return None
    got = _simplify_polys(polys, tol)
    return None if got is None else polygon_json(got)


# --- buffers -----------------------------------------------------------------------------------------


def _destination(p: Pt, bearing: float, dist: float) -> Pt:
    lat1, lng1 = math.radians(p[1]), math.radians(p[0])
    d = dist / RADIUS
    lat2 = math.asin(math.sin(lat1) * math.cos(d) + math.cos(lat1) * math.sin(d) * math.cos(bearing))
    lng2 = lng1 + math.atan2(
        math.sin(bearing) * math.sin(d) * math.cos(lat1), math.cos(d) - math.sin(lat1) * math.sin(lat2)
    )
    return (math.degrees(math.atan2(math.sin(lng2), math.cos(lng2))), math.degrees(lat2))


def _sides(radius: float, tol: float) -> int:
    """Vertices of a circle whose chords stay within tol meters of it."""
    frac = min(tol / radius, 0.99)
    step = 2 * math.acos(1 - frac)
    return max(8, min(4096, math.ceil(2 * math.pi / max(step, 1e-9))))


def _buffer_args(args: Args, i: int) -> tuple[float, float] | None:
    """(radius, tolerance) in meters: a positive radius; the tolerance (default 10 m) at least a millionth
    of the radius, and above the radius lowered to just under it."""
    radius = number(args[i]) if len(args) > i else None
    tol = _opt(args, i + 1, 10.0)
    if radius is None or tol is None or radius <= 0 or tol < radius * 1e-6:
        return None
    return radius, min(tol, radius * 0.99)


def point_buffer(args: Args) -> object:
    p = point_of(args[0], args[1])
    got = _buffer_args(args, 2)
    if p is None or got is None:
        return None
    radius, tol = got
    n = _sides(radius, tol)
    ring = [_destination(p, -2 * math.pi * k / n, radius) for k in range(n)]
    return polygon_json([[[*ring, ring[0]]]])


def _local(shape: Shape) -> tuple[Callable[[Pt], Pt], Callable[[float, float], Pt]]:
    """An azimuthal-equidistant projection about the shape's first vertex (meters) and its inverse."""
    first = (
        (shape.lines[0][0] if shape.lines else shape.polygons[0][0][0])
        if not shape.points
        else shape.points[0]
    )
    o = to_vec(first)

    def fwd(p: Pt) -> Pt:
        d = haversine(first, p)
        lat1, lat2 = math.radians(first[1]), math.radians(p[1])
        dl = math.radians(p[0] - first[0])
        b = math.atan2(
            math.sin(dl) * math.cos(lat2),
            math.cos(lat1) * math.sin(lat2) - math.sin(lat1) * math.cos(lat2) * math.cos(dl),
        )
        return (d * math.sin(b), d * math.cos(b))

    def back(x: float, y: float) -> Pt:
        return _destination(first, math.atan2(x, y), math.hypot(x, y))

    _ = o
    return fwd, back


def _buffer_shape(shape: Shape, radius: float, tol: float) -> object:
    fwd, back = _local(shape)
    if shape.polygons:
        geom: sg.base.BaseGeometry = sg.MultiPolygon(
            [
                sg.Polygon([fwd(p) for p in poly[0]], [[fwd(p) for p in h] for h in poly[1:]])
                for poly in shape.polygons
            ]
        ).buffer(0)
    else:
        geom = sg.MultiLineString([[fwd(p) for p in line] for line in shape.lines])
    quad = max(2, _sides(abs(radius), tol) // 4)
    out = geom.buffer(radius, quad_segs=quad)
    if out.is_empty:
        return None
    return _from_shapely(shapely.transform(out, lambda xy: _unproject(back, xy)))


def _unproject(back: Callable[[float, float], Pt], xy: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return np.array([back(float(x), float(y)) for x, y in xy], dtype=np.float64).reshape(-1, 2)


def line_buffer(args: Args) -> object:
    shape = parse(args[0], LINES)
    got = _buffer_args(args, 1)
    if shape is None or got is None:
        return None
    return _buffer_shape(shape, *got)


def polygon_buffer(args: Args) -> object:
    shape = parse(args[0], POLYGONS)
    got = _buffer_args(args, 1)
    if shape is None or got is None:
        return None
    return _buffer_shape(shape, *got)


# --- coverings ---------------------------------------------------------------------------------------


def _s2_covering(shape: Shape, level: int) -> list[str] | None:
    if shape.polygons:
        # a covering holds at least area / (largest cell's area) cells: refuse hopeless levels at once
        area = sum(ring_area(p[0]) for p in shape.polygons)
        if area / (3 * 4 * math.pi / (6 * 4**level)) > MAX_CELLS:
            return None
    frontier = [(s2sphere.CellId.from_face_pos_level(face, 0, 0), False) for face in range(6)]
    for depth in range(level + 1):
        keep: list[tuple[s2sphere.CellId, bool]] = []
        for cid, inside in frontier:
            if inside:
                keep.append((cid, True))  # a cell inside the shape: so are all its children
                continue
            state = _meets(cid, shape)
            if state:
                keep.append((cid, state == 2))
        if len(keep) > MAX_CELLS:
            return None
        if depth == level:
            return [str(c.to_token()) for c, _ in sorted(keep, key=lambda k: k[0].id())]
        frontier = [(child, inside) for c, inside in keep for child in c.children()]
    return None


def _meets(cid: s2sphere.CellId, shape: Shape) -> int:
    """0 when an S2 cell (four geodesic edges) and the shape share no point, 2 when the cell lies inside
    the shape's polygons, else 1."""
    cell = Shape("Polygon", [], [], [[s2_vertices(cid)]])
    if not shapes_intersect(cell, shape):
        return 0
    if shape.polygons and all(in_polygons(to_vec(p), shape.polygons) for p in cell.polygons[0][0][:4]):
        edges = [
            (to_vec(a), to_vec(b)) for a, b in zip(cell.polygons[0][0], cell.polygons[0][0][1:], strict=False)
        ]
        rings = [
            (to_vec(r[k]), to_vec(r[k + 1])) for p in shape.polygons for r in p for k in range(len(r) - 1)
        ]
        if not any(arcs_cross(a, b, c, d) for a, b in edges for c, d in rings):
            return 2
    return 1


def _cover_args(
    args: Args, kinds: frozenset[str], default_level: int = 11, top_level: int = 30
) -> tuple[Shape, int] | None:
    """(shape, level) of a covering call `f(shape [, level [, radius]])`, the shape grown by `radius`
    meters; None (the call answers null) for an invalid shape, level or radius."""
    shape = parse(args[0], kinds)
    level = integer(args[1]) if len(args) > 1 else default_level
    if shape is None or level is None or not 0 <= level <= top_level:
        return None
    radius = _opt(args, 2, 0.0)
    if radius is None or radius < 0:
        return None
    if radius > 0:
        grown = _buffer_shape(shape, radius, min(10.0, radius * 0.1))
        shape = parse(grown, POLYGONS) if grown is not None else None
        if shape is None:
            return None
    return shape, level


def _s2cells(args: Args, kinds: frozenset[str]) -> object:
    got = _cover_args(args, kinds)
    if got is None:
        return None
    cells = _s2_covering(*got)
    return None if cells is None or len(cells) > MAX_CELLS else cells


def polygon_to_s2cells(args: Args) -> object:
    return _s2cells(args, POLYGONS)


def line_to_s2cells(args: Args) -> object:
    return _s2cells(args, LINES)


def polygon_to_h3cells(args: Args) -> object:
    got = _cover_args(args, POLYGONS, default_level=6, top_level=15)
    if got is None:
        return None
    shape, res = got
    out: list[str] = []
    for poly in shape.polygons:
        h3poly = h3.LatLngPoly([(y, x) for x, y in poly[0]], *[[(y, x) for x, y in r] for r in poly[1:]])
        for c in h3.polygon_to_cells(h3poly, res):
            if c not in out:
                out.append(str(c))
        if len(out) > MAX_CELLS:
            return None
    return out


FUNCTIONS: dict[str, Callable[[Args], object]] = {
    "geo_intersection_2lines": intersection_2lines,
    "geo_intersection_line_with_polygon": intersection_line_with_polygon,
    "geo_intersection_2polygons": intersection_2polygons,
    "geo_union_lines_array": union_lines_array,
    "geo_union_polygons_array": union_polygons_array,
    "geo_line_simplify": line_simplify,
    "geo_polygon_simplify": polygon_simplify,
    "geo_simplify_polygons_array": simplify_polygons_array,
    "geo_point_buffer": point_buffer,
    "geo_line_buffer": line_buffer,
    "geo_polygon_buffer": polygon_buffer,
    "geo_polygon_to_s2cells": polygon_to_s2cells,
    "geo_line_to_s2cells": line_to_s2cells,
    "geo_polygon_to_h3cells": polygon_to_h3cells,
}
_ = slerp
