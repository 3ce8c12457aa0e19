"""Production caps, like a controlled-substance production quota.

A cap allows a manufacturer at most `max_chips` chips and `max_tpp` total TPP per period.
Periods are fixed windows aligned to the Unix epoch: the period of time ``t`` is
``[k * period_s, (k + 1) * period_s)`` with ``k = t // period_s``, so every party computes
the same windows from the policy alone (a 365-day period is not a calendar year). Each
chip counts its TPP rounded up to a whole number, so tallies are exact integers and
rounding never favours the manufacturer.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pausebutton.errors import FormatError, ValidationError
from pausebutton.regulation._internal import number
from pausebutton.regulation.parameters import MAX_SAFE_INT, ProductionCap


def _time(value: object, what: str = "time") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SAFE_INT:
        raise FormatError(f"{what} must be Unix seconds, an integer from 0 to 2^53-1: {value!r}")
    return value


def _count(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SAFE_INT:
        raise FormatError(f"{what} must be an integer from 0 to 2^53-1: {value!r}")
    return value


def counted_tpp(tpp: float) -> int:
    """A chip's TPP as counted against a cap: rounded up to a whole number."""
    if isinstance(tpp, bool) or not isinstance(tpp, int | float):
        raise FormatError(f"chip TPP must be a number: {tpp!r}")
    if not math.isfinite(tpp) or tpp <= 0 or tpp > MAX_SAFE_INT:
        raise FormatError(f"chip TPP must be positive and finite: {tpp!r}")
    return math.ceil(tpp)


def period_bounds(time: int, period_s: int) -> tuple[int, int]:
    """The epoch-aligned period ``[start, end)`` containing `time`."""
    _time(time)
    if isinstance(period_s, bool) or not isinstance(period_s, int) or period_s < 1:
        raise FormatError(f"period_s must be a positive integer: {period_s!r}")
    start = time - time % period_s
    return start, start + period_s


@dataclass(frozen=True)
class ProductionTally:
    """One manufacturer's production in one period so far: what a projection keeps."""

    manufacturer: str
    period_s: int
    period_start: int
    chips: int = 0
    tpp: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.manufacturer, str) or not self.manufacturer:
            raise FormatError("tally manufacturer must be a non-empty string")
        start, _ = period_bounds(_time(self.period_start, "period_start"), self.period_s)
        if start != self.period_start:
            raise FormatError(f"period_start {self.period_start} is not a multiple of period_s")
        _count(self.chips, "tally chips")
        _count(self.tpp, "tally tpp")

    @classmethod
    def empty(cls, cap: ProductionCap, time: int) -> ProductionTally:
        """A tally with nothing made yet, for the period of `cap` that contains `time`."""
        start, _ = period_bounds(time, cap.period_s)
        return cls(cap.manufacturer, cap.period_s, start)

    def counts_at(self, time: int) -> tuple[int, int]:
        """Chips and TPP already made in the period containing `time` (0, 0 if a later one)."""
        start, _ = period_bounds(time, self.period_s)
        if start < self.period_start:
            raise ValidationError(
                f"{self.manufacturer}: a chip dated {time} falls in the period starting "
                f"{start}, before the current period (starting {self.period_start}); "
                "back-dated production is refused"
            )
        return (self.chips, self.tpp) if start == self.period_start else (0, 0)

    def add(self, time: int, tpp: float) -> ProductionTally:
        """The tally with one more chip made at `time`; a later period starts afresh."""
        chips, total = self.counts_at(time)
        start, _ = period_bounds(time, self.period_s)
        return ProductionTally(
            self.manufacturer, self.period_s, start, chips + 1, total + counted_tpp(tpp)
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "manufacturer": self.manufacturer,
            "period_s": self.period_s,
            "period_start": self.period_start,
            "chips": self.chips,
            "tpp": self.tpp,
        }

    @classmethod
    def from_dict(cls, data: object) -> ProductionTally:
        """Read the JSON form written by `to_dict`."""
        fields = {"manufacturer", "period_s", "period_start", "chips", "tpp"}
        if not isinstance(data, Mapping) or set(data) != fields:
            raise FormatError(f"a production tally is a JSON object with exactly {sorted(fields)}")
        return cls(**{key: data[key] for key in fields})


def _so_far(
    cap: ProductionCap,
    already: ProductionTally | Sequence[tuple[int, float]],
    time: int,
) -> tuple[int, int]:
    if isinstance(already, ProductionTally):
        if already.manufacturer != cap.manufacturer or already.period_s != cap.period_s:
            raise FormatError(
                f"tally for {already.manufacturer!r} (period {already.period_s} s) does not "
                f"match the cap for {cap.manufacturer!r} (period {cap.period_s} s); rebuild "
                "it from the log under the current cap"
            )
        return already.counts_at(time)
    start, end = period_bounds(time, cap.period_s)
    chips = total = 0
    for entry in already:
        if not isinstance(entry, Sequence) or isinstance(entry, str) or len(entry) != 2:
            raise FormatError(f"each chip already made must be a (time, tpp) pair: {entry!r}")
        made, tpp = _time(entry[0]), counted_tpp(entry[1])
        if start <= made < end:
            chips, total = chips + 1, total + tpp
    return chips, total


def check_production(
    cap: ProductionCap,
    already_produced: ProductionTally | Sequence[tuple[int, float]],
    new_chip_time: int,
    new_chip_tpp: float,
) -> None:
    """Raise ValidationError if one more chip would exceed the cap of its period.

    `already_produced` is the manufacturer's running tally, or every chip it made as
    ``(time, tpp)`` pairs (only those in the new chip's period count).
    """
    time = _time(new_chip_time, "new chip time")
    counted = counted_tpp(new_chip_tpp)
    chips, total = _so_far(cap, already_produced, time)
    start, end = period_bounds(time, cap.period_s)
    where = f"{cap.manufacturer}: a chip made at {time}"
    period = f"the period [{start}, {end})"
    if chips + 1 > cap.max_chips:
        raise ValidationError(
            f"{where} would be chip {chips + 1} of {period}, over the cap of {cap.max_chips} "
            f"chips per {cap.period_s} s"
        )
    if total + counted > cap.max_tpp:
        raise ValidationError(
            f"{where} (TPP {number(new_chip_tpp)}, counted {counted}) would bring the TPP made "
            f"in {period} to {total + counted}, over the cap of {cap.max_tpp}"
        )


def record_production(
    cap: ProductionCap, tally: ProductionTally | None, new_chip_time: int, new_chip_tpp: float
) -> ProductionTally:
    """Check one more chip against the cap, and return the tally that counts it."""
    current = tally if tally is not None else ProductionTally.empty(cap, new_chip_time)
    check_production(cap, current, new_chip_time, new_chip_tpp)
    return current.add(new_chip_time, new_chip_tpp)
