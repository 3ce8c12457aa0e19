"""Actors and KYC: commitments bind the registrar to a record it can open, and only that one."""

from __future__ import annotations

import hashlib

import pytest

from pausebutton.crypto import canonical_bytes
from pausebutton.errors import ValidationError
from pausebutton.log.tlog import TransparencyLog
from pausebutton.registry import client
from pausebutton.registry.actors import (
    CommitmentError,
    IdentityDocument,
    KycOpening,
    KycRecord,
    commit,
    new_opening,
    open_commitment,
)
from pausebutton.registry.pipeline import ActorKey
from pausebutton.registry.records import ActorRecord
from pausebutton.registry.registrar import Registrar, verify_opening
from pausebutton.registry.submission import EventLog
from tests.registry.conftest import Cast
from tests.registry.world import NOW, ORIGIN, REGISTRAR, World, key, refused


def _record(who: str = "acme", owner: str = "Ada Owner") -> KycRecord:
    return KycRecord(
        key_id=key(who).key_id,
        entity=who,
        legal_name="Acme Fabrication Ltd",
        jurisdiction="TW",
        beneficial_owners=[owner],
        documents=[
            IdentityDocument(kind="certificate_of_incorporation", issuer="MOEA", number="12345678")
        ],
    )


def test_commitment_is_sha256_of_canonical_record_and_salt() -> None:
    record, salt = _record(), bytes(range(32))
    expected = hashlib.sha256(canonical_bytes(record.model_dump(mode="json")) + salt).hexdigest()
    assert commit(record, salt) == expected
    open_commitment(expected, record, salt)


def test_kyc_commitment_that_does_not_open_is_refused(world: World, cast: Cast) -> None:
    opening = world.openings[cast.maker.key_id]
    assert verify_opening(world.log.engine, opening).entity == "acme"
    salt = bytes.fromhex(opening.salt)
    other_owner = opening.record.model_copy(update={"beneficial_owners": ["Someone Else"]})
    with pytest.raises(CommitmentError, match="does not open commitment"):
        verify_opening(world.log.engine, KycOpening(record=other_owner, salt=opening.salt))
    with pytest.raises(CommitmentError, match="does not open commitment"):
        open_commitment(opening.commitment, opening.record, bytes(32))
    with pytest.raises(CommitmentError, match="salt is 32 bytes, got 31"):
        open_commitment(opening.commitment, opening.record, salt[:31])


def test_opening_of_a_record_the_log_contradicts_is_refused(world: World, cast: Cast) -> None:
    opening = world.openings[cast.maker.key_id]
    record = opening.record.model_copy(update={"jurisdiction": "US"})
    forged = KycOpening(record=record, salt=opening.salt)
    # A registrar that publishes fields other than the ones it committed to is caught.
    world.submit(
        client.event(
            "actor.kyc_recorded",
            REGISTRAR,
            time=world.now,
            actor=cast.maker.key_id,
            entity="acme",
            legal_name="acme Ltd",
            jurisdiction="TW",
            status="verified",
            commitment=forged.commitment,
        )
    )
    with pytest.raises(CommitmentError, match="KYC record says jurisdiction 'US', the log says"):
        verify_opening(world.log.engine, forged)


def test_registrar_keeps_the_opening_and_reveals_it(world: World) -> None:
    registrar = Registrar(world.intake, REGISTRAR, clock=lambda: world.now)
    registrar.register(key("acme").public, "Acme", ["manufacturer"], _record())
    opening = registrar.reveal(key("acme").key_id)
    assert opening.record == _record()
    actor = verify_opening(world.log.engine, opening)
    assert (actor.kyc_status, actor.legal_name) == ("verified", "Acme Fabrication Ltd")


def test_registrar_refuses_a_record_about_another_key(world: World) -> None:
    registrar = Registrar(world.intake, REGISTRAR, clock=lambda: world.now)
    with pytest.raises(ValidationError, match="the KYC record is about"):
        registrar.register(key("other").public, "Other", ["lab"], _record())


def test_kyc_for_unregistered_actor_is_refused(world: World) -> None:
    refused(world, "actor .* is not registered", world.kyc(key("ghost"), "ghost", "TW"))


def test_kyc_from_a_non_registrar_is_refused(world: World, cast: Cast) -> None:
    own = client.event(
        "actor.kyc_recorded",
        cast.lab,
        time=world.now,
        actor=cast.lab.key_id,
        entity="lab",
        legal_name="Lab",
        jurisdiction="TW",
        status="verified",
        commitment="0" * 64,
    )
    refused(world, "may not submit actor.kyc_recorded", own)


def test_suspended_actor_cannot_receive_chips(world: World, cast: Cast) -> None:
    world.submit(world.made(cast.maker, "S1"), world.kyc(cast.lab, "lab", "TW", "suspended"))
    actor = world.get(ActorRecord, cast.lab.key_id)
    assert isinstance(actor, ActorRecord)
    assert actor.kyc_status == "suspended"
    sale = world.event("chip.transferred", cast.maker, cast.lab, serial="S1", buyer=cast.lab.key_id)
    refused(world, r"buyer .* has no verified KYC record \(status: suspended\)", sale)


def test_registry_events_without_the_projection_are_refused(db_url: str) -> None:
    log = TransparencyLog.open(db_url, origin=ORIGIN)
    try:
        plain = EventLog(
            log, anchors=[ActorKey(REGISTRAR.public, frozenset({"registrar"}))], clock=lambda: NOW
        )
        plain.submit_batch(
            [
                client.register_actor(
                    REGISTRAR, key("acme").public, "acme", ["manufacturer"], time=NOW
                )
            ]
        )
        with pytest.raises(ValidationError, match="validated against the registry projection"):
            plain.submit_batch([client.record_kyc(REGISTRAR, new_opening(_record()), time=NOW)])
        assert log.size == 1
    finally:
        log.close()


def test_projection_catches_up_with_events_appended_without_it(db_url: str) -> None:
    log = TransparencyLog.open(db_url, origin=ORIGIN)
    try:
        plain = EventLog(
            log, anchors=[ActorKey(REGISTRAR.public, frozenset({"registrar"}))], clock=lambda: NOW
        )
        plain.submit_batch(
            [
                client.register_actor(
                    REGISTRAR, key("acme").public, "acme", ["manufacturer"], time=NOW
                )
            ]
        )
    finally:
        log.close()
    world = World(db_url)
    try:
        world.submit(world.kyc(key("acme"), "acme", "TW"))
        actor = world.get(ActorRecord, key("acme").key_id)
        assert isinstance(actor, ActorRecord)
        assert actor.registered_at == 0
        assert actor.kyc_at == 1
    finally:
        world.close()
