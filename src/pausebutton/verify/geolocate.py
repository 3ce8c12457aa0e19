"""Constraint-based geolocation: is every place a device could be inside a jurisdiction?

Each verified round trip puts the device within a disc around its landmark. The feasible
region F is the intersection of the discs. The decision is exact, not sampled:

* Discs narrower than a hemisphere are convex, so F is convex and connected.
* F is empty exactly when no disc centre and no crossing of two disc edges lies in every
  disc (`geo.common_point`); then the measurements contradict each other: an anomaly.
* A connected F lies wholly inside or wholly outside the outline J unless some boundary
  arc of J meets F. Each arc is tested against F exactly (`geo.arc_meets`).
* If no arc meets F, one point of F decides which side all of F is on (winding number).

Before the decision each disc is widened by the outline's tolerance (how far the simplified
outline may be from the true border) and by 1 m for floating-point rounding, so PASS and
FAIL hold for the true border, not just the outline; discs that become a hemisphere or
wider are set aside, which only enlarges F (safe). The only error left is that of the
inputs: the speed bound, the landmarks' positions, and the outline's stated tolerance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from pausebutton.verify.geo import ROUNDING_KM, Disc, arc_meets, common_point, latlon
from pausebutton.verify.outlines import Outline


class Verdict(StrEnum):
    """The outcome of a location check."""

    PASS = "pass"  # noqa: S105 (a verdict, not a password)
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


class Anomaly(StrEnum):
    """A finding about the evidence itself, beyond the verdict."""

    EMPTY_REGION = "empty-region"
    """No place fits every round trip: a landmark is misplaced or lying, or the device's key
    answered from several places (a relay or a cloned key)."""


@dataclass(frozen=True)
class LocationVerdict:
    """A verdict, why, and the discs it was drawn from."""

    verdict: Verdict
    jurisdiction: str
    reason: str
    discs: tuple[Disc, ...]
    anomaly: Anomaly | None = None
    witness: tuple[float, float] | None = None
    """A (lat, lon) in the feasible region, when there is one."""
    crossing: tuple[tuple[float, float], tuple[float, float]] | None = None
    """An outline edge (two (lat, lon) ends) that runs through the feasible region."""


def decide(
    discs: Sequence[Disc], outline: Outline, margin_km: float | None = None
) -> LocationVerdict:
    """PASS if every point in all `discs` is inside `outline`, FAIL if none is, else INCONCLUSIVE.

    `margin_km` widens every disc (default: the outline's `tolerance_km`).
    """
    margin = outline.tolerance_km if margin_km is None else margin_km
    if margin < 0:
        raise ValueError(f"margin must be at least 0 km, got {margin}")
    discs = tuple(discs)
    code = outline.code

    def verdict(
        kind: Verdict,
        reason: str,
        anomaly: Anomaly | None = None,
        witness: tuple[float, float] | None = None,
        crossing: tuple[tuple[float, float], tuple[float, float]] | None = None,
    ) -> LocationVerdict:
        return LocationVerdict(kind, code, reason, discs, anomaly, witness, crossing)

    if not discs:
        return verdict(Verdict.INCONCLUSIVE, "no measurements")
    measured = [d.widened(ROUNDING_KM) for d in discs if d.convex]
    if measured and common_point(measured) is None:
        return verdict(
            Verdict.INCONCLUSIVE,
            "the round trips contradict each other: no place is within reach of every landmark",
            anomaly=Anomaly.EMPTY_REGION,
        )
    usable = [d.widened(margin + ROUNDING_KM) for d in discs]
    usable = [d for d in usable if d.widened(ROUNDING_KM).convex]
    if not usable:
        return verdict(Verdict.INCONCLUSIVE, "every disc is a hemisphere or wider")
    point = common_point(usable)
    if point is None:  # cannot happen: `usable` contains the widened, non-empty `measured`
        raise AssertionError("feasible region vanished when widened")
    witness = latlon(point)
    outer = [d.widened(ROUNDING_KM) for d in usable]
    for a, b in outline.boundary():
        if arc_meets(a, b, outer):
            return verdict(
                Verdict.INCONCLUSIVE,
                f"the border of {code} runs through the region the device may be in",
                witness=witness,
                crossing=(latlon(a), latlon(b)),
            )
    if outline.contains_vector(point):
        return verdict(
            Verdict.PASS, f"every place the device may be is inside {code}", witness=witness
        )
    return verdict(
        Verdict.FAIL, f"every place the device may be is outside {code}", witness=witness
    )
