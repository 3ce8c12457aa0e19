"""The revocation list: keys the regime no longer trusts, signed by the registrar role.

A revocation list is the payload of a ``pausebutton.revocations/v1`` envelope. Versions
strictly increase; a version that only adds entries tightens (a device applies it as soon
as it verifies), one that drops or changes an entry loosens (it needs a witnessed log
receipt, like a resume). Keys of the governance roles themselves are revoked by rotating
the root, not here: this list is for actors' and devices' keys.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator

from pausebutton.crypto.envelope import Envelope
from pausebutton.errors import ReplayError, SignatureError
from pausebutton.governance._common import (
    MAX_SAFE_INT,
    KeyId,
    SignedDocument,
    StrictModel,
    UnixTime,
    check_fresh,
    list_to_tuple,
    parse_document,
)
from pausebutton.governance.root import Root, verify_role

REVOCATIONS_PAYLOAD_TYPE = "pausebutton.revocations/v1"
MAX_REVOKED = 16_384
Reason = Annotated[str, Field(min_length=1, max_length=1024)]


class RevokedKey(StrictModel):
    """One revoked key: its id, since when it is revoked, and why."""

    key_id: KeyId
    since: UnixTime
    reason: Reason


class Revocations(SignedDocument):
    """The keys revoked at `version`, sorted by key id."""

    PAYLOAD_TYPE = REVOCATIONS_PAYLOAD_TYPE

    version: int = Field(ge=1, le=MAX_SAFE_INT, description="strictly increasing")
    issued: UnixTime
    keys: tuple[RevokedKey, ...] = Field(max_length=MAX_REVOKED)

    _tuple = field_validator("keys", mode="before")(list_to_tuple)

    @field_validator("keys")
    @classmethod
    def _sorted(cls, keys: tuple[RevokedKey, ...]) -> tuple[RevokedKey, ...]:
        ids = [k.key_id for k in keys]
        if len(set(ids)) != len(ids):
            raise ValueError("a key is revoked at most once")
        return tuple(sorted(keys, key=lambda k: k.key_id))

    def is_revoked(self, key_id: str) -> bool:
        """Whether `key_id` is on the list."""
        return any(k.key_id == key_id for k in self.keys)


def parse_revocations(envelope: Envelope) -> Revocations:
    """Read a revocation list from its envelope, checking its form but no signature."""
    return parse_document(Revocations, envelope)


def only_adds(current: Revocations | None, new: Revocations) -> bool:
    """Whether `new` keeps every entry of `current` unchanged (it tightens or renews)."""
    return current is None or set(current.keys) <= set(new.keys)


def verify_revocations(
    envelope: Envelope, root: Root, now: int, current: Revocations | None
) -> Revocations:
    """Accept a revocation list newer than `current`, signed by the registrar threshold."""
    check_fresh(f"trusted root version {root.version}", root.expires, now)
    revocations = parse_revocations(envelope)
    if current is not None and revocations.version <= current.version:
        raise ReplayError(
            f"revocation list version {revocations.version} is not newer than the current "
            f"version {current.version} (rollback or replay)"
        )
    try:
        verify_role(envelope, root, "registrar")
    except SignatureError as exc:
        raise SignatureError(f"revocation list version {revocations.version}: {exc}") from None
    return revocations
