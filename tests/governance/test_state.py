"""The pause state: what is in force, for whom, and why; resumes; publication checks."""

from __future__ import annotations

from typing import Any

import pytest

from pausebutton import ReplayError, ValidationError
from pausebutton.governance import (
    DeviceContext,
    Directive,
    PauseDirective,
    ResumeDirective,
    Scope,
    check_new_directive,
    effect_for,
    pause_state,
)
from tests.governance.ceremony import DAY, NOW

DEVICE = DeviceContext(
    device_id="dev-1", owner="lab-a", jurisdiction="US", chip_class="3A090.a", run_flop=10**20
)


def pause(id: str = "p1", **fields: Any) -> PauseDirective:
    values: dict[str, Any] = {
        "issued": NOW - DAY,
        "scope": Scope(),
        "effect": "halt",
        "rate": None,
        "effective_at": NOW - DAY,
        "expires": None,
        "reason": f"reason for {id}",
    }
    values.update(fields)
    return PauseDirective(id=id, **values)


def resume(id: str = "r1", lifts: str = "p1", **fields: Any) -> ResumeDirective:
    values: dict[str, Any] = {
        "issued": NOW - 10,
        "effective_at": NOW - 10,
        "reason": f"reason for {id}",
    }
    values.update(fields)
    return ResumeDirective(id=id, lifts=lifts, **values)


def test_no_directives_means_run() -> None:
    state = pause_state([], NOW)
    assert effect_for(state, DEVICE).kind == "run"
    assert effect_for(state, DEVICE).fraction == 1.0
    assert state.describe() == ("no pause in force",)


def test_global_pause_halts_every_device() -> None:
    effect = effect_for(pause_state([pause()], NOW), DEVICE)
    assert effect.kind == "halt"
    assert effect.fraction == 0.0
    assert effect.directive_ids == ("p1",)
    assert "reason for p1" in effect.reasons[0]


@pytest.mark.parametrize(
    ("scope", "applies"),
    [
        (Scope(jurisdictions=("US", "EU")), True),
        (Scope(jurisdictions=("CN",)), False),
        (Scope(chip_classes=("3A090.a",)), True),
        (Scope(chip_classes=("3A090.b",)), False),
        (Scope(owners=("lab-b",)), False),
        (Scope(devices=("dev-1", "dev-2")), True),
        (Scope(jurisdictions=("US",), owners=("lab-b",)), False),
        (Scope(min_run_flop=10**20), True),
        (Scope(min_run_flop=10**20 + 1), False),
    ],
)
def test_pause_binds_exactly_the_devices_in_its_scope(scope: Scope, applies: bool) -> None:
    effect = effect_for(pause_state([pause(scope=scope)], NOW), DEVICE)
    assert effect.kind == ("halt" if applies else "run")


def test_halt_beats_throttle() -> None:
    state = pause_state([pause("t", effect="throttle", rate=0.1), pause("h")], NOW)
    effect = effect_for(state, DEVICE)
    assert (effect.kind, effect.directive_ids) == ("halt", ("h",))


def test_lowest_throttle_rate_wins() -> None:
    directives = [
        pause("t1", effect="throttle", rate=0.5),
        pause("t2", effect="throttle", rate=0.05),
        pause("t3", effect="throttle", rate=0.05, scope=Scope(owners=("lab-a",))),
    ]
    effect = effect_for(pause_state(directives, NOW), DEVICE)
    assert (effect.kind, effect.rate, effect.directive_ids) == ("throttle", 0.05, ("t2", "t3"))
    assert effect.fraction == 0.05


def test_pause_not_yet_effective_is_scheduled() -> None:
    state = pause_state([pause(effective_at=NOW + 1)], NOW)
    assert effect_for(state, DEVICE).kind == "run"
    assert [p.id for p in state.scheduled] == ["p1"]
    assert effect_for(pause_state([pause(effective_at=NOW + 1)], NOW + 1), DEVICE).kind == "halt"


