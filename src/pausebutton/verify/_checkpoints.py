"""The audit's checks of the checkpoints themselves: signatures, quorum, forks and rollback."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass, field

from pausebutton.errors import Error
from pausebutton.log.checkpoint import Checkpoint
from pausebutton.log.merkle import EMPTY_ROOT
from pausebutton.verify.equivocation import EquivocationProof, check_equivocation_proof, fork_proof
from pausebutton.verify.findings import CheckpointStatus, Evidence, FindingLog
from pausebutton.verify.sources import LogSource, SourcedCheckpoint
from pausebutton.verify.trust import AuditTrust, CheckedNote


def b64(raw: bytes) -> str:
    """Standard base64, as C2SP writes hashes."""
    return base64.b64encode(raw).decode()


@dataclass
class Seen:
    """One distinct signed checkpoint body, merged over every copy the auditor was given."""

    cp: Checkpoint
    note: str
    status: CheckpointStatus
    witnesses: dict[bytes, str] = field(default_factory=dict)
    timestamps: list[int] = field(default_factory=list)

    @classmethod
    def first(cls, checked: CheckedNote, note: str) -> Seen:
        """Start from the first copy seen."""
        cp = checked.checkpoint
        status = CheckpointStatus(
            where=[],
            size=cp.size,
            root=b64(cp.root_hash),
            log_key=checked.log_key,
            witnesses=[],
            witnessed_at=None,
            quorum_met=False,
        )
        return cls(cp, note, status)

    def merge(self, where: str, checked: CheckedNote) -> None:
        """Add one more copy: where it was, and its valid cosignatures."""
        self.status.where.append(where)
        for raw, label in checked.witnesses.items():
            self.witnesses.setdefault(raw, label)
        self.timestamps.extend(checked.timestamps)
        self.status.witnesses = sorted(self.witnesses.values())
        self.status.witnessed_at = min(self.timestamps, default=None)


class AuditState:
    """What one audit run has learnt so far."""

    def __init__(self, source: LogSource, trust: AuditTrust) -> None:
        self.source, self.trust = source, trust
        self.findings = FindingLog()
        self.seen: dict[str, Seen] = {}
        self.head: Seen | None = None
        self.equivocations: list[EquivocationProof] = []

    def key(self, seen: Seen) -> str:
        """A finding key for a checkpoint: its size, and its root where the size is forked."""
        twins = sum(s.cp.size == seen.cp.size for s in self.seen.values())
        return str(seen.cp.size) if twins == 1 else f"{seen.cp.size}:{seen.cp.root_hash.hex()[:12]}"

    def equivocation(
        self, proof: EquivocationProof, check: str, key: str, message: str, evidence: Evidence
    ) -> None:
        """Record a critical finding with its proof, which must check with the log key alone."""
        try:
            check_equivocation_proof(proof, self.trust.log_keys)
        except Error as exc:  # pragma: no cover - a bug in the auditor, not a finding
            raise AssertionError(f"the auditor built an invalid {check} proof: {exc}") from exc
        self.equivocations.append(proof)
        evidence["proof"] = len(self.equivocations) - 1
        self.findings.add(check, key, "critical", message, evidence)


def collect(state: AuditState, known: Sequence[SourcedCheckpoint]) -> None:
    """Read every checkpoint, verify its log signature, merge copies, check the quorum."""
    notes: list[SourcedCheckpoint] = []
    head: SourcedCheckpoint | None = None
    try:
        head = state.source.checkpoint()
        notes.append(head)
    except Error as exc:
        state.findings.add("checkpoint-missing", "head", "error", str(exc), {})
    try:
        notes.extend(state.source.checkpoints())
    except Error as exc:
        state.findings.add("checkpoint-missing", "stored", "error", str(exc), {})
    notes.extend(known)
    for where, text in notes:
        try:
            checked = state.trust.check_note(text)
        except Error as exc:
            message = f"{where} is not a checkpoint signed by the log: {exc}"
            state.findings.add("checkpoint-signature", where, "error", message, {"where": where})
            continue
        seen = state.seen.setdefault(checked.body, Seen.first(checked, text))
        seen.merge(where, checked)
        if head is not None and (where, text) == (head.where, head.note):
            state.head = seen
        for bad in checked.bad_cosignatures:
            state.findings.add(
                "cosignature-invalid",
                f"{checked.checkpoint.size}/{bad}",
                "warning",
                f"{where}: the cosignature {bad} names a trusted witness key but is invalid",
                {"where": where, "size": checked.checkpoint.size, "cosigner": bad},
            )
    for seen in state.seen.values():
        _check_quorum(state, seen)


def _check_quorum(state: AuditState, seen: Seen) -> None:
    seen.status.quorum_met = len(seen.witnesses) >= state.trust.quorum
    if not seen.status.quorum_met:
        state.findings.add(
            "witness-quorum",
            state.key(seen),
            "error",
            f"the checkpoint at size {seen.cp.size} has {len(seen.witnesses)} valid "
            f"cosignature(s) by trusted witness keys; the quorum is {state.trust.quorum}",
            {"size": seen.cp.size, "where": seen.status.where, "witnesses": seen.status.witnesses},
        )
    if seen.cp.size == 0 and seen.cp.root_hash != EMPTY_ROOT:
        state.findings.add(
            "empty-root",
            state.key(seen),
            "critical",
            "the log signed a checkpoint of size 0 whose root is not SHA-256 of nothing",
            {"where": seen.status.where, "note": seen.note},
        )


def check_forks(state: AuditState) -> None:
    """Prove a fork for every size the log signed two roots for."""
    by_size: dict[int, dict[bytes, Seen]] = {}
    for seen in state.seen.values():
        by_size.setdefault(seen.cp.size, {}).setdefault(seen.cp.root_hash, seen)
    for size, roots in sorted(by_size.items()):
        ordered = [roots[r] for r in sorted(roots)]
        for other in ordered[1:]:
            state.equivocation(
                fork_proof(ordered[0].note, other.note),
                "fork",
                f"{size}",
                f"the log signed two different roots for size {size}",
                {"size": size, "roots": [b64(ordered[0].cp.root_hash), b64(other.cp.root_hash)]},
            )


def check_rollback(state: AuditState) -> int | None:
    """Return the size to audit up to; flag every signed checkpoint beyond the source's newest."""
    if state.head is None:
        if not state.seen:
            return None
        state.head = max(state.seen.values(), key=lambda s: s.cp.size)
        state.findings.add(
            "checkpoint-missing",
            "head-invalid",
            "error",
            "the source's newest checkpoint is missing or invalid; auditing up to the "
            f"largest valid one, at size {state.head.cp.size}",
            {"size": state.head.cp.size},
        )
    head = state.head
    for seen in state.seen.values():
        if seen.cp.size > head.cp.size:
            state.findings.add(
                "rollback",
                f"{head.cp.size}-{seen.cp.size}",
                "error",
                f"the source's newest checkpoint is at size {head.cp.size}, but the log signed "
                f"one at size {seen.cp.size} ({', '.join(seen.status.where)}): the log or the "
                "source rolled back",
                {
                    "head_size": head.cp.size,
                    "signed_size": seen.cp.size,
                    "head_witnessed_at": head.status.witnessed_at,
                    "signed_witnessed_at": seen.status.witnessed_at,
                    "where": seen.status.where,
                },
            )
    return head.cp.size
