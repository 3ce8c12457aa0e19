"""The shipped data: landmark sites and jurisdiction outlines are well formed and agree."""

from __future__ import annotations

import itertools
import json
import math
from importlib import resources

import pytest

from pausebutton.governance.jurisdictions import ISO_3166_ALPHA2
from pausebutton.verify import jurisdiction_outline, landmark_sites, shipped_outlines
from pausebutton.verify.geo import EARTH_RADIUS_KM, angle, cross, dot, unit, vector

DATA = resources.files("pausebutton.verify") / "data"


def test_landmark_table_is_documented_and_well_formed() -> None:
    table = json.loads((DATA / "landmarks.json").read_text(encoding="utf-8"))
    for field in ("format", "about", "coordinates_source", "exchange_source", "uncertainty"):
        assert table[field]
    sites = landmark_sites()
    assert len(sites) >= 20
    assert len({(s.lat, s.lon) for s in sites.values()}) == len(sites)
    for site in sites.values():
        assert site.country in ISO_3166_ALPHA2
        assert site.exchange
        assert 0 < site.uncertainty_km <= 50


@pytest.mark.parametrize(
    "site", sorted(s.id for s in landmark_sites().values() if s.country in shipped_outlines())
)
def test_landmark_lies_in_its_country_where_an_outline_is_shipped(site: str) -> None:
    where = landmark_sites()[site]
    assert jurisdiction_outline(where.country).contains(where.lat, where.lon)


def test_outlines_are_documented_and_well_formed() -> None:
    collection = json.loads((DATA / "jurisdictions.geojson").read_text(encoding="utf-8"))
    assert collection["type"] == "FeatureCollection"
    for field in ("about", "source", "simplification", "license"):
        assert collection[field]
    outlines = shipped_outlines()
    assert {"DE", "FR", "NL", "BE", "LU", "US", "FJ"} <= set(outlines)
    for code, outline in outlines.items():
        assert code in ISO_3166_ALPHA2
        assert outline.tolerance_km > 0
        assert outline.boundary()


def _off_arc_km(
    p: tuple[float, float, float], a: tuple[float, float, float], n: tuple[float, float, float]
) -> float:
    return abs(math.asin(max(-1.0, min(1.0, dot(p, n))))) * EARTH_RADIUS_KM


def test_great_circle_edges_stay_within_2_km_of_straight_lon_lat_lines() -> None:
    """GeoJSON means straight lines in lon/lat; we use arcs: the difference is under 2 km."""
    collection = json.loads((DATA / "jurisdictions.geojson").read_text(encoding="utf-8"))
    worst = 0.0
    for feature in collection["features"]:
        geometry = feature["geometry"]
        polygons = geometry["coordinates"]
        polygons = [polygons] if geometry["type"] == "Polygon" else polygons
        for ring in (r for p in polygons for r in p):
            for (lon1, lat1), (lon2, lat2) in itertools.pairwise(ring):
                a, b = vector(lat1, lon1), vector(lat2, lon2)
                if angle(a, b) == 0:
                    continue
                n = unit(cross(a, b))
                for k in range(1, 10):
                    t = k / 10
                    p = vector(lat1 + t * (lat2 - lat1), lon1 + t * (lon2 - lon1))
                    worst = max(worst, _off_arc_km(p, a, n))
    assert worst < 2.0
