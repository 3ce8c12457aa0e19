"""Histories for the verifier, made by the real registry, licensing, governance and governor code.

A `Town` is one regime: a ceremony (`tests.device.regime`), an authority's intake with the
registry projector and the licensing policy over a real log, and chips whose device keys
are real governors' (`Governor` over `MemorySecureElement`). Each day every chip that is
running computes, signs a receipt that its facility's operator logs (``device.receipt``),
and renews its licence every week; `verify` reads the log back into a `History`. A test
plants one violation by acting through the same code, then asks the detectors.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pausebutton.crypto import Envelope, SigningKey
from pausebutton.device.governor import Governor
from pausebutton.device.receipt_events import receipt_event
from pausebutton.device.secure_element import MemorySecureElement
from pausebutton.governance import Policy, Scope, parse_directive
from pausebutton.governance.events import governance_event
from pausebutton.licensing import (
    device_issued_event,
    issue_run_licence,
    licensing_policy,
    parse_request,
    run_issued_event,
    sign_licence,
)
from pausebutton.log import note
from pausebutton.log.tlog import TransparencyLog
from pausebutton.registry import client
from pausebutton.registry.actors import IdentityDocument, KycOpening, KycRecord, new_opening
from pausebutton.registry.compliance import RegistryRegulation
from pausebutton.registry.pipeline import ActorKey
from pausebutton.registry.state import RegistryProjector
from pausebutton.registry.submission import EventLog
from pausebutton.verify import NonceLedger, check_location, jurisdiction_outline, verify_evidence
from pausebutton.verify.detectors import Parameters
from pausebutton.verify.history import History, LocationCheck, read_history
from tests.device.regime import Regime, secrets
from tests.governance.ceremony import DAY, NOW
from tests.verify.network import Network

ORIGIN = "authority.example/verify"
SPEC = {"name": "Acme H1", "dense_tops_by_bits": {"8": 1979, "16": 989.5}, "die_area_mm2": 814}
"""3A090.a, peak 1.979e15 operations per second."""
PEAK = 1979 * 10**12
DAILY = 10**19
"""Operations a running chip does in a day (about 6 % of its peak)."""
BUDGET = 10**20
"""A device licence's budget: a week of work and some."""
RUN = 4 * 10**21
POLICY = Policy(
    version=1,
    expires=NOW + 120 * DAY,
    notify_flop=10**20,
    licence_flop=10**21,
    max_device_licence_flop=10**21,
)
"""Small thresholds, so split runs are found at the scale of a test."""
SITES = {
    "dc-us": ("US", 39.04, -77.49, ("ashburn", "new-york", "chicago")),
    "dc-de": ("DE", 50.11, 8.68, ("frankfurt", "amsterdam", "paris")),
}


def key(name: str) -> SigningKey:
    """A fixed key per name."""
    return SigningKey.from_seed(hashlib.sha256(b"verify-scenario/" + name.encode()).digest())


REGISTRAR = key("registrar")


@dataclass
class Chip:
    """A chip in the town: its governor, its site, who runs it, and its run."""

    serial: str
    governor: Governor
    site: str
    lessee: SigningKey
    run: str = ""
    running: bool = True
    reporting: bool = True
    blind: bool = False
    """Shown governance without its directives (a tampered agent)."""
    renew_days: int = 7


