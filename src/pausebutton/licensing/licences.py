"""Training-run and device licences: the documents the ``licensing`` role signs, k-of-n.

A *run licence* (``pausebutton.run-licence/v1``) allows one training run: its id, the
licensee's key id, a total FLOP budget, the fixed pod of devices it may run on, a time
window, and the policy tier its size falls in. A *device licence*
(``pausebutton.device-licence/v1``) lets one device (bound by its signing key id and
serial) compute for one run: a FLOP budget, a validity window, a sequence number that
must rise above every one the device has seen, the policy version it was issued under,
the minimum firmware version, and optionally the nonce of the device's own request.

Budgets are integers of operations (FLOP and integer operations alike, so changing data
type dodges nothing), written in JSON as decimal strings. A device licence counts from
the device's licensed-operations counter as its last receipt reported it
(`counter_base`): the device may take that counter up to ``counter_base + flop_budget``
(its `ceiling`). Work the device did under an earlier licence after that receipt is
therefore charged to the new one, so a renewal can never double a budget.

A licence's id is the hex SHA-256 of the bytes its signatures cover, so adding a
signature does not change it.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from pausebutton.crypto.envelope import Envelope
from pausebutton.errors import ReplayError, SignatureError, ValidationError
from pausebutton.governance._common import (
    IDENTIFIER_PATTERN,
    MAX_SAFE_INT,
    FlopCount,
    KeyId,
    SignedDocument,
    StrictModel,
    UnixTime,
    list_to_tuple,
    parse_document,
)
from pausebutton.governance.directives import DeviceContext
from pausebutton.governance.jurisdictions import JURISDICTION_PATTERN
from pausebutton.governance.root import Root, verify_role
from pausebutton.registry.chips import SERIAL as SERIAL_PATTERN
from pausebutton.registry.events import NONCE_PATTERN

RUN_LICENCE_PAYLOAD_TYPE = "pausebutton.run-licence/v1"
DEVICE_LICENCE_PAYLOAD_TYPE = "pausebutton.device-licence/v1"
MAX_POD_DEVICES = 256
"""A run licence lists at most this many devices (it must fit in one log event)."""

Identifier = Annotated[str, Field(pattern=IDENTIFIER_PATTERN)]
Serial = Annotated[str, Field(pattern=SERIAL_PATTERN)]
Jurisdiction = Annotated[str, Field(pattern=JURISDICTION_PATTERN)]
Nonce = Annotated[str, Field(pattern=NONCE_PATTERN)]
Version = Annotated[int, Field(ge=1, le=MAX_SAFE_INT)]
Tier = Literal["below_notify", "notify", "licence"]
"""Where a run's size falls: below `notify_flop`, from it to `licence_flop`, or above."""


class PodDevice(StrictModel):
    """One device of a run's pod: its keys' id, serial, and what pause scopes match on."""

    device_key: KeyId = Field(description="key id of the device's Ed25519 signing key")
    serial: Serial
    owner: Identifier
    jurisdiction: Jurisdiction
    chip_class: Identifier

    def context(self, run_flop: int) -> DeviceContext:
        """The device as a pause scope sees it, running a run of `run_flop` FLOP."""
        return DeviceContext(self.serial, self.owner, self.jurisdiction, self.chip_class, run_flop)


class RunLicence(SignedDocument):
    """A training run's licence: who, how many FLOP in all, on which pod, when."""

    PAYLOAD_TYPE = RUN_LICENCE_PAYLOAD_TYPE

    run_id: Identifier = Field(description="unique among all runs, never reused")
    licensee: KeyId = Field(description="key id of the actor the run belongs to")
    flop_budget: FlopCount = Field(gt=0, description="operations the whole run may use")
    devices: tuple[PodDevice, ...] = Field(
        min_length=1, max_length=MAX_POD_DEVICES, description="the fixed pod, by device_key"
    )
    not_before: UnixTime
    not_after: UnixTime
    policy_version: Version
    tier: Tier = Field(description="the policy tier the run's size falls in")
    issued: UnixTime

    _tuple = field_validator("devices", mode="before")(list_to_tuple)

    @field_validator("devices")
    @classmethod
    def _pod(cls, devices: tuple[PodDevice, ...]) -> tuple[PodDevice, ...]:
        keys = [d.device_key for d in devices]
        serials = [d.serial for d in devices]
        if len(set(keys)) != len(keys) or len(set(serials)) != len(serials):
            raise ValueError("a pod lists each device once")
        if keys != sorted(keys):
            raise ValueError("devices are sorted by device_key")
        return devices

    @model_validator(mode="after")
    def _window(self) -> RunLicence:
        if self.not_after <= self.not_before:
            raise ValidationError(f"run {self.run_id}: not_after must be after not_before")
        return self

    def member(self, device_key: str) -> PodDevice:
        """Return the pod's device with `device_key`, raising ValidationError if none."""
        for device in self.devices:
            if device.device_key == device_key:
                return device
        raise ValidationError(f"device {device_key[:16]}… is not in the pod of run {self.run_id}")


