"""Making registry events: the actor's side, as the CLI, the tests and the simulator use it."""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from pausebutton.crypto.envelope import Envelope
from pausebutton.crypto.keys import SigningKey, VerifyKey
from pausebutton.errors import FormatError
from pausebutton.registry.actors import KycOpening, KycStatus
from pausebutton.registry.chips import endorse
from pausebutton.registry.events import make_event
from pausebutton.registry.rules import RULES


def payload_of(event_type: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    """Check `fields` against the event type's payload model; return its JSON form."""
    rule = RULES.get(event_type)
    if rule is None:
        raise FormatError(f"{event_type!r} is not a registry event type")
    try:
        model: BaseModel = rule.model.model_validate(dict(fields))
    except PydanticValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "(root)"
        raise FormatError(f"{event_type}: {where}: {err['msg']}") from None
    return model.model_dump(mode="json", exclude_none=True)


def event(
    event_type: str,
    signer: SigningKey,
    /,
    *,
    cosigners: Sequence[SigningKey] = (),
    time: int | None = None,
    nonce: str | None = None,
    **fields: Any,
) -> Envelope:
    """Sign a registry event of `event_type` with payload `fields` as `signer`."""
    payload = payload_of(event_type, fields)
    return make_event(event_type, payload, signer, time=time, nonce=nonce, cosigners=cosigners)


def register_actor(
    registrar: SigningKey,
    key: VerifyKey,
    name: str,
    roles: Iterable[str],
    *,
    time: int | None = None,
    nonce: str | None = None,
) -> Envelope:
    """The registrar's ``actor.registered`` event for `key`."""
    payload = {"name": name, "roles": sorted(roles), "public_key": key.to_base64()}
    return make_event("actor.registered", payload, registrar, time=time, nonce=nonce)


def record_kyc(
    registrar: SigningKey,
    opening: KycOpening,
    status: KycStatus = "verified",
    *,
    time: int | None = None,
    nonce: str | None = None,
) -> Envelope:
    """The registrar's ``actor.kyc_recorded`` event publishing a commitment to `opening`."""
    record = opening.record
    return event(
        "actor.kyc_recorded",
        registrar,
        time=time,
        nonce=nonce,
        actor=record.key_id,
        entity=record.entity,
        legal_name=record.legal_name,
        jurisdiction=record.jurisdiction,
        status=status,
        commitment=opening.commitment,
    )


def manufacture(
    maker: SigningKey,
    *,
    serial: str,
    model: str,
    jurisdiction: str,
    spec: Mapping[str, Any],
    device_key: VerifyKey,
    x25519_key: bytes,
    components: Iterable[tuple[str, str]],
    time: int | None = None,
    nonce: str | None = None,
) -> Envelope:
    """The maker's ``chip.manufactured`` event, with its endorsement of the device keys."""
    signing = device_key.to_base64()
    x25519 = base64.b64encode(x25519_key).decode()
    return event(
        "chip.manufactured",
        maker,
        time=time,
        nonce=nonce,
        serial=serial,
        model=model,
        jurisdiction=jurisdiction,
        spec=dict(spec),
        device={
            "signing_key": signing,
            "x25519_key": x25519,
            "endorsement": endorse(maker, model, serial, signing, x25519),
        },
        components=[{"kind": kind, "serial": s} for kind, s in components],
    )
