"""The geo math (kql/geomath) on known values, the kql_geo UDF's bad-input contract, and geo through the engine."""

from __future__ import annotations

import json
import math

import pytest

from huntvault.kql import execute
from huntvault.kql.geomath import GEO_FUNCTIONS, kql_geo
from huntvault.kql.geomath.cells import geohash_box, geohash_encode
from huntvault.kql.geomath.sphere import RADIUS, haversine

OCTANT = {"type": "Polygon", "coordinates": [[[0, 0], [90, 0], [0, 90], [0, 0]]]}


def geo(name: str, *args: object) -> object:
    out = kql_geo(name, json.dumps(list(args)))
    if out is None:
        return None
    try:
        return json.loads(out)
    except ValueError:
        return out


def test_quarter_meridian_and_equator() -> None:
    assert haversine((0, 0), (0, 90)) == pytest.approx(math.pi / 2 * RADIUS, rel=1e-12)
    assert geo("geo_distance_2points", 0, 0, 180, 0) == pytest.approx(math.pi * RADIUS, rel=1e-12)
    # Kusto's documented Seattle - Los Angeles distance (sphere of 6,371,010 m)
    assert geo("geo_distance_2points", -122.407628, 47.578557, -118.275287, 34.019056) == pytest.approx(
        1546754.35197381, rel=1e-12
    )


def test_spheroid_distance_is_vincenty() -> None:
    # one degree of longitude on the WGS-84 equator: a * pi / 180
    assert geo("geo_distance_2points", 0, 0, 1, 0, True) == pytest.approx(6378137.0 * math.pi / 180, rel=1e-9)


def test_octant_area_perimeter_centroid() -> None:
    assert geo("geo_polygon_area", OCTANT) == pytest.approx(4 * math.pi * RADIUS**2 / 8, rel=1e-12)
    assert geo("geo_polygon_perimeter", OCTANT) == pytest.approx(3 * math.pi / 2 * RADIUS, rel=1e-12)
    c = geo("geo_polygon_centroid", OCTANT)
    assert isinstance(c, dict)
    lng, lat = c["coordinates"]
    assert lng == pytest.approx(45.0, abs=1e-9)
    assert lat == pytest.approx(math.degrees(math.atan(1 / math.sqrt(2))), abs=1e-9)


def test_orientation_does_not_matter_and_holes_subtract() -> None:
    cw = {"type": "Polygon", "coordinates": [[[0, 0], [0, 90], [90, 0], [0, 0]]]}
    assert geo("geo_polygon_area", cw) == geo("geo_polygon_area", OCTANT)
    square = [[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]]
    hole = [[2, 2], [2, 4], [4, 4], [4, 2], [2, 2]]
    whole = geo("geo_polygon_area", {"type": "Polygon", "coordinates": [square]})
    holed = geo("geo_polygon_area", {"type": "Polygon", "coordinates": [square, hole]})
    small = geo("geo_polygon_area", {"type": "Polygon", "coordinates": [hole]})
    assert isinstance(whole, float) and isinstance(holed, float) and isinstance(small, float)
    assert holed == pytest.approx(whole - small, rel=1e-12)
    assert geo("geo_point_in_polygon", 3, 3, {"type": "Polygon", "coordinates": [square, hole]}) is False
    assert geo("geo_point_in_polygon", 5, 5, {"type": "Polygon", "coordinates": [square, hole]}) is True


def test_overlapping_multipolygon_counts_once() -> None:
    a = [[0, 0], [2, 0], [2, 2], [0, 2], [0, 0]]
    b = [[1, 1], [3, 1], [3, 3], [1, 3], [1, 1]]
    both = geo("geo_polygon_area", {"type": "MultiPolygon", "coordinates": [[a], [b]]})
    one = geo("geo_polygon_area", {"type": "Polygon", "coordinates": [a]})
    assert isinstance(both, float) and isinstance(one, float)
    assert one < both < 2 * one


def test_geohash_round_trip() -> None:
    assert geohash_encode(-73.975212, 40.789608, 5) == "dr72h"
    box = geohash_box("dr5ru")
    assert box == (-74.00390625, 40.7373046875, -73.9599609375, 40.78125)
    assert geohash_box("a") is None and geohash_box("") is None and geohash_box("0" * 19) is None


def test_angle_point_to_line_and_locate() -> None:
    # from north to east is a quarter turn, clockwise
    assert geo("geo_angle", 0, 1, 0, 0, 1, 0) == pytest.approx(math.pi / 2, rel=1e-12)
    line = {"type": "LineString", "coordinates": [[0, 0], [10, 0]]}
    d = geo("geo_distance_point_to_line", 5, 1, line)
    assert d == pytest.approx(haversine((5, 0), (5, 1)), rel=1e-9)
    assert geo("geo_line_locate_point", line, 2.5, 0) == pytest.approx(0.25, rel=1e-12)
    p = geo("geo_closest_point_on_line", 5, 1, line)
    assert isinstance(p, dict)
    assert p["coordinates"] == pytest.approx([5.0, 0.0], abs=1e-9)


@pytest.mark.parametrize("name", sorted(GEO_FUNCTIONS))
def test_every_function_answers_null_to_garbage(name: str) -> None:
    # wrong types, bad coordinates, malformed GeoJSON: null (or Kusto's empty string), never an exception
    for args in (
        [],
        ["@!"],
        [None, None, None],
        [500, 500, {"type": "Polygon"}, 1, 2, 3],
        [{"type": 1}, "??", -1],
    ):
        out = kql_geo(name, json.dumps(args))
        assert out in (None, ""), (name, args, out)
    assert kql_geo(name, "not json") is None


def test_unknown_function_and_null_args() -> None:
    assert kql_geo("geo_nothing", "[]") is None
    assert kql_geo(None, "[]") is None
    assert kql_geo("geo_line_length", None) is None


def test_engine_bad_input_is_null_not_an_error() -> None:
    rows = execute(
        "datatable(s:string)['{\"type\":\"Polygon\"}', 'nonsense', '']"
        " | project a = geo_polygon_area(todynamic(s)), h = geo_point_to_h3cell(1000, 0), w = geo_from_wkt(s)"
    ).rows()
    assert rows == [{"a": None, "h": "", "w": None}] * 3
