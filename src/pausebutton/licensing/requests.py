"""Licence requests: a device asks for a licence, signed by its own key, with its latest receipt.

A request (``pausebutton.licence-request/v1``) carries the device's public key and
serial, its firmware version, a fresh nonce the device will insist on seeing in the
licence, and the receipt it signed when making the request: renewal is issued on the
counters that receipt reports.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from pausebutton.crypto.envelope import Envelope, verify_threshold
from pausebutton.crypto.keys import VerifyKey
from pausebutton.device.receipts import UsageReceipt, receipt_id, verify_receipt
from pausebutton.errors import ValidationError
from pausebutton.governance._common import (
    PUBLIC_KEY_PATTERN,
    KeyId,
    SignedDocument,
    UnixTime,
    parse_document,
)
from pausebutton.licensing.licences import Nonce, Serial, Version

REQUEST_PAYLOAD_TYPE = "pausebutton.licence-request/v1"


class LicenceRequest(SignedDocument):
    """A device's request for a licence, signed by the device key it names."""

    PAYLOAD_TYPE = REQUEST_PAYLOAD_TYPE

    device_key: KeyId
    public_key: Annotated[str, Field(pattern=PUBLIC_KEY_PATTERN)] = Field(
        description="the device's Ed25519 public key, canonical base64"
    )
    serial: Serial
    firmware_version: Version
    nonce: Nonce = Field(description="the licence must carry it back as device_nonce")
    receipt: Envelope = Field(description="the receipt the device signed with this request")
    time: UnixTime

    def verify_key(self) -> VerifyKey:
        """The device's public key."""
        return VerifyKey.from_base64(self.public_key)


def parse_request(envelope: Envelope) -> LicenceRequest:
    """Read a request from its envelope, checking its form but no signature."""
    return parse_document(LicenceRequest, envelope)


def verify_request(envelope: Envelope) -> tuple[LicenceRequest, UsageReceipt, str]:
    """Accept a request signed by the key it names, with a receipt by the same device.

    Returns the request, its receipt and the receipt's id. Whether the key is a
    registered device of the run is for the issuer to check.
    """
    request = parse_request(envelope)
    key = request.verify_key()
    if key.key_id != request.device_key:
        raise ValidationError("licence request: device_key is not the id of public_key")
    verify_threshold(envelope, [key], 1)
    receipt = verify_receipt(request.receipt, key)
    if receipt.serial != request.serial:
        raise ValidationError(
            f"licence request: its receipt is by serial {receipt.serial}, not {request.serial}"
        )
    return request, receipt, receipt_id(request.receipt)
