"""Proposing the next policy version: the one in force (or the defaults) with named changes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError as PydanticValidationError

from pausebutton.errors import FormatError
from pausebutton.governance._common import describe_error
from pausebutton.governance.policy import Policy, required_action
from pausebutton.governance.root import Root

FIXED = ("version", "expires")
"""Fields a proposal sets itself: the next version, and the expiry asked for."""


@dataclass(frozen=True)
class Proposal:
    """A drafted policy, the action its change needs, and how many policy keys must sign."""

    policy: Policy
    action: str | None
    signatures: int


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_changes(items: list[str]) -> dict[str, Any]:
    """Read ``FIELD=VALUE`` items (VALUE as JSON, else a string), refusing unknown fields."""
    changes: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or name not in Policy.model_fields or name in FIXED:
            raise FormatError(f"{item!r}: expected FIELD=VALUE naming a policy field")
        changes[name] = _value(text)
    return changes


def propose_policy(
    root: Root, current: Policy | None, changes: Mapping[str, Any], expires: int
) -> Proposal:
    """Draft the policy after `current` with `changes`, expiring at `expires`."""
    fields: dict[str, Any] = {} if current is None else current.model_dump(mode="json")
    fields.update(changes)
    fields.update(version=1 if current is None else current.version + 1, expires=expires)
    try:
        policy = Policy.model_validate_json(json.dumps(fields), strict=False)
    except PydanticValidationError as exc:
        raise FormatError(f"proposed policy: {describe_error(exc)}") from None
    action = required_action(current, policy)
    needed = root.roles["policy"].threshold
    if action is not None:
        needed = root.action(action).threshold
    return Proposal(policy, action, needed)
