"""The root of trust: every role's keys and thresholds, signed k-of-n by the root role.

A root is the payload of a ``pausebutton.root/v1`` envelope. The first root is provisioned
(at manufacture, or by a key ceremony) and checked with `verify_initial_root`; every later
one must be exactly one version higher and signed by the threshold of the *old* root's
``root`` role and of the *new* one's (so rotating keys needs both the outgoing and the
incoming governors). A root that changes a threshold or the action table needs, besides,
the old root's ``change_update_rules`` threshold.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping, Sequence
from typing import Annotated

from pydantic import Field, model_validator

from pausebutton.crypto.envelope import Envelope, verify_threshold
from pausebutton.crypto.keys import VerifyKey, key_id
from pausebutton.errors import ReplayError, SignatureError, ValidationError
from pausebutton.governance._common import (
    MAX_SAFE_INT,
    PUBLIC_KEY_PATTERN,
    KeyId,
    SignedDocument,
    UnixTime,
    check_fresh,
    parse_document,
)
from pausebutton.governance.roles import (
    ROLE_NAMES,
    ActionName,
    ActionThreshold,
    RoleName,
    RoleSpec,
    check_action_table,
    default_action_thresholds,
)

ROOT_PAYLOAD_TYPE = "pausebutton.root/v1"
MAX_KEYS = 1024

PublicKey = Annotated[str, Field(pattern=PUBLIC_KEY_PATTERN)]


class Root(SignedDocument):
    """The root of trust: the public keys, each role's key ids and threshold, the action table."""

    PAYLOAD_TYPE = ROOT_PAYLOAD_TYPE

    version: int = Field(ge=1, le=MAX_SAFE_INT, description="goes up by exactly 1 per update")
    expires: UnixTime = Field(description="Unix seconds after which this root is refused")
    keys: dict[KeyId, PublicKey] = Field(
        max_length=MAX_KEYS, description="key id -> raw Ed25519 public key, canonical base64"
    )
    roles: dict[RoleName, RoleSpec] = Field(description="exactly the roles in ROLE_NAMES")
    action_thresholds: dict[ActionName, ActionThreshold] = Field(
        description="actions that need more signatures of a role than its threshold"
    )

    @model_validator(mode="after")
    def _consistent(self) -> Root:
        missing = [name for name in ROLE_NAMES if name not in self.roles]
        unknown = sorted(set(self.roles) - set(ROLE_NAMES))
        if missing or unknown:
            raise ValidationError(
                f"roles: missing {missing or 'none'}, unknown {unknown or 'none'}"
            )
        for keyid, text in self.keys.items():
            if key_id(base64.b64decode(text)) != keyid:
                raise ValidationError(f"keys.{keyid[:16]}…: the key's id is not this id")
        used: set[str] = set()
        for name, spec in self.roles.items():
            for keyid in spec.keyids:
                if keyid not in self.keys:
                    raise ValidationError(f"roles.{name}: key {keyid[:16]}… is not in keys")
            used.update(spec.keyids)
        unused = sorted(set(self.keys) - used)
        if unused:
            raise ValidationError(f"keys: {unused[0][:16]}… belongs to no role")
        check_action_table(self.action_thresholds, self.roles)
        return self

    def role_keys(self, role: str) -> dict[str, VerifyKey]:
        """Return the verify keys of `role`, by key id."""
        return {k: VerifyKey.from_base64(self.keys[k]) for k in self.roles[role].keyids}

    def action(self, name: str) -> ActionThreshold:
        """Return the role and threshold an action needs, raising ValidationError if unknown."""
        try:
            return self.action_thresholds[name]
        except KeyError:
            raise ValidationError(f"the root sets no threshold for action {name!r}") from None


def make_root(
    roles: Mapping[str, tuple[Sequence[VerifyKey], int]],
    *,
    expires: int,
    version: int = 1,
    action_thresholds: Mapping[str, ActionThreshold] | None = None,
) -> Root:
    """Build a root from each role's keys and threshold; default the action table."""
    keys: dict[str, str] = {}
    specs: dict[str, RoleSpec] = {}
    for name, (role_keys, threshold) in roles.items():
        for key in role_keys:
            keys[key.key_id] = key.to_base64()
        specs[name] = RoleSpec(keyids=tuple(k.key_id for k in role_keys), threshold=threshold)
    missing = [name for name in ROLE_NAMES if name not in specs]
    if missing:
        raise ValidationError(f"roles: missing {missing}")
    table = default_action_thresholds(specs) if action_thresholds is None else action_thresholds
    return Root(
        version=version,
        expires=expires,
        keys=dict(sorted(keys.items())),
        roles=specs,
        action_thresholds=dict(table),
    )


