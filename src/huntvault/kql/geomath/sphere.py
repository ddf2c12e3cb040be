"""Geometry on Kusto's Earth: a sphere of radius 6,371,010 m, WGS-84 coordinates, geodesic edges;
parsing and validating GeoJSON (Point, LineString, Polygon and their Multi forms) into typed shapes."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass

#: the radius Kusto measures with (checked against its documented distances to 1e-12)
RADIUS = 6371010.0

Pt = tuple[float, float]  # (longitude, latitude) in degrees
Vec = tuple[float, float, float]
Ring = list[Pt]
Poly = list[Ring]  # shell first, then holes


@dataclass(frozen=True)
class Shape:
    """A parsed GeoJSON geometry: its type name and its lines/polygons/points."""

    kind: str  # Point, MultiPoint, LineString, MultiLineString, Polygon, MultiPolygon
    points: list[Pt]
    lines: list[list[Pt]]
    polygons: list[Poly]


def number(v: object) -> float | None:
    """A finite real from a UDF argument (JSON number), else None."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    f = float(v)
    return f if math.isfinite(f) else None


def integer(v: object) -> int | None:
    """An integer argument (a real with no fraction counts), else None."""
    f = number(v)
    if f is None or f != int(f):
        return None
    return int(f)


def valid(lng: float | None, lat: float | None) -> bool:
    """Longitude in [-180, 180] and latitude in [-90, 90]."""
    return lng is not None and lat is not None and -180.0 <= lng <= 180.0 and -90.0 <= lat <= 90.0


def point_of(lng: object, lat: object) -> Pt | None:
    """A valid coordinate from two arguments, else None."""
    x, y = number(lng), number(lat)
    if x is None or y is None or not valid(x, y):
        return None
    return (x, y)


def to_vec(p: Pt) -> Vec:
    lng, lat = math.radians(p[0]), math.radians(p[1])
    c = math.cos(lat)
    return (c * math.cos(lng), c * math.sin(lng), math.sin(lat))


def to_pt(v: Vec) -> Pt:
    x, y, z = v
    n = math.sqrt(x * x + y * y + z * z)
    lat = math.degrees(math.asin(max(-1.0, min(1.0, z / n))))
    lng = math.degrees(math.atan2(y, x)) if (x or y) else 0.0
    return (lng, lat)


def dot(a: Vec, b: Vec) -> float:
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def cross(a: Vec, b: Vec) -> Vec:
    return (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0])


def add(a: Vec, b: Vec, k: float = 1.0) -> Vec:
    return (a[0] + k * b[0], a[1] + k * b[1], a[2] + k * b[2])


def scale(a: Vec, k: float) -> Vec:
    return (a[0] * k, a[1] * k, a[2] * k)


def norm(a: Vec) -> float:
    return math.sqrt(dot(a, a))


def unit(a: Vec) -> Vec:
    n = norm(a)
    return (a[0] / n, a[1] / n, a[2] / n) if n else a


def angle(a: Vec, b: Vec) -> float:
    """The central angle between two unit vectors (radians), stable for tiny and large angles."""
    return math.atan2(norm(cross(a, b)), dot(a, b))


def haversine(p: Pt, q: Pt) -> float:
    """The great-circle distance in meters."""
    la1, la2 = math.radians(p[1]), math.radians(q[1])
    dl = math.radians(q[0] - p[0])
    h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin(dl / 2) ** 2
    return 2 * RADIUS * math.asin(min(1.0, math.sqrt(h)))


def slerp(a: Vec, b: Vec, t: float) -> Vec:
    """The point a fraction t along the great arc from a to b."""
    th = angle(a, b)
    if th < 1e-15:
        return a
    s = math.sin(th)
    return unit(add(scale(a, math.sin((1 - t) * th) / s), b, math.sin(t * th) / s))


def closest_on_arc(p: Vec, a: Vec, b: Vec) -> Vec:
    """The point of the great arc a-b nearest to p."""
    n = cross(a, b)
    if norm(n) < 1e-300:
        return a
    n = unit(n)
    proj = add(p, n, -dot(p, n))
    if norm(proj) > 1e-15:
        c = unit(proj)
        # c lies on the arc when it is between a and b
        if dot(cross(a, c), n) >= 0 and dot(cross(c, b), n) >= 0:
            return c
    return a if angle(p, a) <= angle(p, b) else b


