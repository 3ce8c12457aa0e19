"""Attacks on the governor, each refused: none changes the counters or grants work."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pausebutton.crypto import Envelope
from pausebutton.device.errors import StateTamperedError, UnlockRefusedError
from pausebutton.device.governor import Governor
from pausebutton.device.receipts import check_receipt_chain
from pausebutton.device.secure_element import FileSecureElement, MemorySecureElement
from pausebutton.device.state import DeviceState
from pausebutton.errors import ReplayError, SignatureError, ValidationError
from pausebutton.governance import Scope
from pausebutton.governance.acceptance import View
from pausebutton.licensing import parse_request
from tests.device.regime import BUDGET, Regime, secrets
from tests.governance.ceremony import DAY, NOW, ceremony, key


@pytest.fixture
def regime() -> Regime:
    return Regime()


def _unchanged(governor: Governor, before: DeviceState, version: int) -> None:
    """The refusal left the persisted state (counters, licence, receipts) alone."""
    assert governor.state == before
    assert governor.state_version == version


def _snapshot(governor: Governor) -> tuple[DeviceState, int]:
    return governor.state, governor.state_version


def test_licence_for_another_device_is_refused(regime: Regime) -> None:
    mine, other = regime.device("gpu-0001"), regime.device("gpu-0002")
    regime.run([mine, other])
    licence = regime.licence(other)
    before = _snapshot(mine)
    with pytest.raises(ValidationError, match="not this device"):
        mine.install_licence(licence, NOW)
    _unchanged(mine, *before)
    assert mine.authorize(10, now=NOW).decision == "throttled"


def test_licence_naming_this_key_but_another_serial_is_refused(regime: Regime) -> None:
    governor = regime.device()
    before = _snapshot(governor)
    with pytest.raises(ValidationError, match="not this device"):
        governor.install_licence(regime.forge(governor, serial="gpu-9999"), NOW)
    _unchanged(governor, *before)


def test_forged_licence_is_refused(regime: Regime) -> None:
    governor = regime.device()
    genuine = regime.forge(governor)
    payload = dict(genuine.payload, flop_budget=str(BUDGET * 1000))
    tampered = Envelope(
        payload_type=genuine.payload_type, payload=payload, signatures=genuine.signatures
    )
    before = _snapshot(governor)
    with pytest.raises(SignatureError, match="does not verify"):
        governor.install_licence(tampered, NOW)
    with pytest.raises(SignatureError, match="0 valid signature"):
        governor.install_licence(regime.forge(governor, keys=[key("mallory")]), NOW)
    unsigned = genuine.model_copy(update={"signatures": ()})
    with pytest.raises(SignatureError):
        governor.install_licence(unsigned, NOW)
    _unchanged(governor, *before)


def test_licence_signed_by_wrong_role_is_refused(regime: Regime) -> None:
    governor = regime.device()
    before = _snapshot(governor)
    for role in ("pause", "policy", "root", "registrar"):
        keys = regime.c.role_keys(role)
        with pytest.raises(SignatureError, match="0 valid signature"):
            governor.install_licence(regime.forge(governor, keys=keys), NOW)
    _unchanged(governor, *before)


def test_replayed_licence_is_refused(regime: Regime) -> None:
    governor = regime.device()
    regime.run([governor])
    licence = regime.licence(governor)
    governor.install_licence(licence, NOW)
    assert governor.authorize(BUDGET, now=NOW).decision == "granted"
    before = _snapshot(governor)
    with pytest.raises(ReplayError, match="replayed"):
        governor.install_licence(licence, NOW + 1)
    _unchanged(governor, *before)
    assert governor.authorize(1, now=NOW + 1).decision == "throttled"


def test_out_of_order_sequence_is_refused(regime: Regime) -> None:
    governor = regime.device()
    first, second = regime.forge(governor, sequence=1), regime.forge(governor, sequence=2)
    governor.install_licence(second, NOW)
    before = _snapshot(governor)
    with pytest.raises(ReplayError, match="out of order"):
        governor.install_licence(first, NOW)
    _unchanged(governor, *before)


def test_licence_answering_another_request_is_refused(regime: Regime) -> None:
    governor = regime.device()
    governor.request_licence(NOW)
    before = _snapshot(governor)
    with pytest.raises(ReplayError, match="nonce"):
        governor.install_licence(regime.forge(governor, device_nonce="A" * 22), NOW)
    _unchanged(governor, *before)


def test_expired_licence_is_refused(regime: Regime) -> None:
    governor = regime.device()
    licence = regime.forge(governor, not_before=NOW - DAY, not_after=NOW)
    before = _snapshot(governor)
    with pytest.raises(ReplayError, match="expired"):
        governor.install_licence(licence, NOW)
    with pytest.raises(ValidationError, match="not valid before"):
        governor.install_licence(regime.forge(governor, not_before=NOW + 10), NOW)
    _unchanged(governor, *before)


def test_installed_licence_that_expires_stops_full_rate_work(regime: Regime) -> None:
    governor = regime.device()
    governor.install_licence(regime.forge(governor, not_after=NOW + 100), NOW)
    assert governor.authorize(10, now=NOW + 99).decision == "granted"
    late = governor.authorize(10, now=NOW + 100)
    assert (late.decision, late.cause, late.licensed) == ("throttled", "licence_expired", False)


def test_licence_below_minimum_firmware_is_refused(regime: Regime) -> None:
    governor = regime.device()
    before = _snapshot(governor)
    with pytest.raises(ValidationError, match="firmware version 2"):
        governor.install_licence(regime.forge(governor, min_firmware_version=2), NOW)
    _unchanged(governor, *before)
    strict = regime.c.policy(version=2, min_firmware_version=2)
    governor.observe(View(roots=(regime.c.root,), policy=strict), NOW, NOW)
    before = _snapshot(governor)
    with pytest.raises(ValidationError, match="firmware version 2"):
        governor.install_licence(regime.forge(governor), NOW)
    _unchanged(governor, *before)
    assert governor.authorize(10, now=NOW).decision == "halted"


def test_rolled_back_state_file_is_detected_by_the_verifier(regime: Regime, tmp_path: Path) -> None:
    directory = tmp_path / "gpu"
    governor = regime.device(element=FileSecureElement.create(directory, secrets("gpu-0001")))
    regime.run([governor])
    request = governor.request_licence(NOW)
    governor.install_licence(regime.issue(request, BUDGET), NOW)
    governor.authorize(300_000, now=NOW)
    receipts = [parse_request(request).receipt, governor.receipt(NOW + 1)]
    shutil.copy(directory / "state.json", tmp_path / "copy.json")
    governor.authorize(600_000, now=NOW + 2)
    receipts.append(governor.receipt(NOW + 3))
    assert check_receipt_chain(receipts, {governor.device_key.key_id: governor.device_key}) == []
    # Root puts the old copy back: locally this is undetectable (the MAC is genuine)...
    shutil.copy(tmp_path / "copy.json", directory / "state.json")
    rolled = Governor(FileSecureElement(directory))
    rolled.observe(regime.view(), NOW + 4, NOW + 4)
    assert rolled.remaining() == BUDGET - 300_000
    assert rolled.authorize(100_000, now=NOW + 4).decision == "granted"
    receipts.append(rolled.receipt(NOW + 5))
    receipts.append(rolled.receipt(NOW + 6))
    receipts.append(rolled.receipt(NOW + 7))
    # ...but its next receipts reuse sequence numbers: a fork the verifier sees.
    findings = check_receipt_chain(receipts, {governor.device_key.key_id: governor.device_key})
    kinds = {(f.kind, f.sequence) for f in findings}
    assert ("fork", 3) in kinds
    assert any(f.kind == "rollback" for f in findings)


def test_stale_governance_view_halts(regime: Regime) -> None:
    governor = regime.device()
    regime.run([governor])
    governor.install_licence(regime.licence(governor), NOW)
    limit = regime.policy.freshness_s
    assert governor.authorize(10, now=NOW + limit).decision == "granted"
    before = _snapshot(governor)
    stale = governor.authorize(10, now=NOW + limit + 1)
    assert (stale.decision, stale.cause) == ("halted", "governance")
    assert "stale governance view" in stale.reason
    _unchanged(governor, *before)
    with pytest.raises(UnlockRefusedError, match="stale"):
        governor.may_unlock(NOW + limit + 1)
    never = regime.device("gpu-0002", observe=False)
    assert never.authorize(10, now=NOW).decision == "halted"


def test_pause_in_force_halts(regime: Regime) -> None:
    governor = regime.device()
    regime.run([governor])
    governor.install_licence(regime.licence(governor), NOW)
    regime.pause("halt-us", scope=Scope(jurisdictions=("US",)))
    governor.observe(regime.view(), NOW, NOW)
    before = _snapshot(governor)
    grant = governor.authorize(10, now=NOW)
    assert (grant.decision, grant.cause, grant.allowed) == ("halted", "pause", False)
    assert "halt-us" in grant.reason
    _unchanged(governor, *before)
    with pytest.raises(UnlockRefusedError, match="halt-us"):
        governor.may_unlock(NOW)


def test_pause_that_throttles_slows_licensed_work(regime: Regime) -> None:
    governor = regime.device(peak_flops=10**6)
    regime.run([governor])
    governor.install_licence(regime.licence(governor), NOW)
    regime.pause("slow", effect="throttle", rate=0.5, scope=Scope(min_run_flop=10**25))
    governor.observe(regime.view(), NOW, NOW)
    first = governor.authorize(500_000, now=NOW)
    assert (first.decision, first.rate, first.licensed, first.delay_s) == (
        "throttled",
        0.5,
        True,
        0.0,
    )
    second = governor.authorize(500_000, now=NOW)
    assert second.delay_s == 1.0  # 500k FLOP at half of 1 MFLOP/s takes a second
    with pytest.raises(UnlockRefusedError):
        governor.may_unlock(NOW)


def test_budget_spent_halts_or_throttles(regime: Regime) -> None:
    governor = regime.device()
    regime.run([governor])
    governor.install_licence(regime.licence(governor), NOW)
    assert governor.authorize(BUDGET - 10, now=NOW).decision == "granted"
    spent = governor.authorize(11, now=NOW)
    assert (spent.decision, spent.cause, spent.licensed) == ("throttled", "budget_spent", False)
    assert spent.rate == regime.policy.baseline_throttle_fraction
    assert governor.counters.licensed_ops == BUDGET - 10
    assert governor.authorize(10, now=NOW).decision == "granted"
    assert governor.remaining() == 0
    regime.pause()
    governor.observe(regime.view(), NOW, NOW)
    before = _snapshot(governor)
    assert governor.authorize(1, now=NOW).decision == "halted"
    _unchanged(governor, *before)


def test_integer_operations_draw_on_the_same_budget(regime: Regime) -> None:
    governor = regime.device()
    regime.run([governor])
    governor.install_licence(regime.licence(governor), NOW)
    assert governor.authorize(0, int_ops=BUDGET, now=NOW).decision == "granted"
    assert governor.authorize(1, now=NOW).cause == "budget_spent"
    assert (governor.counters.flops, governor.counters.int_ops) == (1, BUDGET)


def test_tampered_state_file_is_refused(regime: Regime, tmp_path: Path) -> None:
    directory = tmp_path / "gpu"
    governor = regime.device(element=FileSecureElement.create(directory, secrets("gpu-0001")))
    governor.install_licence(regime.forge(governor), NOW)
    governor.authorize(1000, now=NOW)
    path = directory / "state.json"
    genuine = path.read_bytes()
    for forged in (
        genuine.replace(b'"licensed_ops":"1000"', b'"licensed_ops":"0000"'),
        genuine.replace(b'"licensed_ops":"1000"', b'"licensed_ops":"10"'),
        genuine[:-10],
        b"{}",
    ):
        assert forged != genuine
        path.write_bytes(forged)
        with pytest.raises(StateTamperedError):
            Governor(FileSecureElement(directory))
    path.write_bytes(genuine)
    assert Governor(FileSecureElement(directory)).counters.licensed_ops == 1000


def test_state_swapped_under_a_running_governor_is_refused(regime: Regime) -> None:
    element = MemorySecureElement(secrets("gpu-0001"))
    governor = regime.device(element=element)
    governor.install_licence(regime.forge(governor), NOW)
    old = element.data
    governor.authorize(1000, now=NOW)
    element.data = old
    before = _snapshot(governor)
    with pytest.raises(StateTamperedError, match="underneath"):
        governor.authorize(1000, now=NOW)
    assert governor.state == before[0]


def test_governance_view_from_another_root_is_refused(regime: Regime) -> None:
    governor = regime.device()
    other = Regime(c=ceremony(label="elsewhere/"))
    with pytest.raises(ValidationError, match="root"):
        governor.observe(other.view(), NOW, NOW)
    assert governor.authorize(1, now=NOW).decision == "throttled"
