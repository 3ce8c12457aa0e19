"""Chip accountancy: balance areas whose book balances, known removals, and MUF alarms."""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from pausebutton.verify.accountancy import BalanceRow, account, accountancy_findings
from pausebutton.verify.detectors import run_detectors
from tests.verify.scenarios import Town, clean_town


@pytest.fixture
def town(tmp_path: Path) -> Iterator[Town]:
    made = clean_town(tmp_path, chips=4, days=0)
    yield made
    made.close()


def rows(town: Town) -> list[BalanceRow]:
    """The accountancy of the town's log."""
    return account(town.history(), town.params())


def check_books(found: list[BalanceRow]) -> None:
    """Each row balances, and each area's ending book is its next period's beginning."""
    by_area: dict[str, list[BalanceRow]] = defaultdict(list)
    for row in found:
        assert row.beginning + row.received - row.shipped - row.removed == row.book
        assert row.muf == row.book - row.physical - row.pending
        by_area[row.area].append(row)
    starts = sorted({r.start for r in found})
    for area_rows in by_area.values():
        ends = {r.start: r.book for r in area_rows}
        for before, after in itertools.pairwise(starts):
            if after in ends:
                begin = next(r.beginning for r in area_rows if r.start == after)
                assert begin == ends.get(before, 0)


def test_moves_removals_and_stock_balance_with_no_muf(town: Town) -> None:
    stock = town.stock("gpu-900")
    town.inspect(stock.serial)
    town.days(10)
    town.move(town.chips["gpu-001"], "dc-de")
    town.end(town.chips["gpu-002"], "destroyed")
    town.end(town.chips["gpu-003"], "stolen")
    for _ in range(6):
        town.days(7)
        town.inspect(stock.serial)
    found = rows(town)
    check_books(found)
    assert all(r.muf == 0 for r in found)
    first = [r for r in found if r.start == found[0].start]
    us = next(r for r in first if r.area == "facility:dc-us")
    assert (us.received, us.shipped, us.removed, us.book) == (4, 1, 2, 1)
    de = next(r for r in first if r.area == "facility:dc-de")
    assert (de.received, de.book, de.physical, de.jurisdiction) == (1, 1, 1, "DE")
    warehouse = next(r for r in first if r.name == "acme" and r.jurisdiction == "TW")
    assert (warehouse.book, warehouse.physical) == (1, 1)
    history = town.history()
    assert run_detectors(history, town.params()) == []


def test_a_chip_missing_from_the_warehouse_raises_an_alarm(town: Town) -> None:
    stock = town.stock("gpu-900")
    leaf = town.log.size - 1
    town.inspect(stock.serial)
    town.days(45)
    found = rows(town)
    check_books(found)
    alarms = accountancy_findings(found)
    assert [a.evidence["unaccounted"] for a in alarms] == [["gpu-900"]]
    assert alarms[0].evidence["entries"] == [leaf]
    assert alarms[0].severity == "error"


def test_a_chip_that_arrives_late_is_pending_not_missing(town: Town) -> None:
    town.days(29)
    late = town.chip("gpu-777")
    late.reporting = False
    town.days(1)
    found = rows(town)
    last = [r for r in found if r.start == max(x.start for x in found)]
    us = next(r for r in last if r.area == "facility:dc-us")
    assert us.pending == 1
    assert us.muf == 0
