"""The issuer's rules: what runs and device licences it refuses, and what it notes."""

from __future__ import annotations

import pytest

from pausebutton.device.governor import Governor
from pausebutton.device.secure_element import MemorySecureElement
from pausebutton.errors import ReplayError, SignatureError, ValidationError
from pausebutton.governance import Scope
from pausebutton.licensing import (
    classify_run,
    issue_run_licence,
    parse_device_licence,
    parse_run_licence,
)
from tests.device.regime import BUDGET, Regime, secrets
from tests.governance.ceremony import DAY, NOW


@pytest.fixture
def regime() -> Regime:
    return Regime()


def _run(regime: Regime, governors: list[Governor], flop: int, run_id: str = "run-1") -> None:
    issue_run_licence(
        run_id=run_id,
        licensee=regime.c.registrar[0].key_id,
        flop_budget=flop,
        devices=[regime.pod(g) for g in governors],
        not_before=NOW,
        not_after=NOW + DAY,
        policy=regime.policy,
        directives=regime.directives,
        book=regime.book,
        now=NOW,
    )


def test_run_above_the_ceiling_is_refused(regime: Regime) -> None:
    governor = regime.device()
    with pytest.raises(ValidationError, match="above the policy's ceiling_flop"):
        _run(regime, [governor], regime.policy.ceiling_flop + 1)
    assert regime.book.runs == {}


@pytest.mark.parametrize(
    ("flop", "tier", "note"),
    [
        (10**24, "below_notify", "below notify_flop"),
        (10**25, "notify", "notified"),
        (10**26 - 1, "notify", "notified"),
        (10**26, "licence", "licensed run"),
        (10**28, "licence", "licensed run"),
    ],
)
def test_run_size_sets_its_tier(regime: Regime, flop: int, tier: str, note: str) -> None:
    assert classify_run(flop, regime.policy)[0] == tier
    governor = regime.device()
    licence = parse_run_licence(regime.run([governor], flop=flop))
    assert licence.tier == tier
    assert note in classify_run(flop, regime.policy)[1]


@pytest.mark.parametrize("effect", ["halt", "throttle"])
def test_run_in_the_scope_of_a_pause_is_refused(regime: Regime, effect: str) -> None:
    governor = regime.device()
    rate = 0.5 if effect == "throttle" else None
    regime.pause("big-runs", effect=effect, rate=rate, scope=Scope(min_run_flop=10**26))
    with pytest.raises(ValidationError, match="in the scope of pause big-runs"):
        regime.run([governor], flop=10**26)
    regime.run([governor], flop=10**25)  # smaller runs are outside the scope


def test_scheduled_pause_is_noted(regime: Regime) -> None:
    governor = regime.device()
    regime.pause("later", issued=NOW, effective_at=NOW + DAY)
    issued = issue_run_licence(
        run_id="run-1",
        licensee=regime.c.registrar[0].key_id,
        flop_budget=10**20,
        devices=[regime.pod(governor)],
        not_before=NOW,
        not_after=NOW + 2 * DAY,
        policy=regime.policy,
        directives=regime.directives,
        book=regime.book,
        now=NOW,
    )
    assert f"scheduled: pause later from {NOW + DAY}" in issued.notes


def test_run_ids_are_never_reused_and_windows_must_be_open(regime: Regime) -> None:
    governor = regime.device()
    regime.run([governor])
    with pytest.raises(ValidationError, match="already licensed"):
        regime.run([governor])
    with pytest.raises(ValidationError, match="window ends"):
        issue_run_licence(
            run_id="run-2",
            licensee=regime.c.registrar[0].key_id,
            flop_budget=10,
            devices=[regime.pod(governor)],
            not_before=NOW - 10,
            not_after=NOW,
            policy=regime.policy,
            directives=[],
            book=regime.book,
            now=NOW,
        )


def test_expired_policy_licenses_nothing(regime: Regime) -> None:
    governor = regime.device()
    regime.policy = regime.c.policy(expires=NOW)
    with pytest.raises(ReplayError, match="expired"):
        regime.run([governor])


