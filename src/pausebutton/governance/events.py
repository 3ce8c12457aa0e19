"""Governance documents as log events: every root, policy, pause, resume and revocation list.

Each published document is appended to the transparency log as an event of type
``governance.<kind>`` whose payload is the signed governance envelope itself, submitted by
the authority's publication service key (actor role ``publisher``). So the log holds the
whole history of the rules and of every pause, and anyone holding it can replay it.

Two layers of checks, by design:

- the registered type's own `checks` refuse anything malformed: an envelope of the wrong
  payload type for the event type, or one that does not parse as its document;
- trust (signatures against the root, versions, the pause rules) depends on the governance
  state the log already holds, so it comes from a closure: `governance_policy(check)`
  turns an admission function (``acceptance.admit`` bound to a view) into the regime
  policy mapping that `registry.submission.EventLog(policy=...)` runs inside the append
  transaction. The publisher always passes it; an auditor replaying the log re-runs the
  same admission over the state replayed so far (`acceptance.replay`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, cast

from pydantic import ValidationError as PydanticValidationError

from pausebutton.crypto.envelope import Envelope
from pausebutton.crypto.keys import SigningKey
from pausebutton.errors import Error, FormatError, ValidationError
from pausebutton.governance._common import describe_error
from pausebutton.governance.directives import (
    PAUSE_PAYLOAD_TYPE,
    RESUME_PAYLOAD_TYPE,
    parse_directive,
)
from pausebutton.governance.policy import POLICY_PAYLOAD_TYPE, parse_policy
from pausebutton.governance.revocations import REVOCATIONS_PAYLOAD_TYPE, parse_revocations
from pausebutton.governance.root import ROOT_PAYLOAD_TYPE, parse_root
from pausebutton.registry.events import (
    EventType,
    SignedEvent,
    make_event,
    parse_event,
    register,
)
from pausebutton.registry.pipeline import Policy, PolicyCheck, PolicyContext

PUBLISHER_ROLE = "publisher"
"""The actor role of the authority's publication service, the only submitter of these events."""

EVENT_FOR_PAYLOAD: dict[str, str] = {
    ROOT_PAYLOAD_TYPE: "governance.root",
    POLICY_PAYLOAD_TYPE: "governance.policy",
    PAUSE_PAYLOAD_TYPE: "governance.pause",
    RESUME_PAYLOAD_TYPE: "governance.resume",
    REVOCATIONS_PAYLOAD_TYPE: "governance.revocations",
}
"""The event type that carries each kind of governance envelope."""

PAYLOAD_FOR_EVENT: dict[str, str] = {event: kind for kind, event in EVENT_FOR_PAYLOAD.items()}

_PARSERS: dict[str, Callable[[Envelope], object]] = {
    ROOT_PAYLOAD_TYPE: parse_root,
    POLICY_PAYLOAD_TYPE: parse_policy,
    PAUSE_PAYLOAD_TYPE: parse_directive,
    RESUME_PAYLOAD_TYPE: parse_directive,
    REVOCATIONS_PAYLOAD_TYPE: parse_revocations,
}

Admission = Callable[[Envelope, int], object]
"""Checks a governance envelope at a time against trusted state; raises to refuse."""


def event_type_for(envelope: Envelope) -> str:
    """Name the event type that carries `envelope`, refusing other payload types."""
    try:
        return EVENT_FOR_PAYLOAD[envelope.payload_type]
    except KeyError:
        raise FormatError(f"{envelope.payload_type!r} is not a governance document") from None


def _well_formed(event: SignedEvent, context: PolicyContext) -> None:
    envelope = cast(Envelope, context.payload)
    expected = PAYLOAD_FOR_EVENT[event.body.type]
    if envelope.payload_type != expected:
        raise ValidationError(
            f"{event.body.type} carries {envelope.payload_type!r}, not {expected!r}"
        )
    try:
        _PARSERS[expected](envelope)
    except Error as exc:
        raise ValidationError(f"{event.body.type}: {exc}") from None


GOVERNANCE_TYPES: dict[str, EventType[Any]] = {
    name: register(
        EventType(
            name=name,
            payload_model=Envelope,
            roles=frozenset({PUBLISHER_ROLE}),
            checks=(_well_formed,),
        )
    )
    for name in PAYLOAD_FOR_EVENT
}
"""The registered governance event types, by name."""


def governance_event(envelope: Envelope, key: SigningKey, now: int) -> Envelope:
    """Wrap a signed governance envelope in a log event signed by the publisher's `key`."""
    return make_event(event_type_for(envelope), envelope.model_dump(mode="json"), key, time=now)


def envelope_of(event: SignedEvent) -> Envelope:
    """Return the governance envelope a ``governance.*`` event carries (FormatError if none)."""
    expected = PAYLOAD_FOR_EVENT.get(event.body.type)
    if expected is None:
        raise FormatError(f"event type {event.body.type!r} is not a governance event")
    try:
        envelope = Envelope.model_validate(event.body.payload)
    except PydanticValidationError as exc:
        raise FormatError(f"{event.body.type}: {describe_error(exc)}") from None
    if envelope.payload_type != expected:
        raise FormatError(f"{event.body.type} carries {envelope.payload_type!r}")
    return envelope


def governance_entries(entries: Iterable[tuple[int, bytes]]) -> Iterator[tuple[int, Envelope]]:
    """Pick the governance envelopes out of (leaf index, entry) pairs of a log, in order."""
    for index, data in entries:
        try:
            event = parse_event(data)
        except Error:
            continue
        if event.body.type in PAYLOAD_FOR_EVENT:
            yield index, envelope_of(event)


def governance_policy(admit: Admission) -> Policy:
    """Turn an admission function into the EventLog policy that checks governance events."""

    def check(event: SignedEvent, context: PolicyContext) -> None:
        # The precise error (SignatureError, ReplayError, ...) passes through unchanged.
        admit(cast(Envelope, context.payload), context.now)

    checks: tuple[PolicyCheck, ...] = (check,)
    return dict.fromkeys(PAYLOAD_FOR_EVENT, checks)
