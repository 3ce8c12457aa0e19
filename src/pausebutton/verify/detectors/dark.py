"""Chips that went dark: no receipt, inspection or location check for longer than allowed.

A chip owes evidence from the moment it is made until it is destroyed, reported lost or
stolen (the registry then already knows it is gone), and again once recovered. Every
silence longer than `Parameters.max_silence_s` inside those stretches is a finding: an
*error* while it lasts, a *warning* once the chip has shown itself again.
"""

from __future__ import annotations

from pausebutton.verify.detectors._common import Parameters, finding
from pausebutton.verify.findings import Finding
from pausebutton.verify.history import GONE, History, Sighting


def _alive(history: History, serial: str, until: int) -> list[tuple[int, int, int, bool]]:
    """Stretches (start, end, custody leaf, open) in which the chip was in someone's hands."""
    out: list[tuple[int, int, int, bool]] = []
    start: tuple[int, int] | None = None
    for line in history.custody.get(serial, []):
        gone = line.state in GONE
        if start is None and not gone:
            start = (line.time, line.index)
        elif start is not None and gone:
            out.append((start[0], line.time, start[1], False))
            start = None
    if start is not None:
        out.append((start[0], until, start[1], True))
    return out


def detect_dark(history: History, params: Parameters) -> list[Finding]:
    """Every silence longer than `params.max_silence_s` in the life of a chip."""
    found: list[Finding] = []
    until = history.as_of
    sightings = history.presence()
    limit = params.max_silence_s
    for serial in sorted(history.chips):
        seen = sightings.get(serial, [])
        for start, end, origin, still_open in _alive(history, serial, until):
            inside = [s for s in seen if start <= s.time <= end]
            points = [Sighting(start, origin, "custody"), *inside]
            for before, after in zip(points, [*points[1:], None], strict=True):
                stop = end if after is None else after.time
                if stop - before.time <= limit:
                    continue
                ongoing = after is None and still_open
                later = None if after is None else after.leaf
                entries = [i for i in (before.leaf, later) if i is not None]
                what = "has shown nothing since" if ongoing else "showed nothing from"
                tail = "" if ongoing else f" to {stop}"
                found.append(
                    finding(
                        "dark",
                        "error" if ongoing else "warning",
                        f"chip {serial} {what} {before.time}{tail} ({(stop - before.time) // 3600}"
                        f" h; allowed {limit // 3600} h); last evidence: {before.what}",
                        entries,
                        serial=serial,
                        silent_from=before.time,
                        silent_until=None if ongoing else stop,
                    )
                )
    return found
