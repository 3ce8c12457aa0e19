"""The registrar: registers actors, keeps their KYC openings private, and reveals them.

An opening is stored (table ``kyc_openings``) before the commitment it opens is
submitted, so no commitment ever reaches the log that the registrar cannot open. The
openings are not part of the projection: they are not in the log and replay cannot
rebuild them, so the registrar backs them up as it backs up its keys.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable

from sqlalchemy import Engine, insert, select

from pausebutton.crypto.keys import SigningKey, VerifyKey
from pausebutton.errors import ValidationError
from pausebutton.registry import client
from pausebutton.registry.actors import (
    ActorKycRecorded,
    CommitmentError,
    KycOpening,
    KycRecord,
    KycStatus,
    check_opening,
    new_opening,
)
from pausebutton.registry.records import ActorRecord
from pausebutton.registry.storage import DatabaseView
from pausebutton.registry.submission import EventLog
from pausebutton.store.db import write_transaction
from pausebutton.store.models import kyc_openings


class Registrar:
    """Registers actors through an intake, keeping each KYC opening in its database."""

    def __init__(
        self, intake: EventLog, key: SigningKey, clock: Callable[[], float] = time.time
    ) -> None:
        self.intake = intake
        self.key = key
        self.clock = clock

    def register(
        self,
        key: VerifyKey,
        name: str,
        roles: Iterable[str],
        record: KycRecord,
        status: KycStatus = "verified",
    ) -> list[int]:
        """Register `key` with `roles` and its KYC record, in one batch; return the indices."""
        if record.key_id != key.key_id:
            raise ValidationError(f"the KYC record is about {record.key_id[:16]}…, not this key")
        now = int(self.clock())
        opening = self._keep(record)
        return self.intake.submit_batch(
            [
                client.register_actor(self.key, key, name, roles, time=now),
                client.record_kyc(self.key, opening, status, time=now),
            ]
        )

    def record_kyc(self, record: KycRecord, status: KycStatus = "verified") -> int:
        """Publish a new commitment to `record` (and its status) for an actor; return its index."""
        opening = self._keep(record)
        event = client.record_kyc(self.key, opening, status, time=int(self.clock()))
        return self.intake.submit_batch([event])[0]

    def reveal(self, key_id: str) -> KycOpening:
        """The opening of the actor's current KYC commitment, for an authorised verifier."""
        return reveal_opening(self.intake.log.engine, key_id)

    def _keep(self, record: KycRecord) -> KycOpening:
        opening = new_opening(record)
        with write_transaction(self.intake.log.engine) as conn:
            conn.execute(
                insert(kyc_openings).values(
                    commitment=opening.commitment,
                    key_id=record.key_id,
                    opening=opening.model_dump_json(),
                    created=int(self.clock()),
                )
            )
        return opening


def _actor(engine: Engine, key_id: str) -> ActorRecord:
    with engine.connect() as conn:
        actor = DatabaseView(conn).get(ActorRecord, key_id)
    if not isinstance(actor, ActorRecord) or actor.kyc_commitment is None:
        raise CommitmentError(f"actor {key_id[:16]}… has no KYC commitment in the registry")
    return actor


def reveal_opening(engine: Engine, key_id: str) -> KycOpening:
    """The stored opening of the actor's current KYC commitment (CommitmentError if none)."""
    actor = _actor(engine, key_id)
    with engine.connect() as conn:
        row = conn.execute(
            select(kyc_openings.c.opening).where(kyc_openings.c.commitment == actor.kyc_commitment)
        ).first()
    if row is None:
        raise CommitmentError(f"the registrar holds no opening of {key_id[:16]}…'s commitment")
    return KycOpening.model_validate(json.loads(row.opening))


def verify_opening(engine: Engine, opening: KycOpening) -> ActorRecord:
    """Check an opening against the registry's current commitment for its actor.

    Raises CommitmentError when the actor has no commitment, when the opening does not
    open it, or when the record disagrees with the public fields in the log.
    """
    actor = _actor(engine, opening.record.key_id)
    public = ActorKycRecorded.model_validate(
        {
            "actor": actor.key_id,
            "entity": actor.entity,
            "legal_name": actor.legal_name,
            "jurisdiction": actor.jurisdiction,
            "status": actor.kyc_status,
            "commitment": actor.kyc_commitment,
        }
    )
    check_opening(public, opening)
    return actor