def test_pause_lapses_at_its_expiry() -> None:
    state = pause_state([pause(expires=NOW)], NOW)
    assert effect_for(state, DEVICE).kind == "run"
    assert [p.id for p in state.lapsed] == ["p1"]
    assert effect_for(pause_state([pause(expires=NOW)], NOW - 1), DEVICE).kind == "halt"


def test_resume_lifts_its_pause_from_its_effective_time() -> None:
    directives: list[Directive] = [pause(), resume(effective_at=NOW + 5)]
    assert effect_for(pause_state(directives, NOW), DEVICE).kind == "halt"
    later = pause_state(directives, NOW + 5)
    assert effect_for(later, DEVICE).kind == "run"
    assert [(x.pause_id, x.resume_id) for x in later.lifted] == [("p1", "r1")]


def test_resume_lifts_only_the_pause_it_names() -> None:
    state = pause_state([pause("p1"), pause("p2"), resume(lifts="p1")], NOW)
    assert effect_for(state, DEVICE).directive_ids == ("p2",)


def test_resume_naming_no_pause_is_refused() -> None:
    with pytest.raises(ValidationError, match="names no known pause 'p9'"):
        check_new_directive(resume(lifts="p9"), [pause()])


def test_resume_naming_no_pause_is_an_anomaly_in_the_state() -> None:
    state = pause_state([pause(), resume(lifts="p9")], NOW)
    assert effect_for(state, DEVICE).kind == "halt"
    assert state.anomalies == ("resume r1 names no known pause p9; ignored",)
    assert "anomaly: resume r1 names no known pause p9; ignored" in state.describe()


def test_resume_issued_before_its_pause_does_not_lift_it() -> None:
    # A resume of an earlier pause cannot lift a later pause that reuses the id.
    early = resume(issued=NOW - 2 * DAY, effective_at=NOW - 2 * DAY)
    state = pause_state([pause(), early], NOW)
    assert effect_for(state, DEVICE).kind == "halt"
    assert state.anomalies == ("resume r1 was issued before pause p1; it does not lift it",)
    with pytest.raises(ValidationError, match="issued before the pause"):
        check_new_directive(early, [pause()])


def test_republished_directive_is_refused() -> None:
    with pytest.raises(ReplayError, match="already published"):
        check_new_directive(pause(), [pause()])


def test_reused_directive_id_is_refused() -> None:
    with pytest.raises(ValidationError, match="already used by another directive"):
        check_new_directive(pause(reason="another"), [pause()])


def test_reused_id_is_an_anomaly_and_both_pauses_count() -> None:
    state = pause_state([pause(), pause(effect="throttle", rate=0.5)], NOW)
    assert len(state.in_force) == 2
    assert state.anomalies == ("id p1 is used by 2 different directives",)
    assert effect_for(state, DEVICE).kind == "halt"


def test_second_resume_of_one_pause_is_refused() -> None:
    with pytest.raises(ValidationError, match="already lifted by r1"):
        check_new_directive(resume("r2"), [pause(), resume()])


def test_valid_new_directives_are_accepted() -> None:
    check_new_directive(pause("p2"), [pause()])
    check_new_directive(resume(), [pause()])


def test_directive_delivered_twice_counts_once() -> None:
    assert pause_state([pause(), pause()], NOW) == pause_state([pause()], NOW)


def test_status_says_what_is_in_force_and_why() -> None:
    directives = [
        pause("p1", scope=Scope(jurisdictions=("US",), min_run_flop=10**26)),
        pause("p2", effect="throttle", rate=0.01, effective_at=NOW + DAY),
    ]
    lines = pause_state(directives, NOW).describe()
    assert lines[0] == (
        "in force: pause p1: halt for devices in US; running at least 1e+26 FLOP, "
        f"from {NOW - DAY}: reason for p1"
    )
    assert lines[1].startswith(f"scheduled from {NOW + DAY}: pause p2: throttle to 0.01 of peak")
