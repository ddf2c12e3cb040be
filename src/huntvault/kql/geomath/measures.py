"""Measures and predicates on the sphere: distances, lengths, areas, centroids, angles, points along
lines, closest points, containment and intersection tests (geodesic edges)."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

from huntvault.kql.geomath.overlay import union
from huntvault.kql.geomath.sphere import (
    LINES,
    POLYGONS,
    RADIUS,
    Poly,
    Pt,
    Ring,
    Shape,
    Vec,
    add,
    angle,
    arcs_cross,
    closest_on_arc,
    cross,
    dot,
    haversine,
    integer,
    line_json,
    norm,
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

# --- rings -------------------------------------------------------------------------------------------


def _solid(a: Vec, b: Vec, c: Vec) -> float:
    """The signed solid angle of the spherical triangle a, b, c (positive counterclockwise)."""
    num = dot(a, cross(b, c))
    den = 1 + dot(a, b) + dot(b, c) + dot(c, a)
    return 2 * math.atan2(num, den)


def _left_area(vs: list[Vec]) -> float:
    """The area (steradians) of the region left of the closed ring vs (first == last)."""
    o = vs[0]
    s = sum(_solid(o, vs[i], vs[i + 1]) for i in range(1, len(vs) - 2))
    return s % (4 * math.pi)


def oriented(ring: Ring) -> list[Vec]:
    """The ring as unit vectors, oriented so that the smaller region is on its left."""
    return list(_oriented(tuple(ring)))


@functools.lru_cache(maxsize=256)
def _oriented(ring: tuple[Pt, ...]) -> tuple[Vec, ...]:
    # cached: a lookup polygon or a literal one meets every row of a table
    vs = [to_vec(p) for p in ring]
    if _left_area(vs) > 2 * math.pi:
        vs.reverse()
    return tuple(vs)


def ring_area(ring: Ring) -> float:
    """The smaller region's area in steradians."""
    return _left_area(oriented(ring))


def _winding(p: Vec, vs: list[Vec]) -> float:
    total = 0.0
    for i in range(len(vs) - 1):
        a, b = vs[i], vs[i + 1]
        total += math.atan2(dot(p, cross(a, b)), dot(a, b) - dot(a, p) * dot(b, p))
    return total


def in_ring(p: Vec, ring: Ring) -> bool:
    """Whether p lies in the smaller region the ring bounds."""
    return _winding(p, oriented(ring)) > math.pi


def in_poly(p: Vec, poly: Poly) -> bool:
    return in_ring(p, poly[0]) and not any(in_ring(p, hole) for hole in poly[1:])


def in_polygons(p: Vec, polys: list[Poly]) -> bool:
    return any(in_poly(p, poly) for poly in polys)


def _ring_integral(vs: list[Vec]) -> Vec:
    """The integral of the position vector over the region left of the ring (for centroids)."""
    acc: Vec = (0.0, 0.0, 0.0)
    for i in range(len(vs) - 1):
        a, b = vs[i], vs[i + 1]
        n = cross(a, b)
        if norm(n) == 0:
            continue
        acc = add(acc, unit(n), angle(a, b) / 2)
    return acc


# --- edges -------------------------------------------------------------------------------------------


def edges(shape: Shape) -> list[tuple[Vec, Vec]]:
    """Every edge of the shape's lines and rings as unit-vector pairs."""
    out: list[tuple[Vec, Vec]] = []
    seqs: list[list[Pt]] = list(shape.lines) + [r for poly in shape.polygons for r in poly]
    for seq in seqs:
        vs = [to_vec(p) for p in seq]
        out.extend((vs[i], vs[i + 1]) for i in range(len(vs) - 1))
    return out


def closest_on_edges(p: Vec, es: list[tuple[Vec, Vec]]) -> Vec:
    best = es[0][0]
    best_d = 10.0
    for a, b in es:
        c = closest_on_arc(p, a, b)
        d = angle(p, c)
        if d < best_d:
            best, best_d = c, d
    return best


# --- the functions -----------------------------------------------------------------------------------


def distance_2points(args: Args) -> object:
    p, q = point_of(args[0], args[1]), point_of(args[2], args[3])
    if p is None or q is None:
        return None
    if len(args) > 4 and args[4] is True:
        return _vincenty(p, q)
    return haversine(p, q)


