"""The example events of docs/registry.md: one chip's life, with fixed keys, times and nonces.

Run ``python -m tests.registry.examples`` to print the documented blocks;
`test_docs.py` checks the page against them and submits the story through the intake.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

from pausebutton.crypto import Envelope, SigningKey
from pausebutton.registry import client
from pausebutton.registry.actors import IdentityDocument, KycOpening, KycRecord
from tests.registry.world import CONTROLLED, NOW, REGISTRAR

DAY = 86400


def _key(name: str) -> SigningKey:
    return SigningKey.from_seed(hashlib.sha256(f"example {name}".encode()).digest())


MAKER, DIST, DC, LAB = _key("maker"), _key("distributor"), _key("dc"), _key("lab")
INSPECTOR, BIS, CN, SG = _key("inspector"), _key("bis"), _key("cn"), _key("sg")
DEVICE = _key("device")
ACTORS = [  # name, key, roles, jurisdiction
    ("Acme Semiconductor", MAKER, ["manufacturer"], "TW"),
    ("Formosa Distribution", DIST, ["distributor"], "TW"),
    ("Taipei Compute", DC, ["datacentre"], "TW"),
    ("Example Lab", LAB, ["lab"], "TW"),
    ("Chip Inspectorate", INSPECTOR, ["inspector"], "TW"),
    ("Export Authority", BIS, ["export_authority"], "US"),
    ("Shanghai Cloud", CN, ["cloud", "datacentre"], "CN"),
    ("Lion City Compute", SG, ["cloud", "datacentre"], "SG"),
]


def opening(name: str, key: SigningKey, jurisdiction: str) -> KycOpening:
    """The KYC opening of an example actor (a fixed salt, for reproducible examples only)."""
    entity = name.lower().replace(" ", "-")
    record = KycRecord(
        key_id=key.key_id,
        entity=entity,
        legal_name=f"{name} Ltd",
        jurisdiction=jurisdiction,
        beneficial_owners=[f"Owner of {name}"],
        documents=[
            IdentityDocument(
                kind="certificate_of_incorporation",
                issuer="registry",
                number=hashlib.sha256(entity.encode()).hexdigest()[:8],
            )
        ],
    )
    salt = hashlib.sha256(f"salt {entity}".encode()).hexdigest()
    return KycOpening(record=record, salt=salt)


class _Story:
    def __init__(self) -> None:
        self.time = NOW
        self.count = 0

    def nonce(self) -> str:
        self.count += 1
        return f"example-nonce-{self.count:04d}"

    def event(
        self, kind: str, signer: SigningKey, *cosigners: SigningKey, **fields: Any
    ) -> Envelope:
        self.time += 60
        return client.event(
            kind, signer, cosigners=cosigners, time=self.time, nonce=self.nonce(), **fields
        )


def story() -> Iterator[tuple[str | None, Envelope]]:
    """Each event of the story, with the docs marker of the ones the page shows."""
    s = _Story()
    for i, (name, key, roles, jurisdiction) in enumerate(ACTORS):
        s.time += 60
        shown = i == 0
        yield (
            ("actor.registered" if shown else None),
            client.register_actor(REGISTRAR, key.public, name, roles, time=s.time, nonce=s.nonce()),
        )
        kyc = client.record_kyc(
            REGISTRAR, opening(name, key, jurisdiction), time=s.time, nonce=s.nonce()
        )
        yield ("actor.kyc_recorded" if shown else None), kyc
    yield (
        "facility.registered",
        s.event(
            "facility.registered",
            DC,
            facility="tpe-1",
            name="Taipei One",
            jurisdiction="TW",
            latitude=25.0330,
            longitude=121.5654,
        ),
    )
    serial = "ACME-H1-000001"
    for number, marker in ((serial, "chip.manufactured"), ("ACME-H1-000002", None)):
        s.time += 60
        yield (
            marker,
            client.manufacture(
                MAKER,
                serial=number,
                model="Acme H1",
                jurisdiction="TW",
                spec=CONTROLLED,
                device_key=(DEVICE if marker else _key("device 2")).public,
                x25519_key=hashlib.sha256(f"x25519 {number}".encode()).digest(),
                components=[
                    ("logic_die", f"TSMC-{number}-D0"),
                    ("hbm_stack", f"HBM-{number}-0"),
                    ("hbm_stack", f"HBM-{number}-1"),
                ],
                time=s.time,
                nonce=s.nonce(),
            ),
        )
    yield (
        "chip.reported_lost",
        s.event(
            "chip.reported_lost",
            MAKER,
            serial="ACME-H1-000002",
            details="missing at the packaging line",
        ),
    )
    yield (
        "chip.transferred",
        s.event("chip.transferred", MAKER, DIST, serial=serial, buyer=DIST.key_id),
    )
    yield (
        "chip.installed",
        s.event("chip.installed", DIST, DC, serial=serial, facility="tpe-1", operator=DC.key_id),
    )
    yield (
        "chip.leased",
        s.event("chip.leased", DIST, LAB, serial=serial, lessee=LAB.key_id, until=NOW + 30 * DAY),
    )
    yield "chip.lease_ended", s.event("chip.lease_ended", LAB, serial=serial)
    yield "chip.uninstalled", s.event("chip.uninstalled", DIST, serial=serial)
    yield (
        "export.licensed",
        s.event(
            "export.licensed",
            BIS,
            licence="EA-2027-000042",
            exporter=DIST.key_id,
            consignee=CN.key_id,
            destination="CN",
            eccn="3A090.a",
            quantity=10,
            expires=NOW + 180 * DAY,
        ),
    )
    yield (
        "chip.exported",
        s.event(
            "chip.exported",
            DIST,
            CN,
            serial=serial,
            destination="CN",
            consignee=CN.key_id,
            licence="EA-2027-000042",
        ),
    )
    yield (
        "chip.reexported",
        s.event("chip.reexported", CN, SG, serial=serial, destination="SG", consignee=SG.key_id),
    )
    yield (
        "chip.reported_stolen",
        s.event("chip.reported_stolen", SG, serial=serial, details="taken from a loading bay"),
    )
    yield (
        "chip.recovered",
        s.event(
            "chip.recovered",
            SG,
            INSPECTOR,
            serial=serial,
            jurisdiction="SG",
            inspector=INSPECTOR.key_id,
        ),
    )
    yield (
        "chip.inspected",
        s.event(
            "chip.inspected",
            INSPECTOR,
            serial=serial,
            outcome="present",
            report=hashlib.sha256(b"inspection report").hexdigest(),
        ),
    )
    yield (
        "chip.destroyed",
        s.event(
            "chip.destroyed",
            SG,
            INSPECTOR,
            serial=serial,
            witness=INSPECTOR.key_id,
            method="shredded",
        ),
    )


def pretty(envelope: Envelope) -> str:
    """An event as the page shows it: its stored (RFC 8785) form, indented for reading."""
    return json.dumps(json.loads(envelope.to_bytes()), indent=2, ensure_ascii=False)


if __name__ == "__main__":
    for marker, envelope in story():
        if marker is not None:
            print(f"<!-- example {marker} -->\n```json\n{pretty(envelope)}\n```\n")
