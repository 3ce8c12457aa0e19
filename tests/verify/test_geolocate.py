"""Deciding where a device is: PASS, FAIL, INCONCLUSIVE and the empty-region anomaly."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pausebutton.verify import (
    Anomaly,
    Disc,
    LocationParameters,
    NonceLedger,
    Verdict,
    VerifiedMeasurement,
    check_location,
    decide,
    distance_km,
    jurisdiction_outline,
    verify_evidence,
)
from pausebutton.verify.geo import EARTH_RADIUS_KM, vector
from tests.verify.network import NOW, Network, key

DEVICE = "gpu-0042"
DEVICE_KEY = key("device/gpu-0042")
NET = Network.of(extra=[("suva", -18.1416, 178.4419), ("labasa-east", -16.35, -179.99)])
WESTERN_EUROPE = ("frankfurt", "amsterdam", "paris", "brussels", "luxembourg", "zurich")


def measured(
    lat: float, lon: float, landmarks: tuple[str, ...], delay_us: int = 100
) -> list[VerifiedMeasurement]:
    """Verified round trips to a device really at (lat, lon), through the real protocol."""
    ledger, found = NonceLedger(), []
    for name in landmarks:
        rtt = NET.rtt_us(name, lat, lon, delay_us)
        evidence = NET.measure(name, DEVICE, DEVICE_KEY, rtt)
        found.append(
            verify_evidence(
                evidence,
                landmarks=NET.landmarks,
                device=DEVICE,
                device_key=DEVICE_KEY.public,
                now=NOW,
                ledger=ledger,
            )
        )
    return found


def with_rtt(landmark: str, rtt_us: int) -> VerifiedMeasurement:
    return VerifiedMeasurement(NET.landmarks[landmark], DEVICE, "00" * 32, rtt_us, NOW)


def test_device_near_frankfurt_passes_in_germany() -> None:
    result = check_location(measured(50.05, 8.57, ("frankfurt", "amsterdam", "paris")), DE)
    assert result.verdict is Verdict.PASS
    assert result.anomaly is None
    assert result.witness is not None
    assert DE.contains(*result.witness)


def test_device_in_paris_fails_in_germany_and_passes_in_france() -> None:
    found = measured(48.85, 2.35, ("frankfurt", "amsterdam", "paris"))
    assert check_location(found, DE).verdict is Verdict.FAIL
    assert check_location(found, jurisdiction_outline("FR")).verdict is Verdict.PASS


def test_wide_discs_are_inconclusive() -> None:
    found = measured(50.05, 8.57, ("frankfurt", "amsterdam", "paris"), delay_us=3000)
    result = check_location(found, DE)
    assert result.verdict is Verdict.INCONCLUSIVE
    assert result.anomaly is None
    assert result.crossing is not None
    assert "border of DE" in result.reason


def test_inconsistent_round_trips_are_an_empty_region_anomaly() -> None:
    # Frankfurt and Paris both claim the device is within 45 km: 479 km apart, impossible.
    result = check_location([with_rtt("frankfurt", 200), with_rtt("paris", 200)], DE)
    assert result.verdict is Verdict.INCONCLUSIVE
    assert result.anomaly is Anomaly.EMPTY_REGION
    assert result.witness is None


def test_round_trip_faster_than_light_from_a_registered_site_is_an_anomaly() -> None:
    # A device registered in Frankfurt answers Warsaw in 1 ms: it cannot be in Frankfurt.
    found = [with_rtt("frankfurt", 150), with_rtt("warsaw", 1000)]
    assert check_location(found, DE).anomaly is Anomaly.EMPTY_REGION


def test_border_region_passes_only_for_the_union_of_neighbours() -> None:
    found = measured(50.78, 6.08, WESTERN_EUROPE)  # Aachen, on the Dutch and Belgian borders
    assert check_location(found, DE).verdict is Verdict.INCONCLUSIVE
    union = jurisdiction_outline("DE", "NL", "BE", "LU", "FR")
    assert check_location(found, union).verdict is Verdict.PASS


def test_device_in_virginia() -> None:
    found = measured(39.0, -77.5, ("ashburn", "new-york", "chicago"))
    assert check_location(found, jurisdiction_outline("US")).verdict is Verdict.PASS
    assert check_location(found, DE).verdict is Verdict.FAIL


def test_disc_across_the_antimeridian() -> None:
    found = [with_rtt("labasa-east", 60)]  # 6 km around a point 1 km east of ±180°
    fiji = jurisdiction_outline("FJ")
    assert check_location(found, fiji, margin_km=0).verdict is Verdict.PASS
    assert check_location(found, fiji).verdict is Verdict.INCONCLUSIVE  # 50 km: into the sea
    assert check_location(found, DE).verdict is Verdict.FAIL


def test_faster_signals_widen_the_discs() -> None:
    found = measured(50.05, 8.57, ("frankfurt", "amsterdam", "paris"), delay_us=300)
    assert check_location(found, DE).verdict is Verdict.PASS
    light = LocationParameters(speed_km_per_ms=299.792458)
    assert check_location(found, DE, light).verdict is Verdict.INCONCLUSIVE


def test_no_measurements_and_hemispheres_are_inconclusive() -> None:
    assert decide([], DE).verdict is Verdict.INCONCLUSIVE
    assert decide([Disc(50, 8, 15_000)], DE).reason == "every disc is a hemisphere or wider"
    with pytest.raises(ValueError, match="margin"):
        decide([Disc(50, 8, 10)], DE, margin_km=-1)


DE = jurisdiction_outline("DE")
UNION = jurisdiction_outline("DE", "NL", "BE", "LU", "FR", "CH", "AT", "CZ", "PL")


def random_points_in(
    discs: list[Disc], rng: random.Random, count: int
) -> list[tuple[float, float]]:
    """Points drawn in the smallest disc that lie in every disc (rejection sampling)."""
    smallest = min(discs, key=lambda d: d.radius_km)
    points = []
    for _ in range(count * 20):
        r = smallest.radius_km * math.sqrt(rng.random())
        bearing = rng.uniform(0, 2 * math.pi)
        dlat = math.degrees(r / EARTH_RADIUS_KM) * math.cos(bearing)
        lat = smallest.lat + dlat
        lon = smallest.lon + math.degrees(r / EARTH_RADIUS_KM) * math.sin(bearing) / math.cos(
            math.radians(lat)
        )
        if all(d.contains(vector(lat, lon)) for d in discs):
            points.append((lat, lon))
            if len(points) == count:
                break
    return points


EUROPE = sorted(
    name for name, site in NET.landmarks.items() if -10 < site.lon < 25 and site.lat > 35
)


@given(
    st.sampled_from(EUROPE),
    st.floats(-1.5, 1.5),
    st.floats(-2, 2),
    st.lists(st.sampled_from(EUROPE), max_size=3, unique=True),
    st.integers(0, 1000),
    st.sampled_from(["DE", "FR", "UNION"]),
    st.integers(0, 2**32),
)
@settings(max_examples=80, deadline=None)
def test_verdicts_are_sound(
    anchor: str, dlat: float, dlon: float, others: list[str], delay: int, code: str, seed: int
) -> None:
    """Whatever the device's place and the delays: never a wrong PASS or FAIL, never an anomaly.

    The device is placed near an `anchor` landmark so that all three verdicts occur.
    """
    site = NET.landmarks[anchor]
    lat, lon = site.lat + dlat, site.lon + dlon
    outline = UNION if code == "UNION" else jurisdiction_outline(code)
    names = tuple(dict.fromkeys([anchor, *others]))
    discs = [m.disc() for m in measured(lat, lon, names, delay)]
    result = decide(discs, outline, margin_km=0)
    assert result.anomaly is None
    inside = outline.contains(lat, lon)
    if result.verdict is Verdict.PASS:
        assert inside
    if result.verdict is Verdict.FAIL:
        assert not inside
    if result.verdict is not Verdict.INCONCLUSIVE:
        for point in random_points_in(discs, random.Random(seed), 30):
            assert outline.contains(*point) == (result.verdict is Verdict.PASS)


def test_the_truth_is_always_in_the_region() -> None:
    rng = random.Random(7)
    for _ in range(40):
        lat, lon = rng.uniform(44, 54), rng.uniform(-1, 18)
        names = tuple(rng.sample(WESTERN_EUROPE, 4))
        discs = [m.disc() for m in measured(lat, lon, names, rng.randint(0, 500))]
        assert all(d.radius_km >= distance_km(d.lat, d.lon, lat, lon) for d in discs)
        assert decide(discs, DE).anomaly is None
