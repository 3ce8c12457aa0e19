"""Keys, canonical JSON, and signed envelopes with k-of-n threshold checks."""

from pausebutton.crypto.canonical import canonical_bytes, parse_json
from pausebutton.crypto.envelope import (
    Envelope,
    EnvelopeSignature,
    parse_envelope,
    sign_envelope,
    verify_threshold,
)
from pausebutton.crypto.keys import (
    SigningKey,
    VerifyKey,
    key_id,
    load_signing_key,
    save_signing_key,
)

__all__ = [
    "Envelope",
    "EnvelopeSignature",
    "SigningKey",
    "VerifyKey",
    "canonical_bytes",
    "key_id",
    "load_signing_key",
    "parse_envelope",
    "parse_json",
    "save_signing_key",
    "sign_envelope",
    "verify_threshold",
]
