"""Diversion: location evidence that contradicts the registry, or an inspector who found nothing.

For each location check, the chip's custody at that time says where it should be:

- a FAIL for the jurisdiction the registry places it in: it is outside it (*critical*);
- a PASS for a jurisdiction it was never made in, exported or re-exported to, nor
  recovered in: it sits where no export took it (*critical*);
- a feasible region that does not contain its registered facility's coordinates: it is
  not at its facility, wherever that is (*error*);

and an inspection that found the chip absent is an *error* naming the inspection.
"""

from __future__ import annotations

from pausebutton.verify.detectors._common import Parameters, finding
from pausebutton.verify.findings import Finding
from pausebutton.verify.geo import ROUNDING_KM, distance_km
from pausebutton.verify.geolocate import Verdict
from pausebutton.verify.history import History, LocationCheck


def detect_diversion(history: History, params: Parameters) -> list[Finding]:
    """Location checks against custody, exports and facilities; inspections that found nothing."""
    found: list[Finding] = []
    for check in history.locations:
        found += _check(history, check)
    for inspection in history.inspections:
        if inspection.outcome == "absent":
            found.append(
                finding(
                    "diversion",
                    "error",
                    f"an inspector found chip {inspection.serial} absent at {inspection.time}",
                    [inspection.index],
                    serial=inspection.serial,
                )
            )
    return found


def _check(history: History, check: LocationCheck) -> list[Finding]:
    serial, verdict = check.serial, check.verdict
    custody = history.custody_at(serial, check.time)
    if custody is None:
        return []
    entries = [custody.index, *([] if check.index is None else [check.index])]
    out: list[Finding] = []
    where = verdict.jurisdiction
    if verdict.verdict == Verdict.FAIL and where == custody.jurisdiction:
        out.append(
            finding(
                "diversion",
                "critical",
                f"chip {serial} is registered in {where} but every place it can be is outside "
                f"{where} ({check.reference})",
                entries,
                serial=serial,
                location_check=check.reference,
                registered=custody.jurisdiction,
            )
        )
    allowed = history.exported_to(serial, check.time)
    if verdict.verdict == Verdict.PASS and where not in allowed:
        out.append(
            finding(
                "diversion",
                "critical",
                f"chip {serial} is in {where}, where it was never made, exported or "
                f"re-exported to (it may be in {', '.join(sorted(allowed))}; {check.reference})",
                entries,
                serial=serial,
                location_check=check.reference,
                found_in=where,
                allowed=sorted(allowed),
            )
        )
    facility = history.facilities.get(custody.facility or "")
    if facility is not None and verdict.discs:
        far = [
            d
            for d in verdict.discs
            if distance_km(d.lat, d.lon, facility.latitude, facility.longitude)
            > d.radius_km + ROUNDING_KM
        ]
        if far:
            out.append(
                finding(
                    "diversion",
                    "error",
                    f"chip {serial} is registered at facility {facility.facility} but the round "
                    f"trip from {far[0].label or 'a landmark'} puts it more than "
                    f"{far[0].radius_km:,.0f} km away from there ({check.reference})",
                    [*entries, facility.registered_at],
                    serial=serial,
                    location_check=check.reference,
                    facility=facility.facility,
                )
            )
    return out
