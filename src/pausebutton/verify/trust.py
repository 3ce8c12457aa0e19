"""What the auditor trusts (the log's keys, the witnesses' keys, the quorum); checking one note.

Nothing else is trusted: not the directory or server the checkpoints came from, not the
names on signature lines. A cosignature counts when it verifies under a trusted witness
key, and witnesses count by distinct key, so one key under two names counts once (the
rule `governance.publication.witnessed_by` applies for devices).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from pausebutton.errors import FormatError, NoteError
from pausebutton.governance.policy import Policy
from pausebutton.governance.publication import required_cosignatures
from pausebutton.governance.root import Root
from pausebutton.log import note
from pausebutton.log.checkpoint import Checkpoint
from pausebutton.log.cosignature import COSIGNATURE_V1, CosignatureVerifier

DEFAULT_QUORUM: int = Policy.model_fields["witness_threshold"].default
"""The policy's default witness threshold, used when no quorum is given."""


@dataclass(frozen=True)
class CheckedNote:
    """A checkpoint note whose log signature verified, and the witnesses that cosigned it."""

    checkpoint: Checkpoint
    body: str
    log_key: str
    witnesses: dict[bytes, str]
    """Raw witness public key -> the ``name+keyid`` of its first valid cosignature."""
    timestamps: tuple[int, ...]
    bad_cosignatures: tuple[str, ...]
    """``name+keyid`` of lines that name a trusted witness key but do not verify."""


@dataclass(frozen=True)
class AuditTrust:
    """The log's origin and verifier keys, the witnesses' raw Ed25519 keys, and the quorum."""

    origin: str
    log_keys: tuple[note.Verifier, ...]
    witness_keys: tuple[bytes, ...] = ()
    quorum: int = DEFAULT_QUORUM

    def __post_init__(self) -> None:
        if not self.log_keys:
            raise FormatError("the auditor needs at least one log verifier key")
        if any(k.name != self.origin for k in self.log_keys):
            raise FormatError(f"every log key must be named for the origin {self.origin!r}")
        if self.quorum < 0:
            raise FormatError(f"quorum {self.quorum} is negative")
        if self.quorum > len(set(self.witness_keys)):
            raise FormatError(
                f"quorum {self.quorum} exceeds the {len(set(self.witness_keys))} witness key(s) "
                "given: no checkpoint could meet it"
            )

    @classmethod
    def from_vkeys(
        cls, log_vkeys: Sequence[str], witness_vkeys: Sequence[str] = (), quorum: int | None = None
    ) -> AuditTrust:
        """Trust C2SP verifier keys: the log's (type 0x01) and the witnesses' (0x04 or 0x01)."""
        logs = tuple(note.Verifier.from_vkey(v) for v in log_vkeys)
        if not logs:
            raise FormatError("give the log's verifier key (--vkey)")
        witnesses = tuple(_witness_key(v) for v in witness_vkeys)
        chosen = min(DEFAULT_QUORUM, len(witnesses)) if quorum is None else quorum
        return cls(logs[0].name, logs, witnesses, chosen)

    @classmethod
    def from_root(cls, root: Root, origin: str, policy: Policy | None = None) -> AuditTrust:
        """Trust a governance root's ``log`` and ``witness`` keys and the policy's quorum."""
        logs = tuple(note.Verifier(origin, k.raw) for k in root.role_keys("log").values())
        witnesses = tuple(k.raw for k in root.role_keys("witness").values())
        return cls(origin, logs, witnesses, required_cosignatures(root, policy))

    def check_note(self, text: str) -> CheckedNote:
        """Verify the log's signature on a checkpoint and collect its valid cosignatures.

        Raises NoteError or FormatError when the log's signature or the checkpoint is bad.
        """
        opened = note.verify(text, self.log_keys)
        cp = Checkpoint.parse(opened.text)
        if cp.origin != self.origin:
            raise NoteError(f"checkpoint is for origin {cp.origin!r}, expected {self.origin!r}")
        signer = opened.sigs[0]
        msg = opened.text.encode()
        witnesses: dict[bytes, str] = {}
        timestamps: list[int] = []
        bad: list[str] = []
        for sig in opened.unverified_sigs:
            for raw in self.witness_keys:
                if note.key_id(sig.name, COSIGNATURE_V1, raw) != sig.key_id:
                    continue
                label = f"{sig.name}+{sig.key_id:08x}"
                if _cosignature_valid(sig, raw, msg):
                    witnesses.setdefault(raw, label)
                    timestamps.append(int.from_bytes(sig.signature[:8], "big"))
                else:
                    bad.append(label)
        return CheckedNote(
            checkpoint=cp,
            body=opened.text,
            log_key=f"{signer.name}+{signer.key_id:08x}",
            witnesses=witnesses,
            timestamps=tuple(sorted(timestamps)),
            bad_cosignatures=tuple(bad),
        )


def key_label(raw: bytes) -> str:
    """Name a raw public key as governance does: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(raw).hexdigest()[:16]


def _cosignature_valid(sig: note.Signature, raw: bytes, msg: bytes) -> bool:
    try:
        return CosignatureVerifier(sig.name, raw).verify(msg, sig.signature)
    except FormatError:
        return False  # a line whose name is no valid key name cannot be a cosignature


def _witness_key(vkey: str) -> bytes:
    name, _, rest = vkey.partition("+")
    _, _, data = rest.partition("+")
    raw = note.decode_base64(data)
    kind = raw[0] if raw else None
    if kind == COSIGNATURE_V1:
        _, _, key = note.parse_vkey(vkey, COSIGNATURE_V1, 32)
        return key
    if kind == note.ED25519:
        return note.Verifier.from_vkey(vkey).public_key
    raise FormatError(f"witness key {name!r} is neither a cosignature (0x04) nor Ed25519 key")
