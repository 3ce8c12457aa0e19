"""Invariants of the governor under any sequence of requests, and under crashes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from pausebutton.crypto import VerifyKey
from pausebutton.device.governor import Governor
from pausebutton.device.secure_element import MemorySecureElement
from pausebutton.device.state import read_state
from tests.device.regime import BUDGET, Regime, secrets
from tests.governance.ceremony import NOW

REGIME = Regime()
VIEW = REGIME.view()
requests = st.lists(
    st.tuples(
        st.integers(0, BUDGET // 3),
        st.integers(0, BUDGET // 6),
        st.integers(0, 10**6),
        st.integers(0, 120),
    ),
    max_size=25,
)


class CrashError(Exception):
    """The power went off."""


class CrashingElement:
    """A secure element that loses power at planned saves: before the write, or just after."""

    def __init__(self, inner: MemorySecureElement, plan: Mapping[int, str]) -> None:
        self.inner = inner
        self.plan = plan
        self.saves = 0

    def restart(self) -> None:
        """Power back on: a new element over what was stored."""
        self.inner = self.inner.restart()

    @property
    def signing_key(self) -> VerifyKey:
        return self.inner.signing_key

    def x25519_public(self) -> bytes:
        return self.inner.x25519_public()

    @property
    def version(self) -> int:
        return self.inner.version

    def sign(self, message: bytes) -> bytes:
        return self.inner.sign(message)

    def exchange(self, peer_public: bytes) -> bytes:
        return self.inner.exchange(peer_public)

    def random(self, size: int) -> bytes:
        return self.inner.random(size)

    def load(self) -> dict[str, Any] | None:
        return self.inner.load()

    def save(self, state: Mapping[str, Any]) -> int:
        self.saves += 1
        moment = self.plan.get(self.saves)
        if moment == "before":
            raise CrashError
        version = self.inner.save(state)
        if moment == "after":
            raise CrashError
        return version


def _licensed_device(name: str) -> MemorySecureElement:
    element = MemorySecureElement(secrets(name))
    governor = REGIME.device(name, element=element)
    governor.install_licence(REGIME.forge(governor), NOW)
    return element


@settings(max_examples=60, deadline=None)
@given(requests)
def test_granted_flops_never_exceed_the_licensed_budget(
    steps: list[tuple[int, int, int, int]],
) -> None:
    governor = Governor(_licensed_device("gpu-prop"))
    governor.observe(VIEW, NOW, NOW)
    licensed = granted_flops = 0
    now = NOW
    for flops, int_ops, moved, wait in steps:
        now += wait
        grant = governor.authorize(flops, int_ops=int_ops, bytes_moved=moved, now=now)
        assert grant.allowed
        if grant.licensed:
            licensed += flops + int_ops
        if grant.decision == "granted":
            granted_flops += flops
    assert granted_flops <= licensed <= BUDGET
    assert governor.counters.licensed_ops == licensed
    assert governor.counters.ops == sum(f + i for f, i, _, _ in steps)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(st.integers(0, BUDGET // 2), st.just("renew")), max_size=30))
def test_renewals_never_let_the_counter_past_the_newest_ceiling(
    steps: list[int | str],
) -> None:
    governor = Governor(_licensed_device("gpu-renew"))
    governor.observe(VIEW, NOW, NOW)
    ceiling, licensed = BUDGET, 0
    for step in steps:
        if step == "renew":
            base = governor.counters.licensed_ops
            governor.install_licence(REGIME.forge(governor, counter_base=base), NOW)
            ceiling = base + BUDGET
            continue
        assert isinstance(step, int)
        grant = governor.authorize(step, now=NOW)
        licensed += step if grant.licensed else 0
        assert governor.counters.licensed_ops == licensed <= ceiling


@settings(max_examples=60, deadline=None)
@given(
    requests,
    st.dictionaries(st.integers(1, 40), st.sampled_from(["before", "after"]), max_size=6),
)
def test_a_crash_never_grants_more_than_was_debited(
    steps: list[tuple[int, int, int, int]], plan: dict[int, str]
) -> None:
    element = CrashingElement(_licensed_device("gpu-crash"), plan)
    granted_ops = licensed_ops = 0
    now = NOW
    governor: Governor | None = None
    for flops, int_ops, moved, wait in steps:
        now += wait
        try:
            if governor is None:
                governor = Governor(element)
                governor.observe(VIEW, now, now)
            grant = governor.authorize(flops, int_ops=int_ops, bytes_moved=moved, now=now)
        except CrashError:
            element.restart()
            governor = None
            continue
        granted_ops += flops + int_ops
        licensed_ops += (flops + int_ops) if grant.licensed else 0
        stored = read_state(element.inner.restart().load())
        assert stored.counters.ops >= granted_ops
        assert stored.counters.licensed_ops >= licensed_ops
        assert stored.counters.licensed_ops <= BUDGET
    assert licensed_ops <= BUDGET
