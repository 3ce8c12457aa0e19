"""A regime for device and licensing tests: the real ceremony, policy, issuer and governors.

No mocks: devices are `Governor`s over `MemorySecureElement`s (or file ones) derived from
fixed seeds; licences are issued by the real issuer from the devices' signed requests
and signed by the ceremony's licensing keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pausebutton.crypto import Envelope, SigningKey
from pausebutton.device.governor import Governor
from pausebutton.device.provision import provision
from pausebutton.device.secure_element import DeviceSecrets, MemorySecureElement, SecureElement
from pausebutton.governance import Directive, Policy, parse_directive
from pausebutton.governance.acceptance import View
from pausebutton.licensing import (
    DeviceLicence,
    IssuedDevice,
    LicenceBook,
    PodDevice,
    issue_device_licence,
    issue_run_licence,
    licence_id,
    sign_licence,
    verify_request,
)
from tests.governance.ceremony import DAY, NOW, Ceremony, ceremony

RUN_FLOP = 10**26
BUDGET = 10**6


def secrets(name: str) -> DeviceSecrets:
    """The secrets of the test device called `name` (the same every run)."""
    return DeviceSecrets.from_seed(b"test-device/" + name.encode())


@dataclass
class Regime:
    """A ceremony, a policy, the pause directives in force, and the licence book."""

    c: Ceremony = field(default_factory=ceremony)
    policy: Policy = field(init=False)
    directives: list[Directive] = field(default_factory=list)
    book: LicenceBook = field(default_factory=LicenceBook)

    def __post_init__(self) -> None:
        self.policy = self.c.policy()

    @property
    def licensing_keys(self) -> list[SigningKey]:
        """The licensing role's keys (its threshold is 1)."""
        return list(self.c.licensing)

    def pause(self, id: str = "pause-1", **fields: Any) -> None:
        """Put a pause (global halt by default) in force."""
        self.directives.append(parse_directive(self.c.pause(id, **fields)))

    def view(self, policy: Policy | None = None) -> View:
        """The governance view a fresh device agent would hold."""
        return View(
            roots=(self.c.root,),
            policy=self.policy if policy is None else policy,
            directives=tuple(self.directives),
        )

    def device(
        self,
        name: str = "gpu-0001",
        *,
        element: SecureElement | None = None,
        owner: str = "lab-a",
        jurisdiction: str = "US",
        peak_flops: int = 10**9,
        observe: bool = True,
        firmware_version: int = 1,
    ) -> Governor:
        """Provision a device, and show it the current governance view (fresh at NOW)."""
        made = MemorySecureElement(secrets(name)) if element is None else element
        provision(
            made,
            serial=name,
            root=self.c.root_envelope,
            owner=owner,
            jurisdiction=jurisdiction,
            chip_class="3A090.a",
            peak_flops=peak_flops,
            now=NOW - DAY,
        )
        governor = Governor(made, firmware_version=firmware_version)
        if observe:
            governor.observe(self.view(), NOW, NOW)
        return governor

    def pod(self, governor: Governor) -> PodDevice:
        """The device as a run licence lists it."""
        s = governor.state
        return PodDevice(
            device_key=governor.device_key.key_id,
            serial=s.serial,
            owner=s.owner,
            jurisdiction=s.jurisdiction,
            chip_class=s.chip_class,
        )

    def run(
        self, governors: Sequence[Governor], run_id: str = "run-1", flop: int = RUN_FLOP
    ) -> Envelope:
        """Issue, sign and book a run licence for a pod of `governors`."""
        issued = issue_run_licence(
            run_id=run_id,
            licensee=self.c.registrar[0].key_id,
            flop_budget=flop,
            devices=[self.pod(g) for g in governors],
            not_before=NOW,
            not_after=NOW + 60 * DAY,
            policy=self.policy,
            directives=self.directives,
            book=self.book,
            now=NOW,
        )
        self.book.add_run(issued.document)
        return sign_licence(issued.document, self.licensing_keys[:1])

    def licence(
        self, governor: Governor, budget: int = BUDGET, run_id: str = "run-1", now: int = NOW
    ) -> Envelope:
        """Have `governor` request a licence, issue it, book it, and return it signed."""
        return self.issue(governor.request_licence(now), budget, run_id, now)

    def issue(
        self, request: Envelope, budget: int, run_id: str = "run-1", now: int = NOW
    ) -> Envelope:
        """Issue, sign and book a device licence answering `request`."""
        issued = issue_device_licence(
            request,
            run_id=run_id,
            flop_budget=budget,
            policy=self.policy,
            directives=self.directives,
            book=self.book,
            now=now,
        )
        envelope = sign_licence(issued.document, self.licensing_keys[:1])
        _, receipt, receipt_ident = verify_request(request)
        self.book.add_device(
            IssuedDevice(licence_id(envelope), issued.document, receipt_ident, receipt)
        )
        return envelope

    def forge(
        self, governor: Governor, keys: Sequence[SigningKey] | None = None, **fields: Any
    ) -> Envelope:
        """A device licence for `governor` made by hand (for attacks on the governor alone)."""
        values: dict[str, Any] = {
            "device_key": governor.device_key.key_id,
            "serial": governor.serial,
            "run_id": "run-1",
            "run_flop": RUN_FLOP,
            "sequence": governor.state.licence_sequence + 1,
            "flop_budget": BUDGET,
            "counter_base": governor.counters.licensed_ops,
            "not_before": NOW - 60,
            "not_after": NOW + 30 * DAY,
            "policy_version": self.policy.version,
            "min_firmware_version": 1,
            "device_nonce": None,
            "issued": NOW - 60,
        }
        values.update(fields)
        signers = self.licensing_keys[:1] if keys is None else keys
        return sign_licence(DeviceLicence(**values), signers)
