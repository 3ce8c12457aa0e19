"""A log with witnesses, built through the real log and cosignature code, for the audit tests.

No tests here: the helpers the audit, export and replay tests share (named ``test_audit_*``
to stay among the audit's test files).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from pausebutton.crypto import SigningKey
from pausebutton.log import note
from pausebutton.log.checkpoint import Checkpoint, sign_checkpoint
from pausebutton.log.cosignature import CosignatureSigner, Witness
from pausebutton.log.tlog import TransparencyLog
from pausebutton.verify.audit import audit_log
from pausebutton.verify.export import export_log
from pausebutton.verify.findings import AuditResult
from pausebutton.verify.sources import DirectorySource, SourcedCheckpoint
from pausebutton.verify.trust import AuditTrust

ORIGIN = "audit.example/log"
NOW = 1_800_000_000


def seed(name: str) -> SigningKey:
    """A fixed key per name."""
    return SigningKey.from_seed(hashlib.sha256(name.encode()).digest())


def log_signer(origin: str = ORIGIN, name: str = "log") -> note.Signer:
    """The log's fixed note signer."""
    return note.Signer.from_signing_key(origin, seed(name))


def entry(i: int, salt: str = "") -> bytes:
    """A log entry of varying length."""
    return f"entry {i}{salt} ".encode() * (1 + i % 5)


class LogWorld:
    """A log signed by a fixed key, followed by witnesses that cosign each checkpoint."""

    def __init__(
        self,
        folder: Path,
        witnesses: int = 2,
        origin: str = ORIGIN,
        salt: str = "",
        keys: tuple[SigningKey, list[SigningKey]] | None = None,
    ) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        log_key, witness_keys = keys or (
            seed("log"),
            [seed(f"witness {i}") for i in range(witnesses)],
        )
        self.signer = note.Signer.from_signing_key(origin, log_key)
        self.log = TransparencyLog.open(f"sqlite:///{folder / 'log.db'}", origin, self.signer)
        self.cosigners = [
            CosignatureSigner.from_signing_key(f"witness{i}.example", k)
            for i, k in enumerate(witness_keys)
        ]
        self.witnesses = [Witness(c, self.signer.verifier(), origin) for c in self.cosigners]
        self.salt = salt
        self.now = NOW

    def close(self) -> None:
        """Release the database."""
        self.log.close()

    def grow(self, count: int, cosigners: list[int] | None = None) -> str:
        """Append `count` entries, sign a checkpoint, have witnesses cosign it; return the note."""
        size = self.log.size
        for low in range(size, size + count, 50_000):
            high = min(size + count, low + 50_000)
            self.log.append([entry(i, self.salt) for i in range(low, high)])
        text = self.log.checkpoint()
        self.now += 60
        chosen = range(len(self.witnesses)) if cosigners is None else cosigners
        for i in chosen:
            witness = self.witnesses[i]
            old = witness.state.size if witness.state is not None else 0
            proof = self.log.consistency_proof(old, self.log.size) if old else []
            cosigned = witness.cosign(text, proof, self.now)
            self.log.add_cosignatures(cosigned, [c.verifier() for c in self.cosigners])
        return self.log.cosigned_checkpoint(self.log.size)

    def export(self, name: str = "export", *, parquet: bool = False) -> Path:
        """Export the log into `folder/name`; return the folder."""
        export_log(self.log, self.folder / name, parquet=parquet)
        return self.folder / name

    def trust(self, quorum: int = 2) -> AuditTrust:
        """What an auditor is given: the log key, the witness keys, a quorum."""
        return AuditTrust.from_vkeys(
            [self.signer.vkey()], [c.vkey() for c in self.cosigners], quorum
        )

    def audit(
        self, directory: Path, *, quorum: int = 2, known: list[str] | None = None
    ) -> AuditResult:
        """Audit an exported directory, with checkpoints seen elsewhere if any."""
        extra = [SourcedCheckpoint(f"known/{i}", t) for i, t in enumerate(known or [])]
        return audit_log(DirectorySource(directory), self.trust(quorum), known=extra)

    def forged(self, size: int, root: bytes) -> str:
        """A checkpoint the log's key signs for any root: what a misbehaving log can do."""
        return sign_checkpoint(Checkpoint(self.log.origin, size, root), self.signer)


def checks(result: AuditResult) -> set[str]:
    """The ids of the findings."""
    return {f.id for f in result.findings}
