"""A key ceremony for tests: 5 governors, a 3-of-5 root, and the regime's other roles.

Real keys (derived from fixed labels, so runs are reproducible), real signatures, the real
offline workflow (each governor signs a copy, then the copies are combined). No mocks.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pausebutton.crypto import Envelope, SigningKey, VerifyKey
from pausebutton.governance import (
    ActionThreshold,
    Policy,
    Root,
    combine,
    draft,
    draft_pause,
    draft_resume,
    make_root,
    sign,
    verify_initial_root,
)

NOW = 1_750_000_000
"""A fixed 'now' (2025-06-15T15:06:40Z) so every test sees the same clock."""
DAY = 86_400
YEAR = 365 * DAY


def key(label: str) -> SigningKey:
    """Return the test key derived from `label` (the same key every run)."""
    return SigningKey.from_seed(hashlib.sha256(b"pausebutton-test-key/" + label.encode()).digest())


@dataclass(frozen=True)
class Governor:
    """One treaty party: a key for each governance role it holds a seat in."""

    name: str
    root: SigningKey
    policy: SigningKey
    pause: SigningKey


def collect(envelope: Envelope, keys: Iterable[SigningKey]) -> Envelope:
    """Have each key sign its own copy of `envelope` offline, then combine the copies."""
    copies = [sign(envelope, k) for k in keys]
    return combine(copies) if copies else envelope


@dataclass
class Ceremony:
    """The keys of a regime and helpers that make its signed documents."""

    governors: tuple[Governor, ...]
    licensing: tuple[SigningKey, ...]
    registrar: tuple[SigningKey, ...]
    log: tuple[SigningKey, ...]
    witness: tuple[SigningKey, ...]
    threshold: int = 3
    root: Root = field(init=False)
    root_envelope: Envelope = field(init=False)

    def __post_init__(self) -> None:
        self.root = self.make_root()
        self.root_envelope = collect(draft(self.root), self.root_signers())

    def role_keys(self, role: str) -> list[SigningKey]:
        """The signing keys of a role in the first root."""
        if role in ("root", "policy", "pause"):
            return [getattr(g, role) for g in self.governors]
        keys: Sequence[SigningKey] = getattr(self, role)
        return list(keys)

    def root_signers(self, count: int | None = None) -> list[SigningKey]:
        """The first `count` governors' root keys (the threshold by default)."""
        return self.role_keys("root")[: self.threshold if count is None else count]

    def make_root(
        self,
        *,
        version: int = 1,
        expires: int = NOW + YEAR,
        overrides: Mapping[str, tuple[Sequence[VerifyKey], int]] | None = None,
        action_thresholds: Mapping[str, ActionThreshold] | None = None,
    ) -> Root:
        """A root naming this ceremony's keys, with some roles replaced by `overrides`."""
        roles: dict[str, tuple[Sequence[VerifyKey], int]] = {
            "root": ([g.root.public for g in self.governors], self.threshold),
            "policy": ([g.policy.public for g in self.governors], self.threshold),
            "pause": ([g.pause.public for g in self.governors], self.threshold),
            "licensing": ([k.public for k in self.licensing], 1),
            "registrar": ([k.public for k in self.registrar], 1),
            "log": ([k.public for k in self.log], 1),
            "witness": ([k.public for k in self.witness], 2),
        }
        roles.update(overrides or {})
        return make_root(
            roles, expires=expires, version=version, action_thresholds=action_thresholds
        )

    def policy(self, version: int = 1, *, expires: int = NOW + 90 * DAY, **changes: Any) -> Policy:
        """A policy with the documented defaults, except for `changes`."""
        return Policy(version=version, expires=expires, **changes)

    def signed_policy(self, policy: Policy, signers: int | None = None) -> Envelope:
        """`policy` signed by the first `signers` governors' policy keys."""
        count = self.threshold if signers is None else signers
        return collect(draft(policy), self.role_keys("policy")[:count])

    def pause(self, id: str = "pause-1", *, signers: int | None = None, **fields: Any) -> Envelope:
        """A pause (global halt by default) signed by the first `signers` pause keys."""
        fields.setdefault("issued", NOW - 60)
        fields.setdefault("effective_at", NOW - 60)
        fields.setdefault("reason", "test pause")
        count = self.threshold if signers is None else signers
        return collect(draft_pause(id, **fields), self.role_keys("pause")[:count])

    def resume(
        self,
        id: str = "resume-1",
        *,
        lifts: str = "pause-1",
        signers: int | None = None,
        **fields: Any,
    ) -> Envelope:
        """A resume of `lifts` signed by the first `signers` pause keys."""
        fields.setdefault("issued", NOW - 30)
        fields.setdefault("effective_at", NOW - 30)
        fields.setdefault("reason", "test resume")
        count = self.threshold if signers is None else signers
        return collect(draft_resume(id, lifts=lifts, **fields), self.role_keys("pause")[:count])


def ceremony(governors: int = 5, threshold: int = 3, label: str = "") -> Ceremony:
    """Make `governors` governors with a `threshold`-of-n root, and one key per operator."""
    people = tuple(
        Governor(
            name=f"governor-{i}",
            root=key(f"{label}governor-{i}/root"),
            policy=key(f"{label}governor-{i}/policy"),
            pause=key(f"{label}governor-{i}/pause"),
        )
        for i in range(governors)
    )
    made = Ceremony(
        governors=people,
        licensing=(key(f"{label}licensing-0"), key(f"{label}licensing-1")),
        registrar=(key(f"{label}registrar-0"),),
        log=(key(f"{label}log-0"),),
        witness=tuple(key(f"{label}witness-{i}") for i in range(3)),
        threshold=threshold,
    )
    verify_initial_root(made.root_envelope, NOW)
    return made
