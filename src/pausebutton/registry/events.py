"""Signed events: the one form in which a change of state enters the regime.

An event is an `Envelope` of payload type ``pausebutton.event/v1`` whose payload is an
`EventBody`, signed by the body's `actor` key (and by any co-signers its event type calls
for). `parse_event` is strict, so that one event has exactly one stored form:

- at most `MAX_EVENT_BYTES` of UTF-8 JSON, nested at most `MAX_DEPTH` levels;
- no duplicate object keys, no ``NaN``/``Infinity``, no unknown fields, no type coercion;
- every signature in canonical base64 (no stray low bits in the last character).

Whitespace and key order are free on input; `SignedEvent.canonical` is the RFC 8785 form
with the signatures sorted by key id, the bytes the log stores as the entry.
"""

from __future__ import annotations

import json
import re
import secrets
import time as _time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Generic, NoReturn, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic import ValidationError as PydanticValidationError

from pausebutton.crypto.envelope import Envelope, decode_signature_text, sign_envelope
from pausebutton.crypto.keys import SigningKey, VerifyKey
from pausebutton.errors import FormatError, ValidationError

if TYPE_CHECKING:
    from pausebutton.registry.pipeline import PolicyCheck, PolicyContext

EVENT_PAYLOAD_TYPE = "pausebutton.event/v1"
MAX_EVENT_BYTES = 0xFFFF  # the log's entry limit: a C2SP entry bundle has uint16 lengths
MAX_DEPTH = 32
MAX_SAFE_INT = 2**53 - 1

TYPE_PATTERN = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$"
KEY_ID_PATTERN = r"^[0-9a-f]{64}$"
NONCE_PATTERN = r"^[A-Za-z0-9_-]{16,64}$"


class EventBody(BaseModel):
    """What an event says: its type, who submits it, when, a nonce, and a typed payload."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    type: str = Field(
        max_length=64, pattern=TYPE_PATTERN, description="dotted lowercase event type name"
    )
    actor: str = Field(pattern=KEY_ID_PATTERN, description="key id of the submitting key")
    time: int = Field(ge=0, le=MAX_SAFE_INT, description="Unix seconds, UTC")
    nonce: str = Field(pattern=NONCE_PATTERN, description="unique per actor, base64url or hex")
    payload: dict[str, Any] = Field(description="checked against the event type's model")


@dataclass(frozen=True)
class SignedEvent:
    """A parsed event: its envelope, its body, and its canonical bytes (the log entry)."""

    envelope: Envelope
    body: EventBody
    canonical: bytes

    @property
    def signers(self) -> frozenset[str]:
        """The key ids that signed the envelope (verified only by the pipeline)."""
        return frozenset(s.keyid for s in self.envelope.signatures)


def make_event(
    type: str,
    payload: Mapping[str, Any],
    key: SigningKey,
    *,
    time: int | None = None,
    nonce: str | None = None,
    cosigners: Sequence[SigningKey] = (),
) -> Envelope:
    """Build and sign an event as `key`'s actor, co-signed by `cosigners`."""
    fields = {
        "type": type,
        "actor": key.key_id,
        "time": int(_time.time()) if time is None else time,
        "nonce": secrets.token_urlsafe(16) if nonce is None else nonce,
        "payload": dict(payload),
    }
    _check_depth(fields)
    try:
        EventBody.model_validate(fields)
    except PydanticValidationError as exc:
        _refuse("invalid event", exc, ("payload",))
    envelope = sign_envelope(EVENT_PAYLOAD_TYPE, fields, [key, *cosigners])
    # Round-trip through the parser: never hand out an event that parse_event would refuse.
    return parse_event(envelope.to_bytes()).envelope