class DeviceLicence(SignedDocument):
    """One device's licence to compute for one run, checked by the device offline."""

    PAYLOAD_TYPE = DEVICE_LICENCE_PAYLOAD_TYPE

    device_key: KeyId = Field(description="key id of the device's Ed25519 signing key")
    serial: Serial
    run_id: Identifier
    run_flop: FlopCount = Field(description="the run's total budget (pause scopes match it)")
    sequence: Version = Field(description="above every licence sequence the device has seen")
    flop_budget: FlopCount = Field(gt=0, description="operations this licence allows")
    counter_base: FlopCount = Field(
        description="the device's licensed-operations counter the budget counts from"
    )
    not_before: UnixTime
    not_after: UnixTime
    policy_version: Version
    min_firmware_version: Version
    device_nonce: Nonce | None = Field(description="the nonce of the device's request, if any")
    issued: UnixTime

    @model_validator(mode="after")
    def _window(self) -> DeviceLicence:
        if self.not_after <= self.not_before:
            raise ValidationError("device licence: not_after must be after not_before")
        return self

    @property
    def ceiling(self) -> int:
        """The value of the licensed-operations counter this licence lets the device reach."""
        return self.counter_base + self.flop_budget


def licence_id(envelope: Envelope) -> str:
    """The id of a licence (or any envelope): hex SHA-256 of the bytes its signatures cover."""
    return hashlib.sha256(envelope.signing_message()).hexdigest()


def parse_run_licence(envelope: Envelope) -> RunLicence:
    """Read a run licence from its envelope, checking its form but no signature."""
    return parse_document(RunLicence, envelope)


def parse_device_licence(envelope: Envelope) -> DeviceLicence:
    """Read a device licence from its envelope, checking its form but no signature."""
    return parse_document(DeviceLicence, envelope)


def verify_licensing(envelope: Envelope, root: Root) -> frozenset[str]:
    """Check the licensing role's threshold signed `envelope`; return the signers' key ids."""
    try:
        return verify_role(envelope, root, "licensing")
    except SignatureError as exc:
        raise SignatureError(f"licence {licence_id(envelope)[:16]}…: {exc}") from None


def check_window(what: str, not_before: int, not_after: int, now: int) -> None:
    """Refuse at `now` a document valid only in [not_before, not_after)."""
    if now >= not_after:
        raise ReplayError(f"{what} expired at {not_after} (now {now})")
    if now < not_before:
        raise ValidationError(f"{what} is not valid before {not_before} (now {now})")


def verify_run_licence(envelope: Envelope, root: Root) -> RunLicence:
    """Accept a run licence signed by the licensing role's threshold, or raise."""
    licence = parse_run_licence(envelope)
    verify_licensing(envelope, root)
    return licence


def describe_run(licence: RunLicence) -> tuple[str, ...]:
    """Say what a run licence allows, one line each."""
    return (
        f"run licence {licence.run_id} ({licence.tier}), policy v{licence.policy_version}",
        f"licensee   {licence.licensee}",
        f"budget     {licence.flop_budget:.4g} FLOP ({licence.flop_budget})",
        f"window     {licence.not_before} .. {licence.not_after}",
        *(
            f"device     {d.serial} {d.device_key[:16]}… ({d.owner}, {d.jurisdiction})"
            for d in licence.devices
        ),
    )


def describe_device(licence: DeviceLicence) -> tuple[str, ...]:
    """Say what a device licence allows, one line each."""
    return (
        f"device licence #{licence.sequence} for {licence.serial} ({licence.device_key[:16]}…)",
        f"run        {licence.run_id} ({licence.run_flop:.4g} FLOP in all)",
        f"budget     {licence.flop_budget:.4g} FLOP, counter {licence.counter_base} .. "
        f"{licence.ceiling}",
        f"window     {licence.not_before} .. {licence.not_after}",
        f"policy     v{licence.policy_version}, firmware >= {licence.min_firmware_version}",
    )
