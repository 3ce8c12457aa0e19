"""The governor's persistent state: what the secure element keeps between calls.

The governor writes a whole `DeviceState` through `SecureElement.save` at every change
(each debit, licence, receipt, governance observation); the element wraps it in a
MACed, hash-chained record. Fields set at provisioning never change afterwards.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from pydantic import ValidationError as PydanticValidationError

from pausebutton.crypto.canonical import canonical_bytes
from pausebutton.crypto.envelope import Envelope
from pausebutton.device.receipts import Counters
from pausebutton.errors import FormatError
from pausebutton.governance._common import (
    MAX_SAFE_INT,
    FlopCount,
    StrictModel,
    UnixTime,
    describe_error,
)
from pausebutton.licensing.licences import Identifier, Jurisdiction, Nonce, Serial

Version = Annotated[int, Field(ge=1, le=MAX_SAFE_INT)]


class GovernanceSeen(StrictModel):
    """The last governance view the governor was shown (kept for `status`, never trusted)."""

    observed_at: UnixTime
    fresh_at: UnixTime | None
    root_version: Version
    policy_version: Version | None
    freshness_s: int | None


class DeviceState(StrictModel):
    """Everything the governor keeps: identity, trust anchor, counters, licence, receipts."""

    serial: Serial
    owner: Identifier
    jurisdiction: Jurisdiction
    chip_class: Identifier
    peak_flops: FlopCount = Field(gt=0, description="peak FLOP/s, for throttling")
    root: Envelope = Field(description="the governance root provisioned at manufacture")
    provisioned_at: UnixTime
    counters: Counters = Field(default_factory=Counters)
    licence: Envelope | None = None
    licence_sequence: int = Field(default=0, ge=0, le=MAX_SAFE_INT, description="highest seen")
    pending_nonce: Nonce | None = None
    receipt_sequence: int = Field(default=0, ge=0, le=MAX_SAFE_INT)
    last_receipt: Envelope | None = None
    throttle_until_us: int = Field(
        default=0, ge=0, description="Unix microseconds before which throttled work must wait"
    )
    governance: GovernanceSeen | None = None


def read_state(value: object) -> DeviceState:
    """Read the state a secure element returned, raising FormatError if it is not one."""
    try:
        return DeviceState.model_validate_json(canonical_bytes(value))
    except PydanticValidationError as exc:
        raise FormatError(f"device state: {describe_error(exc)}") from None
