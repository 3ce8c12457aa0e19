"""C2SP tlog-cosignature v1 (signature type 0x04): timestamped Ed25519 witness cosignatures.

A cosignature is a note signature line whose bytes are key_id(4) || uint64_be(timestamp) ||
Ed25519(``cosignature/v1\\ntime <timestamp>\\n`` || checkpoint text). A `Witness` cosigns
a log's checkpoints only after checking they extend, consistently, the last one it cosigned.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from pausebutton.errors import FormatError, NoteError, ProofError, ReplayError, SignatureError
from pausebutton.log.checkpoint import Checkpoint, open_checkpoint
from pausebutton.log.note import (
    KeyedSigner,
    Note,
    NoteSigner,
    NoteVerifier,
    Signature,
    Verifier,
    add_signatures,
    parse_signed_note,
    verify,
)

COSIGNATURE_V1 = 0x04
MAX_TIMESTAMP = 2**63 - 1
_SIGNATURE_SIZE = 8 + 64
_EMPTY_ROOT = hashlib.sha256(b"").digest()


class StaleCheckpointError(ReplayError):
    """A checkpoint is smaller than one already cosigned: the log or its relay rolled back."""


class EquivocationError(ProofError):
    """The log signed two different roots for the same tree size: a fork."""


def cosigned_message(text: bytes, timestamp: int) -> bytes:
    """Return the bytes an Ed25519 v1 cosignature signs over a checkpoint's note text."""
    _check_timestamp(timestamp)
    return b"cosignature/v1\ntime %d\n" % timestamp + text


def _check_timestamp(timestamp: int) -> None:
    if isinstance(timestamp, bool) or not isinstance(timestamp, int):
        raise FormatError(f"a timestamp is an int, got {type(timestamp).__name__}")
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise FormatError(f"timestamp {timestamp} is outside 0..2^63-1")


class CosignatureVerifier(Verifier):
    """Verifies v1 cosignatures by one cosigner (vkey algorithm byte 0x04)."""

    SIG_TYPE: ClassVar[int] = COSIGNATURE_V1

    def verify(self, msg: bytes, sig: bytes) -> bool:
        """Report whether `sig` (timestamp || Ed25519) cosigns the checkpoint text `msg`."""
        if len(sig) != _SIGNATURE_SIZE:
            return False
        timestamp = int.from_bytes(sig[:8], "big")
        if timestamp > MAX_TIMESTAMP:
            return False
        return super().verify(cosigned_message(msg, timestamp), sig[8:])


@dataclass(frozen=True)
class Cosignature:
    """A parsed cosignature: cosigner name, key id, timestamp, and the Ed25519 signature."""

    name: str
    key_id: int
    timestamp: int
    signature: bytes

    @classmethod
    def from_signature(cls, sig: Signature) -> Cosignature:
        """Read a note signature as a v1 cosignature; NoteError if it cannot be one."""
        if len(sig.signature) != _SIGNATURE_SIZE:
            raise NoteError(
                f"signature of {sig.name} is {len(sig.signature)} bytes after the key id, "
                f"a cosignature is {_SIGNATURE_SIZE}"
            )
        timestamp = int.from_bytes(sig.signature[:8], "big")
        if timestamp > MAX_TIMESTAMP:
            raise NoteError(f"cosignature timestamp {timestamp} exceeds 2^63-1")
        return cls(sig.name, sig.key_id, timestamp, sig.signature[8:])

    @classmethod
    def from_line(cls, line: str) -> Cosignature:
        """Parse a signature line as a v1 cosignature (syntax only; verifies nothing)."""
        return cls.from_signature(Signature.from_line(line))

    def to_line(self) -> str:
        """Return this cosignature as a note signature line."""
        raw = self.timestamp.to_bytes(8, "big") + self.signature
        return Signature(self.name, self.key_id, raw).to_line()


@dataclass(frozen=True)
class _TimedSigner:
    """A NoteSigner that cosigns at one fixed timestamp."""

    signer: CosignatureSigner
    timestamp: int

    @property
    def name(self) -> str:
        return self.signer.name

    @property
    def key_id(self) -> int:
        return self.signer.key_id

    def sign(self, msg: bytes) -> bytes:
        return self.signer.sign_at(msg, self.timestamp)


