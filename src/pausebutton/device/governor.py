"""The governor: the device's state machine for licences, metering, throttle and halt. No I/O.

It holds the device key and the governance root provisioned at manufacture (through a
`SecureElement`), checks licences offline, keeps monotonic counters (FLOP, integer
operations, bytes moved, and the operations charged to licences), and answers every
request for work with a `Grant`. A debit is persisted through the element *before* the
grant is returned, so a crash can lose a grant but never hide work. Each call takes the
time (`now`, Unix seconds) as an argument; governance comes in through `observe`.

What work gets (the first rule that applies):

1. **halted**: no governance view observed since start, a stale one (older than the
   policy's ``freshness_s``), an expired root or policy, a halt pause covering the
   device, a policy older than the licence's, or firmware below the policy's minimum;
2. **granted** (full rate, charged to the licence): a licence in its window with the
   budget for the whole request left; **throttled** at the pause's rate instead when a
   throttle pause covers the device;
3. **throttled** to the policy's ``baseline_throttle_fraction`` of peak (not charged to
   any licence): no licence, an expired one, or not enough budget left.

Throttled work is scheduled: each grant says how long to wait (`Grant.delay_s`) so that
the device's throttled work never runs faster than the rate allows.
"""

from __future__ import annotations

import base64
import math

from pausebutton.crypto.envelope import Envelope
from pausebutton.crypto.keys import VerifyKey
from pausebutton.device.errors import NotProvisionedError, UnlockRefusedError
from pausebutton.device.grant import Cause, Decision, Grant, Verdict
from pausebutton.device.receipts import Counters, UsageReceipt, receipt_id, sign_document
from pausebutton.device.secure_element import SecureElement
from pausebutton.device.state import DeviceState, GovernanceSeen, read_state
from pausebutton.errors import ValidationError
from pausebutton.governance.acceptance import View, device_effect
from pausebutton.governance.directives import DeviceContext
from pausebutton.governance.policy import Policy
from pausebutton.governance.provisioning import initial_root
from pausebutton.governance.root import Root
from pausebutton.governance.state import Effect
from pausebutton.licensing.licences import DeviceLicence, licence_id, parse_device_licence
from pausebutton.licensing.requests import LicenceRequest
from pausebutton.licensing.verify import DeviceFacts, verify_device_licence

__all__ = ["FIRMWARE_VERSION", "Cause", "Decision", "Governor", "Grant"]

FIRMWARE_VERSION = 1
"""The security version of this governor (the emulated firmware)."""


