"""The policy document: every number the regime runs on, versioned, signed by the policy role.

A policy is the payload of a ``pausebutton.policy/v1`` envelope. Each field's default is
the value a new regime starts from, with its source or reason in the field's description
(and in `docs/governance.md`). A signed policy states every field: defaults are for
writing a policy, never for reading one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import Field, field_validator, model_validator

from pausebutton.crypto.envelope import Envelope
from pausebutton.errors import ReplayError, SignatureError, ValidationError
from pausebutton.governance._common import (
    IDENTIFIER_PATTERN,
    MAX_SAFE_INT,
    FlopCount,
    SignedDocument,
    UnixTime,
    check_fresh,
    list_to_tuple,
    parse_document,
    sorted_unique,
)
from pausebutton.governance.jurisdictions import DEFAULT_JURISDICTIONS, JURISDICTION_PATTERN
from pausebutton.governance.root import Root, verify_action, verify_role
from pausebutton.regulation.parameters import (
    DEFAULT_EXPORT_CONTROL,
    ExportControlParameters,
    ProductionCap,
)

POLICY_PAYLOAD_TYPE = "pausebutton.policy/v1"

Jurisdiction = Annotated[str, Field(pattern=JURISDICTION_PATTERN)]
Manufacturer = Annotated[str, Field(pattern=IDENTIFIER_PATTERN)]

DAY_S = 86400


class Policy(SignedDocument):
    """The regime's parameters: training-run thresholds, licence terms, freshness, export."""

    PAYLOAD_TYPE = POLICY_PAYLOAD_TYPE

    version: int = Field(ge=1, le=MAX_SAFE_INT, description="strictly increasing")
    expires: UnixTime = Field(description="Unix seconds after which this policy is refused")
    notify_flop: FlopCount = Field(
        default=10**25,
        gt=0,
        description="a training run of at least this many FLOP must be notified. Default "
        "10^25: the EU AI Act (Regulation 2024/1689, art. 51(2)) presumes systemic risk "
        "above it and art. 52(1) requires notifying the Commission",
    )
    licence_flop: FlopCount = Field(
        default=10**26,
        gt=0,
        description="a training run of at least this many FLOP needs a licence. Default "
        "10^26: the reporting threshold of US Executive Order 14110 (2023, revoked 2025), "
        "sec. 4.2(b)(i)",
    )
    ceiling_flop: FlopCount = Field(
        default=10**28,
        gt=0,
        description="no run of more than this many FLOP is licensed. Default 10^28: no "
        "published source; a placeholder two orders of magnitude above licence_flop",
    )
    max_device_licence_flop: FlopCount = Field(
        default=10**22,
        gt=0,
        description="the largest FLOP budget one device licence may carry. Default 10^22: "
        "about 4x what a 10^15 FLOP/s accelerator (H100 SXM, dense BF16) does in a 30-day "
        "licence at full use (2.6x10^21), so honest use never runs dry yet a stolen "
        "licence is bounded",
    )
    licence_validity_s: int = Field(
        default=30 * DAY_S,
        ge=1,
        le=MAX_SAFE_INT,
        description="how long a device licence is valid. Default 30 days: monthly renewal "
        "keeps usage receipts flowing while riding out outages of a few days",
    )
    baseline_throttle_fraction: float = Field(
        default=0.01,
        gt=0,
        le=1,
        allow_inf_nan=False,
        description="fraction of peak throughput a device without a valid licence (or "
        "under a throttle) may use. Default 0.01, issue 3: enough for inference and "
        "debugging, useless for frontier training",
    )
    freshness_s: int = Field(
        default=DAY_S,
        ge=1,
        le=MAX_SAFE_INT,
        description="how long a device may go without a fresh view of governance state "
        "before it fails closed; also the TUF timestamp role's expiry. Default 1 day, the "
        "timestamp expiry python-tuf's repository tool long used by default",
    )
    witness_threshold: int = Field(
        default=2,
        ge=1,
        le=MAX_SAFE_INT,
        description="witness cosignatures a checkpoint needs before a device accepts a "
        "loosening (a resume, a higher limit). Default 2: the fewest that defeat one "
        "colluding witness",
    )
    export_control: ExportControlParameters = Field(
        default=DEFAULT_EXPORT_CONTROL,
        description="ECCN 3A090 thresholds and country-group licence rules (BIS, Oct 2023 "
        "as amended): the model and its sources live in `regulation.parameters`",
    )
    production_caps: dict[Manufacturer, ProductionCap] = Field(
        default_factory=dict,
        max_length=4096,
        description="manufacturer -> chips and TPP per period. Default none: caps are "
        "agreed per manufacturer",
    )
    min_firmware_version: int = Field(
        default=1,
        ge=1,
        le=MAX_SAFE_INT,
        description="lowest device firmware security version accepted. Default 1, the "
        "first release",
    )
    jurisdictions: tuple[Jurisdiction, ...] = Field(
        default=DEFAULT_JURISDICTIONS,
        min_length=1,
        max_length=1024,
        description="known jurisdiction codes, sorted. Default: every ISO 3166-1 alpha-2 "
        "code and EU",
    )

    _tuple = field_validator("jurisdictions", mode="before")(list_to_tuple)

    @field_validator("jurisdictions")
    @classmethod
    def _sorted(cls, codes: tuple[str, ...]) -> tuple[str, ...]:
        return sorted_unique(codes, "jurisdictions")

    @model_validator(mode="after")
    def _consistent(self) -> Policy:
        if not self.notify_flop < self.licence_flop:
            raise ValidationError(
                f"licence_flop ({self.licence_flop:.3g}) must be above notify_flop "
                f"({self.notify_flop:.3g})"
            )
        if not self.licence_flop <= self.ceiling_flop:
            raise ValidationError(
                f"ceiling_flop ({self.ceiling_flop:.3g}) must be at least licence_flop "
                f"({self.licence_flop:.3g})"
            )
        if not self.max_device_licence_flop <= self.ceiling_flop:
            raise ValidationError(
                f"max_device_licence_flop ({self.max_device_licence_flop:.3g}) must not "
                f"exceed ceiling_flop ({self.ceiling_flop:.3g})"
            )
        for key, cap in self.production_caps.items():
            if key != cap.manufacturer:
                raise ValidationError(
                    f"production_caps: the cap under {key!r} is for {cap.manufacturer!r}"
                )
        return self


