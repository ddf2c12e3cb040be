"""geo_from_wkt: Well-Known Text to GeoJSON (2-D; Z/M ordinates dropped), null on malformed text."""

from __future__ import annotations

import re
from collections.abc import Callable

from huntvault.kql.geomath.sphere import parse

Args = list[object]
_TOKEN = re.compile(r"\s*(?:([A-Za-z]+)|([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)|([(),]))")
_KINDS = {
    "POINT": "Point",
    "LINESTRING": "LineString",
    "POLYGON": "Polygon",
    "MULTIPOINT": "MultiPoint",
    "MULTILINESTRING": "MultiLineString",
    "MULTIPOLYGON": "MultiPolygon",
    "GEOMETRYCOLLECTION": "GeometryCollection",
}
#: how deep each kind's coordinates nest (0 = one position)
_DEPTH = {"Point": 0, "LineString": 1, "MultiPoint": 1, "Polygon": 2, "MultiLineString": 2, "MultiPolygon": 3}


class _Bad(Exception):
    """Malformed WKT."""


class _Reader:
    def __init__(self, text: str) -> None:
        self.toks: list[str] = []
        pos = 0
        text = text.strip()
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if m is None or m.end() == pos:
                raise _Bad
            self.toks.append(m.group(m.lastindex or 0))
            pos = m.end()
        self.i = 0

    def peek(self) -> str | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, want: str | None = None) -> str:
        tok = self.peek()
        if tok is None or (want is not None and tok.upper() != want):
            raise _Bad
        self.i += 1
        return tok

    def geometry(self) -> dict[str, object]:
        word = self.take().upper()
        kind = _KINDS.get(word)
        if kind is None:
            raise _Bad
        if self.peek() is not None and str(self.peek()).upper() in ("Z", "M", "ZM"):
            self.take()
        if kind == "GeometryCollection":
            self.take("(")
            geoms = [self.geometry()]
            while self.peek() == ",":
                self.take()
                geoms.append(self.geometry())
            self.take(")")
            return {"type": kind, "geometries": geoms}
        return {"type": kind, "coordinates": self.coords(_DEPTH[kind], kind == "MultiPoint")}

    def position(self) -> list[float]:
        nums: list[float] = []
        while self.peek() not in (None, ",", ")", "("):
            tok = self.take()
            try:
                nums.append(float(tok))
            except ValueError as e:
                raise _Bad from e
        if not 2 <= len(nums) <= 4:
            raise _Bad
        return [nums[0], nums[1]]

    def coords(self, depth: int, loose_points: bool = False) -> object:
        self.take("(")
        if depth == 0:
            out: object = self.position()
        else:
            items: list[object] = []
            while True:
                if depth == 1 and (not loose_points or self.peek() != "("):
                    items.append(self.position())
                elif depth == 1:
                    items.append(self.coords(0))
                else:
                    items.append(self.coords(depth - 1))
                if self.peek() != ",":
                    break
                self.take()
            out = items
        self.take(")")
        return out


def from_wkt(args: Args) -> object:
    text = args[0]
    if not isinstance(text, str):
        return None
    try:
        reader = _Reader(text)
        geo = reader.geometry()
        if reader.peek() is not None:
            return None
    except _Bad:
        return None
    if not _valid(geo):
        return None
    return geo


def _valid(geo: dict[str, object]) -> bool:
    if geo["type"] == "GeometryCollection":
        parts = geo["geometries"]
        return isinstance(parts, list) and all(isinstance(g, dict) and _valid(g) for g in parts)
    return parse(geo) is not None


FUNCTIONS: dict[str, Callable[[Args], object]] = {"geo_from_wkt": from_wkt}
