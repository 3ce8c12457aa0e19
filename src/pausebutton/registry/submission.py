"""Submitting events: validate each through the pipeline, then append all that pass, atomically.

This is the I/O shell around the pure pipeline: the key directory and the nonce ledger are
read from the database inside the same write transaction that appends, so a check and the
append it allows can never be separated by another writer.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from sqlalchemy import Connection, bindparam, insert, select
from sqlalchemy.exc import IntegrityError

from pausebutton.crypto.envelope import Envelope
from pausebutton.crypto.keys import VerifyKey
from pausebutton.errors import Error, ReplayError, ValidationError
from pausebutton.log.proofs import InclusionBundle
from pausebutton.log.tlog import TransparencyLog
from pausebutton.registry.events import ACTOR_REGISTERED, EVENT_TYPES, EventTypes, SignedEvent
from pausebutton.registry.pipeline import (
    DEFAULT_MAX_SKEW,
    ActorKey,
    Policy,
    apply_registration,
    validate,
)
from pausebutton.store.db import write_transaction
from pausebutton.store.models import actor_keys, events

Submission = bytes | str | Envelope | SignedEvent
MAX_SUBMISSION_BATCH = 10_000

# Built once: SQLAlchemy then reuses the compiled statements for every event.
_KEY_BY_ID = select(actor_keys).where(actor_keys.c.key_id == bindparam("key_id"))
_NONCE_USED = select(events.c.idx).where(
    events.c.actor == bindparam("actor"), events.c.nonce == bindparam("nonce")
)


class DatabaseKeyDirectory:
    """Actors' keys: fixed trust anchors, plus those registered in the log."""

    def __init__(self, conn: Connection, anchors: Iterable[ActorKey] = ()) -> None:
        self._conn = conn
        self._anchors = {a.key_id: a for a in anchors}
        self.added: list[ActorKey] = []
        self._added_by_id: dict[str, ActorKey] = {}
        # Each key is read once per batch; the batch validates against one view of it.
        self._read: dict[str, ActorKey | None] = {}

    def lookup(self, key_id: str) -> ActorKey | None:
        """Return the key registered under `key_id` (anchors first), or None."""
        found = self._anchors.get(key_id) or self._added_by_id.get(key_id)
        if found is not None:
            return found
        if key_id in self._read:
            return self._read[key_id]
        row = self._conn.execute(_KEY_BY_ID, {"key_id": key_id}).first()
        self._read[key_id] = (
            None
            if row is None
            else ActorKey(
                key=VerifyKey.from_base64(row.public_key),
                roles=frozenset(json.loads(row.roles)),
                revoked=bool(row.revoked),
                name=str(row.name),
            )
        )
        return self._read[key_id]

    def add(self, entry: ActorKey) -> None:
        """Stage a registration, written when the batch's entries are appended."""
        if self.lookup(entry.key_id) is not None:
            raise ValidationError(f"key {entry.key_id[:16]}… is already registered")
        self.added.append(entry)
        self._added_by_id[entry.key_id] = entry


class DatabaseNonceLedger:
    """Nonces already used, from the events table plus those earlier in this batch."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._batch: set[tuple[str, str]] = set()

    def seen(self, actor: str, nonce: str) -> bool:
        """Return True if `actor` has already used `nonce`."""
        if (actor, nonce) in self._batch:
            return True
        return self._conn.execute(_NONCE_USED, {"actor": actor, "nonce": nonce}).first() is not None

    def record(self, actor: str, nonce: str) -> None:
        """Mark a nonce used by an event of the batch being validated."""
        self._batch.add((actor, nonce))


class ProjectorBatch(Protocol):
    """A projection's view of one batch, inside the batch's write transaction."""

    @property
    def state(self) -> object:
        """What the batch's events are validated against (`PolicyContext.state`)."""

    def apply(self, event: SignedEvent) -> None:
        """Stage an accepted event, so later events of the batch see its effects."""

    def finish(self, first_index: int) -> None:
        """Write what the batch staged; the entries were appended from `first_index`."""


