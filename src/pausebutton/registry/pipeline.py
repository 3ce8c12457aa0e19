"""The validation pipeline: pure checks an event passes before the log may append it.

`validate` runs the stages in this order; each raises a typed error and changes nothing:

1. format: `parse_event` (FormatError, or SignatureError for a badly encoded signature);
2. type: the type is registered (ValidationError) and its payload fits (FormatError);
3. authentication: the actor and every required co-signer are known, unrevoked keys that
   signed, and no other key signed (SignatureError);
4. freshness: the event's time is within `max_skew` seconds of `now` (ReplayError);
5. replay: the actor has not used the nonce before (ReplayError);
6. authorisation: the actor holds a role the type allows (ValidationError);
7. policy: the type's own rules, then the regime's policy checks (ValidationError).

The nonce check here is a fast refusal; the guarantee is the log store's unique index on
(actor, nonce), which records the nonce in the same transaction that appends the event.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from pydantic import BaseModel

from pausebutton.crypto.envelope import Envelope, verify_threshold
from pausebutton.crypto.keys import VerifyKey
from pausebutton.errors import ReplayError, SignatureError, ValidationError
from pausebutton.registry.events import (
    ACTOR_REGISTERED,
    ANY_ROLE,
    EVENT_TYPES,
    EventType,
    EventTypes,
    SignedEvent,
    parse_event,
)

DEFAULT_MAX_SKEW = 300
"""Seconds an event's time may differ from the validator's clock, either way."""


@dataclass(frozen=True)
class ActorKey:
    """A registered actor's public key, its roles, and whether it has been revoked."""

    key: VerifyKey
    roles: frozenset[str]
    revoked: bool = False
    name: str = ""

    @property
    def key_id(self) -> str:
        """The key id of `key`."""
        return self.key.key_id


class KeyDirectory(Protocol):
    """Where the pipeline looks up actors' keys."""

    def lookup(self, key_id: str) -> ActorKey | None:
        """Return the key registered under `key_id`, or None."""


class MutableKeyDirectory(KeyDirectory, Protocol):
    """A key directory that registrations can be applied to."""

    def add(self, entry: ActorKey) -> None:
        """Register `entry`, raising ValidationError if its key id is taken."""


class NonceLedger(Protocol):
    """Where the pipeline asks whether an actor has used a nonce before."""

    def seen(self, actor: str, nonce: str) -> bool:
        """Return True if `actor` has already used `nonce`."""


@dataclass(frozen=True)
class PolicyContext:
    """What a policy check may consult: the clock, the directory, the actor, the payload."""

    now: int
    directory: KeyDirectory
    actor: ActorKey
    payload: BaseModel
    state: object = None


PolicyCheck = Callable[[SignedEvent, PolicyContext], None]
"""A rule an event must pass; it raises ValidationError to refuse and changes nothing."""

Policy = Mapping[str, Sequence[PolicyCheck]]
"""The regime's policy checks, by event type name."""


def resolve_type(event: SignedEvent, types: EventTypes) -> tuple[EventType[Any], BaseModel]:
    """Find the event's type and validate its payload (ValidationError, FormatError)."""
    event_type = types.get(event.body.type)
    return event_type, event_type.parse_payload(event)


def authenticate(
    event: SignedEvent, event_type: EventType[Any], payload: BaseModel, directory: KeyDirectory
) -> ActorKey:
    """Check that exactly the actor and the required co-signers signed; return the actor."""
    actor = event.body.actor
    required = [actor, *(k for k in event_type.required_cosigners(payload) if k != actor)]
    keys: dict[str, VerifyKey] = {}
    entries: list[ActorKey] = []
    for key_id in required:
        role = "actor" if key_id == actor else "co-signer"
        entry = directory.lookup(key_id)
        if entry is None:
            raise SignatureError(f"{event.body.type}: {role} {key_id[:16]}… is not registered")
        if entry.revoked:
            raise SignatureError(f"{event.body.type}: {role} key {key_id[:16]}… is revoked")
        if entry.key_id != key_id:
            raise SignatureError(f"directory returned the wrong key for {key_id[:16]}…")
        if key_id not in event.signers:
            raise SignatureError(f"{event.body.type}: not signed by its {role} {key_id[:16]}…")
        keys[key_id] = entry.key
        entries.append(entry)
    extra = sorted(event.signers - keys.keys())
    if extra:
        raise SignatureError(
            f"{event.body.type}: signed by {extra[0][:16]}…, which the event type does not call for"
        )
    verify_threshold(event.envelope, keys, len(keys))
    return entries[0]


def check_freshness(event: SignedEvent, now: int, max_skew: int = DEFAULT_MAX_SKEW) -> None:
    """Refuse an event whose time is more than `max_skew` seconds from `now` (ReplayError)."""
    if max_skew < 0:
        raise ValueError(f"max_skew must be at least 0, got {max_skew}")
    delta = event.body.time - now
    if abs(delta) > max_skew:
        where = "ahead of" if delta > 0 else "behind"
        raise ReplayError(
            f"{event.body.type}: event time {event.body.time} is {abs(delta)} s {where} "
            f"the validator's clock ({now}); the window is ±{max_skew} s"
        )


