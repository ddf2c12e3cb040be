"""Grid cells: geohash (own code), S2 (s2sphere) and H3 (h3) — points to cells, cells to points,
polygons and neighbors, parents, children and rings."""

from __future__ import annotations

from collections.abc import Callable

import h3
import s2sphere

from huntvault.kql.geomath.sphere import Pt, integer, point_json, point_of, polygon_json

Args = list[object]
_B32 = "0123456789bcdefghjkmnpqrstuvwxyz"
_B32_INDEX = {c: i for i, c in enumerate(_B32)}

# --- geohash ------------------------------------------------------------------------------------------


def geohash_encode(lng: float, lat: float, chars: int) -> str:
    lo = [-180.0, -90.0]
    hi = [180.0, 90.0]
    out: list[str] = []
    bit, ch, even = 0, 0, True
    while len(out) < chars:
        axis = 0 if even else 1
        mid = (lo[axis] + hi[axis]) / 2
        v = lng if even else lat
        if v >= mid:
            ch = ch * 2 + 1
            lo[axis] = mid
        else:
            ch *= 2
            hi[axis] = mid
        even = not even
        bit += 1
        if bit == 5:
            out.append(_B32[ch])
            bit, ch = 0, 0
    return "".join(out)


def geohash_box(code: object) -> tuple[float, float, float, float] | None:
    """(west, south, east, north) of a geohash, or None when it is not one (1 to 18 characters)."""
    if not isinstance(code, str) or not 1 <= len(code) <= 18:
        return None
    lo = [-180.0, -90.0]
    hi = [180.0, 90.0]
    even = True
    for c in code.lower():
        idx = _B32_INDEX.get(c)
        if idx is None:
            return None
        for shift in range(4, -1, -1):
            axis = 0 if even else 1
            mid = (lo[axis] + hi[axis]) / 2
            if (idx >> shift) & 1:
                lo[axis] = mid
            else:
                hi[axis] = mid
            even = not even
    return lo[0], lo[1], hi[0], hi[1]


def point_to_geohash(args: Args) -> object:
    p = point_of(args[0], args[1])
    acc = integer(args[2]) if len(args) > 2 else 5
    if p is None or acc is None or not 1 <= acc <= 18:
        return ""
    return geohash_encode(p[0], p[1], acc)


def geohash_to_central_point(args: Args) -> object:
    box = geohash_box(args[0])
    if box is None:
        return None
    w, s, e, n = box
    return point_json(((w + e) / 2, (s + n) / 2))


def geohash_to_polygon(args: Args) -> object:
    box = geohash_box(args[0])
    if box is None:
        return None
    w, s, e, n = box
    return polygon_json([[[(w, s), (e, s), (e, n), (w, n), (w, s)]]])


#: the order Kusto lists a geohash's neighbors in (its documented example): (east-west, north-south) steps
_NEIGHBOR_ORDER = [(-1, -1), (-1, 1), (1, -1), (0, 1), (-1, 0), (1, 1), (1, 0), (0, -1)]


def geohash_neighbors(args: Args) -> object:
    box = geohash_box(args[0])
    if box is None:
        return None
    code = str(args[0]).lower()
    w, s, e, n = box
    dx, dy = e - w, n - s
    cx, cy = (w + e) / 2, (s + n) / 2
    out: list[str] = []
    for sx, sy in _NEIGHBOR_ORDER:
        y = cy + sy * dy
        if not -90 < y < 90:
            continue
        x = cx + sx * dx
        x = (x + 180) % 360 - 180
        cell = geohash_encode(x, y, len(code))
        if cell != code and cell not in out:
            out.append(cell)
    return out


# --- S2 ----------------------------------------------------------------------------------------------


def s2_cell(token: object) -> s2sphere.CellId | None:
    if not isinstance(token, str) or not 1 <= len(token) <= 16:
        return None
    if any(c not in "0123456789abcdefABCDEF" for c in token):
        return None
    cid = s2sphere.CellId.from_token(token.lower())
    return cid if cid.is_valid() else None


def _ll(ll: s2sphere.LatLng) -> Pt:
    return (ll.lng().degrees, ll.lat().degrees)


def point_to_s2cell(args: Args) -> object:
    p = point_of(args[0], args[1])
    level = integer(args[2]) if len(args) > 2 else 11
    if p is None or level is None or not 0 <= level <= 30:
        return ""
    cid = s2sphere.CellId.from_lat_lng(s2sphere.LatLng.from_degrees(p[1], p[0])).parent(level)
    return str(cid.to_token())


def s2cell_to_central_point(args: Args) -> object:
    cid = s2_cell(args[0])
    if cid is None:
        return None
    return point_json(_ll(cid.to_lat_lng()))


