"""A small supply chain built through the real intake, registry and regulation code."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pytest

from pausebutton.crypto import Envelope, SigningKey
from pausebutton.errors import ValidationError
from pausebutton.log.tlog import TransparencyLog
from pausebutton.registry import client
from pausebutton.registry.actors import IdentityDocument, KycOpening, KycRecord, new_opening
from pausebutton.registry.compliance import RegistryRegulation
from pausebutton.registry.pipeline import ActorKey
from pausebutton.registry.records import ChipRecord, LicenceRecord, Record
from pausebutton.registry.replay import Comparison, compare, digest, replay
from pausebutton.registry.state import RegistryProjector
from pausebutton.registry.storage import DatabaseView
from pausebutton.registry.submission import EventLog

ORIGIN = "registry.example/log"
NOW = 1_800_000_000
REGISTRAR = SigningKey.from_seed(hashlib.sha256(b"registrar").digest())

CONTROLLED = {
    "name": "Acme H1",
    "dense_tops_by_bits": {"8": 1979, "16": 989.5},
    "die_area_mm2": 814,
}
"""TPP 15832, PD 19.4: 3A090.a (like an H100 SXM)."""
UNCONTROLLED = {"name": "Acme E1", "dense_tops_by_bits": {"8": 100}, "die_area_mm2": 400}
"""TPP 800: not controlled."""


def key(name: str) -> SigningKey:
    """A fixed key per name."""
    return SigningKey.from_seed(hashlib.sha256(name.encode()).digest())


class World:
    """An authority's intake with the registry projector, and helpers to act in it."""

    def __init__(self, url: str, regulation: RegistryRegulation | None = None) -> None:
        self.url = url
        self.now = NOW
        self.log = TransparencyLog.open(url, origin=ORIGIN)
        anchor = ActorKey(REGISTRAR.public, frozenset({"registrar"}), name="registrar")
        self.intake = EventLog(
            self.log,
            anchors=[anchor],
            clock=lambda: self.now,
            projector=RegistryProjector(),
            policy=(regulation or RegistryRegulation()).checks(),
        )
        self.openings: dict[str, KycOpening] = {}

    def close(self) -> None:
        """Release the database."""
        self.log.close()

    def submit(self, *events: Envelope) -> list[int]:
        """Submit events as one batch."""
        return self.intake.submit_batch(list(events))

    def event(
        self, event_type: str, signer: SigningKey, *cosigners: SigningKey, **fields: Any
    ) -> Envelope:
        """Sign a registry event now."""
        return client.event(event_type, signer, cosigners=cosigners, time=self.now, **fields)

    def kyc(
        self, who: SigningKey, entity: str, jurisdiction: str, status: str = "verified"
    ) -> Envelope:
        """The registrar's KYC event for `who`, keeping the opening."""
        record = KycRecord(
            key_id=who.key_id,
            entity=entity,
            legal_name=f"{entity} Ltd",
            jurisdiction=jurisdiction,
            beneficial_owners=[f"owner of {entity}"],
            documents=[
                IdentityDocument(
                    kind="certificate_of_incorporation", issuer="registry", number=entity.upper()
                )
            ],
        )
        opening = new_opening(record)
        self.openings[who.key_id] = opening
        return client.record_kyc(REGISTRAR, opening, status, time=self.now)  # type: ignore[arg-type]

    def actor(
        self, name: str, roles: Iterable[str], jurisdiction: str = "US", status: str = "verified"
    ) -> SigningKey:
        """Register `name` with `roles` and a KYC record; return its key."""
        who = key(name)
        self.submit(
            client.register_actor(REGISTRAR, who.public, name, roles, time=self.now),
            self.kyc(who, name, jurisdiction, status),
        )
        return who

    def made(
        self,
        maker: SigningKey,
        serial: str,
        *,
        spec: dict[str, Any] | None = None,
        components: Sequence[tuple[str, str]] | None = None,
        jurisdiction: str = "TW",
        device: str | None = None,
    ) -> Envelope:
        """A ``chip.manufactured`` event (not submitted)."""
        return client.manufacture(
            maker,
            serial=serial,
            model="Acme H1",
            jurisdiction=jurisdiction,
            spec=spec or CONTROLLED,
            device_key=key(f"device {device or serial}").public,
            x25519_key=hashlib.sha256(f"x25519 {device or serial}".encode()).digest(),
            components=components
            or [("logic_die", f"{serial}-die"), ("hbm_stack", f"{serial}-hbm")],
            time=self.now,
        )

    def get(self, record_type: type[Record], key_value: str) -> Record | None:
        """Read a record from the live registry."""
        with self.log.engine.connect() as conn:
            return DatabaseView(conn).get(record_type, key_value)

    def chip(self, serial: str) -> ChipRecord:
        """The live record of a chip."""
        found = self.get(ChipRecord, serial)
        assert isinstance(found, ChipRecord), serial
        return found

    def licence(self, licence: str) -> LicenceRecord:
        """The live record of an export licence."""
        found = self.get(LicenceRecord, licence)
        assert isinstance(found, LicenceRecord), licence
        return found

    def digest(self) -> str:
        """The live registry's digest."""
        with self.log.engine.connect() as conn:
            return digest(conn)

    def replay_and_compare(self, url: str) -> Comparison:
        """Replay the whole log into the fresh database `url` and compare with the live one."""
        engine = replay(self.log, url)
        try:
            return compare(self.log.engine, engine)
        finally:
            engine.dispose()


def sqlite_url(path: Path, name: str) -> str:
    """A SQLite URL for a file in `path`."""
    return f"sqlite:///{path / name}"


def refused(
    world: World, match: str, *events: object, error: type[Exception] = ValidationError
) -> None:
    """Submit; expect a refusal matching `match` that changes neither the log nor the registry."""
    size, before = world.log.size, world.digest()
    with pytest.raises(error, match=match):
        world.submit(*events)  # type: ignore[arg-type]
    assert world.log.size == size
    assert world.digest() == before
