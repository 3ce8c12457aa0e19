"""Publication: the log events, the TUF repository, and every refusal leaving both unchanged."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from tuf.api.metadata import Metadata

from pausebutton import Error, FormatError, ReplayError, SignatureError, ValidationError
from pausebutton.crypto import Envelope
from pausebutton.governance import Policy, Scope, draft_pause
from pausebutton.governance.acceptance import View, replay
from pausebutton.governance.events import governance_entries, governance_event
from pausebutton.governance.provisioning import initial_root
from pausebutton.governance.publication import (
    parse_publication,
    required_cosignatures,
    verify_receipt,
)
from pausebutton.governance.publish import INDEX
from pausebutton.governance.publisher import published_view
from pausebutton.governance.tuf_keys import (
    make_tuf_root,
    sign_tuf_root,
    to_datetime,
    verify_tuf_root,
)
from pausebutton.log import note
from pausebutton.log.proofs import verify_inclusion_bundle
from pausebutton.registry import ActorKey, InMemoryKeyDirectory, InMemoryNonceLedger, validate
from pausebutton.registry.events import make_event, parse_event
from tests.governance.ceremony import collect, key
from tests.governance.world import ORIGIN, World

Build = Callable[[World], Envelope]


def _files(world: World) -> dict[str, bytes]:
    root = world.repo.path
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.endswith(".lock")
    }


def _with_policy(world: World, **changes: object) -> World:
    world.publish(world.policy(**changes))
    return world


def test_every_document_is_a_log_event_with_a_witnessed_receipt(world: World) -> None:
    _with_policy(world)
    world.publish(world.pause())
    world.publish(world.resume())
    logged = [e for _, e in governance_entries(enumerate(world.log.entries(0, world.log.size)))]
    assert [e.payload_type for e in logged] == [
        "pausebutton.root/v1",
        "pausebutton.policy/v1",
        "pausebutton.pause/v1",
        "pausebutton.resume/v1",
    ]
    view = published_view(world.repo)
    assert view is not None
    assert view.policy is not None
    for publication in world.repo.publications().values():
        assert publication.envelope() in logged
        verify_receipt(
            publication, view.root, required_cosignatures(view.root, view.policy), ORIGIN
        )
        # The receipt is also an ordinary inclusion bundle, checkable with the log key alone.
        log_verifier = note.Signer(ORIGIN, world.c.log[0]).verifier()
        verify_inclusion_bundle(publication.receipt, log_verifier, ORIGIN, publication.entry())


def test_the_log_replays_to_the_published_state(world: World) -> None:
    _with_policy(world)
    world.publish(world.pause("p-1"))
    world.publish(world.pause("p-2"))
    world.publish(world.resume("r-1", lifts="p-1"))
    raw = world.log.entries(0, world.log.size)
    history = [(e, parse_event(raw[i]).body.time) for i, e in governance_entries(enumerate(raw))]
    view, refused = replay(View.starting_from(initial_root(history[0][0])), history[1:])
    assert refused == ()
    assert view == published_view(world.repo)
    assert [d.id for d in view.directives] == ["p-1", "p-2", "r-1"]


def test_repository_uses_consistent_snapshots_and_hash_prefixed_targets(world: World) -> None:
    _with_policy(world, freshness_s=3600)
    files = _files(world)
    assert {"metadata/1.root.json", "metadata/root.json", "metadata/timestamp.json"} <= set(files)
    targets = world.repo.targets()
    version = targets.signed.version
    assert f"metadata/{version}.targets.json" in files
    assert f"metadata/{world.repo.snapshot().signed.version}.snapshot.json" in files
    for path, info in targets.signed.targets.items():
        stored = info.get_prefixed_paths()[0]
        assert stored.endswith("." + path.rsplit("/", 1)[1])
        info.verify_length_and_hashes(files[f"targets/{stored}"])
    listed = json.loads(world.repo.read_target(INDEX))["targets"]
    assert listed == ["governance/policies/1.json", "governance/roots/1.json"]


def test_timestamp_expires_after_the_policy_freshness_limit(world: World) -> None:
    _with_policy(world, freshness_s=3600)
    assert world.repo.timestamp().signed.expires == to_datetime(world.now + 3600)
    world.publisher.refresh_timestamp(world.now + 60)
    assert world.repo.timestamp().signed.expires == to_datetime(world.now + 60 + 3600)


def test_tuf_root_mirrors_the_governance_root_and_its_threshold(world: World) -> None:
    tuf_root = world.repo.root()
    verify_tuf_root(tuf_root, world.c.root)
    short = make_tuf_root(world.c.root, key("world/publisher").public)
    for governor_key in world.c.root_signers(2):
        sign_tuf_root(short, governor_key)
    with pytest.raises(SignatureError):
        verify_tuf_root(short, world.c.root)
    with pytest.raises(SignatureError):
        sign_tuf_root(short, world.c.role_keys("pause")[0])
    other = Metadata.from_bytes(tuf_root.to_bytes())
    other.signed.roles["root"].threshold = 2
    with pytest.raises(ValidationError):
        verify_tuf_root(other, world.c.root)


def _duplicate_signature(world: World) -> Envelope:
    envelope = world.pause()
    return envelope.model_copy(
        update={"signatures": (*envelope.signatures, envelope.signatures[0])}
    )


def _inconsistent_policy(world: World) -> Envelope:
    payload = Policy(version=2, expires=world.now + 86_400).model_dump(mode="json")
    payload["notify_flop"] = payload["licence_flop"]
    unsigned = Envelope(payload_type="pausebutton.policy/v1", payload=payload)
    return collect(unsigned, world.c.role_keys("policy")[:3])


REFUSALS: dict[str, tuple[Build, type[Error]]] = {
    "too_few_signatures": (lambda w: w.pause(signers=2), SignatureError),
    "two_signatures_by_one_key": (_duplicate_signature, SignatureError),
    "signed_by_keys_of_another_role": (
        lambda w: collect(
            draft_pause("p-x", issued=w.now, effective_at=w.now, reason="r"),
            w.c.role_keys("policy")[:3],
        ),
        SignatureError,
    ),
    "expired_policy": (lambda w: w.policy(version=2, expires=w.now - 1), ReplayError),
    "rolled_back_policy": (lambda w: w.policy(version=1, freshness_s=60), ReplayError),
    "resume_naming_no_pause": (lambda w: w.resume(lifts="no-such-pause"), ValidationError),
    "scope_naming_unknown_jurisdiction": (
        lambda w: w.pause("p-xx", scope=Scope(jurisdictions=("XX",))),
        ValidationError,
    ),
    "inconsistent_policy": (_inconsistent_policy, ValidationError),
    "republished_pause": (lambda w: w.pause("pause-0"), ReplayError),
    "not_a_governance_document": (
        lambda w: Envelope(payload_type="pausebutton.licence/v1", payload={}),
        ValidationError,
    ),
}


@pytest.mark.parametrize("attack", sorted(REFUSALS))
def test_bad_document_is_refused_at_publish_and_nothing_changes(world: World, attack: str) -> None:
    _with_policy(world)
    world.publish(world.pause("pause-0"))
    build, error = REFUSALS[attack]
    envelope = build(world)
    before, size = _files(world), world.log.size
    with pytest.raises(error):
        world.publish(envelope)
    assert _files(world) == before
    assert world.log.size == size


def test_directive_before_any_policy_is_refused(world: World) -> None:
    before, size = _files(world), world.log.size
    with pytest.raises(ValidationError, match="no policy"):
        world.publish(world.pause())
    assert (_files(world), world.log.size) == (before, size)


def test_governance_event_from_a_non_publisher_is_refused(world: World) -> None:
    lab = key("lab")
    directory = InMemoryKeyDirectory([ActorKey(lab.public, frozenset({"lab"}))])
    event = governance_event(world.policy(), lab, world.now)
    with pytest.raises(ValidationError, match=r"may not submit governance\.policy"):
        validate(event, directory=directory, nonces=InMemoryNonceLedger(), now=world.now)


def test_event_carrying_another_document_type_is_refused(world: World) -> None:
    publisher = key("world/publisher")
    directory = InMemoryKeyDirectory([ActorKey(publisher.public, frozenset({"publisher"}))])
    event = make_event(
        "governance.pause", world.policy().model_dump(mode="json"), publisher, time=world.now
    )
    with pytest.raises(ValidationError, match=r"carries 'pausebutton\.policy/v1'"):
        validate(event, directory=directory, nonces=InMemoryNonceLedger(), now=world.now)


def test_publication_file_is_strict(world: World, tmp_path: Path) -> None:
    publication = next(iter(world.repo.publications().values()))
    data = json.loads(publication.to_bytes())
    data["extra"] = 1
    with pytest.raises(FormatError):
        parse_publication(json.dumps(data).encode())
    assert parse_publication(publication.to_bytes()) == publication


def test_document_logged_but_never_written_is_recovered_from_the_log(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    _with_policy(world)

    def crash(*args: object, **kwargs: object) -> int:
        raise OSError("disk full")

    with monkeypatch.context() as patch:
        patch.setattr(world.repo, "update", crash)
        with pytest.raises(OSError, match="disk full"):
            world.publish(world.pause())
    assert "governance/directives/pause-1.json" not in world.repo.publications()
    assert world.publisher.renew_receipts(world.now) == 3
    view = published_view(world.repo)
    assert view is not None
    assert [d.id for d in view.directives] == ["pause-1"]
