"""Issued licences as log events: ``licence.run_issued`` and ``licence.device_issued``.

Every licence the authority issues is appended to the transparency log, submitted by a
``licensing`` actor. ``licence.run_issued`` carries the signed run licence envelope;
``licence.device_issued`` carries the signed device licence and the device's receipt it
was issued on (so the log holds the receipts renewals rest on). The types' own checks
refuse anything malformed; `licensing_policy` adds the trust check (the licensing role's
signatures under the current root) for the `EventLog` to run inside the append. Replaying
the events gives the licence book (`book_from_log`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, cast

from pydantic import BaseModel, ConfigDict

from pausebutton.crypto.envelope import Envelope
from pausebutton.crypto.keys import SigningKey
from pausebutton.device.receipts import parse_receipt, receipt_id
from pausebutton.errors import Error, ValidationError
from pausebutton.governance.root import Root
from pausebutton.licensing.book import IssuedDevice, LicenceBook
from pausebutton.licensing.licences import (
    licence_id,
    parse_device_licence,
    parse_run_licence,
    verify_licensing,
)
from pausebutton.registry.events import EventType, SignedEvent, make_event, parse_event, register
from pausebutton.registry.pipeline import Policy, PolicyCheck, PolicyContext

LICENSING_ROLE = "licensing"
"""The actor role that submits licence events."""
RUN_ISSUED = "licence.run_issued"
DEVICE_ISSUED = "licence.device_issued"


class DeviceLicenceIssued(BaseModel):
    """Payload of ``licence.device_issued``: the signed licence and the receipt behind it."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    licence: Envelope
    receipt: Envelope


def _issued_device(payload: BaseModel) -> IssuedDevice:
    issued = cast(DeviceLicenceIssued, payload)
    licence = parse_device_licence(issued.licence)
    receipt = parse_receipt(issued.receipt)
    if receipt.device_key != licence.device_key:
        raise ValidationError("the receipt is not by the licensed device")
    return IssuedDevice(licence_id(issued.licence), licence, receipt_id(issued.receipt), receipt)


def _well_formed(event: SignedEvent, context: PolicyContext) -> None:
    try:
        if event.body.type == RUN_ISSUED:
            parse_run_licence(cast(Envelope, context.payload))
        else:
            _issued_device(context.payload)
    except Error as exc:
        raise ValidationError(f"{event.body.type}: {exc}") from None


LICENCE_TYPES: dict[str, EventType[Any]] = {
    RUN_ISSUED: register(
        EventType(
            name=RUN_ISSUED,
            payload_model=Envelope,
            roles=frozenset({LICENSING_ROLE}),
            checks=(_well_formed,),
        )
    ),
    DEVICE_ISSUED: register(
        EventType(
            name=DEVICE_ISSUED,
            payload_model=DeviceLicenceIssued,
            roles=frozenset({LICENSING_ROLE}),
            checks=(_well_formed,),
        )
    ),
}
"""The registered licence event types, by name."""


def run_issued_event(licence: Envelope, key: SigningKey, now: int) -> Envelope:
    """The ``licence.run_issued`` event for a signed run licence, signed by `key`."""
    return make_event(RUN_ISSUED, licence.model_dump(mode="json"), key, time=now)


def device_issued_event(
    licence: Envelope, receipt: Envelope, key: SigningKey, now: int
) -> Envelope:
    """The ``licence.device_issued`` event for a signed device licence and its receipt."""
    payload = {
        "licence": licence.model_dump(mode="json"),
        "receipt": receipt.model_dump(mode="json"),
    }
    return make_event(DEVICE_ISSUED, payload, key, time=now)


def licensing_policy(root: Callable[[], Root]) -> Policy:
    """The EventLog policy that checks each licence is signed by the licensing role of `root()`."""

    def check(event: SignedEvent, context: PolicyContext) -> None:
        payload = context.payload
        envelope = payload.licence if isinstance(payload, DeviceLicenceIssued) else payload
        verify_licensing(cast(Envelope, envelope), root())

    checks: tuple[PolicyCheck, ...] = (check,)
    return dict.fromkeys(LICENCE_TYPES, checks)


def book_from_log(entries: Iterable[tuple[int, bytes]]) -> LicenceBook:
    """Replay the licence events among (leaf index, entry) pairs of a log into a book."""
    book = LicenceBook()
    for _, data in entries:
        try:
            event = parse_event(data)
        except Error:
            continue
        kind = LICENCE_TYPES.get(event.body.type)
        if kind is None:
            continue
        payload = kind.parse_payload(event)
        if event.body.type == RUN_ISSUED:
            book.add_run(parse_run_licence(cast(Envelope, payload)))
        else:
            book.add_device(_issued_device(payload))
    return book
