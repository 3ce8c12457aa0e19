"""The device's offline check of a device licence against its root of trust. Pure.

Everything a governor checks before it installs a licence, in this order, each failure
a typed error that changes nothing: the form (FormatError); the licensing role's
threshold of signatures under the trusted root, itself unexpired (SignatureError,
ReplayError); the binding to this device's key and serial (ValidationError); a sequence
number above every one the device has seen (ReplayError); the validity window (ReplayError
when expired, ValidationError before it starts); the firmware version against the
licence's minimum and the policy's (ValidationError); the device's own nonce when the
licence answers a request (ReplayError); and a counter base the device has reached
(ValidationError: a licence issued on counters the device no longer has means its state
went back).
"""

from __future__ import annotations

from dataclasses import dataclass

from pausebutton.crypto.envelope import Envelope
from pausebutton.errors import ReplayError, ValidationError
from pausebutton.governance._common import check_fresh
from pausebutton.governance.policy import Policy
from pausebutton.governance.root import Root
from pausebutton.licensing.licences import (
    DeviceLicence,
    check_window,
    parse_device_licence,
    verify_licensing,
)


@dataclass(frozen=True)
class DeviceFacts:
    """What a device knows about itself when it checks a licence."""

    device_key: str
    serial: str
    firmware_version: int
    highest_sequence: int
    licensed_ops: int
    pending_nonce: str | None


def verify_device_licence(
    envelope: Envelope, root: Root, device: DeviceFacts, now: int, policy: Policy | None
) -> DeviceLicence:
    """Accept a device licence for `device` at `now`, or raise (see the module's order)."""
    licence = parse_device_licence(envelope)
    check_fresh(f"trusted root version {root.version}", root.expires, now)
    verify_licensing(envelope, root)
    what = f"licence #{licence.sequence}"
    if licence.device_key != device.device_key or licence.serial != device.serial:
        raise ValidationError(
            f"{what} is for device {licence.serial} ({licence.device_key[:16]}…), not this "
            f"device {device.serial} ({device.device_key[:16]}…)"
        )
    if licence.sequence <= device.highest_sequence:
        how = "replayed" if licence.sequence == device.highest_sequence else "out of order"
        raise ReplayError(
            f"{what} is {how}: this device has already seen sequence {device.highest_sequence}"
        )
    check_window(what, licence.not_before, licence.not_after, now)
    minimum = max(
        licence.min_firmware_version, 0 if policy is None else policy.min_firmware_version
    )
    if device.firmware_version < minimum:
        raise ValidationError(
            f"{what} needs firmware version {minimum}; this device runs {device.firmware_version}"
        )
    if licence.device_nonce is not None and licence.device_nonce != device.pending_nonce:
        raise ReplayError(f"{what} answers a request this device is not waiting on (nonce)")
    if licence.counter_base > device.licensed_ops:
        raise ValidationError(
            f"{what} counts from licensed operations {licence.counter_base}, beyond this "
            f"device's {device.licensed_ops}: its state is older than the receipt it was "
            "issued on (rolled back?)"
        )
    return licence