def parse_event(data: bytes | str) -> SignedEvent:
    """Parse a signed event strictly, raising FormatError or SignatureError; verifies nothing."""
    value = _load_json(data)
    try:
        envelope = Envelope.model_validate(value)
    except PydanticValidationError as exc:
        _refuse("malformed event envelope", exc, ())
    if envelope.payload_type != EVENT_PAYLOAD_TYPE:
        raise FormatError(
            f"malformed event envelope: payload_type: expected {EVENT_PAYLOAD_TYPE!r}, "
            f"got {envelope.payload_type!r}"
        )
    try:
        body = EventBody.model_validate(envelope.payload)
    except PydanticValidationError as exc:
        _refuse("malformed event", exc, ("payload",))
    for signature in envelope.signatures:
        decode_signature_text(signature.keyid, signature.sig)
    envelope = _sorted(envelope)
    canonical = envelope.to_bytes()
    _check_size(len(canonical))
    return SignedEvent(envelope=envelope, body=body, canonical=canonical)


def _describe_error(exc: PydanticValidationError, prefix: Sequence[str | int]) -> str:
    """Render a pydantic error's first problem as ``field.path: message``."""
    err = exc.errors()[0]
    where = ".".join(str(p) for p in (*prefix, *err["loc"])) or "(root)"
    return f"{where}: {err['msg']}"


def _refuse(what: str, exc: PydanticValidationError, prefix: Sequence[str | int]) -> NoReturn:
    raise FormatError(f"{what}: {_describe_error(exc, prefix)}") from None


def _sorted(envelope: Envelope) -> Envelope:
    signatures = tuple(sorted(envelope.signatures, key=lambda s: s.keyid))
    return envelope.model_copy(update={"signatures": signatures})


def _check_size(size: int) -> None:
    if size > MAX_EVENT_BYTES:
        raise FormatError(f"event is {size} bytes, over the limit of {MAX_EVENT_BYTES}")


def _load_json(data: bytes | str) -> Any:
    try:
        raw = data.encode() if isinstance(data, str) else bytes(data)
    except UnicodeEncodeError:
        raise FormatError("event is not valid UTF-8 text") from None
    _check_size(len(raw))
    try:
        value = json.loads(
            raw.decode("utf-8"), object_pairs_hook=_unique_keys, parse_constant=_no_constant
        )
    except UnicodeDecodeError:
        raise FormatError("event is not valid UTF-8") from None
    except json.JSONDecodeError as exc:
        raise FormatError(f"event is not valid JSON: {exc}") from None
    except RecursionError:
        raise FormatError(f"event is nested more than {MAX_DEPTH} levels deep") from None
    _check_depth(value)
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name in result:
            raise FormatError(f"event repeats the key {name!r} in one object")
        result[name] = value
    return result


def _no_constant(name: str) -> NoReturn:
    raise FormatError(f"event contains {name}, which JSON does not allow")


def _check_depth(value: Any) -> None:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list | tuple):
            if depth > MAX_DEPTH:
                raise FormatError(f"event is nested more than {MAX_DEPTH} levels deep")
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)


# --- Event types: the payload schema of each type and who may submit it --------------------

P = TypeVar("P", bound=BaseModel)

ANY_ROLE = "*"
"""In `EventType.roles`: any registered, unrevoked actor may submit the type."""

ROLE_PATTERN = r"^[a-z][a-z0-9_-]{0,31}$"
# Exactly the canonical base64 of 32 bytes: the last data character carries 2 bits + 4 zeros.
PUBLIC_KEY_PATTERN = r"^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$"
MAX_NOTE_BYTES = 4 * 1024


@dataclass(frozen=True)
class EventType(Generic[P]):
    """An event type: its payload model, the roles that may submit it, and its own rules.

    `cosigners(payload)` names the key ids that must sign besides the actor. `checks` are
    rules every event of the type must pass whatever the policy (for example, a key is
    registered once); the regime's policy adds its own checks in the pipeline.
    """

    name: str
    payload_model: type[P]
    roles: frozenset[str]
    cosigners: Callable[[P], Sequence[str]] | None = None
    checks: tuple[PolicyCheck, ...] = ()

    def __post_init__(self) -> None:
        if re.fullmatch(TYPE_PATTERN, self.name) is None or len(self.name) > 64:
            raise ValueError(f"event type name {self.name!r} is not a dotted lowercase name")

    def parse_payload(self, event: SignedEvent) -> P:
        """Validate the event's payload against this type's model, raising FormatError."""
        try:
            return self.payload_model.model_validate(event.body.payload)
        except PydanticValidationError as exc:
            _refuse(f"malformed {self.name} payload", exc, ("payload", "payload"))

    def required_cosigners(self, payload: P) -> tuple[str, ...]:
        """The key ids, other than the actor, that must have signed an event with `payload`."""
        return tuple(dict.fromkeys(self.cosigners(payload))) if self.cosigners else ()