def _vincenty(p: Pt, q: Pt) -> float | None:
    """The distance on the WGS-84 spheroid (Vincenty's inverse formula)."""
    a, f = 6378137.0, 1 / 298.257223563
    b = (1 - f) * a
    lam0 = math.radians(q[0] - p[0])
    u1 = math.atan((1 - f) * math.tan(math.radians(p[1])))
    u2 = math.atan((1 - f) * math.tan(math.radians(q[1])))
    su1, cu1, su2, cu2 = math.sin(u1), math.cos(u1), math.sin(u2), math.cos(u2)
    lam = lam0
    for _ in range(200):
        sl, cl = math.sin(lam), math.cos(lam)
        ss = math.hypot(cu2 * sl, cu1 * su2 - su1 * cu2 * cl)
        if ss == 0:
            return 0.0
        cs = su1 * su2 + cu1 * cu2 * cl
        sig = math.atan2(ss, cs)
        sa = cu1 * cu2 * sl / ss
        c2a = 1 - sa * sa
        c2m = cs - 2 * su1 * su2 / c2a if c2a else 0.0
        c = f / 16 * c2a * (4 + f * (4 - 3 * c2a))
        prev = lam
        lam = lam0 + (1 - c) * f * sa * (sig + c * ss * (c2m + c * cs * (-1 + 2 * c2m * c2m)))
        if abs(lam - prev) < 1e-12:
            break
    else:
        return haversine(p, q)
    u = c2a * (a * a - b * b) / (b * b)
    big_a = 1 + u / 16384 * (4096 + u * (-768 + u * (320 - 175 * u)))
    big_b = u / 1024 * (256 + u * (-128 + u * (74 - 47 * u)))
    ds = (
        big_b
        * ss
        * (
            c2m
            + big_b
            / 4
            * (cs * (-1 + 2 * c2m * c2m) - big_b / 6 * c2m * (-3 + 4 * ss * ss) * (-3 + 4 * c2m * c2m))
        )
    )
    return b * big_a * (sig - ds)


def _point_and(args: Args, kinds: frozenset[str]) -> tuple[Vec, Shape] | None:
    p = point_of(args[0], args[1])
    shape = parse(args[2], kinds)
    if p is None or shape is None:
        return None
    return to_vec(p), shape


def distance_point_to_line(args: Args) -> object:
    got = _point_and(args, LINES)
    if got is None:
        return None
    p, shape = got
    return RADIUS * angle(p, closest_on_edges(p, edges(shape)))


def distance_point_to_polygon(args: Args) -> object:
    got = _point_and(args, POLYGONS)
    if got is None:
        return None
    p, shape = got
    if in_polygons(p, shape.polygons):
        return 0.0
    return RADIUS * angle(p, closest_on_edges(p, edges(shape)))


def closest_point_on_line(args: Args) -> object:
    got = _point_and(args, LINES)
    if got is None:
        return None
    p, shape = got
    return point_json(to_pt(closest_on_edges(p, edges(shape))))


def closest_point_on_polygon(args: Args) -> object:
    got = _point_and(args, POLYGONS)
    if got is None:
        return None
    p, shape = got
    if in_polygons(p, shape.polygons):
        return point_json(to_pt(p))
    return point_json(to_pt(closest_on_edges(p, edges(shape))))


def line_length(args: Args) -> object:
    shape = parse(args[0], LINES)
    if shape is None:
        return None
    return sum(haversine(line[i], line[i + 1]) for line in shape.lines for i in range(len(line) - 1))


def polygon_area(args: Args) -> object:
    shape = parse(args[0], POLYGONS)
    if shape is None:
        return None
    total = 0.0
    for poly in union(shape.polygons):
        total += ring_area(poly[0]) - sum(ring_area(h) for h in poly[1:])
    return max(total, 0.0) * RADIUS * RADIUS


def polygon_perimeter(args: Args) -> object:
    shape = parse(args[0], POLYGONS)
    if shape is None:
        return None
    # a multipolygon's perimeter is its union's (overlapping polygons share no boundary), as its area is
    rings = [r for poly in union(shape.polygons) for r in poly]
    return sum(haversine(r[i], r[i + 1]) for r in rings for i in range(len(r) - 1))