def parse_root(envelope: Envelope) -> Root:
    """Read a root from its envelope, checking its form and consistency but no signature."""
    return parse_document(Root, envelope)


def verify_role(
    envelope: Envelope, root: Root, role: str, *, threshold: int | None = None
) -> frozenset[str]:
    """Check that `role`'s threshold (or a higher `threshold`) of its keys signed; return them."""
    spec = root.roles.get(role)
    if spec is None:
        raise ValidationError(f"the root has no role {role!r}")
    needed = spec.threshold if threshold is None else max(threshold, spec.threshold)
    return verify_threshold(envelope, root.role_keys(role), needed)


def verify_action(envelope: Envelope, root: Root, action: str) -> frozenset[str]:
    """Check that `envelope` carries the signatures `root`'s action table asks for `action`."""
    entry = root.action(action)
    try:
        return verify_role(envelope, root, entry.role, threshold=entry.threshold)
    except SignatureError as exc:
        raise SignatureError(f"action {action}: {exc}") from None


def verify_initial_root(envelope: Envelope, now: int) -> Root:
    """Accept a first, provisioned root: well formed, signed by its own root threshold, fresh."""
    root = parse_root(envelope)
    verify_role(envelope, root, "root")
    check_fresh(f"root version {root.version}", root.expires, now)
    return root


def changes_update_rules(old: Root, new: Root) -> bool:
    """Whether `new` changes any role's threshold or the action table of `old`."""
    thresholds_old = {name: spec.threshold for name, spec in old.roles.items()}
    thresholds_new = {name: spec.threshold for name, spec in new.roles.items()}
    return thresholds_old != thresholds_new or old.action_thresholds != new.action_thresholds


def _verify_step(trusted: Root, envelope: Envelope) -> Root:
    new = parse_root(envelope)
    if new.version <= trusted.version:
        raise ReplayError(
            f"root version {new.version} is not newer than the trusted version "
            f"{trusted.version} (rollback or replay)"
        )
    if new.version != trusted.version + 1:
        raise ValidationError(
            f"root version {new.version} skips versions: the next one must be {trusted.version + 1}"
        )
    try:
        verify_role(envelope, trusted, "root")
    except SignatureError as exc:
        raise SignatureError(f"root v{new.version}, by the trusted root's keys: {exc}") from None
    try:
        verify_role(envelope, new, "root")
    except SignatureError as exc:
        raise SignatureError(f"root v{new.version}, by its own keys: {exc}") from None
    if changes_update_rules(trusted, new):
        verify_action(envelope, trusted, "change_update_rules")
    return new


def verify_root_step(trusted: Root, new_envelope: Envelope) -> Root:
    """Accept the root that follows `trusted` by version and signatures, ignoring expiry.

    For walking a chain one step at a time (as `verify_root_chain` does); the caller
    checks that the root it ends on is fresh.
    """
    return _verify_step(trusted, new_envelope)


def verify_root_update(trusted: Root, new_envelope: Envelope, now: int) -> Root:
    """Accept the root that follows `trusted`, or raise; the trusted one may have expired."""
    new = _verify_step(trusted, new_envelope)
    check_fresh(f"root version {new.version}", new.expires, now)
    return new


def verify_root_chain(initial_trusted: Root, envelopes: Iterable[Envelope], now: int) -> Root:
    """Walk root updates in order from `initial_trusted`; only the last must be unexpired.

    Intermediate roots may have expired (a device offline for a year still walks through
    them, as in TUF's client workflow); the root returned must be fresh at `now`.
    """
    trusted = initial_trusted
    for envelope in envelopes:
        trusted = _verify_step(trusted, envelope)
    check_fresh(f"root version {trusted.version}", trusted.expires, now)
    return trusted
