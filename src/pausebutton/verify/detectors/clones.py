"""Cloned identity: one device key doing what one chip cannot.

Three signs, each a finding that names its evidence:

- **concurrent branches**: a device's receipts fork and both branches go on at the same
  time (a state rolled back leaves its old branch behind; a copied key runs both);
- **impossible travel**: two location checks of one chip whose regions are farther apart
  than a signal (light in fibre, *critical*) or a carried chip (an airliner, *error*)
  could cover in the time between them;
- **impossible work**: two linked receipts whose counters grew by more than the chip's
  declared peak rate allows in the time between (the key signs for more silicon).
"""

from __future__ import annotations

import itertools

from pausebutton.verify.detectors._common import Parameters, finding
from pausebutton.verify.findings import Finding
from pausebutton.verify.geo import distance_km
from pausebutton.verify.history import History, LocationCheck, Receipt


def detect_clones(history: History, params: Parameters) -> list[Finding]:
    """Concurrent receipt branches, impossible travel and impossible work."""
    found: list[Finding] = []
    for device, chain in sorted(history.chains().items()):
        found += _branches(history, device, chain)
        found += _work(history, device, chain)
    by_chip: dict[str, list[LocationCheck]] = {}
    for check in history.locations:
        by_chip.setdefault(check.serial, []).append(check)
    for serial, checks in sorted(by_chip.items()):
        for a, b in itertools.pairwise(checks):
            found += _travel(serial, a, b, params)
    return found


def _branches(history: History, device: str, chain: list[Receipt]) -> list[Finding]:
    by_sequence: dict[int, list[Receipt]] = {}
    for r in chain:
        by_sequence.setdefault(r.receipt.sequence, []).append(r)
    children: dict[str, list[Receipt]] = {}
    for r in chain:
        if r.receipt.previous is not None:
            children.setdefault(r.receipt.previous, []).append(r)
    out: list[Finding] = []
    for sequence, heads in sorted(by_sequence.items()):
        if len(heads) < 2:
            continue
        spans = [_span(h, children) for h in heads]
        for (a, ta), (b, tb) in itertools.combinations(zip(heads, spans, strict=True), 2):
            if ta[0] < tb[1] and tb[0] < ta[1] and len(ta[2]) > 1 and len(tb[2]) > 1:
                serial = history.by_key.get(device)
                out.append(
                    finding(
                        "cloned-identity",
                        "critical",
                        f"chip {serial or device[:16]}: two branches of receipts from #{sequence}"
                        f" run at the same time ({ta[0]}..{ta[1]} and {tb[0]}..{tb[1]}): two "
                        "devices hold one key",
                        [history.receipts[i].index for i in (*ta[2], *tb[2])],
                        device=device,
                        serial=serial,
                        sequence=sequence,
                        receipts=sorted({a.id, b.id}),
                    )
                )
    return out


def _span(head: Receipt, children: dict[str, list[Receipt]]) -> tuple[int, int, list[str]]:
    """The times and ids of a branch: `head` and everything chained after it."""
    ids, times, todo = [], [], [head]
    while todo:
        r = todo.pop()
        ids.append(r.id)
        times.append(r.receipt.time)
        todo.extend(children.get(r.id, []))
    return min(times), max(times), sorted(ids)


def _work(history: History, device: str, chain: list[Receipt]) -> list[Finding]:
    chip = history.chip_of(device)
    if chip is None:
        return []
    by_id = {r.id: r for r in chain}
    out: list[Finding] = []
    for later in chain:
        earlier = by_id.get(later.receipt.previous or "")
        if earlier is None:
            continue
        seconds = max(0, later.receipt.time - earlier.receipt.time) + 1
        grown = later.ops - earlier.ops
        if grown > chip.peak_ops * seconds:
            out.append(
                finding(
                    "cloned-identity",
                    "error",
                    f"chip {chip.serial}: receipts #{earlier.receipt.sequence} to "
                    f"#{later.receipt.sequence} count {grown:.4g} operations in {seconds} s, "
                    f"more than its peak of {chip.peak_ops:.4g}/s allows",
                    [earlier.index, later.index],
                    device=device,
                    serial=chip.serial,
                    receipts=[earlier.id, later.id],
                )
            )
    return out


def _gap_km(a: LocationCheck, b: LocationCheck) -> float:
    """A lower bound on the distance between the regions of two checks (0 if they may meet)."""
    best = 0.0
    for d1 in a.verdict.discs:
        for d2 in b.verdict.discs:
            best = max(
                best, distance_km(d1.lat, d1.lon, d2.lat, d2.lon) - d1.radius_km - d2.radius_km
            )
    return best


def _travel(serial: str, a: LocationCheck, b: LocationCheck, params: Parameters) -> list[Finding]:
    gap = _gap_km(a, b)
    if gap <= 0:
        return []
    seconds = abs(b.time - a.time) + 1
    by_signal = params.signal_km_per_ms * 1000 * seconds
    by_plane = params.max_travel_km_per_h * seconds / 3600
    if gap <= by_plane:
        return []
    impossible = gap > by_signal
    limit = (
        "light in fibre" if impossible else f"a chip carried at {params.max_travel_km_per_h:g} km/h"
    )
    return [
        finding(
            "cloned-identity",
            "critical" if impossible else "error",
            f"chip {serial} answered location checks {gap:,.0f} km apart {seconds} s apart, "
            f"farther than {limit} covers: two devices hold its key",
            [i for i in (a.index, b.index) if i is not None],
            serial=serial,
            checks=[a.reference, b.reference],
            times=[a.time, b.time],
        )
    ]
