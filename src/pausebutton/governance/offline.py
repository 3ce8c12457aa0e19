"""Collecting signatures offline: draft a document, sign copies apart, combine, save, load.

The workflow of a governors' ceremony, as pure functions a CLI wraps:

1. one governor `draft`s the document (an unsigned envelope) and sends the file around;
2. each governor `sign`s it on their own machine with their own key;
3. anyone `combine`s the signed copies into one envelope, which `verify_*` then checks.

Envelopes travel as RFC 8785 JSON (`Envelope.to_bytes`, `parse_envelope`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from pausebutton.crypto.envelope import Envelope, EnvelopeSignature, parse_envelope
from pausebutton.crypto.keys import SigningKey
from pausebutton.errors import FormatError, SignatureError
from pausebutton.governance._common import SignedDocument


def draft(document: SignedDocument) -> Envelope:
    """Return the unsigned envelope of a root, policy, pause or resume."""
    return document.to_envelope()


def sign(envelope: Envelope, key: SigningKey) -> Envelope:
    """Return a copy of `envelope` with `key`'s signature added."""
    return envelope.with_signature(key)


def combine(envelopes: Sequence[Envelope]) -> Envelope:
    """Merge the signatures of copies of one document into one envelope, sorted by key id.

    Copies of different payloads are refused (FormatError), and so are two different
    signatures by one key (SignatureError: Ed25519 is deterministic, so one is forged).
    Nothing is verified here; `verify_*` does that against a root.
    """
    if not envelopes:
        raise FormatError("nothing to combine")
    first = envelopes[0]
    message = first.signing_message()
    merged: dict[str, EnvelopeSignature] = {}
    for index, envelope in enumerate(envelopes):
        if envelope.signing_message() != message:
            raise FormatError(
                f"copy {index} carries a different document than copy 0; refusing to combine"
            )
        for signature in envelope.signatures:
            seen = merged.setdefault(signature.keyid, signature)
            if seen.sig != signature.sig:
                raise SignatureError(
                    f"key {signature.keyid[:16]}… made two different signatures of one document"
                )
    signatures = tuple(merged[k] for k in sorted(merged))
    return first.model_copy(update={"signatures": signatures})


def save_envelope(envelope: Envelope, path: Path, *, overwrite: bool = False) -> None:
    """Write `envelope` as canonical JSON; refuse to replace a file unless `overwrite`."""
    data = envelope.to_bytes()
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
    try:
        fd = os.open(path, flags, 0o644)
    except FileExistsError:
        raise FormatError(f"{path} exists; refusing to overwrite it") from None
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def load_envelope(path: Path) -> Envelope:
    """Read an envelope written by `save_envelope` (or any JSON envelope)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise FormatError(f"no envelope file at {path}") from None
    return parse_envelope(data)