class Governor:
    """The governor of one device, over its secure element."""

    def __init__(self, element: SecureElement, *, firmware_version: int = FIRMWARE_VERSION) -> None:
        raw = element.load()
        if raw is None:
            raise NotProvisionedError("the secure element holds no state: provision the device")
        self._element = element
        self.firmware_version = firmware_version
        self._state = read_state(raw)
        self._root = initial_root(self._state.root)
        licence = self._state.licence
        self._licence = None if licence is None else parse_device_licence(licence)
        self._view: View | None = None
        self._fresh_at: int | None = None

    # --- what the governor holds ---------------------------------------------------------

    @property
    def state(self) -> DeviceState:
        """The persisted state as it stands."""
        return self._state

    @property
    def state_version(self) -> int:
        """The version of the state record last written or read."""
        return self._element.version

    @property
    def serial(self) -> str:
        """The device's serial."""
        return self._state.serial

    @property
    def device_key(self) -> VerifyKey:
        """The device's Ed25519 public key."""
        return self._element.signing_key

    def x25519_public(self) -> bytes:
        """The device's raw X25519 public key (what locked models are wrapped to)."""
        return self._element.x25519_public()

    @property
    def element(self) -> SecureElement:
        """The secure element (model locking unwraps with it, after `may_unlock`)."""
        return self._element

    @property
    def counters(self) -> Counters:
        """The monotonic meters."""
        return self._state.counters

    @property
    def licence(self) -> DeviceLicence | None:
        """The licence installed, if any (valid or not)."""
        return self._licence

    @property
    def trusted_root(self) -> Root:
        """The root licences are checked against: the view's newest, else the provisioned one."""
        return self._root if self._view is None else self._view.root

    @property
    def context(self) -> DeviceContext:
        """The device as pause scopes see it (the run size comes from the licence)."""
        s = self._state
        run_flop = 0 if self._licence is None else self._licence.run_flop
        return DeviceContext(s.serial, s.owner, s.jurisdiction, s.chip_class, run_flop)

    def remaining(self) -> int:
        """Operations the installed licence still allows (0 without one)."""
        if self._licence is None:
            return 0
        return max(0, self._licence.ceiling - self.counters.licensed_ops)

    # --- governance ------------------------------------------------------------------------

    def observe(self, view: View, fresh_at: int | None, now: int) -> None:
        """Take the governance view the agent holds and the time of its last good refresh."""
        if view.roots[0] != self._root:
            raise ValidationError("the governance view does not start from this device's root")
        self._view, self._fresh_at = view, fresh_at
        policy = view.policy
        seen = GovernanceSeen(
            observed_at=now,
            fresh_at=fresh_at,
            root_version=view.root.version,
            policy_version=None if policy is None else policy.version,
            freshness_s=None if policy is None else policy.freshness_s,
        )
        self._commit(self._state.model_copy(update={"governance": seen}))

    def effect(self, now: int) -> Effect:
        """What governance demands of this device at `now` (halt if nothing was observed)."""
        if self._view is None:
            return Effect("halt", None, (), ("no governance view since start (fail closed)",))
        return device_effect(self._view, self.context, now, self._fresh_at)

    # --- licences --------------------------------------------------------------------------

    def install_licence(self, envelope: Envelope, now: int) -> DeviceLicence:
        """Verify a device licence offline and install it, or raise and change nothing."""
        s = self._state
        facts = DeviceFacts(
            device_key=self.device_key.key_id,
            serial=s.serial,
            firmware_version=self.firmware_version,
            highest_sequence=s.licence_sequence,
            licensed_ops=s.counters.licensed_ops,
            pending_nonce=s.pending_nonce,
        )
        policy = None if self._view is None else self._view.policy
        licence = verify_device_licence(envelope, self.trusted_root, facts, now, policy)
        nonce = None if licence.device_nonce is not None else s.pending_nonce
        update = {"licence": envelope, "licence_sequence": licence.sequence, "pending_nonce": nonce}
        self._commit(s.model_copy(update=update))
        self._licence = licence
        return licence

    def _licence_problem(self, now: int, policy: Policy) -> tuple[Cause, str] | None:
        licence = self._licence
        if licence is None:
            return "no_licence", "no licence installed"
        what = f"licence #{licence.sequence}"
        if now >= licence.not_after:
            return "licence_expired", f"{what} expired at {licence.not_after}"
        if now < licence.not_before:
            return "no_licence", f"{what} is not valid before {licence.not_before}"
        if policy.version < licence.policy_version:
            return "governance", (
                f"{what} was issued under policy v{licence.policy_version}; this device "
                f"holds v{policy.version} (refresh governance)"
            )
        return None

    # --- work ------------------------------------------------------------------------------

    def _verdict(self, now: int, ops: int) -> Verdict:
        effect = self.effect(now)
        if effect.kind == "halt" or self._view is None or self._view.policy is None:
            cause: Cause = "pause" if effect.directive_ids else "governance"
            return "halted", cause, "; ".join(effect.reasons), 0.0, False
        policy = self._view.policy
        if self.firmware_version < policy.min_firmware_version:
            why = f"firmware {self.firmware_version} is below v{policy.min_firmware_version}"
            return "halted", "firmware", why, 0.0, False
        problem = self._licence_problem(now, policy)
        if problem is not None and problem[0] == "governance":
            return "halted", "governance", problem[1], 0.0, False
        paused = effect.rate if effect.kind == "throttle" else None
        if problem is None and self._licence is not None:
            left = self.remaining()
            if ops <= left:
                what = f"licence #{self._licence.sequence}: {left - ops} operations left"
                if paused is None:
                    return "granted", "licensed", what, 1.0, True
                return "throttled", "pause", "; ".join(effect.reasons), paused, True
            problem = "budget_spent", f"licence #{self._licence.sequence}: {ops} asked, {left} left"
        cause, why = problem if problem is not None else ("no_licence", "no licence installed")
        base = policy.baseline_throttle_fraction
        rate = base if paused is None else min(base, paused)
        return "throttled", cause, f"{why}: throttled to {rate:g} of peak", rate, False

    def check(self, now: int, flops: int = 0, int_ops: int = 0) -> Grant:
        """What `authorize` would answer now, without debiting anything."""
        decision, cause, reason, rate, licensed = self._verdict(now, flops + int_ops)
        return Grant(decision, cause, reason, rate=rate, licensed=licensed)

    def authorize(self, flops: int, *, int_ops: int = 0, bytes_moved: int = 0, now: int) -> Grant:
        """Debit work before it runs, persist the debit, then grant, throttle or halt it."""
        for name, value in (("flops", flops), ("int_ops", int_ops), ("bytes_moved", bytes_moved)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
        ops = flops + int_ops
        decision, cause, reason, rate, licensed = self._verdict(now, ops)
        if decision == "halted":
            return Grant(decision, cause, reason, rate=0.0)
        s = self._state
        until, delay = s.throttle_until_us, 0.0
        if decision == "throttled":
            now_us = now * 1_000_000
            start = max(until, now_us)
            delay = (start - now_us) / 1_000_000
            until = start + math.ceil(ops * 1_000_000 / (rate * s.peak_flops))
        if ops or bytes_moved:
            counters = s.counters.add(flops, int_ops, bytes_moved, licensed=licensed)
            self._commit(s.model_copy(update={"counters": counters, "throttle_until_us": until}))
        return Grant(decision, cause, reason, flops, int_ops, bytes_moved, rate, licensed, delay)

    def may_unlock(self, now: int) -> None:
        """Raise UnlockRefusedError unless a valid licence is installed and no pause covers us."""
        effect = self.effect(now)
        if effect.kind != "run" or self._view is None or self._view.policy is None:
            raise UnlockRefusedError(f"device {self.serial}: " + "; ".join(effect.reasons))
        policy = self._view.policy
        if self.firmware_version < policy.min_firmware_version:
            raise UnlockRefusedError(
                f"device {self.serial}: firmware {self.firmware_version} is below "
                f"v{policy.min_firmware_version}"
            )
        problem = self._licence_problem(now, policy)
        if problem is not None:
            raise UnlockRefusedError(f"device {self.serial}: {problem[1]}")

    def key_agreement(self, peer_public: bytes, now: int) -> bytes:
        """X25519 with the device key, only when `may_unlock(now)` passes (model unlocking)."""
        self.may_unlock(now)
        return self._element.exchange(peer_public)

    # --- receipts and requests --------------------------------------------------------------

    def _next_receipt(self, now: int, nonce: str | None) -> Envelope:
        s = self._state
        licence = self._licence
        receipt = UsageReceipt(
            device_key=self.device_key.key_id,
            serial=s.serial,
            sequence=s.receipt_sequence + 1,
            previous=None if s.last_receipt is None else receipt_id(s.last_receipt),
            licence=None if s.licence is None else licence_id(s.licence),
            licence_sequence=0 if licence is None else licence.sequence,
            counters=s.counters,
            state_version=self._element.version + 1,
            nonce=nonce,
            time=now,
        )
        return sign_document(receipt, self.device_key.key_id, self._element.sign)

    def receipt(self, now: int, nonce: str | None = None) -> Envelope:
        """Sign a usage receipt answering the authority's `nonce`; persist it, then return it."""
        envelope = self._next_receipt(now, nonce)
        s = self._state
        update = {"receipt_sequence": s.receipt_sequence + 1, "last_receipt": envelope}
        self._commit(s.model_copy(update=update))
        return envelope

    def request_licence(self, now: int, challenge: str | None = None) -> Envelope:
        """Sign a licence request with a fresh nonce and a new receipt; persist both first."""
        nonce = base64.urlsafe_b64encode(self._element.random(16)).decode().rstrip("=")
        receipt = self._next_receipt(now, challenge)
        s = self._state
        update = {
            "receipt_sequence": s.receipt_sequence + 1,
            "last_receipt": receipt,
            "pending_nonce": nonce,
        }
        self._commit(s.model_copy(update=update))
        request = LicenceRequest(
            device_key=self.device_key.key_id,
            public_key=self.device_key.to_base64(),
            serial=s.serial,
            firmware_version=self.firmware_version,
            nonce=nonce,
            receipt=receipt,
            time=now,
        )
        return sign_document(request, self.device_key.key_id, self._element.sign)

    def _commit(self, state: DeviceState) -> None:
        self._element.save(state.model_dump(mode="json"))
        self._state = state
