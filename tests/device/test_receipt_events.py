"""``device.receipt`` events: receipts reach the log only signed by the device key on record."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from pausebutton.crypto import Envelope, SigningKey
from pausebutton.device.governor import Governor
from pausebutton.device.receipt_events import (
    DEVICE_RECEIPT,
    DeviceKeys,
    receipt_entries,
    receipt_event,
    receipts_from_log,
)
from pausebutton.device.receipts import check_receipt_chain, parse_receipt, sign_document
from pausebutton.errors import SignatureError, ValidationError
from pausebutton.licensing.events import device_issued_event
from pausebutton.log.tlog import TransparencyLog
from pausebutton.registry import client
from pausebutton.registry.events import make_event
from pausebutton.registry.pipeline import ActorKey
from pausebutton.registry.submission import EventLog
from tests.device.regime import Regime
from tests.governance.ceremony import NOW
from tests.registry.world import World, sqlite_url

ORIGIN = "receipts.example/log"


def _key(label: str) -> SigningKey:
    return SigningKey.from_seed(hashlib.sha256(b"receipt-test/" + label.encode()).digest())


LAB, INSPECTOR = _key("lab"), _key("inspector")


@pytest.fixture
def log(tmp_path: Path) -> Iterator[TransparencyLog]:
    made = TransparencyLog.open(sqlite_url(tmp_path, "log.db"), ORIGIN)
    yield made
    made.close()


def _intake(log: TransparencyLog, *devices: Governor, projector: bool = True) -> EventLog:
    anchors = [
        ActorKey(LAB.public, frozenset({"lab"}), name="lab"),
        ActorKey(INSPECTOR.public, frozenset({"inspector"}), name="inspector"),
    ]
    keys = DeviceKeys([g.device_key for g in devices]) if projector else None
    return EventLog(log, anchors=anchors, projector=keys, clock=lambda: NOW)


def _refused(intake: EventLog, event: Envelope, error: type[Exception], match: str) -> None:
    size = intake.log.size
    with pytest.raises(error, match=match):
        intake.submit(event)
    assert intake.log.size == size


def test_a_receipt_signed_by_a_known_device_is_logged_and_read_back(
    log: TransparencyLog,
) -> None:
    device = Regime().device()
    intake = _intake(log, device)
    first, second = device.receipt(NOW), device.receipt(NOW + 1, "challenge-0123456789")
    intake.submit_batch([receipt_event(r, LAB, NOW) for r in (first, second)])
    entries = list(enumerate(log.entries(0, log.size)))
    assert receipts_from_log(entries) == [first, second]
    assert [i for i, _ in receipt_entries(entries)] == [0, 1]
    keys = {device.device_key.key_id: device.device_key}
    assert check_receipt_chain(receipts_from_log(entries), keys) == []


def test_a_forged_receipt_is_refused(log: TransparencyLog) -> None:
    device = Regime().device()
    intake = _intake(log, device)
    genuine = parse_receipt(device.receipt(NOW))
    forged = sign_document(genuine, device.device_key.key_id, _key("thief").sign)
    _refused(intake, receipt_event(forged, LAB, NOW), SignatureError, "signature")


def test_a_receipt_with_an_edited_field_is_refused(log: TransparencyLog) -> None:
    device = Regime().device()
    envelope = device.receipt(NOW)
    payload = dict(envelope.payload)
    payload["time"] = NOW - 3600
    edited = envelope.model_copy(update={"payload": payload})
    _refused(_intake(log, device), receipt_event(edited, LAB, NOW), SignatureError, "signature")


def test_a_receipt_from_a_device_the_intake_does_not_know_is_refused(
    log: TransparencyLog,
) -> None:
    regime = Regime()
    known, stranger = regime.device("gpu-known"), regime.device("gpu-stranger")
    event = receipt_event(stranger.receipt(NOW), LAB, NOW)
    _refused(_intake(log, known), event, ValidationError, "is not known here")


def test_receipts_with_neither_registry_nor_device_keys_are_refused(
    log: TransparencyLog,
) -> None:
    device = Regime().device()
    event = receipt_event(device.receipt(NOW), LAB, NOW)
    _refused(_intake(log, projector=False), event, ValidationError, "no registry or device keys")


def test_an_actor_who_cannot_hold_chips_may_not_submit_receipts(log: TransparencyLog) -> None:
    device = Regime().device()
    event = receipt_event(device.receipt(NOW), INSPECTOR, NOW)
    _refused(_intake(log, device), event, ValidationError, "may not submit device.receipt")


def test_a_payload_that_is_not_a_receipt_is_refused(log: TransparencyLog) -> None:
    regime = Regime()
    device = regime.device()
    licence = regime.forge(device)
    event = make_event(DEVICE_RECEIPT, licence.model_dump(mode="json"), LAB, time=NOW)
    _refused(_intake(log, device), event, ValidationError, "usage-receipt")


def test_receipts_from_log_reads_licence_receipts_once_and_skips_other_entries(
    log: TransparencyLog,
) -> None:
    regime = Regime()
    device = regime.device()
    regime.run([device])
    request = device.request_licence(NOW)
    licence = regime.issue(request, 1000)
    receipt = device.state.last_receipt
    assert receipt is not None
    licensing = regime.licensing_keys[0]
    raw = [
        b"not an event",
        device_issued_event(licence, receipt, licensing, NOW).to_bytes(),
        receipt_event(receipt, LAB, NOW).to_bytes(),  # the same receipt again
        make_event("log.note", {"text": "hello"}, LAB, time=NOW).to_bytes(),
        receipt_event(device.receipt(NOW), LAB, NOW).to_bytes(),
    ]
    entries = list(enumerate(raw))
    assert [i for i, _ in receipt_entries(entries)] == [1, 4]
    assert [i for i, _ in receipt_entries(entries, licence_receipts=False)] == [2, 4]
    assert receipts_from_log(entries)[0] == receipt


def _registry_world(tmp_path: Path, device: Governor) -> tuple[World, SigningKey, SigningKey]:
    world = World(sqlite_url(tmp_path, "registry.db"))
    maker = world.actor("maker", ["manufacturer"], "TW")
    lab = world.actor("lab", ["lab"], "US")
    made = client.manufacture(
        maker,
        serial=device.serial,
        model="Acme H1",
        jurisdiction="TW",
        spec={"name": "Acme H1", "dense_tops_by_bits": {"8": 1979, "16": 989.5}},
        device_key=device.device_key,
        x25519_key=device.x25519_public(),
        components=[("logic_die", f"{device.serial}-die")],
        time=world.now,
    )
    sale = world.event("chip.transferred", maker, lab, serial=device.serial, buyer=lab.key_id)
    world.submit(made, sale)
    return world, maker, lab


def test_with_the_registry_only_the_chips_holder_may_log_its_receipts(tmp_path: Path) -> None:
    regime = Regime()
    device = regime.device("chip-S1")
    world, maker, lab = _registry_world(tmp_path, device)
    try:
        receipt = device.receipt(NOW)
        world.submit(receipt_event(receipt, lab, world.now))
        entries = list(enumerate(world.log.entries(0, world.log.size)))
        assert receipts_from_log(entries) == [receipt]
        size = world.log.size
        with pytest.raises(ValidationError, match="not the holder, lessee or operator"):
            world.submit(receipt_event(device.receipt(NOW), maker, world.now))
        stranger = regime.device("chip-S2")
        with pytest.raises(ValidationError, match="is not a registered chip's"):
            world.submit(receipt_event(stranger.receipt(NOW), lab, world.now))
        forged = sign_document(
            parse_receipt(device.receipt(NOW)), device.device_key.key_id, _key("x").sign
        )
        with pytest.raises(SignatureError):
            world.submit(receipt_event(forged, lab, world.now))
        assert world.log.size == size
    finally:
        world.close()
