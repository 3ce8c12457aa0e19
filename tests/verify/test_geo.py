"""Sphere primitives and outlines: distances, disc intersections, arcs, point-in-polygon."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pausebutton.errors import FormatError
from pausebutton.verify.geo import (
    EARTH_RADIUS_KM,
    Disc,
    Vector,
    angle,
    arc_meets,
    common_point,
    cross,
    distance_km,
    latlon,
    unit,
    vector,
)
from pausebutton.verify.outlines import (
    Outline,
    Ring,
    jurisdiction_outline,
    outline_from_feature,
)

lats = st.floats(-80, 80)
lons = st.floats(-180, 180)


def square(lon0: float, lat0: float, size: float, clockwise: bool = False) -> list[list[float]]:
    ring = [[lon0, lat0], [lon0 + size, lat0], [lon0 + size, lat0 + size], [lon0, lat0 + size]]
    if clockwise:
        ring.reverse()
    return [*ring, ring[0]]


def feature(code: str, *polygons: list[list[list[float]]]) -> dict[str, object]:
    return {
        "type": "Feature",
        "properties": {"code": code, "name": code, "tolerance_km": 0},
        "geometry": {"type": "MultiPolygon", "coordinates": list(polygons)},
    }


def arc_point(a: Vector, b: Vector, f: float) -> Vector:
    theta = angle(a, b)
    w = unit(cross(cross(a, b), a))
    t = theta * f
    c, s = math.cos(t), math.sin(t)
    return unit((c * a[0] + s * w[0], c * a[1] + s * w[1], c * a[2] + s * w[2]))


def test_known_distances() -> None:
    assert distance_km(0, 0, 0, 90) == pytest.approx(EARTH_RADIUS_KM * math.pi / 2)
    assert distance_km(90, 0, -90, 0) == pytest.approx(EARTH_RADIUS_KM * math.pi)
    # Frankfurt to Paris, about 479 km on the sphere.
    assert distance_km(50.1109, 8.6821, 48.8566, 2.3522) == pytest.approx(479, abs=2)
    assert distance_km(10, 179.9, 10, -179.9) == pytest.approx(21.9, abs=0.1)


@given(lats, lons, lats, lons)
@settings(max_examples=100, deadline=None)
def test_distance_agrees_with_the_vector_angle(a: float, b: float, c: float, d: float) -> None:
    by_angle = angle(vector(a, b), vector(c, d)) * EARTH_RADIUS_KM
    assert distance_km(a, b, c, d) == pytest.approx(by_angle, abs=1e-6)


@given(lats, lons)
@settings(max_examples=50, deadline=None)
def test_latlon_inverts_vector(lat: float, lon: float) -> None:
    back = latlon(vector(lat, lon))
    assert back[0] == pytest.approx(lat, abs=1e-9)
    assert distance_km(lat, lon, *back) < 1e-6


def test_common_point_of_overlapping_and_of_disjoint_discs() -> None:
    a, b = Disc(0, 0, 500), Disc(0, 8, 500)  # centres 890 km apart
    point = common_point([a, b])
    assert point is not None
    assert a.contains(point, 1e-9)
    assert b.contains(point, 1e-9)
    assert common_point([Disc(0, 0, 400), Disc(0, 8, 400)]) is None
    assert common_point([Disc(0, 0, 1000), Disc(1, 1, 10)]) is not None  # one inside the other


def test_common_point_finds_a_tangent_point() -> None:
    gap = distance_km(0, 0, 0, 8)
    assert common_point([Disc(0, 0, gap / 2 + 1e-6), Disc(0, 8, gap / 2 + 1e-6)]) is not None
    assert common_point([Disc(0, 0, gap / 2 - 0.01), Disc(0, 8, gap / 2 - 0.01)]) is None


def test_common_point_needs_convex_discs() -> None:
    with pytest.raises(ValueError, match="hemisphere"):
        common_point([Disc(0, 0, 11_000)])


discs = st.lists(
    st.builds(Disc, st.floats(40, 60), st.floats(-10, 25), st.floats(10, 900)),
    min_size=1,
    max_size=4,
)


@given(discs)
@settings(max_examples=60, deadline=None)
def test_common_point_agrees_with_sampling(found: list[Disc]) -> None:
    point = common_point(found)
    if point is not None:
        assert all(d.contains(point, 1e-9) for d in found)
        return
    smallest = min(found, key=lambda d: d.radius_km)
    for i in range(40):  # points on rings around the smallest centre: none fits every disc
        for j in range(24):
            r = smallest.radius_km * i / 39
            bearing = 2 * math.pi * j / 24
            lat = smallest.lat + math.degrees(r / EARTH_RADIUS_KM) * math.cos(bearing)
            lon = smallest.lon + math.degrees(r / EARTH_RADIUS_KM) * math.sin(bearing) / math.cos(
                math.radians(lat)
            )
            p = vector(lat, lon)
            shrunk = [d.widened(-2) for d in found]
            assert not all(d.contains(p) for d in shrunk)


@given(discs, st.floats(40, 60), st.floats(-10, 25), st.floats(40, 60), st.floats(-10, 25))
@settings(max_examples=80, deadline=None)
def test_arc_meets_agrees_with_sampling(
    found: list[Disc], lat1: float, lon1: float, lat2: float, lon2: float
) -> None:
    a, b = vector(lat1, lon1), vector(lat2, lon2)
    samples = [arc_point(a, b, k / 400) for k in range(401)] if angle(a, b) > 0 else [a]
    meets = arc_meets(a, b, found)
    if any(all(d.contains(p) for d in found) for p in samples):
        assert meets
    if meets:  # then some point of the arc is in every disc: a sample within 3 km of it
        spacing = angle(a, b) * EARTH_RADIUS_KM / 400
        assert any(all(d.widened(spacing + 0.01).contains(p) for d in found) for p in samples)


def test_ring_orientation_does_not_matter() -> None:
    ccw, cw = Ring.from_positions(square(0, 0, 2)), Ring.from_positions(square(0, 0, 2, True))
    for ring in (ccw, cw):
        assert ring.contains(vector(1, 1))
        assert not ring.contains(vector(5, 5))
        assert not ring.contains(vector(-1, -179))  # the antipode of the square
    assert ccw.vertices == cw.vertices


def test_ring_around_a_pole_and_across_the_antimeridian() -> None:
    polar = Ring.from_positions([[0, 80], [90, 80], [180, 80], [-90, 80], [0, 80]])
    assert polar.contains(vector(89, 17))
    assert not polar.contains(vector(70, 0))
    across = Ring.from_positions([[179, -1], [-179, -1], [-179, 1], [179, 1], [179, -1]])
    assert across.contains(vector(0, 180))
    assert across.contains(vector(0.5, -179.5))
    assert not across.contains(vector(0, 0))


def test_malformed_rings_are_refused() -> None:
    with pytest.raises(FormatError, match="last equal"):
        Ring.from_positions([[0, 0], [1, 0], [1, 1], [0, 1]])
    with pytest.raises(FormatError, match="3 distinct"):
        Ring.from_positions([[0, 0], [1, 0], [1, 0], [0, 0]])
    with pytest.raises(FormatError, match="outside"):
        Ring.from_positions([[0, 0], [200, 0], [1, 1], [0, 0]])
    with pytest.raises(FormatError, match="90°"):
        Ring.from_positions([[0, 0], [120, 0], [120, 10], [0, 0]])
    with pytest.raises(FormatError, match="Polygon"):
        outline_from_feature(
            {
                "properties": {"code": "X", "name": "X", "tolerance_km": 0},
                "geometry": {"type": "Point", "coordinates": [0, 0]},
            }
        )


def test_holes_are_outside() -> None:
    outer, hole = square(0, 0, 4), square(1, 1, 2, clockwise=True)
    donut = outline_from_feature(feature("XD", [outer, hole]))
    assert donut.contains(0.5, 0.5)
    assert not donut.contains(2, 2)
    assert len(donut.boundary()) == 8


def test_union_drops_shared_borders() -> None:
    west = outline_from_feature(feature("XW", [square(0, 0, 2)]))
    east = outline_from_feature(feature("XE", [square(2, 0, 2)]))
    both = Outline.union([west, east], "XB", "both")
    assert len(both.boundary()) == 6
    assert both.contains(1, 2)
    assert both.contains(1, 3)


def test_antimeridian_split_cancels_out() -> None:
    fiji = jurisdiction_outline("FJ")
    assert fiji.contains(-16.35, 179.99)
    assert fiji.contains(-16.35, -179.95)
    meridian = [
        (a, b)
        for a, b in fiji.boundary()
        if abs(abs(latlon(a)[1]) - 180) < 1e-9 and abs(abs(latlon(b)[1]) - 180) < 1e-9
    ]
    assert meridian == []


def test_shared_borders_of_shipped_neighbours_cancel() -> None:
    de, nl = jurisdiction_outline("DE"), jurisdiction_outline("NL")
    both = jurisdiction_outline("DE", "NL")
    assert len(both.boundary()) < len(de.boundary()) + len(nl.boundary())
    assert both.code == "DE+NL"


def test_unknown_jurisdiction_is_refused() -> None:
    with pytest.raises(FormatError, match="no outline"):
        jurisdiction_outline("ZZ")
