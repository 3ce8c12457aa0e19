"""Jurisdiction outlines: polygons on the sphere with great-circle edges, and point-in-polygon.

An outline is read from GeoJSON (RFC 7946) positions, but each edge is taken as the
great-circle arc between its two vertices, not as a straight line in longitude and
latitude. Points are tested on the sphere by their winding number, so the antimeridian and
the poles need no special case: a polygon split at ±180° (as GeoJSON asks) is simply two
polygons whose shared meridian edge cancels out of the outline's boundary.

Every ring is taken to enclose less than a hemisphere (true of every country and region);
rings are re-oriented on reading so that the smaller side lies to the left.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from types import MappingProxyType
from typing import Any

from pausebutton.errors import FormatError
from pausebutton.verify._common import load_data
from pausebutton.verify.geo import Vector, angle, cross, dot, latlon, vector

DATA_FILE = "jurisdictions.geojson"
Edge = tuple[Vector, Vector]
_Key = tuple[float, float]


def _key(lon: float, lat: float) -> _Key:
    """A vertex's identity for matching shared edges (±180° are one meridian)."""
    lon = 180.0 if lon == -180.0 else lon
    return (round(lon, 7), round(lat, 7))


@dataclass(frozen=True)
class Ring:
    """A closed chain of great-circle arcs, oriented with its (smaller) inside on the left."""

    vertices: tuple[Vector, ...]
    keys: tuple[_Key, ...]

    @classmethod
    def from_positions(cls, positions: Sequence[Sequence[float]]) -> Ring:
        """Read a GeoJSON linear ring of [lon, lat] positions, first equal to last."""
        if len(positions) < 4 or list(positions[0]) != list(positions[-1]):
            raise FormatError("a linear ring has at least 4 positions, the last equal to the first")
        keys: list[_Key] = []
        for position in positions[:-1]:
            if len(position) < 2 or not all(isinstance(x, int | float) for x in position):
                raise FormatError(f"position {position!r} is not [lon, lat]")
            lon, lat = float(position[0]), float(position[1])
            if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                raise FormatError(f"position {position!r} is outside [-180, 180] × [-90, 90]")
            key = _key(lon, lat)
            if not keys or keys[-1] != key:
                keys.append(key)
        if len(keys) > 1 and keys[0] == keys[-1]:
            keys.pop()
        if len(keys) < 3:
            raise FormatError("a linear ring needs at least 3 distinct vertices")
        vertices = [vector(lat, lon) for lon, lat in keys]
        for a, b in zip(vertices, vertices[1:] + vertices[:1], strict=True):
            if angle(a, b) >= math.pi / 2:
                raise FormatError(f"ring edge from {latlon(a)} to {latlon(b)} spans 90° or more")
        if _turning(vertices) < 0:
            vertices.reverse()
            keys.reverse()
        return cls(tuple(vertices), tuple(keys))

    def edges(self) -> Iterable[Edge]:
        """The ring's arcs in order."""
        vs = self.vertices
        return zip(vs, vs[1:] + vs[:1], strict=True)

    def winding(self, p: Vector) -> float:
        """The angle (radians) the ring turns around `p`: 2π inside, 0 or -2π outside."""
        total = 0.0
        for a, b in self.edges():
            total += math.atan2(dot(p, cross(a, b)), dot(a, b) - dot(a, p) * dot(b, p))
        return total

    def contains(self, p: Vector) -> bool:
        """Whether `p` is inside (undefined exactly on an edge)."""
        return self.winding(p) > math.pi


def _turning(vertices: Sequence[Vector]) -> float:
    """Total left turn of a closed chain; by Gauss-Bonnet, 2π minus the area on its left."""
    total = 0.0
    n = len(vertices)
    for i, v in enumerate(vertices):
        before, after = vertices[i - 1], vertices[(i + 1) % n]
        t_in, t_out = cross(cross(before, v), v), cross(cross(v, after), v)
        total += math.atan2(dot(v, cross(t_in, t_out)), dot(t_in, t_out))
    return total


