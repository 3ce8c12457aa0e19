"""Usage receipts as log events: ``device.receipt``, and reading them back out of a log.

The payload of a ``device.receipt`` event is the device's signed receipt envelope
(``pausebutton.usage-receipt/v1``), exactly as the governor signed it. The event is
submitted (and signed) by an actor who runs the chip: a registered actor holding one of
`RECEIPT_ROLES` (the roles that can hold a chip). The type's own check refuses, whatever
the policy:

- a payload that is not a well-formed receipt;
- **with the registry** (an `EventLog` with a `RegistryProjector`): a device key that is
  not a registered chip's, a receipt naming another serial than that chip's, a receipt
  not signed by that chip's registered device key, or a submitter who is not the chip's
  holder, lessee or the operator of its facility;
- **without the registry**: the same signature check against the device keys the intake
  was given (`DeviceKeys`, its projector); with neither, every receipt (fail closed).

`receipts_from_log` reads every receipt in a log (those of ``device.receipt`` events and
those renewals rest on, in ``licence.device_issued``), for the verifier's receipt chain
checks (`device.receipts.check_receipt_chain`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Protocol, cast, runtime_checkable

from sqlalchemy import Connection

from pausebutton.crypto.envelope import Envelope
from pausebutton.crypto.keys import SigningKey, VerifyKey
from pausebutton.device.receipts import parse_receipt, receipt_id, verify_receipt
from pausebutton.errors import Error, ValidationError
from pausebutton.licensing.events import DEVICE_ISSUED, DeviceLicenceIssued
from pausebutton.registry.actors import CUSTODIANS
from pausebutton.registry.events import EventType, SignedEvent, make_event, parse_event, register
from pausebutton.registry.pipeline import PolicyContext
from pausebutton.registry.records import ChipRecord
from pausebutton.registry.rules import RuleState
from pausebutton.registry.transitions import Step, check_relation, short

DEVICE_RECEIPT = "device.receipt"
RECEIPT_ROLES = CUSTODIANS
"""Who may submit receipts: the roles that can hold a chip (maker, distributor, data
centre, cloud, lab); with the registry, only the chip's holder, lessee or facility operator."""

__all__ = [
    "DEVICE_RECEIPT",
    "RECEIPT_ROLES",
    "DeviceKeyLookup",
    "DeviceKeys",
    "receipt_entries",
    "receipt_event",
    "receipts_from_log",
]


@runtime_checkable
class DeviceKeyLookup(Protocol):
    """Validation state that knows device keys (for an intake without the registry)."""

    def device_key(self, key_id: str) -> VerifyKey | None:
        """The device public key with id `key_id`, or None."""


class DeviceKeys:
    """An `EventLog` projector that only hands the intake a fixed set of device keys."""

    def __init__(self, keys: Iterable[VerifyKey] | Mapping[str, VerifyKey]) -> None:
        values = keys.values() if isinstance(keys, Mapping) else keys
        self._keys = {k.key_id: k for k in values}

    def device_key(self, key_id: str) -> VerifyKey | None:
        """The device public key with id `key_id`, or None."""
        return self._keys.get(key_id)

    def begin(self, conn: Connection, items: Sequence[object]) -> DeviceKeys:
        """Open a batch: the state is these keys; nothing is written."""
        return self

    @property
    def state(self) -> DeviceKeys:
        """What receipts are checked against: these keys."""
        return self

    def apply(self, event: SignedEvent) -> None:
        """Nothing to stage."""

    def finish(self, first_index: int) -> None:
        """Nothing to write."""


def _registered_key(
    event: SignedEvent, state: RuleState, device_key: str, serial: str
) -> VerifyKey:
    view = state.view
    registered = view.chip_by_device_key("device_key", device_key)
    chip = None if registered is None else view.get(ChipRecord, registered)
    if not isinstance(chip, ChipRecord):
        raise ValidationError(
            f"{DEVICE_RECEIPT}: device key {short(device_key)} is not a registered chip's"
        )
    if chip.serial != serial:
        raise ValidationError(
            f"{DEVICE_RECEIPT}: the receipt names serial {serial}; key {short(device_key)} "
            f"is chip {chip.serial}'s"
        )
    step = Step(view, DEVICE_RECEIPT, event.body.actor, event.body.time, state.next_index)
    check_relation(step, chip, "holder, lessee or operator")
    return VerifyKey.from_base64(chip.device_public_key)


def _verified(event: SignedEvent, context: PolicyContext) -> None:
    """The type's own check: a receipt signed by the device key the registry (or intake) knows."""
    envelope = cast(Envelope, context.payload)
    try:
        receipt = parse_receipt(envelope)
    except Error as exc:
        raise ValidationError(f"{DEVICE_RECEIPT}: {exc}") from None
    state = context.state
    if isinstance(state, RuleState):
        key = _registered_key(event, state, receipt.device_key, receipt.serial)
    elif isinstance(state, DeviceKeyLookup):
        found = state.device_key(receipt.device_key)
        if found is None:
            raise ValidationError(
                f"{DEVICE_RECEIPT}: device key {short(receipt.device_key)} is not known here"
            )
        key = found
    else:
        raise ValidationError(
            f"{DEVICE_RECEIPT}: no registry or device keys to check the receipt against; "
            "submit through an EventLog with a RegistryProjector or DeviceKeys"
        )
    verify_receipt(envelope, key)


DEVICE_RECEIPT_TYPE = register(
    EventType(name=DEVICE_RECEIPT, payload_model=Envelope, roles=RECEIPT_ROLES, checks=(_verified,))
)


def receipt_event(receipt: Envelope, operator: SigningKey, now: int) -> Envelope:
    """The ``device.receipt`` event for a signed receipt, signed by the chip's operator."""
    return make_event(DEVICE_RECEIPT, receipt.model_dump(mode="json"), operator, time=now)


def receipt_entries(
    entries: Iterable[tuple[int, bytes]], *, licence_receipts: bool = True
) -> Iterator[tuple[int, Envelope]]:
    """(leaf index, receipt) for each receipt among (leaf index, entry) pairs, first sight only.

    Receipts come from ``device.receipt`` events and, with `licence_receipts`, from
    ``licence.device_issued`` events. A receipt seen twice is yielded once; entries that
    are not events of those types, or do not parse, are skipped (the log audit reports those).
    """
    seen: set[str] = set()
    for index, data in entries:
        try:
            event = parse_event(data)
            if event.body.type == DEVICE_RECEIPT:
                receipt = DEVICE_RECEIPT_TYPE.parse_payload(event)
            elif licence_receipts and event.body.type == DEVICE_ISSUED:
                receipt = DeviceLicenceIssued.model_validate(event.body.payload).receipt
            else:
                continue
        except (Error, ValueError):
            continue
        ident = receipt_id(receipt)
        if ident not in seen:
            seen.add(ident)
            yield index, receipt


def receipts_from_log(
    entries: Iterable[tuple[int, bytes]], *, licence_receipts: bool = True
) -> list[Envelope]:
    """Every receipt among (leaf index, entry) pairs of a log, in log order, each once."""
    return [receipt for _, receipt in receipt_entries(entries, licence_receipts=licence_receipts)]
