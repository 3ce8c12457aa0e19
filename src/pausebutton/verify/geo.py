"""Geometry on a spherical Earth: points as unit vectors, discs, and where discs meet.

Every computation is on a sphere of radius `EARTH_RADIUS_KM`; the flattening of the
Earth (at most 0.5 % in distance) is small next to the error of a round-trip bound. A
disc of radius under a quarter of the Earth's circumference is convex on the sphere, so
an intersection of such discs is convex and connected: `geolocate` relies on that.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

EARTH_RADIUS_KM = 6371.0088
"""IUGG mean Earth radius R1 = (2a + b) / 3 of GRS 80, in km."""

FIBRE_KM_PER_MS = 200.0
"""How far a signal goes in one millisecond in optical fibre: about 2/3 of c."""

ROUNDING_KM = 0.001
"""Every disc is widened by 1 m before a decision, to absorb floating-point rounding."""

QUARTER_KM = EARTH_RADIUS_KM * math.pi / 2
"""A quarter of a great circle: discs at least this wide are not convex."""

_MEMBERSHIP_RAD = 1e-9
"""Tolerance for a computed candidate point lying on a disc's edge (about 6 mm)."""

Vector = tuple[float, float, float]
"""A point on the unit sphere: x towards (0°, 0°), y towards (0°, 90° E), z north."""


def vector(lat: float, lon: float) -> Vector:
    """Return the unit vector of a latitude and longitude in degrees."""
    phi, lam = math.radians(lat), math.radians(lon)
    return (math.cos(phi) * math.cos(lam), math.cos(phi) * math.sin(lam), math.sin(phi))


def latlon(v: Vector) -> tuple[float, float]:
    """Return the latitude and longitude in degrees of a (not necessarily unit) vector."""
    x, y, z = v
    return math.degrees(math.atan2(z, math.hypot(x, y))), math.degrees(math.atan2(y, x))


def dot(u: Vector, v: Vector) -> float:
    """The dot product."""
    return u[0] * v[0] + u[1] * v[1] + u[2] * v[2]


def cross(u: Vector, v: Vector) -> Vector:
    """The cross product."""
    return (u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0])


def unit(v: Vector) -> Vector:
    """Scale `v` to length 1."""
    n = math.sqrt(dot(v, v))
    return (v[0] / n, v[1] / n, v[2] / n)


def angle(u: Vector, v: Vector) -> float:
    """The angle between two unit vectors in radians, accurate for tiny and wide angles."""
    c = cross(u, v)
    return math.atan2(math.sqrt(dot(c, c)), dot(u, v))


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance by Vincenty's formula on a sphere (accurate at any distance)."""
    p1, p2, dl = math.radians(lat1), math.radians(lat2), math.radians(lon2 - lon1)
    y = math.hypot(
        math.cos(p2) * math.sin(dl),
        math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl),
    )
    x = math.sin(p1) * math.sin(p2) + math.cos(p1) * math.cos(p2) * math.cos(dl)
    return EARTH_RADIUS_KM * math.atan2(y, x)


def rtt_radius_km(rtt_us: int, speed_km_per_ms: float = FIBRE_KM_PER_MS) -> float:
    """The farthest a device can be from a landmark that measured `rtt_us`: v × RTT / 2."""
    return speed_km_per_ms * rtt_us / 1000 / 2


@dataclass(frozen=True)
class Disc:
    """Every point within `radius_km` (along the surface) of (`lat`, `lon`)."""

    lat: float
    lon: float
    radius_km: float
    label: str = ""

    @property
    def center(self) -> Vector:
        """The centre as a unit vector."""
        return vector(self.lat, self.lon)

    @property
    def radius_rad(self) -> float:
        """The radius as an angle at the Earth's centre."""
        return self.radius_km / EARTH_RADIUS_KM

    @property
    def convex(self) -> bool:
        """Whether the disc is narrower than a hemisphere (and so convex)."""
        return self.radius_km < QUARTER_KM

    def widened(self, km: float) -> Disc:
        """The same disc with `km` added to its radius."""
        return replace(self, radius_km=self.radius_km + km)

    def contains(self, v: Vector, tolerance_rad: float = 0.0) -> bool:
        """Whether the unit vector `v` lies in the disc (within `tolerance_rad`)."""
        return angle(self.center, v) <= self.radius_rad + tolerance_rad


def circle_crossings(a: Disc, b: Disc) -> list[Vector]:
    """The points where the edges of two discs cross (none, one when tangent, or two)."""
    ca, cb = a.center, b.center
    d = dot(ca, cb)
    if abs(d) > 1 - 1e-15:
        return []  # concentric or antipodal: the edges never cross at a point
    cos_a, cos_b = math.cos(a.radius_rad), math.cos(b.radius_rad)
    s = (cos_a - d * cos_b) / (1 - d * d)
    t = (cos_b - d * cos_a) / (1 - d * d)
    base = (s * ca[0] + t * cb[0], s * ca[1] + t * cb[1], s * ca[2] + t * cb[2])
    n = cross(ca, cb)
    h2 = (1 - dot(base, base)) / dot(n, n)
    if h2 < -1e-12:
        return []
    h = math.sqrt(max(h2, 0.0))
    points = [tuple(base[i] + sign * h * n[i] for i in range(3)) for sign in (1, -1)]
    return [unit((p[0], p[1], p[2])) for p in points]


def common_point(discs: Sequence[Disc]) -> Vector | None:
    """A point in every disc, or None if the discs have no point in common.

    Exact for convex discs: a non-empty intersection is either one whole disc (then
    that disc's centre is in all of them) or is bounded by arcs that meet at corners,
    and each corner is a crossing of two disc edges.
    """
    if not discs:
        raise ValueError("common_point needs at least one disc")
    if not all(d.convex for d in discs):
        raise ValueError("common_point needs discs narrower than a hemisphere")
    candidates = [d.center for d in discs]
    for i, a in enumerate(discs):
        for b in discs[i + 1 :]:
            candidates.extend(circle_crossings(a, b))
    for point in candidates:
        if all(d.contains(point, _MEMBERSHIP_RAD) for d in discs):
            return point
    return None


def arc_meets(a: Vector, b: Vector, discs: Sequence[Disc]) -> bool:
    """Whether the shorter great-circle arc from `a` to `b` has a point in every disc.

    Along the arc, point(t) = cos t · a + sin t · w; a convex disc keeps the values of t
    in one interval of length under π, and the arc's interval is [0, θ] with θ < π, so
    intersecting the intervals one disc at a time is exact.
    """
    if not all(d.convex for d in discs):
        raise ValueError("arc_meets needs discs narrower than a hemisphere")
    theta = angle(a, b)
    if theta == 0.0:
        return all(d.contains(a) for d in discs)
    w = unit(cross(cross(a, b), a))
    lo, hi = 0.0, theta
    for disc in discs:
        c = disc.center
        big_a, big_b = dot(a, c), dot(w, c)
        m = math.hypot(big_a, big_b)
        cos_r = math.cos(disc.radius_rad)
        if m < cos_r:
            return False  # the disc does not reach this great circle
        half = math.acos(min(1.0, cos_r / m))
        mid = math.atan2(big_b, big_a)
        for turn in (-2 * math.pi, 0.0, 2 * math.pi):
            new_lo, new_hi = max(lo, mid + turn - half), min(hi, mid + turn + half)
            if new_lo <= new_hi:
                lo, hi = new_lo, new_hi
                break
        else:
            return False
    return True
