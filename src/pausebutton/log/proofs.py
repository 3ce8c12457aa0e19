"""Portable proof bundles: an inclusion or consistency proof together with signed checkpoints.

A bundle is what the log hands a submitter as its receipt, and what an auditor checks
offline with nothing but the log's verifier key. Hashes are standard base64, as in C2SP.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from pausebutton.crypto.canonical import canonical_bytes, parse_json
from pausebutton.errors import FormatError, ProofError
from pausebutton.log import merkle
from pausebutton.log.checkpoint import Checkpoint, open_checkpoint
from pausebutton.log.note import NoteVerifier

MAX_BUNDLE_BYTES = 256 * 1024
MAX_PROOF_HASHES = 64
HashText = Annotated[str, Field(min_length=44, max_length=44, pattern=r"^[A-Za-z0-9+/]{43}=$")]
"""A 32-byte hash in standard base64."""


class InclusionBundle(BaseModel):
    """Proof that one entry is at `index` in the tree a signed checkpoint commits to."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: Literal["pausebutton.inclusion/v1"] = "pausebutton.inclusion/v1"
    index: int = Field(ge=0, strict=True)
    leaf_hash: HashText
    proof: tuple[HashText, ...] = Field(max_length=MAX_PROOF_HASHES)
    checkpoint: str = Field(max_length=64 * 1024)


class ConsistencyBundle(BaseModel):
    """Proof that a newer signed checkpoint extends an older one (append-only)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: Literal["pausebutton.consistency/v1"] = "pausebutton.consistency/v1"
    old_checkpoint: str = Field(max_length=64 * 1024)
    new_checkpoint: str = Field(max_length=64 * 1024)
    proof: tuple[HashText, ...] = Field(max_length=MAX_PROOF_HASHES)


def encode_hashes(hashes: list[bytes]) -> tuple[str, ...]:
    """Encode hashes as standard base64 strings."""
    return tuple(base64.b64encode(h).decode() for h in hashes)


def decode_hash(text: str) -> bytes:
    """Decode one standard-base64 hash, raising FormatError if it is not 32 bytes."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise FormatError(f"{text!r} is not base64") from None
    if len(raw) != merkle.HASH_SIZE:
        raise FormatError(f"hash is {len(raw)} bytes, not {merkle.HASH_SIZE}")
    return raw


def parse_bundle(data: bytes | str) -> InclusionBundle | ConsistencyBundle:
    """Parse a bundle file, raising FormatError on anything malformed or oversized."""
    value = parse_json(data, limit=MAX_BUNDLE_BYTES)
    kind = value.get("format") if isinstance(value, dict) else None
    model: type[InclusionBundle] | type[ConsistencyBundle]
    if kind == "pausebutton.inclusion/v1":
        model = InclusionBundle
    elif kind == "pausebutton.consistency/v1":
        model = ConsistencyBundle
    else:
        raise FormatError(f"unknown bundle format {kind!r}")
    try:
        return model.model_validate(value)
    except PydanticValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise FormatError(f"malformed {kind} bundle: {where}: {err['msg']}") from None


def bundle_bytes(bundle: InclusionBundle | ConsistencyBundle) -> bytes:
    """Serialise a bundle canonically (RFC 8785)."""
    return canonical_bytes(bundle)


def verify_inclusion_bundle(
    bundle: InclusionBundle,
    log_verifier: NoteVerifier,
    origin: str,
    entry: bytes | None = None,
) -> Checkpoint:
    """Verify the checkpoint's signature and the proof; with `entry`, that it is the leaf."""
    cp, _ = open_checkpoint(bundle.checkpoint, log_verifier, origin)
    leaf = decode_hash(bundle.leaf_hash)
    if entry is not None and merkle.leaf_hash(entry) != leaf:
        raise ProofError("the entry does not hash to the bundle's leaf hash")
    proof = [decode_hash(h) for h in bundle.proof]
    merkle.verify_inclusion(leaf, bundle.index, cp.size, proof, cp.root_hash)
    return cp


def verify_consistency_bundle(
    bundle: ConsistencyBundle, log_verifier: NoteVerifier, origin: str
) -> tuple[Checkpoint, Checkpoint]:
    """Verify both checkpoints' signatures and that the newer extends the older."""
    old, _ = open_checkpoint(bundle.old_checkpoint, log_verifier, origin)
    new, _ = open_checkpoint(bundle.new_checkpoint, log_verifier, origin)
    proof = [decode_hash(h) for h in bundle.proof]
    merkle.verify_consistency(old.size, new.size, old.root_hash, new.root_hash, proof)
    return old, new
