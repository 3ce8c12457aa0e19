"""Provisioning a device at manufacture, and describing a governor's state in words."""

from __future__ import annotations

from pausebutton.crypto.envelope import Envelope
from pausebutton.device.governor import Governor
from pausebutton.device.receipts import parse_receipt
from pausebutton.device.secure_element import SecureElement
from pausebutton.device.state import DeviceState
from pausebutton.errors import ValidationError
from pausebutton.governance.provisioning import initial_root
from pausebutton.licensing.licences import describe_device, licence_id

DEFAULT_PEAK_FLOPS = 10**15
"""Peak FLOP/s when none is given: about an H100 SXM's dense BF16 rate."""


def provision(
    element: SecureElement,
    *,
    serial: str,
    root: Envelope,
    owner: str,
    jurisdiction: str,
    chip_class: str,
    peak_flops: int = DEFAULT_PEAK_FLOPS,
    now: int,
) -> Governor:
    """Write a new device's first state: identity, the governance root, zero counters."""
    if element.load() is not None:
        raise ValidationError("this secure element is already provisioned; refusing to reset it")
    initial_root(root)
    state = DeviceState(
        serial=serial,
        owner=owner,
        jurisdiction=jurisdiction,
        chip_class=chip_class,
        peak_flops=peak_flops,
        root=root,
        provisioned_at=now,
    )
    element.save(state.model_dump(mode="json"))
    return Governor(element)


def describe_status(governor: Governor, now: int) -> tuple[str, ...]:
    """Say what a governor holds and what it would do now, one line each."""
    s = governor.state
    c = s.counters
    lines = [
        f"device     {s.serial} (key {governor.device_key.key_id[:16]}…), owner {s.owner}, "
        f"{s.jurisdiction}, {s.chip_class}",
        f"firmware   v{governor.firmware_version}; state record v{governor.state_version}",
        f"counters   {c.flops} FLOP, {c.int_ops} integer ops, {c.bytes_moved} bytes moved; "
        f"{c.licensed_ops} ops charged to licences",
    ]
    licence = governor.licence
    if licence is None or s.licence is None:
        lines.append("licence    none")
    else:
        lines.append(f"licence    {licence_id(s.licence)[:16]}…, {governor.remaining()} ops left")
        lines += [f"           {line}" for line in describe_device(licence)]
    if s.last_receipt is None:
        lines.append("receipt    none yet")
    else:
        r = parse_receipt(s.last_receipt)
        lines.append(f"receipt    #{r.sequence} at {r.time}, state v{r.state_version}")
    g = s.governance
    if g is None:
        lines.append("governance never observed")
    else:
        fresh = "never fresh" if g.fresh_at is None else f"fresh at {g.fresh_at}"
        age = "" if g.fresh_at is None else f" ({now - g.fresh_at} s ago"
        limit = "" if g.freshness_s is None else f", limit {g.freshness_s} s"
        lines.append(
            f"governance root v{g.root_version}, policy v{g.policy_version}; {fresh}{age}"
            f"{limit}{')' if age else ''}; observed at {g.observed_at}"
        )
    grant = governor.check(now)
    lines.append(f"now        {grant.decision} ({grant.cause}): {grant.reason}")
    return tuple(lines)