class Projector(Protocol):
    """A projection of the log that is updated in the same transaction as each append."""

    def begin(self, conn: Connection, items: Sequence[Submission]) -> ProjectorBatch:
        """Open a batch of `items` on `conn`, the write transaction that will append it.

        The items are not validated yet; a projector may only use them to read ahead.
        """


class EventLog:
    """The authority's event intake: only events that pass all three stages reach the log.

    A `projector` sees each batch inside its append transaction: events are validated
    against its state, and the projection commits or rolls back with the entries.
    """

    def __init__(
        self,
        log: TransparencyLog,
        *,
        anchors: Iterable[ActorKey] = (),
        policy: Policy | None = None,
        types: EventTypes = EVENT_TYPES,
        max_skew: int = DEFAULT_MAX_SKEW,
        clock: Callable[[], float] = time.time,
        projector: Projector | None = None,
    ) -> None:
        self.log = log
        self.projector = projector
        self.anchors = tuple(anchors)
        self.policy = policy
        self.types = types
        self.max_skew = max_skew
        self.clock = clock

    def submit(self, item: Submission) -> InclusionBundle:
        """Validate and append one event; return its receipt (index, proof, checkpoint)."""
        (index,) = self.submit_batch([item])
        return self.log.inclusion_bundle(index)

    def submit_batch(self, items: Sequence[Submission]) -> list[int]:
        """Validate every event, then append them all in one transaction; return indices.

        If any event is refused, nothing is appended and the error names the item.
        """
        if not items:
            raise ValidationError("nothing to submit: the batch is empty")
        if len(items) > MAX_SUBMISSION_BATCH:
            raise ValidationError(f"batch of {len(items)} events exceeds {MAX_SUBMISSION_BATCH}")
        now = int(self.clock())
        try:
            with write_transaction(self.log.engine) as conn:
                batch = None if self.projector is None else self.projector.begin(conn, items)
                directory = DatabaseKeyDirectory(conn, self.anchors)
                nonces = DatabaseNonceLedger(conn)
                accepted = [
                    self._check(i, item, directory, nonces, now, batch)
                    for i, item in enumerate(items)
                ]
                first = self.log.append_in(conn, [e.canonical for e in accepted])
                _index_events(conn, first, accepted, directory)
                if batch is not None:
                    batch.finish(first)
        except IntegrityError as exc:
            # A concurrent writer used the same nonce or registered the same key first.
            raise ReplayError(f"refused by a uniqueness check: {exc.orig}") from None
        return list(range(first, first + len(accepted)))

    def _check(
        self,
        position: int,
        item: Submission,
        directory: DatabaseKeyDirectory,
        nonces: DatabaseNonceLedger,
        now: int,
        batch: ProjectorBatch | None,
    ) -> SignedEvent:
        try:
            event = validate(
                item,
                directory=directory,
                nonces=nonces,
                now=now,
                policy=self.policy,
                types=self.types,
                max_skew=self.max_skew,
                state=None if batch is None else batch.state,
            )
            nonces.record(event.body.actor, event.body.nonce)
            if event.body.type == ACTOR_REGISTERED.name:
                apply_registration(event, directory)
            if batch is not None:
                batch.apply(event)
        except Error as exc:
            raise type(exc)(f"event {position}: {exc}") from None
        return event


def _index_events(
    conn: Connection, first: int, accepted: Sequence[SignedEvent], directory: DatabaseKeyDirectory
) -> None:
    conn.execute(
        insert(events),
        [
            {
                "idx": first + i,
                "type": e.body.type,
                "actor": e.body.actor,
                "nonce": e.body.nonce,
                "time": e.body.time,
            }
            for i, e in enumerate(accepted)
        ],
    )
    if not directory.added:
        return
    registered_at = {
        ACTOR_REGISTERED.parse_payload(e).verify_key().key_id: first + i
        for i, e in enumerate(accepted)
        if e.body.type == ACTOR_REGISTERED.name
    }
    conn.execute(
        insert(actor_keys),
        [
            {
                "key_id": a.key_id,
                "public_key": a.key.to_base64(),
                "name": a.name,
                "roles": json.dumps(sorted(a.roles)),
                "revoked": a.revoked,
                "registered_at": registered_at[a.key_id],
            }
            for a in directory.added
        ],
    )