TIGHTENINGS: dict[str, int] = {"min_firmware_version": 1, "freshness_s": -1, "witness_threshold": 1}
"""Fields a ``security_fix`` may change, and the direction that tightens (+1 up, -1 down)."""

BOOKKEEPING = frozenset({"version", "expires"})
"""Fields every new version changes; changing only these needs the role's own threshold."""


def required_action(current: Policy | None, new: Policy) -> str | None:
    """Name the action `new` needs over `current`: new_rule, security_fix, or None (renewal)."""
    if current is None:
        return "new_rule"
    old_fields: Mapping[str, Any] = current.model_dump()
    new_fields: Mapping[str, Any] = new.model_dump()
    changed = {name for name in new_fields if new_fields[name] != old_fields[name]}
    changed -= BOOKKEEPING
    if not changed:
        return None
    for name in changed:
        direction = TIGHTENINGS.get(name)
        if direction is None or (new_fields[name] - old_fields[name]) * direction < 0:
            return "new_rule"
    return "security_fix"


def parse_policy(envelope: Envelope) -> Policy:
    """Read a policy from its envelope, checking form and consistency but no signature."""
    return parse_document(Policy, envelope)


def verify_policy(envelope: Envelope, root: Root, now: int, current: Policy | None) -> Policy:
    """Accept a new policy over `current` (None for the first), or raise.

    Refuses: an expired trusted root or policy (ReplayError), a version not above the
    current one (ReplayError, rollback), signatures short of the policy role's threshold
    or of the action the change needs (SignatureError), a witness threshold the root's
    witness keys cannot meet (ValidationError).
    """
    check_fresh(f"trusted root version {root.version}", root.expires, now)
    policy = parse_policy(envelope)
    if current is not None and policy.version <= current.version:
        raise ReplayError(
            f"policy version {policy.version} is not newer than the current version "
            f"{current.version} (rollback or replay)"
        )
    check_fresh(f"policy version {policy.version}", policy.expires, now)
    action = required_action(current, policy)
    try:
        if action is None:
            verify_role(envelope, root, "policy")
        else:
            verify_action(envelope, root, action)
    except SignatureError as exc:
        raise SignatureError(f"policy version {policy.version}: {exc}") from None
    witnesses = len(root.roles["witness"].keyids)
    if policy.witness_threshold > witnesses:
        raise ValidationError(
            f"witness_threshold {policy.witness_threshold} exceeds the root's {witnesses} "
            "witness key(s)"
        )
    return policy
