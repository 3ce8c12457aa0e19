"""The governor's answer to a request for work: granted, throttled or halted, and why."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Decision = Literal["granted", "throttled", "halted"]
Cause = Literal[
    "licensed", "no_licence", "licence_expired", "budget_spent", "pause", "governance", "firmware"
]


@dataclass(frozen=True)
class Grant:
    """The answer to a request for work: granted, throttled or halted, why, and what was debited."""

    decision: Decision
    cause: Cause
    reason: str
    flops: int = 0
    int_ops: int = 0
    bytes_moved: int = 0
    rate: float = 1.0
    """The fraction of peak the work may use: 1 granted, the rate throttled, 0 halted."""
    licensed: bool = False
    """Whether the work was charged to the licence."""
    delay_s: float = 0.0
    """Seconds to wait before starting throttled work."""

    @property
    def allowed(self) -> bool:
        """Whether the work may run (granted or throttled)."""
        return self.decision != "halted"


Verdict = tuple[Decision, Cause, str, float, bool]
"""(decision, cause, reason, rate, charged to the licence)."""
