"""The roles of the regime, their k-of-n key sets, and the actions that need more than k.

Each role is a set of Ed25519 key ids and a threshold: a document of that role counts only
with signatures from at least `threshold` distinct keys of the role. Some actions are
weightier than the role's everyday business and need a higher threshold of the same keys;
the root's `action_thresholds` table names them. The actions the code enforces:

| action | role | default (of 7 keys) | what it covers |
| --- | --- | --- | --- |
| ``security_fix`` | policy | 2 | a policy version that only tightens security parameters |
| ``new_rule`` | policy | 4 | any other change to the policy |
| ``change_update_rules`` | root | 6 | a root version that changes a threshold or this table |

The defaults are those of issue 3's reference regime of 7 treaty parties; for a role of n
keys each scales to ``ceil(k * n / 7)``, raised to the role's own threshold if lower.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated

from pydantic import Field, field_validator, model_validator

from pausebutton.errors import ValidationError
from pausebutton.governance._common import NAME_PATTERN, Count, KeyId, StrictModel, list_to_tuple

RoleName = Annotated[str, Field(pattern=NAME_PATTERN)]
ActionName = Annotated[str, Field(pattern=NAME_PATTERN)]

ROLE_DUTIES: dict[str, str] = {
    "root": "signs the root of trust: every role's keys and thresholds",
    "policy": "signs the policy document: thresholds, licence terms, export parameters",
    "pause": "signs pause and resume directives",
    "licensing": "signs device and training-run licences",
    "registrar": "registers actors and chips in the registry",
    "log": "signs the transparency log's checkpoints",
    "witness": "cosigns checkpoints after checking the log stayed append-only",
}
"""Every role the root must name, with its duty."""

ROLE_NAMES: tuple[str, ...] = tuple(ROLE_DUTIES)
"""The role names, in the order the documentation lists them."""

MAX_ROLE_KEYS = 256


class RoleSpec(StrictModel):
    """A role's key ids and the number of distinct ones that must sign."""

    keyids: tuple[KeyId, ...] = Field(min_length=1, max_length=MAX_ROLE_KEYS)
    threshold: Count

    _tuple = field_validator("keyids", mode="before")(list_to_tuple)

    @field_validator("keyids")
    @classmethod
    def _distinct(cls, keyids: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(keyids)) != len(keyids):
            raise ValueError("key ids must be distinct")
        return keyids

    @model_validator(mode="after")
    def _reachable(self) -> RoleSpec:
        if self.threshold > len(self.keyids):
            raise ValidationError(
                f"threshold {self.threshold} exceeds the role's {len(self.keyids)} key(s)"
            )
        return self


class ActionThreshold(StrictModel):
    """The role whose keys sign an action, and how many of them must."""

    role: RoleName
    threshold: Count


@dataclass(frozen=True)
class Action:
    """An action the code enforces: its role, its default out of 7 keys, and its scope."""

    role: str
    default_of_seven: int
    covers: str


REFERENCE_KEYS = 7
"""Issue 3's reference regime has 7 treaty parties; action defaults are stated out of 7."""

ACTIONS: dict[str, Action] = {
    "security_fix": Action(
        "policy",
        2,
        "a policy version that changes nothing but the version, the expiry, and "
        "tightenings of min_firmware_version (up), freshness_s (down) or "
        "witness_threshold (up)",
    ),
    "new_rule": Action("policy", 4, "any other change to the policy, and the first policy"),
    "change_update_rules": Action(
        "root",
        6,
        "a root version that changes any role's threshold or the action_thresholds table",
    ),
}
"""The actions every root must set a threshold for."""


def default_action_thresholds(roles: Mapping[str, RoleSpec]) -> dict[str, ActionThreshold]:
    """Return the default action table for `roles`, scaling each default to the role's size."""
    table: dict[str, ActionThreshold] = {}
    for name, action in ACTIONS.items():
        spec = roles[action.role]
        keys = len(spec.keyids)
        scaled = math.ceil(action.default_of_seven * keys / REFERENCE_KEYS)
        table[name] = ActionThreshold(role=action.role, threshold=max(scaled, spec.threshold))
    return table


def check_action_table(table: Mapping[str, ActionThreshold], roles: Mapping[str, RoleSpec]) -> None:
    """Raise ValidationError unless `table` sets every known action within its role's reach."""
    missing = sorted(set(ACTIONS) - set(table))
    if missing:
        raise ValidationError(f"action_thresholds: missing {', '.join(missing)}")
    for name, entry in table.items():
        known = ACTIONS.get(name)
        if known is not None and entry.role != known.role:
            raise ValidationError(
                f"action_thresholds.{name}: role must be {known.role!r}, got {entry.role!r}"
            )
        spec = roles.get(entry.role)
        if spec is None:
            raise ValidationError(f"action_thresholds.{name}: no role {entry.role!r}")
        if not spec.threshold <= entry.threshold <= len(spec.keyids):
            raise ValidationError(
                f"action_thresholds.{name}: threshold {entry.threshold} is outside "
                f"{spec.threshold}..{len(spec.keyids)} (the {entry.role} role's threshold "
                "and key count)"
            )