def arcs_cross(a: Vec, b: Vec, c: Vec, d: Vec) -> list[Vec]:
    """The points where arcs a-b and c-d meet (a shared stretch gives its ends)."""
    n1, n2 = cross(a, b), cross(c, d)
    x = cross(n1, n2)
    if norm(x) < 1e-14 * max(norm(n1) * norm(n2), 1e-300):
        # the same great circle: the overlapping stretch's ends, if any
        out = [p for p in (a, b) if _on_arc(p, c, d)] + [p for p in (c, d) if _on_arc(p, a, b)]
        return out
    x = unit(x)
    found = []
    for cand in (x, scale(x, -1.0)):
        if _on_arc(cand, a, b) and _on_arc(cand, c, d):
            found.append(cand)
    return found


def _on_arc(p: Vec, a: Vec, b: Vec) -> bool:
    return abs(angle(a, p) + angle(p, b) - angle(a, b)) < 1e-12


# --- GeoJSON ----------------------------------------------------------------------------------------


def _pt(v: object) -> Pt | None:
    if not isinstance(v, list) or len(v) < 2:
        return None
    return point_of(v[0], v[1])


def _line(v: object, least: int = 2) -> list[Pt] | None:
    if not isinstance(v, list) or len(v) < least:
        return None
    pts = [_pt(x) for x in v]
    if any(p is None for p in pts):
        return None
    out = [p for p in pts if p is not None]
    return out


def distinct(pts: Sequence[Pt]) -> list[Pt]:
    """Consecutive duplicates removed."""
    out: list[Pt] = []
    for p in pts:
        if not out or out[-1] != p:
            out.append(p)
    return out


def _ring(v: object) -> Ring | None:
    pts = _line(v, 4)
    if pts is None or pts[0] != pts[-1] or len(set(pts)) < 3:
        return None
    return pts


def _polygon(v: object) -> Poly | None:
    if not isinstance(v, list) or not v:
        return None
    rings = [_ring(r) for r in v]
    if any(r is None for r in rings):
        return None
    return [r for r in rings if r is not None]


def _edges_ok(pts: Sequence[Pt]) -> bool:
    """Every edge shorter than 180 degrees (antipodal vertices have no shortest edge)."""
    vs = [to_vec(p) for p in pts]
    return all(dot(vs[i], vs[i + 1]) > -1 + 1e-12 for i in range(len(vs) - 1))


def load(v: object) -> object:
    """A dynamic argument: JSON already parsed, or a string holding GeoJSON."""
    if isinstance(v, str):
        try:
            return json.loads(v)
        except ValueError:
            return None
    return v


def parse(v: object, allowed: frozenset[str] | None = None) -> Shape | None:
    """A GeoJSON geometry of the allowed kinds, validated as Kusto does, else None."""
    v = load(v)
    if not isinstance(v, dict):
        return None
    kind = v.get("type")
    if not isinstance(kind, str) or (allowed is not None and kind not in allowed):
        return None
    coords = v.get("coordinates")
    points: list[Pt] = []
    lines: list[list[Pt]] = []
    polygons: list[Poly] = []
    if kind == "Point":
        p = _pt(coords)
        if p is None:
            return None
        points = [p]
    elif kind == "MultiPoint":
        pts = _line(coords, 1)
        if pts is None:
            return None
        points = pts
    elif kind in ("LineString", "MultiLineString"):
        raw = [coords] if kind == "LineString" else coords
        if not isinstance(raw, list) or not raw:
            return None
        for item in raw:
            line = _line(item)
            if line is None or len(distinct(line)) < 2 or not _edges_ok(line):
                return None
            lines.append(line)
    elif kind in ("Polygon", "MultiPolygon"):
        raw = [coords] if kind == "Polygon" else coords
        if not isinstance(raw, list) or not raw:
            return None
        for item in raw:
            poly = _polygon(item)
            if poly is None or not all(_edges_ok(r) for r in poly):
                return None
            polygons.append(poly)
    else:
        return None
    return Shape(kind, points, lines, polygons)


LINES = frozenset({"LineString", "MultiLineString"})
POLYGONS = frozenset({"Polygon", "MultiPolygon"})


def point_json(p: Pt) -> dict[str, object]:
    return {"type": "Point", "coordinates": [p[0], p[1]]}


def line_json(lines: list[list[Pt]]) -> dict[str, object]:
    if len(lines) == 1:
        return {"type": "LineString", "coordinates": [[x, y] for x, y in lines[0]]}
    return {"type": "MultiLineString", "coordinates": [[[x, y] for x, y in line] for line in lines]}


def polygon_json(polys: list[Poly]) -> dict[str, object]:
    def rings(poly: Poly) -> list[list[list[float]]]:
        return [[[x, y] for x, y in r] for r in poly]

    if len(polys) == 1:
        return {"type": "Polygon", "coordinates": rings(polys[0])}
    return {"type": "MultiPolygon", "coordinates": [rings(p) for p in polys]}


EMPTY = {"type": "GeometryCollection", "geometries": []}
