"""The pure acceptance rules: tightening at once, loosening only when witnessed, fail closed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pausebutton import NoteError, ProofError, SignatureError
from pausebutton.crypto import Envelope
from pausebutton.governance import DeviceContext, Policy, draft
from pausebutton.governance.acceptance import (
    View,
    accept,
    admit,
    describe_view,
    device_effect,
    fold,
)
from pausebutton.governance.publication import Publication, verify_receipt
from pausebutton.governance.revocations import Revocations, RevokedKey
from pausebutton.log import note
from pausebutton.log.cosignature import CosignatureSigner, cosign
from tests.governance.ceremony import DAY, collect, key
from tests.governance.world import ORIGIN, World, build_world

DEVICE = DeviceContext("gpu-1", "lab-a", "US", "3A090.a")


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """Root, policy v1, pauses p-1 and p-2, resume r-1 of p-1, policy v2 (a security fix)."""
    world = build_world(tmp_path_factory.mktemp("acceptance"), label="acceptance/")
    world.publish(world.policy())
    world.publish(world.pause("p-1"))
    world.publish(world.pause("p-2", effect="throttle", rate=0.1))
    world.publish(world.resume("r-1", lifts="p-1"))
    world.publish(world.policy(version=2, freshness_s=3600))
    yield world
    world.close()


def _publications(world: World) -> list[Publication]:
    return sorted(world.repo.publications().values(), key=lambda p: p.receipt.index)


def _start(world: World) -> View:
    return View.starting_from(world.c.root)


@settings(max_examples=40, deadline=None)
@given(order=st.permutations(range(6)))
def test_the_view_never_depends_on_arrival_order(published: World, order: list[int]) -> None:
    publications = _publications(published)
    shuffled = [publications[i] for i in order]
    expected = fold(_start(published), publications, published.now, ORIGIN)
    outcome = fold(_start(published), shuffled, published.now, ORIGIN)
    assert outcome.view == expected.view
    assert outcome.refused == expected.refused == ()
    effect = device_effect(outcome.view, DEVICE, published.now, published.now)
    assert (effect.kind, effect.rate, effect.directive_ids) == ("throttle", 0.1, ("p-2",))


def _view(world: World) -> View:
    return fold(_start(world), _publications(world), world.now, ORIGIN).view


Vector = Callable[[World], Envelope]
DIRECTIONS: dict[str, tuple[Vector, str]] = {
    "pause": (lambda w: w.pause("p-new"), "tightening"),
    "resume": (lambda w: w.resume("r-new", lifts="p-2"), "loosening"),
    "policy_security_fix": (
        lambda w: w.policy(version=3, freshness_s=1800, min_firmware_version=2),
        "tightening",
    ),
    "policy_new_rule": (
        lambda w: w.policy(version=3, freshness_s=3600, witness_threshold=1),
        "loosening",
    ),
    "policy_renewal": (lambda w: w.policy(version=3, freshness_s=3600), "loosening"),
    "root_update": (
        lambda w: collect(draft(w.c.make_root(version=2, expires=w.now + DAY)), w.c.root_signers()),
        "loosening",
    ),
    "revocations_first": (
        lambda w: _revocations(w, 1, ("aa" * 32,)),
        "tightening",
    ),
}


def _revocations(world: World, version: int, ids: tuple[str, ...]) -> Envelope:
    keys = tuple(RevokedKey(key_id=i, since=world.now, reason="stolen") for i in ids)
    revocations = Revocations(version=version, issued=world.now, keys=keys)
    return collect(draft(revocations), world.c.registrar)


@pytest.mark.parametrize("name", sorted(DIRECTIONS))
def test_each_change_is_classed_as_tightening_or_loosening(published: World, name: str) -> None:
    build, direction = DIRECTIONS[name]
    assert admit(_view(published), build(published), published.now).direction == direction


def test_dropping_a_revocation_loosens_adding_one_tightens(published: World) -> None:
    view = admit(_view(published), _revocations(published, 1, ("aa" * 32,)), published.now).view
    more = admit(view, _revocations(published, 2, ("aa" * 32, "bb" * 32)), published.now)
    fewer = admit(view, _revocations(published, 2, ("bb" * 32,)), published.now)
    assert (more.direction, fewer.direction) == ("tightening", "loosening")
    assert more.view.revocations is not None
    assert more.view.revocations.is_revoked("bb" * 32)


@pytest.mark.parametrize(
    ("fresh_at", "at", "kind", "reason"),
    [
        (0, 0, "throttle", ""),
        (0, 3600, "throttle", ""),
        (0, 3601, "halt", "stale governance view"),
        (None, 0, "halt", "never refreshed"),
        (0, 90 * DAY, "halt", "stale"),
    ],
)
def test_device_fails_closed_when_stale(
    published: World, fresh_at: int | None, at: int, kind: str, reason: str
) -> None:
    view = _view(published)
    base = published.now
    effect = device_effect(view, DEVICE, base + at, None if fresh_at is None else base + fresh_at)
    assert effect.kind == kind
    assert reason in " ".join(effect.reasons)


def test_no_policy_or_an_expired_one_halts(published: World) -> None:
    view = _view(published)
    assert device_effect(replace(view, policy=None), DEVICE, published.now, published.now).kind == (
        "halt"
    )
    assert view.policy is not None
    old = Policy(**{**view.policy.model_dump(), "expires": published.now})
    effect = device_effect(replace(view, policy=old), DEVICE, published.now, published.now)
    assert "expired" in effect.reasons[0]
    assert any("throttle" in line for line in describe_view(view, published.now))


def _resume(world: World) -> Publication:
    return world.repo.publications()["governance/directives/r-1.json"]


def _with_checkpoint(publication: Publication, checkpoint: str) -> Publication:
    return publication.model_copy(
        update={"receipt": publication.receipt.model_copy(update={"checkpoint": checkpoint})}
    )


def _bare_checkpoint(publication: Publication) -> str:
    text, sigs = note.parse_signed_note(publication.receipt.checkpoint)
    log_line = next(s for s in sigs if s.name == ORIGIN)
    return text + "\n" + log_line.to_line()


def test_one_witness_key_under_two_names_counts_once(published: World) -> None:
    resume = _resume(published)
    checkpoint = _bare_checkpoint(resume)
    for name in ("witness-a.example", "witness-b.example"):
        checkpoint = cosign(checkpoint, CosignatureSigner(name, published.c.witness[0]), 1)
    with pytest.raises(SignatureError, match="1 valid cosignature"):
        verify_receipt(_with_checkpoint(resume, checkpoint), published.c.root, 2, ORIGIN)


def test_cosignatures_by_keys_outside_the_root_do_not_count(published: World) -> None:
    resume = _resume(published)
    checkpoint = _bare_checkpoint(resume)
    for i in range(3):
        checkpoint = cosign(checkpoint, CosignatureSigner(f"x{i}.example", key(f"rogue-{i}")), 1)
    forged = _with_checkpoint(resume, checkpoint)
    with pytest.raises(SignatureError, match="0 valid cosignature"):
        verify_receipt(forged, published.c.root, 1, ORIGIN)
    view = replace(_view(published), directives=())
    view = admit(view, published.pause("p-1"), published.now, strict=False).view
    with pytest.raises(SignatureError):
        accept(view, forged, published.now, ORIGIN)


def test_receipt_of_another_entry_is_refused(published: World) -> None:
    publications = published.repo.publications()
    resume = publications["governance/directives/r-1.json"]
    pause = publications["governance/directives/p-2.json"]
    swapped = resume.model_copy(update={"receipt": pause.receipt})
    with pytest.raises(ProofError):
        verify_receipt(swapped, published.c.root, 2, ORIGIN)


def test_checkpoint_by_a_log_key_the_root_does_not_name_is_refused(published: World) -> None:
    resume = _resume(published)
    text = note.parse_signed_note(resume.receipt.checkpoint)[0]
    rogue = note.sign(text, [note.Signer(ORIGIN, key("rogue-log"))])
    with pytest.raises(NoteError, match="no signature by a log key"):
        verify_receipt(_with_checkpoint(resume, rogue), published.c.root, 0, ORIGIN)
