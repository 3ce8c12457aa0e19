"""The published form of a governance document: its log entry and its witnessed receipt.

Each TUF target of the governance repository is one `Publication`: the log entry (the
``governance.*`` event that carries the signed envelope, as canonical JSON) and its
receipt, an inclusion bundle whose checkpoint carries the witnesses' cosignatures. The
bundle is an ordinary ``pausebutton.inclusion/v1`` bundle, so ``pausebutton log verify``
checks it with the log's key alone; `verify_receipt` checks it the way a device must,
against the keys the governance root names for the ``log`` and ``witness`` roles.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from pydantic import ValidationError as PydanticValidationError

from pausebutton.crypto.canonical import canonical_bytes, parse_json
from pausebutton.crypto.envelope import Envelope
from pausebutton.errors import FormatError, NoteError, ProofError, SignatureError
from pausebutton.governance._common import describe_error
from pausebutton.governance.events import envelope_of
from pausebutton.governance.policy import Policy
from pausebutton.governance.root import Root
from pausebutton.log import merkle, note
from pausebutton.log.checkpoint import Checkpoint
from pausebutton.log.cosignature import (
    COSIGNATURE_V1,
    CosignatureVerifier,
    open_cosigned_checkpoint,
)
from pausebutton.log.proofs import InclusionBundle, decode_hash
from pausebutton.registry.events import parse_event

PUBLICATION_FORMAT = "pausebutton.publication/v1"
MAX_PUBLICATION_BYTES = 256 * 1024


class Publication(BaseModel):
    """A governance document as published: the log entry carrying it, and its receipt."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: Literal["pausebutton.publication/v1"] = "pausebutton.publication/v1"
    event: dict[str, Any]
    receipt: InclusionBundle

    def entry(self) -> bytes:
        """The exact bytes of the log entry (the event in RFC 8785 form)."""
        return canonical_bytes(self.event)

    def envelope(self) -> Envelope:
        """The signed governance envelope the entry carries."""
        return envelope_of(parse_event(self.entry()))

    def logged_at(self) -> int:
        """The time the publisher stated in the log entry (Unix seconds)."""
        return parse_event(self.entry()).body.time

    def to_bytes(self) -> bytes:
        """Serialise canonically (RFC 8785): the bytes of the TUF target."""
        return canonical_bytes(self)


def make_publication(entry: bytes, receipt: InclusionBundle) -> Publication:
    """Build a publication from a log entry and its receipt, checking the entry parses."""
    event = parse_event(entry)
    envelope_of(event)
    return Publication(
        event=parse_json(event.canonical, limit=MAX_PUBLICATION_BYTES), receipt=receipt
    )


def parse_publication(data: bytes) -> Publication:
    """Parse a publication file strictly, raising FormatError on anything malformed."""
    value = parse_json(data, limit=MAX_PUBLICATION_BYTES)
    try:
        publication = Publication.model_validate(value)
    except PydanticValidationError as exc:
        raise FormatError(f"malformed publication: {describe_error(exc)}") from None
    publication.envelope()
    return publication


def required_cosignatures(root: Root, policy: Policy | None) -> int:
    """Witness cosignatures a loosening needs: the policy's and the witness role's, the higher."""
    role = root.roles["witness"].threshold
    return role if policy is None else max(role, policy.witness_threshold)


def _log_verifier(root: Root, origin: str, sigs: tuple[note.Signature, ...]) -> note.Verifier:
    lines = {(s.name, s.key_id) for s in sigs}
    for key in root.role_keys("log").values():
        verifier = note.Verifier(origin, key.raw)
        if (verifier.name, verifier.key_id) in lines:
            return verifier
    raise NoteError(f"the checkpoint carries no signature by a log key of root v{root.version}")


def _witness_verifiers(
    root: Root, sigs: tuple[note.Signature, ...]
) -> dict[tuple[str, int], tuple[str, CosignatureVerifier]]:
    # A cosignature line names its witness; the name is not trusted, only the key: each
    # line is matched to the root's witness keys by its key id, which hashes name and key.
    found: dict[tuple[str, int], tuple[str, CosignatureVerifier]] = {}
    for sig in sigs:
        for keyid, key in root.role_keys("witness").items():
            if note.key_id(sig.name, COSIGNATURE_V1, key.raw) == sig.key_id:
                found[(sig.name, sig.key_id)] = (keyid, CosignatureVerifier(sig.name, key.raw))
    return found


def witnessed_by(root: Root, checkpoint: str, origin: str) -> tuple[Checkpoint, frozenset[str]]:
    """Verify a checkpoint's log signature; return it and the root witness keys that cosigned.

    Witnesses count by distinct witness key of `root` (one key under two names counts
    once); a cosignature by a key the root does not name is ignored.
    """
    _, sigs = note.parse_signed_note(checkpoint)
    log_verifier = _log_verifier(root, origin, sigs)
    witnesses = _witness_verifiers(root, sigs)
    cp, found = open_cosigned_checkpoint(
        checkpoint, log_verifier, [v for _, v in witnesses.values()], 0, origin
    )
    return cp, frozenset(witnesses[(c.name, c.key_id)][0] for c in found)


def verify_receipt(publication: Publication, root: Root, quorum: int, origin: str) -> Checkpoint:
    """Check the entry is in a checkpoint signed by a log key and cosigned by `quorum` witnesses.

    Raises NoteError (signatures), SignatureError (too few distinct witness keys of
    `root`), ProofError (inclusion) or FormatError.
    """
    bundle = publication.receipt
    cp, distinct = witnessed_by(root, bundle.checkpoint, origin)
    if len(distinct) < quorum:
        raise SignatureError(
            f"checkpoint at size {cp.size} carries {len(distinct)} valid cosignature(s) by "
            f"witness keys of root v{root.version}; {quorum} required for a loosening"
        )
    leaf = merkle.leaf_hash(publication.entry())
    if decode_hash(bundle.leaf_hash) != leaf:
        raise ProofError("the receipt's leaf hash is not the hash of the published entry")
    proof = [decode_hash(h) for h in bundle.proof]
    merkle.verify_inclusion(leaf, bundle.index, cp.size, proof, cp.root_hash)
    return cp
