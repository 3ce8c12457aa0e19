"""What an audit reports: findings with stable ids, severities and evidence, per-checkpoint status.

The models are the audit's JSON output (``pausebutton.audit/v1``) and what the HTML
report renders. A finding's id is its check and the sizes or indices it is about, so the
same problem found twice has the same id.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from pausebutton.verify.equivocation import EquivocationProof

Severity = Literal["critical", "error", "warning"]
"""critical: the log provably misbehaved; error: a check failed; warning: worth a look."""

Evidence = dict[str, str | int | bool | list[str] | list[int] | None]

MAX_FINDINGS_PER_CHECK = 50
"""Findings of one check beyond this are summed up in one last finding."""


class Finding(BaseModel):
    """One problem the audit found, with the evidence a reader needs to check it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(description="stable: the check and what it is about, e.g. fork/1024")
    check: str = Field(description="which check failed")
    severity: Severity
    message: str
    evidence: Evidence = Field(default_factory=dict)


class CheckpointStatus(BaseModel):
    """One distinct signed checkpoint the audit saw, and what it established about it."""

    model_config = ConfigDict(extra="forbid")

    where: list[str] = Field(description="where the source and the caller had it")
    size: int
    root: str = Field(description="root hash, base64")
    log_key: str = Field(description="name+keyid of the log key that signed it")
    witnesses: list[str] = Field(description="name+keyid of each distinct witness key")
    witnessed_at: int | None = Field(description="earliest valid cosignature time, Unix s")
    quorum_met: bool
    root_from_tiles: bool | None = Field(
        default=None, description="the exported tiles reproduce its root (None: not checked)"
    )
    root_from_entries: bool | None = Field(
        default=None, description="the entries reproduce its root (None: not checked)"
    )
    consistent: bool | None = Field(
        default=None,
        description="proved to extend, or be extended by, its neighbour in the log's tree; "
        "False: a proof shows it is not in that tree (None: not checked)",
    )


class AuditResult(BaseModel):
    """The outcome of a log audit."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["pausebutton.audit/v1"] = "pausebutton.audit/v1"
    origin: str
    source: str
    quorum: int
    witness_keys: int
    head_size: int | None = Field(description="size of the source's newest checkpoint")
    entries_checked: int = 0
    tiles_checked: int = 0
    checkpoints: list[CheckpointStatus] = Field(default_factory=list)
    findings: list[Finding] = Field(default_factory=list)
    equivocations: list[EquivocationProof] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether no finding is an error or critical."""
        return not any(f.severity != "warning" for f in self.findings)


class FindingLog:
    """Collects findings, dropping repeats by id and summing up a check past its limit."""

    def __init__(self) -> None:
        self.findings: list[Finding] = []
        self._ids: set[str] = set()
        self._counts: dict[str, int] = {}

    def add(
        self, check: str, key: str, severity: Severity, message: str, evidence: Evidence
    ) -> None:
        """Record a finding with id ``check/key``."""
        ident = f"{check}/{key}"
        if ident in self._ids:
            return
        self._ids.add(ident)
        count = self._counts[check] = self._counts.get(check, 0) + 1
        if count > MAX_FINDINGS_PER_CHECK:
            return
        self.findings.append(
            Finding(id=ident, check=check, severity=severity, message=message, evidence=evidence)
        )

    def close(self) -> list[Finding]:
        """Return the findings, with one summing up each check that passed the limit."""
        out = list(self.findings)
        for check, count in self._counts.items():
            if count > MAX_FINDINGS_PER_CHECK:
                severity = next(f.severity for f in out if f.check == check)
                out.append(
                    Finding(
                        id=f"{check}/more",
                        check=check,
                        severity=severity,
                        message=f"{count - MAX_FINDINGS_PER_CHECK} more {check} findings "
                        f"not listed ({count} in all)",
                        evidence={"count": count},
                    )
                )
        return out
