"""Chip accountancy after the IAEA's material accountancy: balance areas, periods, and MUF.

Every facility is a *material balance area* for the chips installed (or leased out) in it,
and every holder for the chips it holds outside a facility. Time is cut into material
balance periods of `Parameters.balance_period_s` from the first chip's manufacture (the
last one ends at the newest time in the history). Per area and period, from the chain of
custody alone (the *book*):

    ending book = beginning + received - shipped - removed

where *received* counts chips made in or moved into the area, *shipped* chips moved to
another area, and *removed* chips destroyed, lost or stolen (known losses). The
*physical inventory* is the chips of the ending book that proved they exist near the end
of the period: a receipt, an inspection that found them, or a location check that did
not place them elsewhere, dated within `max_silence_s` before the end (or, for a chip
that arrived later than that, within `max_silence_s` after it arrived). A chip whose
deadline has not passed yet is *pending*. Then

    MUF (material unaccounted for) = ending book - physical - pending

Chips are items, so MUF must be exactly zero; any other value is an alarm that names the
chips. A receipt says the chip exists, not where: the book places it, and only a location
check can contradict the book (see the diversion detector).
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from pausebutton.verify.detectors._common import Parameters, finding
from pausebutton.verify.findings import Finding
from pausebutton.verify.history import GONE, Custody, History, Sighting


class BalanceRow(BaseModel):
    """One balance area over one period: its book, its physical inventory, and its MUF."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    area: str = Field(description="facility:<id>, or holder:<key id>@<jurisdiction>")
    name: str
    jurisdiction: str
    start: int
    end: int
    beginning: int
    received: int
    shipped: int
    removed: int
    book: int = Field(description="the ending book inventory")
    physical: int
    pending: int
    muf: int = Field(description="book - physical - pending; must be 0")
    unaccounted: list[str] = Field(description="serials of the chips the MUF counts")
    entries: list[int] = Field(description="custody leaves that put those chips in the area")


@dataclass(frozen=True, slots=True)
class _Stay:
    area: str | None
    start: int
    index: int


def _area(line: Custody) -> str | None:
    if line.state in GONE:
        return None
    if line.facility is not None:
        return f"facility:{line.facility}"
    return f"holder:{line.holder}@{line.jurisdiction}"


def _stays(history: History, serial: str) -> list[_Stay]:
    out: list[_Stay] = []
    for line in history.custody.get(serial, []):
        area = _area(line)
        if not out or out[-1].area != area:
            out.append(_Stay(area, line.time, line.index))
    return out


def _at(stays: list[_Stay], starts: list[int], time: int) -> _Stay | None:
    at = bisect.bisect_right(starts, time)
    return stays[at - 1] if at else None


def periods(history: History, params: Parameters) -> list[tuple[int, int]]:
    """The material balance periods, from the first manufacture to the newest time."""
    first = min((c.time for c in history.chips.values()), default=None)
    if first is None:
        return []
    end, out, start = history.as_of, [], first
    while start < end:
        out.append((start, min(start + params.balance_period_s, end)))
        start += params.balance_period_s
    return out or [(first, end)]


def account(history: History, params: Parameters) -> list[BalanceRow]:
    """The balance of every area in every period."""
    sightings = history.presence()
    spans = periods(history, params)
    as_of = history.as_of
    totals: dict[tuple[str, int], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    missing: dict[tuple[str, int], list[tuple[str, int]]] = defaultdict(list)
    for serial in sorted(history.chips):
        stays = _stays(history, serial)
        starts = [s.start for s in stays]
        seen = [s for s in sightings.get(serial, []) if s.here]
        for k, (start, end) in enumerate(spans):
            _tally(
                history, params, serial, stays, starts, seen, k, start, end, totals, missing, as_of
            )
    rows: list[BalanceRow] = []
    for (area, k), t in sorted(totals.items(), key=lambda item: (item[0][1], item[0][0])):
        start, end = spans[k]
        lost = sorted(missing.get((area, k), []))
        book = t["beginning"] + t["received"] - t["shipped"] - t["removed"]
        rows.append(
            BalanceRow(
                area=area,
                name=_name(history, area),
                jurisdiction=_jurisdiction(history, area),
                start=start,
                end=end,
                beginning=t["beginning"],
                received=t["received"],
                shipped=t["shipped"],
                removed=t["removed"],
                book=book,
                physical=t["physical"],
                pending=t["pending"],
                muf=book - t["physical"] - t["pending"],
                unaccounted=[s for s, _ in lost],
                entries=sorted({i for _, i in lost}),
            )
        )
    return rows


def _tally(
    history: History,
    params: Parameters,
    serial: str,
    stays: list[_Stay],
    starts: list[int],
    seen: list[Sighting],
    k: int,
    start: int,
    end: int,
    totals: dict[tuple[str, int], dict[str, int]],
    missing: dict[tuple[str, int], list[tuple[str, int]]],
    as_of: int,
) -> None:
    closing = end == as_of
    before = _at(stays, starts, start - 1)
    last = before
    if before is not None and before.area is not None:
        totals[(before.area, k)]["beginning"] += 1
    for stay in stays:
        if not (start <= stay.start < end or (closing and stay.start == end)):
            continue
        if last is not None and last.area is not None:
            totals[(last.area, k)]["removed" if stay.area is None else "shipped"] += 1
        if stay.area is not None:
            totals[(stay.area, k)]["received"] += 1
        last = stay
    if last is None or last.area is None:
        return
    arrived = max(last.start, history.chips[serial].time)
    window = params.max_silence_s
    low, deadline = max(arrived, end - window), max(arrived + window, end)
    times = [s.time for s in seen]
    at = bisect.bisect_left(times, low)
    if at < len(times) and times[at] <= deadline:
        totals[(last.area, k)]["physical"] += 1
    elif as_of < deadline:
        totals[(last.area, k)]["pending"] += 1
    else:
        missing[(last.area, k)].append((serial, last.index))


def _name(history: History, area: str) -> str:
    kind, _, rest = area.partition(":")
    ident = rest.rsplit("@", 1)[0]
    if kind == "facility":
        facility = history.facilities.get(ident)
        return ident if facility is None else facility.name
    owner = history.owners.get(ident)
    return ident[:16] if owner is None else owner.name


def _jurisdiction(history: History, area: str) -> str:
    kind, _, rest = area.partition(":")
    if kind == "facility":
        facility = history.facilities.get(rest)
        return "" if facility is None else facility.jurisdiction
    return rest.rsplit("@", 1)[-1]


def accountancy_findings(rows: list[BalanceRow]) -> list[Finding]:
    """An alarm for every area and period whose MUF is not exactly zero."""
    return [
        finding(
            "accountancy",
            "error",
            f"balance area {row.name} ({row.area}), period {row.start}..{row.end}: book "
            f"{row.book}, physical {row.physical}, pending {row.pending}, MUF {row.muf}: "
            f"unaccounted {', '.join(row.unaccounted)}",
            row.entries,
            area=row.area,
            start=row.start,
            end=row.end,
            unaccounted=row.unaccounted,
        )
        for row in rows
        if row.muf != 0
    ]
