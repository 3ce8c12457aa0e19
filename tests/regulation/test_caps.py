"""Production caps: at the cap accepted, one over refused, a new period starts afresh."""

from __future__ import annotations

import pytest

from pausebutton.errors import FormatError, ValidationError
from pausebutton.regulation.caps import (
    ProductionTally,
    check_production,
    counted_tpp,
    period_bounds,
    record_production,
)
from pausebutton.regulation.parameters import ProductionCap

DAY = 86400
YEAR = 365 * DAY
T0 = 100 * YEAR  # the start of a period
H100_TPP = 15832.0


def cap(**kwargs: int) -> ProductionCap:
    fields = {"manufacturer": "acme", "period_s": YEAR, "max_chips": 3, "max_tpp": 10**9}
    fields.update(kwargs)
    return ProductionCap(**fields)  # type: ignore[arg-type]


def made(n: int, tpp: float = H100_TPP, start: int = T0) -> ProductionTally:
    tally = None
    for i in range(n):
        tally = record_production(cap(max_chips=n), tally, start + i, tpp)
    assert tally is not None
    return tally


def test_periods_are_fixed_windows_aligned_to_the_epoch() -> None:
    assert period_bounds(0, YEAR) == (0, YEAR)
    assert period_bounds(T0 + 5, YEAR) == (T0, T0 + YEAR)
    assert period_bounds(T0 - 1, YEAR) == (T0 - YEAR, T0)


def test_chip_count_at_the_cap_is_accepted_and_one_over_is_refused() -> None:
    check_production(cap(), made(2), T0 + 10, H100_TPP)  # the 3rd of 3
    with pytest.raises(ValidationError, match=r"would be chip 4 of the period .* cap of 3 chips"):
        check_production(cap(), made(3), T0 + 10, H100_TPP)


def test_tpp_at_the_cap_is_accepted_and_one_over_is_refused() -> None:
    limit = cap(max_chips=100, max_tpp=3 * 15832)
    check_production(limit, made(2), T0 + 10, H100_TPP)
    with pytest.raises(ValidationError, match=r"TPP made in the period .* to 47497, over the cap"):
        check_production(limit, made(2), T0 + 10, H100_TPP + 1)


def test_tpp_counts_round_up_to_whole_numbers() -> None:
    assert counted_tpp(15831.2) == 15832
    assert counted_tpp(15832.0) == 15832
    limit = cap(max_chips=100, max_tpp=15832)
    check_production(limit, [], T0, 15831.2)
    with pytest.raises(ValidationError):
        check_production(limit, [], T0, 15832.000001)


def test_a_new_period_starts_afresh() -> None:
    full = made(3)
    check_production(cap(), full, T0 + YEAR, H100_TPP)
    tally = full.add(T0 + YEAR, H100_TPP)
    assert (tally.period_start, tally.chips, tally.tpp) == (T0 + YEAR, 1, 15832)


def test_back_dated_chip_is_refused() -> None:
    with pytest.raises(ValidationError, match="back-dated"):
        check_production(cap(), made(1), T0 - 1, H100_TPP)


def test_a_zero_cap_refuses_the_first_chip() -> None:
    with pytest.raises(ValidationError, match="chip 1 of"):
        record_production(cap(max_chips=0), None, T0, H100_TPP)


def test_history_counts_only_the_new_chips_period() -> None:
    history = [(T0 - 1, H100_TPP), (T0, H100_TPP), (T0 + 1, H100_TPP), (T0 + YEAR, H100_TPP)]
    check_production(cap(), history, T0 + 2, H100_TPP)  # 2 in this period, so the 3rd is fine
    with pytest.raises(ValidationError, match="chip 4"):
        check_production(cap(), [*history, (T0 + 5, H100_TPP)], T0 + 2, H100_TPP)


def test_tally_for_another_cap_is_refused() -> None:
    with pytest.raises(FormatError, match="does not match"):
        check_production(cap(), made(1).__class__("other", YEAR, T0), T0, H100_TPP)
    with pytest.raises(FormatError, match="does not match"):
        check_production(cap(period_s=DAY), made(1), T0, H100_TPP)


def test_tally_json_round_trip() -> None:
    tally = made(2)
    assert ProductionTally.from_dict(tally.to_dict()) == tally


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"manufacturer": "acme", "period_s": YEAR, "period_start": T0, "chips": 1},
        {"manufacturer": "acme", "period_s": YEAR, "period_start": T0 + 1, "chips": 1, "tpp": 1},
        {"manufacturer": "acme", "period_s": YEAR, "period_start": T0, "chips": -1, "tpp": 1},
        {"manufacturer": "", "period_s": YEAR, "period_start": T0, "chips": 1, "tpp": 1},
        {"manufacturer": "acme", "period_s": 0, "period_start": 0, "chips": 1, "tpp": 1},
        {"manufacturer": "acme", "period_s": YEAR, "period_start": T0, "chips": 1.0, "tpp": 1},
        [],
    ],
)
def test_malformed_tally_is_refused(data: object) -> None:
    with pytest.raises(FormatError):
        ProductionTally.from_dict(data)


@pytest.mark.parametrize("time", [-1, 1.5, True, "0", 2**53])
def test_bad_time_is_refused(time: object) -> None:
    with pytest.raises(FormatError):
        check_production(cap(), [], time, H100_TPP)  # type: ignore[arg-type]


@pytest.mark.parametrize("tpp", [0, -1.0, float("nan"), float("inf"), True, "15832"])
def test_bad_tpp_is_refused(tpp: object) -> None:
    with pytest.raises(FormatError):
        check_production(cap(), [], T0, tpp)  # type: ignore[arg-type]


@pytest.mark.parametrize("history", [[(T0,)], [T0], [("now", 1.0)], [(T0, 0)]])
def test_malformed_history_is_refused(history: object) -> None:
    with pytest.raises(FormatError):
        check_production(cap(), history, T0, H100_TPP)  # type: ignore[arg-type]