def check_nonce(event: SignedEvent, nonces: NonceLedger) -> None:
    """Refuse an event whose actor has used its nonce before (ReplayError)."""
    if nonces.seen(event.body.actor, event.body.nonce):
        raise ReplayError(
            f"{event.body.type}: actor {event.body.actor[:16]}… already used nonce "
            f"{event.body.nonce!r}"
        )


def authorise(event: SignedEvent, event_type: EventType[Any], actor: ActorKey) -> None:
    """Refuse an actor that holds none of the roles the event type allows (ValidationError)."""
    if ANY_ROLE in event_type.roles or actor.roles & event_type.roles:
        return
    held = ", ".join(sorted(actor.roles)) or "none"
    allowed = ", ".join(sorted(event_type.roles)) or "none"
    raise ValidationError(
        f"actor {actor.key_id[:16]}… (roles: {held}) may not submit {event_type.name} "
        f"(allowed roles: {allowed})"
    )


def check_policy(event: SignedEvent, checks: Iterable[PolicyCheck], context: PolicyContext) -> None:
    """Run each policy check in turn; the first to refuse raises ValidationError."""
    for check in checks:
        check(event, context)


def validate(
    data: bytes | str | Envelope | SignedEvent,
    *,
    directory: KeyDirectory,
    nonces: NonceLedger,
    now: int,
    policy: Policy | None = None,
    types: EventTypes = EVENT_TYPES,
    max_skew: int = DEFAULT_MAX_SKEW,
    state: object = None,
) -> SignedEvent:
    """Run every stage in order and return the event, or raise the first stage's error.

    A `SignedEvent` or `Envelope` is re-parsed from its bytes, so what is validated is
    always exactly what the log will store.
    """
    if isinstance(data, SignedEvent):
        data = data.canonical
    elif isinstance(data, Envelope):
        data = data.to_bytes()
    event = parse_event(data)
    event_type, payload = resolve_type(event, types)
    actor = authenticate(event, event_type, payload, directory)
    check_freshness(event, now, max_skew)
    check_nonce(event, nonces)
    authorise(event, event_type, actor)
    context = PolicyContext(now=now, directory=directory, actor=actor, payload=payload, state=state)
    check_policy(event, event_type.checks, context)
    check_policy(event, (policy or {}).get(event_type.name, ()), context)
    return event


def apply_registration(event: SignedEvent, directory: MutableKeyDirectory) -> ActorKey:
    """Add the key an already validated ``actor.registered`` event registers; return it."""
    if event.body.type != ACTOR_REGISTERED.name:
        raise ValidationError(f"apply_registration needs actor.registered, got {event.body.type}")
    payload = ACTOR_REGISTERED.parse_payload(event)
    entry = ActorKey(key=payload.verify_key(), roles=frozenset(payload.roles), name=payload.name)
    directory.add(entry)
    return entry


class InMemoryKeyDirectory:
    """A key directory held in a dict, for tests, the demo and tools."""

    def __init__(self, entries: Iterable[ActorKey] = ()) -> None:
        self._entries: dict[str, ActorKey] = {}
        for entry in entries:
            self.add(entry)

    def lookup(self, key_id: str) -> ActorKey | None:
        """Return the key registered under `key_id`, or None."""
        return self._entries.get(key_id)

    def add(self, entry: ActorKey) -> None:
        """Register `entry`, raising ValidationError if its key id is taken."""
        if entry.key_id in self._entries:
            raise ValidationError(f"key {entry.key_id[:16]}… is already registered")
        self._entries[entry.key_id] = entry

    def revoke(self, key_id: str) -> None:
        """Mark a registered key revoked, raising ValidationError if it is unknown."""
        self._entries[key_id] = replace(_lookup(self, key_id), revoked=True)

    def __len__(self) -> int:
        return len(self._entries)


class InMemoryNonceLedger:
    """A nonce ledger held in a set, for tests, the demo and tools."""

    def __init__(self) -> None:
        self._seen: set[tuple[str, str]] = set()

    def seen(self, actor: str, nonce: str) -> bool:
        """Return True if `actor` has already used `nonce`."""
        return (actor, nonce) in self._seen

    def record(self, actor: str, nonce: str) -> None:
        """Record a nonce as used, raising ReplayError if it already was."""
        if (actor, nonce) in self._seen:
            raise ReplayError(f"actor {actor[:16]}… already used nonce {nonce!r}")
        self._seen.add((actor, nonce))


def _lookup(directory: KeyDirectory, key_id: str) -> ActorKey:
    entry = directory.lookup(key_id)
    if entry is None:
        raise ValidationError(f"key {key_id[:16]}… is not registered")
    return entry