def line_centroid(args: Args) -> object:
    shape = parse(args[0], LINES)
    if shape is None:
        return None
    acc: Vec = (0.0, 0.0, 0.0)
    for a, b in edges(shape):
        th = angle(a, b)
        acc = add(acc, add(a, b), math.tan(th / 2))
    if norm(acc) < 1e-300:
        return None
    return point_json(to_pt(acc))


def polygon_centroid(args: Args) -> object:
    shape = parse(args[0], POLYGONS)
    if shape is None:
        return None
    acc: Vec = (0.0, 0.0, 0.0)
    for poly in union(shape.polygons):
        acc = add(acc, _ring_integral(oriented(poly[0])))
        for hole in poly[1:]:
            acc = add(acc, _ring_integral(oriented(hole)), -1.0)
    if norm(acc) < 1e-300:
        return None
    return point_json(to_pt(acc))


def geo_angle(args: Args) -> object:
    pts = [point_of(args[i], args[i + 1]) for i in (0, 2, 4)]
    if any(p is None for p in pts) or pts[0] == pts[1] or pts[2] == pts[1]:
        return None
    a, o, c = (to_vec(p) for p in pts if p is not None)
    # tangent directions at o towards a and c; the angle from the first to the second, clockwise
    ta = add(a, o, -dot(a, o))
    tc = add(c, o, -dot(c, o))
    if norm(ta) < 1e-15 or norm(tc) < 1e-15:
        return None
    ang = math.atan2(dot(o, cross(tc, ta)), dot(ta, tc))
    return ang % (2 * math.pi)


def geo_azimuth(args: Args) -> object:
    """The clockwise angle (radians, [0, 2pi)) at point 1 from true north to the geodesic towards point 2;
    null for invalid, equal or antipodal points."""
    p1, p2 = point_of(args[0], args[1]), point_of(args[2], args[3])
    if p1 is None or p2 is None or p1 == p2:
        return None
    a, b = to_vec(p1), to_vec(p2)
    if dot(a, b) < -1 + 1e-15:  # antipodal: every direction is a geodesic
        return None
    lat1, lat2 = math.radians(p1[1]), math.radians(p2[1])
    dlng = math.radians(p2[0] - p1[0])
    y = math.sin(dlng) * math.cos(lat2)
    x = math.cos(lat1) * math.sin(lat2) - math.sin(lat1) * math.cos(lat2) * math.cos(dlng)
    return math.atan2(y, x) % (2 * math.pi)


def _line_points(shape: Shape) -> list[Vec]:
    return [to_vec(p) for p in shape.lines[0]]


def line_interpolate_point(args: Args) -> object:
    shape = parse(args[0], frozenset({"LineString"}))
    t = number(args[1])
    if shape is None or t is None or not 0 <= t <= 1:
        return None
    vs = _line_points(shape)
    lengths = [angle(vs[i], vs[i + 1]) for i in range(len(vs) - 1)]
    goal = t * sum(lengths)
    for i, seg in enumerate(lengths):
        if goal <= seg or i == len(lengths) - 1:
            return point_json(to_pt(slerp(vs[i], vs[i + 1], min(1.0, goal / seg) if seg else 0.0)))
        goal -= seg
    return None


def line_locate_point(args: Args) -> object:
    shape = parse(args[0], frozenset({"LineString"}))
    p = point_of(args[1], args[2])
    if shape is None or p is None:
        return None
    v = to_vec(p)
    vs = _line_points(shape)
    lengths = [angle(vs[i], vs[i + 1]) for i in range(len(vs) - 1)]
    total = sum(lengths)
    if total == 0:
        return None
    best, best_at, before = 10.0, 0.0, 0.0
    for i, seg in enumerate(lengths):
        c = closest_on_arc(v, vs[i], vs[i + 1])
        d = angle(v, c)
        if d < best:
            best, best_at = d, before + angle(vs[i], c)
        before += seg
    return best_at / total


def point_in_circle(args: Args) -> object:
    p, c, r = point_of(args[0], args[1]), point_of(args[2], args[3]), number(args[4])
    if p is None or c is None or r is None or r < 0:
        return None
    return haversine(p, c) <= r


def point_in_polygon(args: Args) -> object:
    got = _point_and(args, POLYGONS)
    if got is None:
        return None
    p, shape = got
    return in_polygons(p, shape.polygons)


