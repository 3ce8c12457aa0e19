"""Properties: thresholds cannot be cheated, and the pause state ignores arrival order."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pausebutton import SignatureError
from pausebutton.crypto import EnvelopeSignature, SigningKey, parse_envelope
from pausebutton.governance import (
    DeviceContext,
    Directive,
    PauseDirective,
    ResumeDirective,
    Scope,
    draft,
    effect_for,
    parse_directive,
    pause_state,
    sign,
    verify_directive,
)
from tests.governance.ceremony import NOW, ceremony

CEREMONY = ceremony()
POLICY = CEREMONY.policy()
PAUSE_KEYS = CEREMONY.role_keys("pause")
OTHER_KEYS = [
    k
    for role in ("root", "policy", "licensing", "registrar", "log", "witness")
    for k in CEREMONY.role_keys(role)
]
K = CEREMONY.root.roles["pause"].threshold

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ids = st.sampled_from(["a", "b", "c", "d"])
times = st.integers(min_value=NOW - 40, max_value=NOW + 40)
scopes = st.sampled_from(
    [
        Scope(),
        Scope(jurisdictions=("US",)),
        Scope(jurisdictions=("CN", "EU")),
        Scope(chip_classes=("3A090.a",)),
        Scope(owners=("lab-a",), min_run_flop=10**25),
        Scope(devices=("dev-2",)),
    ]
)
DEVICES = [
    DeviceContext("dev-1", "lab-a", "US", "3A090.a", 10**26),
    DeviceContext("dev-2", "lab-b", "CN", "3A090.b", 0),
    DeviceContext("dev-3", "lab-a", "EU", "3A090.a", 10**24),
]


@st.composite
def pauses(draw: st.DrawFn) -> PauseDirective:
    effective_at = draw(times)
    throttle = draw(st.booleans())
    expires = draw(st.none() | st.integers(min_value=effective_at + 1, max_value=NOW + 80))
    return PauseDirective(
        id=draw(ids),
        issued=draw(times),
        scope=draw(scopes),
        effect="throttle" if throttle else "halt",
        rate=draw(st.sampled_from([0.01, 0.1, 0.5])) if throttle else None,
        effective_at=effective_at,
        expires=expires,
        reason=draw(st.sampled_from(["drill", "incident", "treaty vote"])),
    )


@st.composite
def resumes(draw: st.DrawFn) -> ResumeDirective:
    resume_id = draw(ids)
    lifts = draw(ids.filter(lambda x: x != resume_id))
    return ResumeDirective(
        id=resume_id,
        lifts=lifts,
        issued=draw(times),
        effective_at=draw(times),
        reason=draw(st.sampled_from(["lifted", "vote"])),
    )


directives = st.lists(st.one_of(pauses(), resumes()), max_size=8)


@SETTINGS
@given(
    pause_signers=st.sets(st.integers(0, len(PAUSE_KEYS) - 1), max_size=K - 1),
    others=st.sets(st.integers(0, len(OTHER_KEYS) - 1), max_size=6),
    junk=st.lists(st.binary(min_size=32, max_size=32), max_size=3),
    pause=pauses(),
    seed=st.integers(0, 2**32 - 1),
)
def test_fewer_than_k_valid_signatures_never_yield_a_directive(
    pause_signers: set[int],
    others: set[int],
    junk: list[bytes],
    pause: PauseDirective,
    seed: int,
) -> None:
    keys: list[SigningKey] = [PAUSE_KEYS[i] for i in pause_signers]
    keys += [OTHER_KEYS[i] for i in others]
    random.Random(seed).shuffle(keys)
    envelope = draft(pause)
    for k in keys:
        envelope = sign(envelope, k)
    # Signatures claiming keys nobody holds (unknown key ids) add nothing either.
    forged = [EnvelopeSignature(keyid=j.hex(), sig="A" * 86 + "==") for j in junk]
    envelope = envelope.model_copy(update={"signatures": (*envelope.signatures, *forged)})
    try:
        verify_directive(envelope, CEREMONY.root, POLICY, NOW)
    except SignatureError:
        return
    raise AssertionError(f"{len(pause_signers)} pause signatures yielded a valid directive")


@SETTINGS
@given(
    pause_signers=st.sets(st.integers(0, len(PAUSE_KEYS) - 1), min_size=K),
    others=st.sets(st.integers(0, len(OTHER_KEYS) - 1), max_size=4),
    pause=pauses(),
)
def test_k_or_more_pause_signatures_always_yield_the_directive(
    pause_signers: set[int], others: set[int], pause: PauseDirective
) -> None:
    envelope = draft(pause)
    for k in [*(PAUSE_KEYS[i] for i in sorted(pause_signers)), *(OTHER_KEYS[i] for i in others)]:
        envelope = sign(envelope, k)
    assert verify_directive(envelope, CEREMONY.root, POLICY, NOW) == pause


@SETTINGS
@given(directives=directives, data=st.data())
def test_pause_state_never_depends_on_arrival_order(
    directives: list[Directive], data: st.DataObject
) -> None:
    shuffled = data.draw(st.permutations(directives))
    for now in (NOW - 50, NOW, NOW + 20, NOW + 100):
        state = pause_state(directives, now)
        assert pause_state(shuffled, now) == state
        assert pause_state([*shuffled, *directives], now) == state
        for device in DEVICES:
            assert effect_for(pause_state(shuffled, now), device) == effect_for(state, device)


@SETTINGS
@given(directive=st.one_of(pauses(), resumes()))
def test_every_directive_round_trips_through_its_wire_form(directive: Any) -> None:
    wire = draft(directive).to_bytes()
    assert parse_directive(parse_envelope(wire)) == directive