class CosignatureSigner(KeyedSigner):
    """A cosigner's name and Ed25519 key; its key id uses signature type 0x04."""

    SIG_TYPE: ClassVar[int] = COSIGNATURE_V1

    def verifier(self) -> CosignatureVerifier:
        """Return the matching verifier."""
        return CosignatureVerifier(self._name, self._key.public.raw)

    def vkey(self) -> str:
        """Return the verifier key string (algorithm byte 0x04)."""
        return self.verifier().vkey()

    def sign_at(self, msg: bytes, timestamp: int) -> bytes:
        """Return uint64_be(timestamp) || Ed25519 signature cosigning the checkpoint text `msg`."""
        signed = cosigned_message(msg, timestamp)
        return timestamp.to_bytes(8, "big") + self._key.sign(signed)

    def at(self, timestamp: int) -> NoteSigner:
        """Return a note signer that cosigns at `timestamp`."""
        _check_timestamp(timestamp)
        return _TimedSigner(self, timestamp)


def cosign(checkpoint_note: str, signer: CosignatureSigner, timestamp: int) -> str:
    """Append `signer`'s cosignature to a checkpoint note; verifies nothing (see `Witness`)."""
    text, _ = parse_signed_note(checkpoint_note)
    Checkpoint.parse(text)
    return add_signatures(checkpoint_note, [signer.at(timestamp)])


def cosignatures(note: Note, cosigners: Sequence[CosignatureVerifier]) -> tuple[Cosignature, ...]:
    """Return the cosignatures among `note`'s verified signatures that are by `cosigners`."""
    ids = {(c.name, c.key_id) for c in cosigners}
    return tuple(
        Cosignature.from_signature(sig) for sig in note.sigs if (sig.name, sig.key_id) in ids
    )


def open_cosigned_checkpoint(
    note_text: str | bytes,
    log_verifier: NoteVerifier,
    cosigners: Sequence[CosignatureVerifier],
    quorum: int,
    origin: str | None = None,
) -> tuple[Checkpoint, tuple[Cosignature, ...]]:
    """Verify a checkpoint signed by the log and cosigned by at least `quorum` of `cosigners`.

    Raises NoteError (signatures), FormatError (checkpoint text), SignatureError (quorum).
    """
    note = verify(note_text, [log_verifier, *cosigners])
    if not any((s.name, s.key_id) == (log_verifier.name, log_verifier.key_id) for s in note.sigs):
        raise NoteError(f"checkpoint carries no signature by the log key {log_verifier.name}")
    cp = Checkpoint.parse(note.text)
    if origin is not None and cp.origin != origin:
        raise NoteError(f"checkpoint is for origin {cp.origin!r}, expected {origin!r}")
    found = cosignatures(note, cosigners)
    if len(found) < quorum:
        raise SignatureError(f"checkpoint has {len(found)} valid cosignatures, needs {quorum}")
    return cp, found


class Witness:
    """Cosigns one log's checkpoints, each only if consistent with the last it cosigned.

    Pure: the state (the last cosigned checkpoint) comes in through the constructor and goes
    out through `state`; the caller persists it before publishing the cosignature.
    """

    def __init__(
        self,
        signer: CosignatureSigner,
        log_verifier: NoteVerifier,
        origin: str,
        state: Checkpoint | None = None,
    ) -> None:
        if state is not None and state.origin != origin:
            raise FormatError(f"witness state is for origin {state.origin!r}, not {origin!r}")
        self._signer = signer
        self._log = log_verifier
        self._origin = origin
        self._state = state

    @property
    def origin(self) -> str:
        """The origin of the log this witness follows."""
        return self._origin

    @property
    def state(self) -> Checkpoint | None:
        """The last checkpoint cosigned, or None before the first."""
        return self._state

    def cosign(self, new_note: str, consistency_proof: Sequence[bytes], now: int) -> str:
        """Verify `new_note` against the log key and the last state, then cosign it at `now`."""
        cp, _ = open_checkpoint(new_note, self._log, self._origin)
        self._check_consistent(cp, consistency_proof)
        cosigned = cosign(new_note, self._signer, now)
        self._state = cp
        return cosigned

    def _check_consistent(self, cp: Checkpoint, proof: Sequence[bytes]) -> None:
        old = self._state
        if old is not None and cp.size < old.size:
            raise StaleCheckpointError(f"checkpoint size {cp.size} is below {old.size}, cosigned")
        if old is not None and cp.size == old.size:
            if cp.root_hash != old.root_hash:
                raise EquivocationError(f"the log signed two different roots for size {cp.size}")
            if proof:
                raise ProofError("an unchanged tree takes an empty consistency proof")
            return
        if old is None or old.size == 0:
            if cp.size == 0 and cp.root_hash != _EMPTY_ROOT:
                raise EquivocationError("an empty tree's root must be SHA-256 of nothing")
            if proof:
                raise ProofError("a first checkpoint (from an empty tree) takes an empty proof")
            return
        from pausebutton.log.merkle import verify_consistency

        verify_consistency(old.size, cp.size, old.root_hash, cp.root_hash, proof)
