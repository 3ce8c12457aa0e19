"""Signed events: building, strict parsing, the event types, and the documented example."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from pausebutton import FormatError, SignatureError, ValidationError
from pausebutton.crypto import Envelope, SigningKey, sign_envelope
from pausebutton.registry import (
    ACTOR_REGISTERED,
    EVENT_PAYLOAD_TYPE,
    EVENT_TYPES,
    LOG_NOTE,
    MAX_DEPTH,
    MAX_EVENT_BYTES,
    ActorRegistered,
    EventBody,
    EventType,
    EventTypes,
    LogNote,
    make_event,
    parse_event,
)

DOC = Path(__file__).resolve().parents[1] / "docs" / "formats" / "events.md"
ALICE = SigningKey.from_seed(bytes(range(32)))
BOB = SigningKey.from_seed(bytes(range(32, 64)))
T0 = 1_767_225_600
NONCE = "AAAAAAAAAAAAAAAAAAAAAA"


def body(**changes: Any) -> dict[str, Any]:
    """A valid event body as a dict, with `changes` applied (None deletes a field)."""
    fields: dict[str, Any] = {
        "type": "log.note",
        "actor": ALICE.key_id,
        "time": T0,
        "nonce": NONCE,
        "payload": {"text": "hello"},
    }
    fields.update(changes)
    return {k: v for k, v in fields.items() if v is not None}


def signed_bytes(fields: dict[str, Any], *, payload_type: str = EVENT_PAYLOAD_TYPE) -> bytes:
    """Sign an arbitrary body as ALICE, bypassing make_event's checks."""
    return sign_envelope(payload_type, fields, [ALICE]).to_bytes()


def refused(data: bytes | str, error: type[Exception] = FormatError) -> str:
    """Return the message of the error parse_event raises for `data`."""
    with pytest.raises(error) as info:
        parse_event(data)
    return str(info.value)


# --- round trips -----------------------------------------------------------------------------


def test_event_round_trips_through_its_canonical_bytes() -> None:
    envelope = make_event("log.note", {"text": "héllo"}, ALICE, time=T0, nonce=NONCE)
    event = parse_event(envelope.to_bytes())
    assert event.envelope == envelope
    assert event.canonical == envelope.to_bytes()
    assert event.body.type == "log.note"
    assert event.body.actor == ALICE.key_id
    assert event.body.time == T0
    assert event.body.nonce == NONCE
    assert event.body.payload == {"text": "héllo"}
    assert event.signers == {ALICE.key_id}
    assert parse_event(event.canonical.decode()) == event


def test_make_event_defaults_to_a_random_128_bit_nonce_and_the_current_time() -> None:
    first = parse_event(make_event("log.note", {"text": "a"}, ALICE).to_bytes()).body
    second = parse_event(make_event("log.note", {"text": "a"}, ALICE).to_bytes()).body
    assert first.nonce != second.nonce
    assert len(first.nonce) == 22  # 16 bytes of base64url, unpadded
    import time

    assert abs(first.time - time.time()) < 60


def test_canonical_bytes_do_not_depend_on_signing_order() -> None:
    one = make_event("log.note", {"text": "x"}, ALICE, time=T0, nonce=NONCE, cosigners=[BOB])
    keyids = [s.keyid for s in one.signatures]
    assert keyids == sorted(keyids)
    fields = json.loads(one.to_bytes())["payload"]
    for order in ([ALICE, BOB], [BOB, ALICE]):
        other = sign_envelope(EVENT_PAYLOAD_TYPE, fields, order)
        assert parse_event(other.to_bytes()).canonical == one.to_bytes()


def test_whitespace_and_key_order_are_free_but_the_entry_is_canonical() -> None:
    envelope = make_event("log.note", {"text": "x"}, ALICE, time=T0, nonce=NONCE)
    value = json.loads(envelope.to_bytes())
    pretty = json.dumps(dict(reversed(list(value.items()))), indent=2)
    assert parse_event(pretty).canonical == envelope.to_bytes()


# --- malformed input -------------------------------------------------------------------------


def test_malformed_json_is_refused() -> None:
    assert refused(b'{"payload": ').startswith("event is not valid JSON: ")


def test_non_utf8_input_is_refused() -> None:
    assert refused(b'{"a": "\xff"}') == "event is not valid UTF-8"
    assert refused('{"a": "\ud800"}') == "event is not valid UTF-8 text"


def test_oversized_event_is_refused_naming_size_and_limit() -> None:
    data = b" " * (MAX_EVENT_BYTES + 1)
    assert refused(data) == f"event is {MAX_EVENT_BYTES + 1} bytes, over the limit of 65535"


def test_make_event_refuses_to_build_an_oversized_event() -> None:
    with pytest.raises(FormatError, match=r"^event is \d+ bytes, over the limit of 65535$"):
        make_event("log.note", {"text": "x" * MAX_EVENT_BYTES}, ALICE)


def test_missing_field_is_refused_with_its_path() -> None:
    message = refused(signed_bytes(body(nonce=None)))
    assert message == "malformed event: payload.nonce: Field required"


