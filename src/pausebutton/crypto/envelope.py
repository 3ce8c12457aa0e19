"""Signed envelopes: a typed JSON payload with one or more Ed25519 signatures, checked k-of-n.

The signed message is domain-separated so that a signature made for one kind of document
can never be replayed as another::

    b"pausebutton-envelope-v1\\n" + payload_type + b"\\n" + RFC8785(payload)
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from pausebutton.crypto.canonical import canonical_bytes, parse_json
from pausebutton.crypto.keys import SIGNATURE_SIZE, SigningKey, VerifyKey
from pausebutton.errors import FormatError, SignatureError

DOMAIN = b"pausebutton-envelope-v1\n"
MAX_ENVELOPE_BYTES = 64 * 1024
MAX_SIGNATURES = 64


class EnvelopeSignature(BaseModel):
    """One signature: the signer's key id (hex SHA-256 of the raw key) and base64 bytes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    keyid: str = Field(pattern=r"^[0-9a-f]{64}$")
    sig: str = Field(min_length=1, max_length=128)

    def signature_bytes(self) -> bytes:
        """Decode the signature, raising SignatureError if it is not 64 bytes of base64."""
        raw = decode_signature_text(self.keyid, self.sig)
        if len(raw) != SIGNATURE_SIZE:
            raise SignatureError(
                f"signature by {self.keyid[:16]}… is {len(raw)} bytes, not {SIGNATURE_SIZE}"
            )
        return raw


def decode_signature_text(keyid: str, sig: str) -> bytes:
    """Decode a signature's canonical standard base64, raising SignatureError otherwise."""
    try:
        raw = base64.b64decode(sig, validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError(f"signature by {keyid[:16]}… is not base64") from None
    if base64.b64encode(raw).decode() != sig:
        # Stray low bits would give one signature several spellings.
        raise SignatureError(f"signature by {keyid[:16]}… is not in canonical base64")
    return raw


class Envelope(BaseModel):
    """A payload of a named type and the signatures over it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    payload_type: str = Field(pattern=r"^[a-z][a-z0-9._/-]{0,63}$")
    payload: dict[str, Any]
    signatures: tuple[EnvelopeSignature, ...] = Field(default=(), max_length=MAX_SIGNATURES)

    def signing_message(self) -> bytes:
        """The exact bytes each signature covers."""
        return signing_message(self.payload_type, self.payload)

    def with_signature(self, key: SigningKey) -> Envelope:
        """Return a copy with `key`'s signature added (for collecting signatures offline)."""
        if any(s.keyid == key.key_id for s in self.signatures):
            raise SignatureError(f"key {key.key_id[:16]}… has already signed this envelope")
        sig = EnvelopeSignature(
            keyid=key.key_id, sig=base64.b64encode(key.sign(self.signing_message())).decode()
        )
        return self.model_copy(update={"signatures": (*self.signatures, sig)})

    def to_bytes(self) -> bytes:
        """Serialise canonically (RFC 8785), the form stored in the log."""
        return canonical_bytes(self)


def signing_message(payload_type: str, payload: Mapping[str, Any]) -> bytes:
    """Return the domain-separated bytes a signature over this payload covers."""
    return DOMAIN + payload_type.encode() + b"\n" + canonical_bytes(dict(payload))


def sign_envelope(
    payload_type: str, payload: Mapping[str, Any], keys: Sequence[SigningKey]
) -> Envelope:
    """Make an envelope signed by every key in `keys`."""
    envelope = Envelope(payload_type=payload_type, payload=dict(payload))
    # Canonicalise once up front so an unserialisable payload fails before any signing.
    envelope.signing_message()
    for key in keys:
        envelope = envelope.with_signature(key)
    return envelope


def parse_envelope(data: bytes | str, *, limit: int = MAX_ENVELOPE_BYTES) -> Envelope:
    """Parse an envelope from JSON, raising FormatError on malformed or oversized input."""
    value = parse_json(data, limit=limit)
    try:
        return Envelope.model_validate(value)
    except PydanticValidationError as exc:
        raise FormatError(f"malformed envelope: {_first_error(exc)}") from None


def verify_threshold(
    envelope: Envelope, allowed: Iterable[VerifyKey] | Mapping[str, VerifyKey], threshold: int
) -> frozenset[str]:
    """Check that at least `threshold` distinct allowed keys signed; return their key ids.

    Signatures by keys outside the allowed set do not count. A repeated key id, or a
    signature by an allowed key that does not verify, is refused outright: both mean
    someone tampered with the envelope.
    """
    if threshold < 1:
        raise SignatureError(f"threshold must be at least 1, got {threshold}")
    keys = dict(allowed) if isinstance(allowed, Mapping) else {k.key_id: k for k in allowed}
    if threshold > len(keys):
        raise SignatureError(f"threshold {threshold} exceeds the {len(keys)} allowed keys")
    seen: set[str] = set()
    valid: set[str] = set()
    message = envelope.signing_message()
    for signature in envelope.signatures:
        if signature.keyid in seen:
            raise SignatureError(f"key {signature.keyid[:16]}… signed more than once")
        seen.add(signature.keyid)
        key = keys.get(signature.keyid)
        if key is None:
            continue
        key.verify(signature.signature_bytes(), message)
        valid.add(signature.keyid)
    if len(valid) < threshold:
        outsiders = len(seen) - len(valid)
        raise SignatureError(
            f"{envelope.payload_type}: {len(valid)} valid signature(s) from allowed keys, "
            f"{threshold} required" + (f" ({outsiders} by keys not allowed)" if outsiders else "")
        )
    return frozenset(valid)


def _first_error(exc: PydanticValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "(root)"
    return f"{where}: {err['msg']}"
