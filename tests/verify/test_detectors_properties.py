"""Property: on random clean histories, made by the real code, the verifier reports nothing."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pausebutton.governance import Scope
from pausebutton.verify.accountancy import account, accountancy_findings
from pausebutton.verify.detectors import run_detectors
from tests.verify.scenarios import DAILY, SITES, Town


@st.composite
def lives(draw: st.DrawFn) -> dict[str, object]:
    """The shape of a clean history: chips, days, work, renewals, a pause, moves, checks."""
    return {
        "chips": draw(st.integers(1, 3)),
        "days": draw(st.integers(1, 45)),
        "work": draw(st.lists(st.integers(0, DAILY), min_size=1, max_size=5)),
        "renew": draw(st.integers(1, 7)),
        "pause": draw(st.none() | st.tuples(st.integers(1, 30), st.integers(1, 5))),
        "scoped": draw(st.booleans()),
        "move": draw(st.none() | st.integers(1, 30)),
        "check": draw(st.none() | st.integers(0, 40)),
        "stock": draw(st.booleans()),
    }


def live(town: Town, plan: dict[str, object]) -> None:
    """Run the plan through the town, honestly."""
    chips = [town.chip(f"gpu-{i:03d}") for i in range(int(plan["chips"]))]  # type: ignore[call-overload]
    for c in chips:
        c.renew_days = int(plan["renew"])  # type: ignore[call-overload]
    town.run("run-1", chips)
    stock = town.stock("gpu-900") if plan["stock"] else None
    if stock is not None:
        town.inspect(stock.serial)
    work: list[int] = plan["work"]  # type: ignore[assignment]
    pause: tuple[int, int] | None = plan["pause"]  # type: ignore[assignment]
    for day in range(1, int(plan["days"]) + 1):  # type: ignore[call-overload]
        if pause is not None and day == pause[0]:
            scope = Scope(jurisdictions=("US",)) if plan["scoped"] else None
            town.pause("pause-1", pause[1], scope)
        if pause is not None and day == pause[0] + pause[1]:
            town.resume("resume-1", "pause-1")
        if day == plan["move"]:
            town.move(chips[0], "dc-de")
        if day == plan["check"]:
            lat, lon, near = town.site_of(chips[-1])
            town.locate(chips[-1].serial, lat, lon, near, SITES[chips[-1].site][0])
        town.days(1, work[day % len(work)])
        if stock is not None and day % 7 == 0:
            town.inspect(stock.serial)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(lives())
def test_random_clean_histories_raise_nothing(plan: dict[str, object]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        town = Town(Path(tmp))
        try:
            live(town, plan)
            history = town.history()
            params = town.params()
            assert history.problems == []
            assert run_detectors(history, params) == []
            assert accountancy_findings(account(history, params)) == []
        finally:
            town.close()
