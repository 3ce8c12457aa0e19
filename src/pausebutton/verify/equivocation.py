"""Portable proofs that a log equivocated: two signed views of the log that cannot both hold.

A ``pausebutton.equivocation/v1`` document holds two checkpoints, each a signed note as
the log published it, and for a non-extension a consistency path. Anyone holding only the
log's verifier key re-checks it with `check_equivocation_proof`:

* **fork**: both notes carry valid log signatures, for the same origin and tree size, with
  different root hashes. One tree size has one root, so the log signed two histories.
* **non_extension**: both notes are validly signed, ``first`` is smaller, and ``proof`` is
  the RFC 9162 (section 2.1.4.2) consistency path from ``first``'s size to ``second``'s
  *with its seed made explicit*: when the old size is a power of two, the path starts with
  the root of that many leaves, where the RFC's verifier would prepend the old root. The
  path must reproduce ``second``'s root and yield an old root that is not ``first``'s.
  Reproducing ``second``'s root fixes every hash in the path (SHA-256 is collision
  resistant), so the old root it yields is that of ``second``'s first leaves: the log's
  newer tree does not begin with its older one. Honest checkpoints can never be framed.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from pausebutton.crypto.canonical import canonical_bytes, parse_json
from pausebutton.errors import Error, FormatError, ProofError
from pausebutton.log import note
from pausebutton.log.checkpoint import Checkpoint
from pausebutton.log.merkle import consistency_ranges, node_hash
from pausebutton.log.note import NoteVerifier
from pausebutton.log.proofs import MAX_PROOF_HASHES, HashText, decode_hash, encode_hashes

EQUIVOCATION_FORMAT = "pausebutton.equivocation/v1"
MAX_PROOF_DOCUMENT = 256 * 1024
MAX_NOTE_TEXT = 64 * 1024


class UnprovenEquivocationError(ProofError):
    """An equivocation proof does not prove that the log misbehaved."""


class EquivocationProof(BaseModel):
    """Two signed checkpoints of one log that contradict each other, and the path if needed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: Literal["pausebutton.equivocation/v1"] = "pausebutton.equivocation/v1"
    kind: Literal["fork", "non_extension"] = Field(
        description="fork: one size, two roots; non_extension: second does not extend first"
    )
    first: str = Field(max_length=MAX_NOTE_TEXT, description="signed note, the smaller size")
    second: str = Field(max_length=MAX_NOTE_TEXT, description="signed note, the larger size")
    proof: tuple[HashText, ...] = Field(
        default=(),
        max_length=MAX_PROOF_HASHES + 1,
        description="non_extension: consistency path with its seed explicit; fork: empty",
    )


def seeded_ranges(old_size: int, new_size: int) -> list[tuple[int, int]]:
    """Return the leaf ranges of the seeded consistency path from `old_size` to `new_size`."""
    ranges = consistency_ranges(old_size, new_size)
    if old_size & (old_size - 1) == 0:
        ranges.insert(0, (0, old_size))
    return ranges


def chain_consistency(old_size: int, new_size: int, path: Sequence[bytes]) -> tuple[bytes, bytes]:
    """Run RFC 9162 section 2.1.4.2 steps 3-7 on a seeded path; return (old root, new root)."""
    if not 0 < old_size < new_size:
        raise ProofError(f"sizes {old_size} and {new_size} need 0 < old < new")
    if not path:
        raise ProofError("the consistency path is empty")
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError(f"the consistency path is too long for {old_size} to {new_size}")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError(f"the consistency path is too short for {old_size} to {new_size}")
    return fr, sr


def fork_proof(first: str, second: str) -> EquivocationProof:
    """Make a fork proof from two signed notes of the same size (not checked here)."""
    return EquivocationProof(kind="fork", first=first, second=second)


def non_extension_proof(first: str, second: str, path: Sequence[bytes]) -> EquivocationProof:
    """Make a non-extension proof from the older note, the newer one and the seeded path."""
    return EquivocationProof(
        kind="non_extension", first=first, second=second, proof=encode_hashes(list(path))
    )


def parse_equivocation_proof(data: bytes | str) -> EquivocationProof:
    """Parse a proof document strictly; FormatError if malformed or oversized."""
    value = parse_json(data, limit=MAX_PROOF_DOCUMENT)
    if not isinstance(value, dict) or value.get("format") != EQUIVOCATION_FORMAT:
        raise FormatError(f"not a {EQUIVOCATION_FORMAT} document")
    try:
        return EquivocationProof.model_validate(value)
    except PydanticValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "(root)"
        raise FormatError(f"malformed equivocation proof: {where}: {err['msg']}") from None


def equivocation_proof_bytes(proof: EquivocationProof) -> bytes:
    """Serialise a proof canonically (RFC 8785)."""
    return canonical_bytes(proof)


def _open(which: str, text: str, verifiers: Sequence[NoteVerifier]) -> Checkpoint:
    try:
        return Checkpoint.parse(note.verify(text, verifiers).text)
    except Error as exc:
        raise UnprovenEquivocationError(f"{which} checkpoint: {exc}") from None


def check_equivocation_proof(
    doc: EquivocationProof | bytes | str, log_verifier: NoteVerifier | Sequence[NoteVerifier]
) -> None:
    """Return if `doc` proves that the log equivocated; raise UnprovenEquivocationError if not.

    A malformed document raises FormatError.
    """
    proof = doc if isinstance(doc, EquivocationProof) else parse_equivocation_proof(doc)
    verifiers = list(log_verifier) if isinstance(log_verifier, Sequence) else [log_verifier]
    first = _open("first", proof.first, verifiers)
    second = _open("second", proof.second, verifiers)
    if first.origin != second.origin:
        raise UnprovenEquivocationError(
            f"the checkpoints are of two logs, {first.origin!r} and {second.origin!r}"
        )
    if proof.kind == "fork":
        if proof.proof:
            raise UnprovenEquivocationError("a fork proof carries no consistency path")
        if first.size != second.size:
            raise UnprovenEquivocationError(
                f"a fork needs one size; the checkpoints are at {first.size} and {second.size}"
            )
        if first.root_hash == second.root_hash:
            raise UnprovenEquivocationError(f"both checkpoints at size {first.size} agree")
        return
    if not 0 < first.size < second.size:
        raise UnprovenEquivocationError(
            f"a non-extension needs 0 < first size < second size, not {first.size}, {second.size}"
        )
    try:
        old, new = chain_consistency(first.size, second.size, [decode_hash(h) for h in proof.proof])
    except Error as exc:
        raise UnprovenEquivocationError(f"the consistency path: {exc}") from None
    if new != second.root_hash:
        raise UnprovenEquivocationError(
            f"the path does not reproduce the root at size {second.size}, so it proves nothing"
        )
    if old == first.root_hash:
        raise UnprovenEquivocationError(
            f"the checkpoint at size {second.size} extends the one at size {first.size}"
        )


def describe(proof: EquivocationProof) -> str:
    """Return one line saying what the proof shows (it does not check it)."""
    a = Checkpoint.parse(note.parse_signed_note(proof.first)[0])
    b = Checkpoint.parse(note.parse_signed_note(proof.second)[0])
    root = base64.b64encode
    if proof.kind == "fork":
        return (
            f"{a.origin} signed two roots for size {a.size}: "
            f"{root(a.root_hash).decode()} and {root(b.root_hash).decode()}"
        )
    return f"{a.origin}: the checkpoint at size {b.size} does not extend the one at size {a.size}"