def s2_vertices(cid: s2sphere.CellId) -> list[Pt]:
    cell = s2sphere.Cell(cid)
    pts = [_ll(s2sphere.LatLng.from_point(cell.get_vertex(k))) for k in range(4)]
    return [*pts, pts[0]]


def s2cell_to_polygon(args: Args) -> object:
    cid = s2_cell(args[0])
    if cid is None:
        return None
    return polygon_json([[s2_vertices(cid)]])


#: Kusto's order of the 8 neighbors, as positions in S2's own enumeration (S2CellId::AppendAllNeighbors:
#: the row below, left and right, then the row above), read from its documented example ('89c259')
S2_NEIGHBOR_ORDER = [7, 0, 1, 2, 3, 5, 4, 6]


def s2cell_neighbors(args: Args) -> object:
    cid = s2_cell(args[0])
    if cid is None:
        return None
    found = [str(n.to_token()) for n in cid.get_all_neighbors(cid.level())]
    if len(found) == len(S2_NEIGHBOR_ORDER):
        found = [found[i] for i in S2_NEIGHBOR_ORDER]
    out: list[str] = []
    for tok in found:
        if tok not in out:
            out.append(tok)
    return out


# --- H3 ----------------------------------------------------------------------------------------------


def h3_cell(v: object) -> str | None:
    if not isinstance(v, str) or not v:
        return None
    try:
        return v.lower() if h3.is_valid_cell(v.lower()) else None
    except (ValueError, TypeError):
        return None


def point_to_h3cell(args: Args) -> object:
    p = point_of(args[0], args[1])
    res = integer(args[2]) if len(args) > 2 else 6
    if p is None or res is None or not 0 <= res <= 15:
        return ""
    return str(h3.latlng_to_cell(p[1], p[0], res))


def h3cell_to_central_point(args: Args) -> object:
    c = h3_cell(args[0])
    if c is None:
        return None
    lat, lng = h3.cell_to_latlng(c)
    return point_json((lng, lat))


def h3_boundary(c: str) -> list[Pt]:
    ring = [(lng, lat) for lat, lng in h3.cell_to_boundary(c)]
    return [*ring, ring[0]]


def h3cell_to_polygon(args: Args) -> object:
    c = h3_cell(args[0])
    if c is None:
        return None
    return polygon_json([[h3_boundary(c)]])


def h3cell_level(args: Args) -> object:
    c = h3_cell(args[0])
    return None if c is None else int(h3.get_resolution(c))


def h3cell_parent(args: Args) -> object:
    c = h3_cell(args[0])
    if c is None:
        return ""
    level = int(h3.get_resolution(c))
    res = integer(args[1]) if len(args) > 1 else level - 1
    if res is None or not 0 <= res < level:
        return ""
    return str(h3.cell_to_parent(c, res))


def h3cell_children(args: Args) -> object:
    c = h3_cell(args[0])
    if c is None:
        return None
    level = int(h3.get_resolution(c))
    res = integer(args[1]) if len(args) > 1 else level + 1
    if res is None or not level < res <= 15 or res - level > 5:
        return None
    return [str(x) for x in h3.cell_to_children(c, res)]


def h3cell_neighbors(args: Args) -> object:
    c = h3_cell(args[0])
    if c is None:
        return None
    return [str(x) for x in h3.grid_disk(c, 1) if x != c]


def h3cell_rings(args: Args) -> object:
    c = h3_cell(args[0])
    k = integer(args[1]) if len(args) > 1 else None
    if c is None or k is None or not 0 <= k <= 142:
        return None
    rings: list[list[str]] = [[] for _ in range(k + 1)]
    for x in h3.grid_disk(c, k):
        rings[int(h3.grid_distance(c, x))].append(str(x))
    return rings


FUNCTIONS: dict[str, Callable[[Args], object]] = {
    "geo_point_to_geohash": point_to_geohash,
    "geo_geohash_to_central_point": geohash_to_central_point,
    "geo_geohash_to_polygon": geohash_to_polygon,
    "geo_geohash_neighbors": geohash_neighbors,
    "geo_point_to_s2cell": point_to_s2cell,
    "geo_s2cell_to_central_point": s2cell_to_central_point,
    "geo_s2cell_to_polygon": s2cell_to_polygon,
    "geo_s2cell_neighbors": s2cell_neighbors,
    "geo_point_to_h3cell": point_to_h3cell,
    "geo_h3cell_to_central_point": h3cell_to_central_point,
    "geo_h3cell_to_polygon": h3cell_to_polygon,
    "geo_h3cell_level": h3cell_level,
    "geo_h3cell_parent": h3cell_parent,
    "geo_h3cell_children": h3cell_children,
    "geo_h3cell_neighbors": h3cell_neighbors,
    "geo_h3cell_rings": h3cell_rings,
}