@dataclass(frozen=True)
class Polygon:
    """An exterior ring less any holes."""

    exterior: Ring
    holes: tuple[Ring, ...] = ()

    def contains(self, p: Vector) -> bool:
        """Whether `p` is inside the exterior and outside every hole."""
        return self.exterior.contains(p) and not any(h.contains(p) for h in self.holes)

    def directed_edges(self) -> Iterable[tuple[_Key, _Key, Edge]]:
        """Every edge directed with this polygon on its left, with its vertex keys."""
        for ring, hole in ((self.exterior, False), *((h, True) for h in self.holes)):
            ks, n = ring.keys, len(ring.keys)
            for i, (a, b) in enumerate(ring.edges()):
                ka, kb = ks[i], ks[(i + 1) % n]
                yield (kb, ka, (b, a)) if hole else (ka, kb, (a, b))


@dataclass(frozen=True)
class Outline:
    """The territory of a jurisdiction: a union of polygons, with its boundary arcs."""

    code: str
    name: str
    polygons: tuple[Polygon, ...]
    tolerance_km: float
    """How far the simplified outline may be from the true border (an estimate)."""
    omits: str = ""
    """Places farther than `tolerance_km` outside the outline (where a FAIL is unsafe)."""

    def contains(self, lat: float, lon: float) -> bool:
        """Whether the point is inside (undefined exactly on the boundary)."""
        return self.contains_vector(vector(lat, lon))

    def contains_vector(self, p: Vector) -> bool:
        """Whether the unit vector `p` is inside."""
        return any(polygon.contains(p) for polygon in self.polygons)

    def boundary(self) -> tuple[Edge, ...]:
        """The arcs of the boundary: every edge, less those two polygons share."""
        return _boundary(self.polygons)

    @classmethod
    def union(cls, outlines: Sequence[Outline], code: str, name: str) -> Outline:
        """One outline covering all of `outlines` (their shared borders drop out)."""
        if not outlines:
            raise ValueError("a union needs at least one outline")
        return cls(
            code=code,
            name=name,
            polygons=tuple(p for o in outlines for p in o.polygons),
            tolerance_km=max(o.tolerance_km for o in outlines),
            omits="; ".join(f"{o.code}: {o.omits}" for o in outlines if o.omits),
        )


@lru_cache(maxsize=256)
def _boundary(polygons: tuple[Polygon, ...]) -> tuple[Edge, ...]:
    directed = [e for polygon in polygons for e in polygon.directed_edges()]
    counts = Counter((ka, kb) for ka, kb, _ in directed)
    return tuple(e for ka, kb, e in directed if counts[(kb, ka)] == 0)


def outline_from_feature(feature: Mapping[str, Any]) -> Outline:
    """Read one GeoJSON Feature with a Polygon or MultiPolygon and `code`, `name` properties."""
    try:
        props, geometry = feature["properties"], feature["geometry"]
        kind, coordinates = geometry["type"], geometry["coordinates"]
        code, name = props["code"], props["name"]
        tolerance = float(props["tolerance_km"])
    except (KeyError, TypeError, ValueError) as exc:
        raise FormatError(f"{DATA_FILE}: feature lacks {exc}") from None
    if kind == "Polygon":
        coordinates = [coordinates]
    elif kind != "MultiPolygon":
        raise FormatError(f"{DATA_FILE}: {code}: geometry {kind!r} is not a (Multi)Polygon")
    polygons = tuple(
        Polygon(Ring.from_positions(rings[0]), tuple(Ring.from_positions(h) for h in rings[1:]))
        for rings in coordinates
    )
    return Outline(code, name, polygons, tolerance, str(props.get("omits", "")))


@cache
def _outlines() -> Mapping[str, Outline]:
    data = load_data(DATA_FILE)
    outlines: dict[str, Outline] = {}
    for feature in data.get("features", ()):
        item = outline_from_feature(feature)
        if item.code in outlines:
            raise FormatError(f"{DATA_FILE}: {item.code} appears twice")
        outlines[item.code] = item
    return MappingProxyType(outlines)


def shipped_outlines() -> Mapping[str, Outline]:
    """The outlines shipped in ``pausebutton/verify/data/jurisdictions.geojson``, by code."""
    return _outlines()


def jurisdiction_outline(*codes: str) -> Outline:
    """The shipped outline of one jurisdiction, or the union of several."""
    table = _outlines()
    missing = [c for c in codes if c not in table]
    if missing or not codes:
        raise FormatError(f"no outline shipped for {missing or 'an empty list'}")
    if len(codes) == 1:
        return table[codes[0]]
    return Outline.union([table[c] for c in codes], code="+".join(codes), name=" + ".join(codes))