def test_device_licences_never_add_up_to_more_than_the_run_budget(regime: Regime) -> None:
    a, b = regime.device("gpu-a"), regime.device("gpu-b")
    regime.run([a, b], flop=3 * BUDGET)
    regime.licence(a, 2 * BUDGET)
    with pytest.raises(ValidationError, match="would commit"):
        regime.licence(b, BUDGET + 1)
    regime.licence(b, BUDGET)
    assert regime.book.committed("run-1") == 3 * BUDGET


def test_device_outside_the_pod_is_refused(regime: Regime) -> None:
    member, outsider = regime.device("gpu-a"), regime.device("gpu-b")
    regime.run([member])
    with pytest.raises(ValidationError, match="not in the pod"):
        regime.licence(outsider)


def test_device_budget_above_the_policy_maximum_is_refused(regime: Regime) -> None:
    governor = regime.device()
    regime.run([governor])
    with pytest.raises(ValidationError, match="max_device_licence_flop"):
        regime.licence(governor, regime.policy.max_device_licence_flop + 1)


def test_device_below_minimum_firmware_is_not_licensed(regime: Regime) -> None:
    governor = regime.device()
    regime.run([governor])
    regime.policy = regime.c.policy(version=2, min_firmware_version=2)
    with pytest.raises(ValidationError, match="below the policy's minimum"):
        regime.licence(governor)


def test_device_covered_by_a_pause_gets_no_licence(regime: Regime) -> None:
    governor = regime.device()
    regime.run([governor])
    regime.pause("gpu", scope=Scope(devices=("gpu-0001",)))
    with pytest.raises(ValidationError, match="pause gpu"):
        regime.licence(governor)


def test_renewal_requires_the_latest_receipt(regime: Regime) -> None:
    governor = regime.device()
    regime.run([governor])
    old_request = governor.request_licence(NOW)
    governor.install_licence(regime.issue(old_request, BUDGET), NOW)
    with pytest.raises(ReplayError, match="replayed request"):
        regime.issue(old_request, BUDGET)
    governor.authorize(BUDGET, now=NOW)
    licence = governor.install_licence(regime.licence(governor, now=NOW + 1), NOW + 1)
    assert (licence.sequence, licence.counter_base, licence.ceiling) == (2, BUDGET, 2 * BUDGET)


def test_renewal_without_installing_the_last_licence_is_refused(regime: Regime) -> None:
    governor = regime.device()
    regime.run([governor])
    regime.licence(governor)  # issued, never installed
    with pytest.raises(ValidationError, match="it names none"):
        regime.licence(governor)


def test_renewal_on_a_rolled_back_receipt_is_refused(regime: Regime) -> None:
    element = MemorySecureElement(secrets("gpu-0001"))
    governor = regime.device(element=element)
    regime.run([governor])
    saved = element.data
    governor.install_licence(regime.licence(governor), NOW)
    governor.authorize(10, now=NOW)
    regime.licence(governor)
    element.data = saved
    rolled = Governor(element.restart())
    with pytest.raises(ReplayError, match="not newer than #2"):
        regime.licence(rolled)
    rolled.receipt(NOW + 1)
    with pytest.raises(ValidationError, match="counters went down"):
        regime.licence(rolled)


def test_request_with_a_forged_signature_is_refused(regime: Regime) -> None:
    governor, other = regime.device("gpu-a"), regime.device("gpu-b")
    regime.run([governor, other])
    request = governor.request_licence(NOW)
    stolen = request.model_copy(
        update={"payload": dict(request.payload, serial="gpu-b", nonce="B" * 22)}
    )
    with pytest.raises(SignatureError):
        regime.issue(stolen, BUDGET)


def test_licence_ends_with_its_run(regime: Regime) -> None:
    governor = regime.device()
    issued = issue_run_licence(
        run_id="short",
        licensee=regime.c.registrar[0].key_id,
        flop_budget=10**20,
        devices=[regime.pod(governor)],
        not_before=NOW,
        not_after=NOW + DAY,
        policy=regime.policy,
        directives=[],
        book=regime.book,
        now=NOW,
    )
    regime.book.add_run(issued.document)
    licence = parse_device_licence(regime.licence(governor, run_id="short"))
    assert (licence.not_before, licence.not_after) == (NOW, NOW + DAY)
    with pytest.raises(ReplayError, match="run short expired"):
        regime.licence(governor, run_id="short", now=NOW + DAY)
