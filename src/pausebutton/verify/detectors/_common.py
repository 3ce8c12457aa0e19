"""What every detector shares: its parameters, and findings with stable ids and evidence."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

from pausebutton.crypto.canonical import canonical_bytes
from pausebutton.governance._common import MAX_SAFE_INT
from pausebutton.governance.policy import DAY_S, Policy
from pausebutton.verify.findings import Evidence, Finding, Severity
from pausebutton.verify.geo import FIBRE_KM_PER_MS


@dataclass(frozen=True)
class Parameters:
    """The numbers the detectors and the accountancy depend on, with their defaults.

    The ones the policy document holds are taken from it (`from_policy`); the others are
    proposed defaults, documented in ``docs/verification.md``, until the policy holds them.
    """

    max_silence_s: int = 30 * DAY_S
    """A chip that shows no receipt, inspection or location check for longer went dark.
    Default: the policy's ``licence_validity_s`` (a working chip renews at least that often)."""
    pause_grace_s: int = DAY_S
    """How long after a pause is in force and published a device may still work. Default:
    the policy's ``freshness_s`` (a device that has not seen the pause by then halts)."""
    split_threshold_flop: int = 10**26
    """Runs of one beneficial owner must not add up to this in a window while each stays
    under it. Default: the policy's ``licence_flop``."""
    split_window_s: int = 90 * DAY_S
    """The window runs are added up over. Proposed default: 90 days (three licence terms)."""
    balance_period_s: int = 30 * DAY_S
    """The accountancy's material balance period. Proposed default: 30 days."""
    max_travel_km_per_h: float = 1_000.0
    """The fastest a chip can be carried (an airliner). Proposed default: 1,000 km/h."""
    signal_km_per_ms: float = FIBRE_KM_PER_MS
    """The fastest a signal travels (light in fibre, 200 km per millisecond)."""
    report_gaps: bool = True
    """Report receipts missing from a device's chain (every receipt is logged)."""

    @classmethod
    def from_policy(cls, policy: Policy | None, **changes: object) -> Parameters:
        """The parameters under `policy` (defaults where it is None), with `changes`."""
        values: dict[str, object] = {}
        if policy is not None:
            values = {
                "max_silence_s": policy.licence_validity_s,
                "pause_grace_s": policy.freshness_s,
                "split_threshold_flop": policy.licence_flop,
            }
        values.update(changes)
        return cls(**values)  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, object]:
        """The parameters as JSON values."""
        return asdict(self)


def finding(
    check: str,
    severity: Severity,
    message: str,
    entries: list[int],
    **evidence: str | int | bool | list[str] | list[int] | None,
) -> Finding:
    """A finding whose id is a hash of its check and evidence, so it is the same every run."""
    full: Evidence = {"entries": sorted(set(entries))}
    for name, value in evidence.items():
        big = isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_SAFE_INT
        full[name] = str(value) if big else value
    digest = hashlib.sha256(canonical_bytes({"check": check, "evidence": full})).hexdigest()
    return Finding(
        id=f"{check}/{digest[:16]}", check=check, severity=severity, message=message, evidence=full
    )