def test_wrong_type_is_refused_without_coercion() -> None:
    assert refused(signed_bytes(body(time=str(T0)))) == (
        "malformed event: payload.time: Input should be a valid integer"
    )
    assert refused(signed_bytes(body(time=float(T0) + 0.5))).startswith(
        "malformed event: payload.time: "
    )
    assert refused(signed_bytes(body(payload=["text"]))).startswith(
        "malformed event: payload.payload: Input should be a valid dictionary"
    )


def test_unknown_field_is_refused() -> None:
    message = refused(signed_bytes(body(extra=1)))
    assert message == "malformed event: payload.extra: Extra inputs are not permitted"


def test_unknown_envelope_field_is_refused() -> None:
    value = json.loads(make_event("log.note", {"text": "x"}, ALICE).to_bytes())
    value["comment"] = "hi"
    message = refused(json.dumps(value))
    assert message == "malformed event envelope: comment: Extra inputs are not permitted"


def test_envelope_of_another_payload_type_is_refused() -> None:
    message = refused(signed_bytes(body(), payload_type="pausebutton.licence/v1"))
    assert message == (
        "malformed event envelope: payload_type: expected 'pausebutton.event/v1', "
        "got 'pausebutton.licence/v1'"
    )


@pytest.mark.parametrize("name", ["Chip.made", "chip", "chip..made", ".chip", "chip.made-x", ""])
def test_badly_named_event_type_is_refused(name: str) -> None:
    assert refused(signed_bytes(body(type=name))).startswith("malformed event: payload.type: ")


@pytest.mark.parametrize("nonce", ["short", "x" * 65, "has space in it!!", "padded+base64/=="])
def test_bad_nonce_is_refused(nonce: str) -> None:
    assert refused(signed_bytes(body(nonce=nonce))).startswith("malformed event: payload.nonce: ")


@pytest.mark.parametrize("actor", ["A" * 64, "0" * 63, "not a key"])
def test_bad_actor_key_id_is_refused(actor: str) -> None:
    assert refused(signed_bytes(body(actor=actor))).startswith("malformed event: payload.actor: ")


def test_negative_time_is_refused() -> None:
    assert refused(signed_bytes(body(time=-1))).startswith("malformed event: payload.time: ")


def test_duplicate_key_is_refused() -> None:
    data = make_event("log.note", {"text": "x"}, ALICE).to_bytes()
    forged = data.replace(b'{"payload":', b'{"payload":{},"payload":', 1)
    assert refused(forged) == "event repeats the key 'payload' in one object"


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_refused(constant: str) -> None:
    message = refused('{"a": ' + constant + "}")
    assert message == f"event contains {constant}, which JSON does not allow"


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 30_000])
def test_deeply_nested_event_is_refused(depth: int) -> None:
    data = "[" * depth + "]" * depth
    assert refused(data) == f"event is nested more than {MAX_DEPTH} levels deep"


def test_make_event_refuses_deep_payload() -> None:
    deep: dict[str, Any] = {}
    for _ in range(MAX_DEPTH):
        deep = {"d": deep}
    with pytest.raises(FormatError, match="nested more than"):
        make_event("log.note", deep, ALICE)


def test_signature_in_non_canonical_base64_is_refused() -> None:
    value = json.loads(make_event("log.note", {"text": "x"}, ALICE).to_bytes())
    sig = value["signatures"][0]["sig"]
    # The last character before "==" carries 4 unused low bits; setting one keeps the bytes.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    stray = alphabet[alphabet.index(sig[-3]) ^ 1]
    value["signatures"][0]["sig"] = sig[:-3] + stray + sig[-2:]
    assert base64.b64decode(value["signatures"][0]["sig"]) == base64.b64decode(sig)
    message = refused(json.dumps(value), SignatureError)
    assert message == f"signature by {ALICE.key_id[:16]}… is not in canonical base64"


def test_signature_that_is_not_base64_is_refused() -> None:
    value = json.loads(make_event("log.note", {"text": "x"}, ALICE).to_bytes())
    value["signatures"][0]["sig"] = "!" * 88
    assert refused(json.dumps(value), SignatureError).endswith("is not base64")


def test_make_event_refuses_an_invalid_body() -> None:
    with pytest.raises(FormatError, match=r"^invalid event: payload\.nonce: "):
        make_event("log.note", {"text": "x"}, ALICE, nonce="short")
    with pytest.raises(FormatError, match=r"^invalid event: payload\.type: "):
        make_event("Not A Type", {}, ALICE)


def test_make_event_refuses_a_payload_that_is_not_json() -> None:
    with pytest.raises(FormatError, match="cannot be canonicalised"):
        make_event("log.note", {"blob": b"\x00"}, ALICE)
    with pytest.raises(FormatError, match="cannot be canonicalised"):
        make_event("log.note", {"n": 2**60}, ALICE)