@dataclass
class Town:
    """A regime with a real log, and helpers that act in it."""

    path: Path
    regime: Regime = field(default_factory=Regime)
    now: int = NOW
    chips: dict[str, Chip] = field(default_factory=dict)
    locations: list[LocationCheck] = field(default_factory=list)
    openings: dict[str, KycOpening] = field(default_factory=dict)
    net: Network = field(default_factory=Network.of)
    day: int = 0
    carriers: dict[str, SigningKey] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.regime.policy = POLICY
        self.signer = note.Signer.from_signing_key(ORIGIN, key("log"))
        self.log = TransparencyLog.open(f"sqlite:///{self.path / 'log.db'}", ORIGIN, self.signer)
        policy = {**RegistryRegulation().checks(), **licensing_policy(lambda: self.regime.c.root)}
        anchor = ActorKey(REGISTRAR.public, frozenset({"registrar"}), name="registrar")
        self.intake = EventLog(
            self.log,
            anchors=[anchor],
            clock=lambda: self.now,
            projector=RegistryProjector(),
            policy=policy,
        )
        self.licensing = self.regime.licensing_keys[0]
        self.maker = self.actor("acme", ["manufacturer"], "TW")
        self.cloud = self.actor("cloud", ["cloud"], "US")
        self.operators = {
            site: self.actor(site, ["datacentre"], place) for site, (place, *_) in SITES.items()
        }
        self.labs = {name: self.actor(name, ["lab"], "US") for name in ("lab-a", "lab-b")}
        self.inspector = self.actor("inspector", ["inspector"], "US")
        self.actor("licensing", ["licensing"], "US", signer=self.licensing)
        self.publisher = self.actor("publisher", ["publisher"], "US")
        for site, (place, lat, lon, _) in SITES.items():
            self.submit(
                self.event(
                    "facility.registered",
                    self.operators[site],
                    facility=site,
                    name=site,
                    jurisdiction=place,
                    latitude=lat,
                    longitude=lon,
                )
            )
        self.publish(self.regime.c.signed_policy(POLICY))

    def close(self) -> None:
        """Release the database."""
        self.log.close()

    # --- acting ------------------------------------------------------------------------------

    def submit(self, *events: Envelope) -> list[int]:
        """Submit events as one batch at the town's time."""
        return self.intake.submit_batch(list(events))

    def event(
        self, kind: str, signer: SigningKey, *cosigners: SigningKey, **fields: Any
    ) -> Envelope:
        """A registry event signed now."""
        return client.event(kind, signer, cosigners=cosigners, time=self.now, **fields)

    def actor(
        self,
        name: str,
        roles: list[str],
        place: str,
        *,
        owners: tuple[str, ...] | None = None,
        signer: SigningKey | None = None,
    ) -> SigningKey:
        """Register an actor with a verified KYC record naming its beneficial owners."""
        who = signer or key(name)
        record = KycRecord(
            key_id=who.key_id,
            entity=name,
            legal_name=f"{name} Ltd",
            jurisdiction=place,
            beneficial_owners=list(owners or (f"owners of {name}",)),
            documents=[IdentityDocument(kind="certificate", issuer="registry", number=name)],
        )
        opening = self.openings[who.key_id] = new_opening(record)
        self.submit(
            client.register_actor(REGISTRAR, who.public, name, roles, time=self.now),
            client.record_kyc(REGISTRAR, opening, "verified", time=self.now),
        )
        return who

    def publish(self, envelope: Envelope) -> None:
        """Append a signed governance document to the log."""
        self.submit(governance_event(envelope, self.publisher, self.now))

    def chip(self, serial: str, site: str = "dc-us", lessee: str = "lab-a") -> Chip:
        """Make a chip with a real governor, ship it to `site`, install and lease it."""
        place = SITES[site][0]
        element = MemorySecureElement(secrets(serial))
        governor = self.regime.device(
            serial,
            element=element,
            owner=lessee,
            jurisdiction=place,
            peak_flops=PEAK,
            observe=False,
        )
        operator, tenant = self.operators[site], self.labs[lessee]
        self.submit(
            client.manufacture(
                self.maker,
                serial=serial,
                model="Acme H1",
                jurisdiction="TW",
                spec=SPEC,
                device_key=governor.device_key,
                x25519_key=governor.x25519_public(),
                components=[("logic_die", f"{serial}-die"), ("hbm_stack", f"{serial}-hbm")],
                time=self.now,
            ),
            self.event(
                "chip.exported",
                self.maker,
                self.cloud,
                serial=serial,
                destination=place,
                consignee=self.cloud.key_id,
            ),
            self.event(
                "chip.installed",
                self.cloud,
                operator,
                serial=serial,
                facility=site,
                operator=operator.key_id,
            ),
            self.event(
                "chip.leased",
                self.cloud,
                tenant,
                serial=serial,
                lessee=tenant.key_id,
                until=self.now + 365 * DAY,
            ),
        )
        made = self.chips[serial] = Chip(serial, governor, site, tenant)
        governor.observe(self.regime.view(), self.now, self.now)
        return made

    def run(
        self, run_id: str, chips: list[Chip], flop: int = RUN, licensee: SigningKey | None = None
    ) -> None:
        """Issue and log a run licence for `chips`, then a first device licence for each."""
        pods = [self.regime.pod(c.governor) for c in chips]
        issued = issue_run_licence(
            run_id=run_id,
            licensee=(licensee or chips[0].lessee).key_id,
            flop_budget=flop,
            devices=pods,
            not_before=self.now,
            not_after=self.now + 100 * DAY,
            policy=POLICY,
            directives=self.regime.directives,
            book=self.regime.book,
            now=self.now,
        )
        self.regime.book.add_run(issued.document)
        envelope = sign_licence(issued.document, [self.licensing])
        self.submit(run_issued_event(envelope, self.licensing, self.now))
        for c in chips:
            c.run = run_id
            self.renew(c)

    def renew(self, c: Chip, budget: int = BUDGET, *, log: bool = True) -> Envelope:
        """The chip asks for a licence; the issuer issues it; the log holds it with its receipt."""
        request = c.governor.request_licence(self.now)
        licence = self.regime.issue(request, budget, c.run, self.now)
        c.governor.install_licence(licence, self.now)
        if log:
            receipt = parse_request(request).receipt
            self.submit(device_issued_event(licence, receipt, self.licensing, self.now))
        return licence

    def report(self, c: Chip, governor: Governor | None = None) -> int:
        """The chip signs a receipt; its facility's operator logs it; return its leaf."""
        receipt = (governor or c.governor).receipt(self.now)
        return self.submit(receipt_event(receipt, self.operators[c.site], self.now))[0]

    def pause(self, pause_id: str, days: int, scope: Scope | None = None) -> None:
        """Publish a pause in force now, and a resume `days` later is scheduled by `resume`."""
        envelope = self.regime.c.pause(
            pause_id, issued=self.now, effective_at=self.now, scope=scope
        )
        self.regime.directives.append(parse_directive(envelope))
        self.publish(envelope)

    def resume(self, resume_id: str, lifts: str) -> None:
        """Publish a resume of `lifts`, in force now."""
        envelope = self.regime.c.resume(
            resume_id, lifts=lifts, issued=self.now, effective_at=self.now
        )
        self.regime.directives.append(parse_directive(envelope))
        self.publish(envelope)

    def locate(
        self,
        serial: str,
        lat: float,
        lon: float,
        landmarks: tuple[str, ...],
        against: str,
        reference: str | None = None,
    ) -> LocationCheck:
        """Measure the chip (really at lat, lon) from `landmarks`; check it against `against`."""
        device = SigningKey.from_seed(secrets(serial).ed25519_seed)
        ledger, verified = NonceLedger(), []
        for name in landmarks:
            rtt = self.net.rtt_us(name, lat, lon)
            evidence = self.net.measure(name, serial, device, rtt, issued=self.now - 1)
            verified.append(
                verify_evidence(
                    evidence,
                    landmarks=self.net.landmarks,
                    device=serial,
                    device_key=device.public,
                    now=self.now,
                    ledger=ledger,
                )
            )
        verdict = check_location(verified, jurisdiction_outline(against))
        check = LocationCheck(serial, self.now, verdict, reference or f"{serial}@{self.now}")
        self.locations.append(check)
        return check

    def stock(self, serial: str) -> Chip:
        """Make a chip that stays in the maker's warehouse in TW (inspections prove it there)."""
        element = MemorySecureElement(secrets(serial))
        governor = self.regime.device(
            serial, element=element, jurisdiction="TW", peak_flops=PEAK, observe=False
        )
        self.submit(
            client.manufacture(
                self.maker,
                serial=serial,
                model="Acme H1",
                jurisdiction="TW",
                spec=SPEC,
                device_key=governor.device_key,
                x25519_key=governor.x25519_public(),
                components=[("logic_die", f"{serial}-die"), ("hbm_stack", f"{serial}-hbm")],
                time=self.now,
            )
        )
        made = self.chips[serial] = Chip(serial, governor, "", self.maker, running=False)
        made.reporting = False
        return made

    def inspect(self, serial: str, outcome: str = "present") -> int:
        """An inspector records a finding about the chip; return its leaf."""
        event = self.event("chip.inspected", self.inspector, serial=serial, outcome=outcome)
        return self.submit(event)[0]

    def move(self, c: Chip, site: str) -> list[int]:
        """End the lease, uninstall, re-export to the site's jurisdiction, install, lease again."""
        place = SITES[site][0]
        name = f"cloud-{place.lower()}"
        if name not in self.carriers:
            self.carriers[name] = self.actor(name, ["cloud"], place)
        carrier = self.carriers[name]
        operator = self.operators[site]
        leaves = self.submit(
            self.event("chip.lease_ended", c.lessee, serial=c.serial),
            self.event("chip.uninstalled", self.cloud, serial=c.serial),
            self.event(
                "chip.reexported",
                self.cloud,
                carrier,
                serial=c.serial,
                destination=place,
                consignee=carrier.key_id,
            ),
            self.event(
                "chip.installed",
                carrier,
                operator,
                serial=c.serial,
                facility=site,
                operator=operator.key_id,
            ),
            self.event(
                "chip.leased",
                carrier,
                c.lessee,
                serial=c.serial,
                lessee=c.lessee.key_id,
                until=self.now + 365 * DAY,
            ),
        )
        c.site = site
        return leaves

    def end(self, c: Chip, how: str) -> int:
        """The chip is destroyed (witnessed) or reported stolen; it stops reporting."""
        c.reporting = False
        if how == "stolen":
            return self.submit(self.event("chip.reported_stolen", c.lessee, serial=c.serial))[0]
        return self.submit(
            self.event("chip.lease_ended", c.lessee, serial=c.serial),
            self.event(
                "chip.destroyed",
                self.cloud,
                self.inspector,
                serial=c.serial,
                witness=self.inspector.key_id,
                method="shredded",
            ),
        )[1]

    # --- time ---------------------------------------------------------------------------------

    def days(self, count: int, work: int = DAILY) -> None:
        """Live `count` days: each running chip sees governance, works, reports, renews weekly."""
        for _ in range(count):
            self.day += 1
            self.now = NOW + self.day * DAY
            for c in self.chips.values():
                self.live(c, work)

    def live(self, c: Chip, work: int) -> None:
        """One day of one chip."""
        g = c.governor
        if not c.reporting:
            return
        view = self.regime.view()
        g.observe(replace(view, directives=()) if c.blind else view, self.now, self.now)
        if c.running:
            g.authorize(work, now=self.now)
        paused = g.effect(self.now).kind != "run"
        if c.run and not paused and self.day % c.renew_days == 0:
            self.renew(c)
        else:
            self.report(c)

    def site_of(self, c: Chip) -> tuple[float, float, tuple[str, ...]]:
        """Where the chip's facility is, and the landmarks near it."""
        _, lat, lon, near = SITES[c.site]
        return lat, lon, near

    # --- reading back ------------------------------------------------------------------------

    def history(self) -> History:
        """The log read back, with the location checks and the KYC openings."""
        entries = enumerate(self.log.entries(0, self.log.size))
        return read_history(entries, locations=self.locations, openings=self.openings)

    def params(self) -> Parameters:
        """The detectors' parameters under the town's policy."""
        return Parameters.from_policy(POLICY)


def clean_town(path: Path, chips: int = 3, days: int = 40) -> Town:
    """A clean history: `chips` chips in one run at dc-us, `days` days of honest work."""
    town = Town(path)
    made = [town.chip(f"gpu-{i:03d}") for i in range(chips)]
    town.run("run-1", made)
    town.days(days)
    return town
