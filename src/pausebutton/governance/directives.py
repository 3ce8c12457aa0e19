"""Pause and resume directives: the pause button, signed k-of-n by the pause role.

A pause is the payload of a ``pausebutton.pause/v1`` envelope: which devices it covers
(its `Scope`), what they must do (halt, or throttle to a fraction of peak), from when, until
when, and why. A resume (``pausebutton.resume/v1``) lifts one named pause. Signatures are
collected offline: `draft_pause` makes the unsigned envelope, each governor `sign`s a copy
on their own machine, and `combine` merges the copies (see `governance.offline`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from pausebutton.crypto.envelope import Envelope
from pausebutton.errors import FormatError, SignatureError, ValidationError
from pausebutton.governance._common import (
    IDENTIFIER_PATTERN,
    FlopCount,
    SignedDocument,
    StrictModel,
    UnixTime,
    check_fresh,
    list_to_tuple,
    parse_document,
    sorted_unique,
)
from pausebutton.governance.jurisdictions import JURISDICTION_PATTERN
from pausebutton.governance.policy import Policy
from pausebutton.governance.root import Root, verify_role

PAUSE_PAYLOAD_TYPE = "pausebutton.pause/v1"
RESUME_PAYLOAD_TYPE = "pausebutton.resume/v1"
DIRECTIVE_ID_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"
MAX_SCOPE_ITEMS = 4096
MAX_REASON_CHARS = 1024

DirectiveId = Annotated[str, Field(pattern=DIRECTIVE_ID_PATTERN)]
Identifier = Annotated[str, Field(pattern=IDENTIFIER_PATTERN)]
Jurisdiction = Annotated[str, Field(pattern=JURISDICTION_PATTERN)]
Reason = Annotated[str, Field(min_length=1, max_length=MAX_REASON_CHARS)]


def _list(what: str) -> Any:
    return Field(
        default=None,
        min_length=1,
        max_length=MAX_SCOPE_ITEMS,
        description=f"only devices whose {what} is listed; null: any",
    )


@dataclass(frozen=True)
class DeviceContext:
    """What a device knows about itself when it asks which directives bind it."""

    device_id: str
    owner: str
    jurisdiction: str
    chip_class: str
    run_flop: int = 0
    """The planned size of the current training run in FLOP (0 when none is running)."""


class Scope(StrictModel):
    """The devices a pause covers: every listed condition must hold; all null is global."""

    jurisdictions: tuple[Jurisdiction, ...] | None = _list("jurisdiction")
    chip_classes: tuple[Identifier, ...] | None = _list("chip class")
    owners: tuple[Identifier, ...] | None = _list("owner")
    devices: tuple[Identifier, ...] | None = _list("device id")
    min_run_flop: FlopCount | None = Field(
        default=None, description="only runs of at least this many FLOP; null: any run"
    )

    _tuple = field_validator("jurisdictions", "chip_classes", "owners", "devices", mode="before")(
        list_to_tuple
    )

    @field_validator("jurisdictions", "chip_classes", "owners", "devices")
    @classmethod
    def _sorted(cls, values: tuple[str, ...] | None) -> tuple[str, ...] | None:
        return None if values is None else sorted_unique(values, "scope entries")

    @property
    def is_global(self) -> bool:
        """Whether the scope covers every device and every run."""
        return self == Scope()

    def matches(self, device: DeviceContext) -> bool:
        """Whether `device`, running its current run, falls within this scope."""
        pairs = (
            (self.jurisdictions, device.jurisdiction),
            (self.chip_classes, device.chip_class),
            (self.owners, device.owner),
            (self.devices, device.device_id),
        )
        if any(listed is not None and value not in listed for listed, value in pairs):
            return False
        return self.min_run_flop is None or device.run_flop >= self.min_run_flop

    def describe(self) -> str:
        """Say in words which devices the scope covers."""
        if self.is_global:
            return "all devices"
        parts = [
            f"{label} {', '.join(values)}"
            for label, values in (
                ("in", self.jurisdictions),
                ("chip class", self.chip_classes),
                ("owned by", self.owners),
                ("device", self.devices),
            )
            if values is not None
        ]
        if self.min_run_flop is not None:
            parts.append(f"running at least {self.min_run_flop:.3g} FLOP")
        return "devices " + "; ".join(parts)


class PauseDirective(SignedDocument):
    """Devices in `scope` halt, or throttle to `rate` of peak, from `effective_at`."""

    PAYLOAD_TYPE = PAUSE_PAYLOAD_TYPE

    id: DirectiveId = Field(description="unique among all directives, never reused")
    issued: UnixTime = Field(description="when the governors drafted it")
    scope: Scope = Field(description="which devices and runs it covers")
    effect: Literal["halt", "throttle"]
    rate: float | None = Field(
        gt=0, lt=1, allow_inf_nan=False, description="fraction of peak; only for throttle"
    )
    effective_at: UnixTime
    expires: UnixTime | None = Field(description="when the pause lapses by itself; null: never")
    reason: Reason

    @model_validator(mode="after")
    def _consistent(self) -> PauseDirective:
        if (self.effect == "throttle") != (self.rate is not None):
            raise ValidationError(f"pause {self.id}: a rate goes with throttle, and only with it")
        if self.expires is not None and self.expires <= self.effective_at:
            raise ValidationError(f"pause {self.id}: expires must be after effective_at")
        return self


class ResumeDirective(SignedDocument):
    """Lift the pause `lifts` from `effective_at`."""

    PAYLOAD_TYPE = RESUME_PAYLOAD_TYPE

    id: DirectiveId = Field(description="unique among all directives, never reused")
    lifts: DirectiveId = Field(description="the id of the pause this lifts")
    issued: UnixTime
    effective_at: UnixTime
    reason: Reason

    @model_validator(mode="after")
    def _consistent(self) -> ResumeDirective:
        if self.lifts == self.id:
            raise ValidationError(f"resume {self.id} names itself")
        return self


Directive = PauseDirective | ResumeDirective


def draft_pause(
    id: str,
    *,
    issued: int,
    effective_at: int,
    reason: str,
    scope: Scope | None = None,
    effect: Literal["halt", "throttle"] = "halt",
    rate: float | None = None,
    expires: int | None = None,
) -> Envelope:
    """Make the unsigned envelope of a pause, for governors to sign (global scope if none)."""
    pause = PauseDirective(
        id=id,
        issued=issued,
        scope=Scope() if scope is None else scope,
        effect=effect,
        rate=rate,
        effective_at=effective_at,
        expires=expires,
        reason=reason,
    )
    return pause.to_envelope()


def draft_resume(id: str, *, lifts: str, issued: int, effective_at: int, reason: str) -> Envelope:
    """Make the unsigned envelope of a resume lifting the pause `lifts`."""
    resume = ResumeDirective(
        id=id, lifts=lifts, issued=issued, effective_at=effective_at, reason=reason
    )
    return resume.to_envelope()


def parse_directive(envelope: Envelope) -> Directive:
    """Read a pause or resume from its envelope, checking its form but no signature."""
    if envelope.payload_type == PAUSE_PAYLOAD_TYPE:
        return parse_document(PauseDirective, envelope)
    if envelope.payload_type == RESUME_PAYLOAD_TYPE:
        return parse_document(ResumeDirective, envelope)
    raise FormatError(f"expected a pause or resume envelope, got {envelope.payload_type!r}")


def verify_directive(envelope: Envelope, root: Root, policy: Policy, now: int) -> Directive:
    """Accept a directive signed by the pause role's threshold, under a fresh root and policy.

    Signatures by keys of other roles do not count. A pause whose scope names a
    jurisdiction the policy does not know is refused (ValidationError). Whether a resume
    names a known pause depends on the other directives: see `state.check_new_directive`.
    """
    check_fresh(f"trusted root version {root.version}", root.expires, now)
    check_fresh(f"trusted policy version {policy.version}", policy.expires, now)
    directive = parse_directive(envelope)
    kind = "pause" if isinstance(directive, PauseDirective) else "resume"
    try:
        verify_role(envelope, root, "pause")
    except SignatureError as exc:
        raise SignatureError(f"{kind} {directive.id}: {exc}") from None
    if isinstance(directive, PauseDirective) and directive.scope.jurisdictions is not None:
        unknown = sorted(set(directive.scope.jurisdictions) - set(policy.jurisdictions))
        if unknown:
            raise ValidationError(
                f"pause {directive.id}: scope names jurisdictions the policy does not know: "
                + ", ".join(unknown)
            )
    return directive