class EventTypes:
    """A registry of event types by name; unknown names raise ValidationError."""

    def __init__(self, types: Iterable[EventType[Any]] = ()) -> None:
        self._types: dict[str, EventType[Any]] = {}
        for event_type in types:
            self.register(event_type)

    def register(self, event_type: EventType[P]) -> EventType[P]:
        """Add a type; registering a second type under a taken name is a programming error."""
        if event_type.name in self._types:
            raise ValueError(f"event type {event_type.name!r} is already registered")
        self._types[event_type.name] = event_type
        return event_type

    def get(self, name: str) -> EventType[Any]:
        """Return the type called `name`, raising ValidationError if there is none."""
        try:
            return self._types[name]
        except KeyError:
            raise ValidationError(f"unknown event type {name!r}") from None

    def copy(self) -> EventTypes:
        """Return an independent registry with the same types (for tests and tools)."""
        return EventTypes(self._types.values())

    def __contains__(self, name: object) -> bool:
        return name in self._types

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._types))


EVENT_TYPES = EventTypes()
"""The registry the regime uses; later parts add their types with `register`."""

register = EVENT_TYPES.register


def _strict_model() -> ConfigDict:
    return ConfigDict(frozen=True, extra="forbid", strict=True)


class ActorRegistered(BaseModel):
    """Payload of ``actor.registered``: a new actor's name, roles and Ed25519 public key."""

    model_config = _strict_model()

    name: str = Field(min_length=1, max_length=128)
    roles: list[Annotated[str, Field(pattern=ROLE_PATTERN)]] = Field(
        max_length=16, json_schema_extra={"uniqueItems": True}
    )
    public_key: str = Field(
        pattern=PUBLIC_KEY_PATTERN, description="raw 32-byte Ed25519 key, canonical base64"
    )

    @field_validator("roles")
    @classmethod
    def _distinct(cls, roles: list[str]) -> list[str]:
        if len(set(roles)) != len(roles):
            raise ValueError("roles must be distinct")
        return roles

    def verify_key(self) -> VerifyKey:
        """The registered public key."""
        return VerifyKey.from_base64(self.public_key)


class LogNote(BaseModel):
    """Payload of ``log.note``: a free-form signed statement of at most 4 KiB of UTF-8."""

    model_config = _strict_model()

    text: str = Field(min_length=1, description=f"at most {MAX_NOTE_BYTES} bytes of UTF-8")

    @field_validator("text")
    @classmethod
    def _size(cls, text: str) -> str:
        size = len(text.encode("utf-8", errors="surrogatepass"))
        if size > MAX_NOTE_BYTES:
            raise ValueError(f"is {size} bytes of UTF-8, over the limit of {MAX_NOTE_BYTES}")
        return text


def _key_is_new(event: SignedEvent, context: PolicyContext) -> None:
    payload = ActorRegistered.model_validate(event.body.payload)
    new_id = payload.verify_key().key_id
    if context.directory.lookup(new_id) is not None:
        raise ValidationError(f"actor.registered: key {new_id[:16]}… is already registered")


ACTOR_REGISTERED = register(
    EventType(
        name="actor.registered",
        payload_model=ActorRegistered,
        roles=frozenset({"registrar"}),
        checks=(_key_is_new,),
    )
)
LOG_NOTE = register(EventType(name="log.note", payload_model=LogNote, roles=frozenset({ANY_ROLE})))
