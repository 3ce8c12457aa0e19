"""Usage receipts and the verifier's check of a device's chain: forks, rollbacks, gaps."""

from __future__ import annotations

import random

import pytest

from pausebutton.crypto import Envelope, VerifyKey
from pausebutton.device.governor import Governor
from pausebutton.device.receipts import (
    Counters,
    check_receipt_chain,
    parse_receipt,
    receipt_id,
    verify_receipt,
)
from pausebutton.device.secure_element import MemorySecureElement
from pausebutton.errors import FormatError, SignatureError
from tests.device.regime import Regime, secrets
from tests.governance.ceremony import NOW


@pytest.fixture
def regime() -> Regime:
    return Regime()


def _keys(*governors: Governor) -> dict[str, VerifyKey]:
    return {g.device_key.key_id: g.device_key for g in governors}


def _work(governor: Governor, count: int, start: int = NOW) -> list[Envelope]:
    receipts = []
    for i in range(count):
        governor.authorize(1000, int_ops=10, bytes_moved=100, now=start + i)
        receipts.append(governor.receipt(start + i, nonce=f"challenge-{i:08d}-xxxx"))
    return receipts


def test_an_honest_chain_has_no_findings(regime: Regime) -> None:
    governor = regime.device()
    governor.install_licence(regime.forge(governor), NOW)
    receipts = _work(governor, 5)
    first, last = parse_receipt(receipts[0]), parse_receipt(receipts[-1])
    assert (first.sequence, first.previous, last.sequence) == (1, None, 5)
    assert last.previous == receipt_id(receipts[-2])
    assert last.counters == Counters(flops=5000, int_ops=50, bytes_moved=500, licensed_ops=5050)
    assert last.licence_sequence == 1
    assert last.nonce == "challenge-00000004-xxxx"
    shuffled = receipts[:]
    random.Random(7).shuffle(shuffled)
    assert check_receipt_chain(shuffled, _keys(governor)) == []
    assert verify_receipt(receipts[0], governor.device_key) == first


def test_a_withheld_receipt_shows_as_a_gap(regime: Regime) -> None:
    governor = regime.device()
    receipts = _work(governor, 5)
    findings = check_receipt_chain([*receipts[:2], *receipts[3:]])
    assert [(f.kind, f.sequence) for f in findings] == [("gap", 4)]
    assert findings[0].detail == "receipts 3 missing"
    assert [(f.kind, f.sequence) for f in check_receipt_chain(receipts[2:])] == [("gap", 3)]
    assert check_receipt_chain(receipts[2:], start=3) == []


def test_a_cloned_key_shows_as_a_fork(regime: Regime) -> None:
    original = regime.device(element=MemorySecureElement(secrets("gpu-0001")))
    clone = regime.device(element=MemorySecureElement(secrets("gpu-0001")))
    receipts = _work(original, 3) + _work(clone, 2, start=NOW + 100)
    findings = check_receipt_chain(receipts, _keys(original))
    assert {(f.kind, f.sequence) for f in findings if f.kind == "fork"} == {
        ("fork", 1),
        ("fork", 2),
    }


def test_a_rolled_back_state_shows_as_a_fork_then_a_rollback(regime: Regime) -> None:
    element = MemorySecureElement(secrets("gpu-0001"))
    governor = regime.device(element=element)
    receipts = _work(governor, 2)
    saved = element.data
    receipts += _work(governor, 2, start=NOW + 10)
    element.data = saved
    rolled = Governor(element.restart())
    rolled.observe(regime.view(), NOW + 20, NOW + 20)
    receipts += [rolled.receipt(NOW + 21), rolled.receipt(NOW + 22), rolled.receipt(NOW + 23)]
    kinds = [(f.kind, f.sequence) for f in check_receipt_chain(receipts, _keys(governor))]
    assert ("fork", 3) in kinds
    assert ("fork", 4) in kinds
    assert ("rollback", 5) in kinds  # counters below those receipt 4 reported


def test_a_licence_replayed_after_a_rollback_shows_as_a_rollback(regime: Regime) -> None:
    element = MemorySecureElement(secrets("gpu-0001"))
    governor = regime.device(element=element)
    governor.install_licence(regime.forge(governor, sequence=1), NOW)
    saved = element.data
    governor.install_licence(regime.forge(governor, sequence=2), NOW)
    receipts = [governor.receipt(NOW + 1)]
    element.data = saved
    rolled = Governor(element.restart())
    receipts += [rolled.receipt(NOW + 2), rolled.receipt(NOW + 3)]
    details = [f.detail for f in check_receipt_chain(receipts) if f.kind == "rollback"]
    assert "licence sequence 1 below 2" in details


def test_bad_signatures_and_unknown_devices_are_findings(regime: Regime) -> None:
    governor, other = regime.device("gpu-0001"), regime.device("gpu-0002")
    receipt = governor.receipt(NOW)
    forged = receipt.model_copy(update={"payload": dict(receipt.payload, time=NOW + 1)})
    findings = check_receipt_chain([forged], _keys(governor))
    assert [f.kind for f in findings] == ["bad_signature"]
    assert [f.detail for f in check_receipt_chain([receipt], _keys(other))] == [
        "unknown device key"
    ]
    with pytest.raises(SignatureError):
        verify_receipt(receipt, other.device_key)
    with pytest.raises(SignatureError):
        verify_receipt(forged, governor.device_key)


def test_malformed_receipts_are_findings(regime: Regime) -> None:
    governor = regime.device()
    receipt = governor.receipt(NOW)
    broken = receipt.model_copy(update={"payload": dict(receipt.payload, sequence=2)})
    assert [f.kind for f in check_receipt_chain([broken])] == ["malformed"]
    with pytest.raises(FormatError):
        parse_receipt(broken.model_copy(update={"payload_type": "pausebutton.pause/v1"}))


def test_counters_travel_as_decimal_strings(regime: Regime) -> None:
    governor = regime.device()
    governor.install_licence(regime.forge(governor, flop_budget=10**21), NOW)
    governor.authorize(10**20, now=NOW)
    counters = governor.receipt(NOW).payload["counters"]
    assert counters["flops"] == "100000000000000000000"
    assert counters["licensed_ops"] == "100000000000000000000"