def test_make_event_refuses_a_float_that_would_come_back_as_an_unsafe_integer() -> None:
    # RFC 8785 writes 2.0**53 as "9007199254740992", which parses back as an int outside
    # the I-JSON range; the event could never be verified, so it is never built.
    with pytest.raises(FormatError, match="exceeds safe integer domain"):
        make_event("log.note", {"n": 2.0**53}, ALICE)


# --- event types -----------------------------------------------------------------------------


def test_unknown_event_type_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"^unknown event type 'chip\.vanished'$"):
        EVENT_TYPES.get("chip.vanished")


def test_foundation_types_are_registered() -> None:
    assert EVENT_TYPES.get("actor.registered") is ACTOR_REGISTERED
    assert EVENT_TYPES.get("log.note") is LOG_NOTE
    assert {"actor.registered", "log.note"} <= set(EVENT_TYPES)


class _Empty(BaseModel):
    pass


def test_event_type_names_are_checked() -> None:
    with pytest.raises(ValueError, match="not a dotted lowercase name"):
        EventType(name="Bad", payload_model=_Empty, roles=frozenset())


def test_registering_a_type_twice_is_an_error_and_copies_are_independent() -> None:
    types = EVENT_TYPES.copy()
    extra = types.register(EventType(name="test.extra", payload_model=_Empty, roles=frozenset()))
    assert "test.extra" in types
    assert "test.extra" not in EVENT_TYPES
    with pytest.raises(ValueError, match="already registered"):
        types.register(extra)
    assert isinstance(EventTypes([extra]).get("test.extra"), EventType)


def registration(**changes: Any) -> dict[str, Any]:
    """A valid actor.registered payload, with `changes` applied."""
    payload: dict[str, Any] = {
        "name": "Acme Fab",
        "roles": ["manufacturer"],
        "public_key": BOB.public.to_base64(),
    }
    payload.update(changes)
    return payload


def parse_payload(event_type: EventType[Any], payload: dict[str, Any]) -> BaseModel:
    """Validate `payload` as `event_type`'s payload inside a signed event."""
    event = parse_event(make_event(event_type.name, payload, ALICE).to_bytes())
    parsed: BaseModel = event_type.parse_payload(event)
    return parsed


def test_registration_payload_round_trips() -> None:
    parsed = parse_payload(ACTOR_REGISTERED, registration())
    assert parsed.verify_key() == BOB.public  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        ({"public_key": "AAAA"}, "payload.payload.public_key"),
        ({"public_key": "!" * 44}, "payload.payload.public_key"),
        ({"public_key": BOB.public.to_base64()[:-2] + "9="}, "payload.payload.public_key"),
        ({"roles": ["a", "a"]}, "payload.payload.roles"),
        ({"roles": ["Bad Role"]}, "payload.payload.roles.0"),
        ({"roles": "manufacturer"}, "payload.payload.roles"),
        ({"name": ""}, "payload.payload.name"),
        ({"name": None}, "payload.payload.name"),
        ({"colour": "red"}, "payload.payload.colour"),
    ],
)
def test_malformed_registration_payload_is_refused_with_its_path(
    changes: dict[str, Any], where: str
) -> None:
    with pytest.raises(FormatError) as info:
        parse_payload(ACTOR_REGISTERED, registration(**changes))
    assert str(info.value).startswith(f"malformed actor.registered payload: {where}: ")


def test_note_of_more_than_4_kib_is_refused() -> None:
    assert parse_payload(LOG_NOTE, {"text": "é" * 2048})
    with pytest.raises(FormatError, match="is 4098 bytes of UTF-8, over the limit of 4096"):
        parse_payload(LOG_NOTE, {"text": "é" * 2049})


# --- the documented example ------------------------------------------------------------------


def _doc_block(marker: str) -> str:
    match = re.search(
        rf"<!-- {marker} -->\n```[a-z]*\n(.*?)\n```", DOC.read_text(encoding="utf-8"), re.DOTALL
    )
    assert match, f"no block marked {marker} in {DOC}"
    return match.group(1)


def doc_example() -> Envelope:
    """The example of docs/formats/events.md, rebuilt from its fixed keys."""
    registrar = SigningKey.from_seed(bytes(range(32)))
    new_actor = SigningKey.from_seed(bytes(range(32, 64)))
    payload = {
        "name": "Acme Fab",
        "roles": ["manufacturer"],
        "public_key": new_actor.public.to_base64(),
    }
    return make_event(
        "actor.registered", payload, registrar, time=1_767_225_600, nonce="3q2-7wAAAAAAAAAAAAAAAA"
    )


@pytest.mark.parametrize(
    ("marker", "model"),
    [
        ("schema-envelope", Envelope),
        ("schema-event-body", EventBody),
        ("schema-actor-registered", ActorRegistered),
        ("schema-log-note", LogNote),
    ],
)
def test_documented_schemas_are_the_models_schemas(marker: str, model: type[BaseModel]) -> None:
    assert json.loads(_doc_block(marker)) == model.model_json_schema()


def test_documented_example_is_what_the_code_produces() -> None:
    example = doc_example()
    assert _doc_block("example-entry") == example.to_bytes().decode()
    assert _doc_block("example-message") == example.signing_message().decode()