def _vertices(shape: Shape) -> list[Vec]:
    pts = list(shape.points) + [p for line in shape.lines for p in line]
    pts += [p for poly in shape.polygons for r in poly for p in r]
    return [to_vec(p) for p in pts]


def shapes_intersect(s1: Shape, s2: Shape) -> bool:
    """Whether two shapes share a point: an edge crossing, or a vertex of one inside the other."""
    e1, e2 = edges(s1), edges(s2)
    for a, b in e1:
        for c, d in e2:
            if arcs_cross(a, b, c, d):
                return True
    if s2.polygons and any(in_polygons(v, s2.polygons) for v in _vertices(s1)):
        return True
    return bool(s1.polygons) and any(in_polygons(v, s1.polygons) for v in _vertices(s2))


def _intersects(k1: frozenset[str], k2: frozenset[str]) -> Callable[[Args], object]:
    def run(args: Args) -> object:
        s1, s2 = parse(args[0], k1), parse(args[1], k2)
        if s1 is None or s2 is None:
            return None
        return shapes_intersect(s1, s2)

    return run


def line_densify(args: Args) -> object:
    return _densify(args, LINES)


def polygon_densify(args: Args) -> object:
    return _densify(args, POLYGONS)


def _densify(args: Args, kinds: frozenset[str]) -> object:
    """Points added along each planar edge (evenly, in longitude/latitude; the count doubles) until the
    geodesics between them stay within the tolerance (meters, default 10, valid 0.1 to 10,000) of it."""
    shape = parse(args[0], kinds)
    tol = number(args[1]) if len(args) > 1 else 10.0
    if shape is None or tol is None or not 0.1 <= tol <= 10000:
        return None

    def dense(seq: list[Pt]) -> list[Pt]:
        out: list[Pt] = [seq[0]]
        for i in range(len(seq) - 1):
            p, q = seq[i], seq[i + 1]
            n = 1
            while n < MAX_DENSIFY and _deviation(p, q, n) > tol:
                n *= 2
            out.extend((p[0] + (q[0] - p[0]) * k / n, p[1] + (q[1] - p[1]) * k / n) for k in range(1, n))
            out.append(q)
        return out

    if shape.polygons:
        return polygon_json([[dense(r) for r in poly] for poly in shape.polygons])
    return line_json([dense(line) for line in shape.lines])


#: the most pieces one edge is cut into (Kusto caps a densified shape at 10,485,760 points)
MAX_DENSIFY = 1 << 20


def _deviation(p: Pt, q: Pt, n: int) -> float:
    """The largest gap (meters) between the planar edge p-q and the geodesics of its n equal pieces."""
    worst = 0.0
    for k in range(n):
        a = (p[0] + (q[0] - p[0]) * k / n, p[1] + (q[1] - p[1]) * k / n)
        b = (p[0] + (q[0] - p[0]) * (k + 1) / n, p[1] + (q[1] - p[1]) * (k + 1) / n)
        planar_mid = ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2)
        geodesic_mid = to_pt(slerp(to_vec(a), to_vec(b), 0.5))
        worst = max(worst, haversine(planar_mid, geodesic_mid))
    return worst


FUNCTIONS: dict[str, Callable[[Args], object]] = {
    "geo_distance_2points": distance_2points,
    "geo_distance_point_to_line": distance_point_to_line,
    "geo_distance_point_to_polygon": distance_point_to_polygon,
    "geo_closest_point_on_line": closest_point_on_line,
    "geo_closest_point_on_polygon": closest_point_on_polygon,
    "geo_line_length": line_length,
    "geo_polygon_area": polygon_area,
    "geo_polygon_perimeter": polygon_perimeter,
    "geo_line_centroid": line_centroid,
    "geo_polygon_centroid": polygon_centroid,
    "geo_angle": geo_angle,
    "geo_azimuth": geo_azimuth,
    "geo_line_interpolate_point": line_interpolate_point,
    "geo_line_locate_point": line_locate_point,
    "geo_point_in_circle": point_in_circle,
    "geo_point_in_polygon": point_in_polygon,
    "geo_intersects_2lines": _intersects(LINES, LINES),
    "geo_intersects_2polygons": _intersects(POLYGONS, POLYGONS),
    "geo_intersects_line_with_polygon": _intersects(LINES, POLYGONS),
    "geo_line_densify": line_densify,
    "geo_polygon_densify": polygon_densify,
}
_ = integer
