"""The device side: a real TUF client over real local HTTP, and the attacks it must survive."""

from __future__ import annotations

import pytest
from tuf.api.exceptions import BadVersionNumberError, ExpiredMetadataError, RepositoryError
from tuf.api.metadata import Metadata

from pausebutton import SignatureError
from pausebutton.device.governance_client import GovernanceClient, GovernanceRefreshError
from pausebutton.governance import DeviceContext, draft
from pausebutton.governance.publish import INDEX
from pausebutton.governance.publisher import LocalWitness, Publisher
from pausebutton.governance.tuf_keys import KeySigner, make_tuf_root, sign_tuf_root
from pausebutton.log import note
from pausebutton.log.cosignature import CosignatureSigner
from tests.governance.ceremony import DAY, collect, key
from tests.governance.world import ORIGIN, World

DEVICE = DeviceContext("gpu-0042", "lab-a", "US", "3A090.a", run_flop=3 * 10**26)


def _kind(client: GovernanceClient, now: int | None = None) -> str:
    return client.effect(DEVICE, now).kind


def test_done_when_a_tuf_client_sees_root_policy_pause_and_resume_in_turn(world: World) -> None:
    # The scripted ceremony: 5 governors, a 3-of-5 root (published by build_world).
    assert len(world.c.governors) == 5
    assert world.c.root.roles["root"].threshold == 3
    device = world.client()
    device.refresh()
    assert device.view.root == world.c.root
    assert _kind(device) == "halt"  # no policy yet: fail closed
    assert "no policy" in device.effect(DEVICE).reasons[0]
    world.publish(world.policy())
    device.refresh()
    assert device.view.policy is not None
    assert _kind(device) == "run"
    world.publish(world.pause())
    device.refresh()
    effect = device.effect(DEVICE)
    assert (effect.kind, effect.directive_ids) == ("halt", ("pause-1",))
    world.publish(world.resume())
    device.refresh()
    assert _kind(device) == "run"
    assert device.refused == ()


def test_pause_is_obeyed_at_once_but_resume_without_enough_witnesses_is_not(
    one_witness_world: World,
) -> None:
    world = one_witness_world
    # The first policy is a loosening too; let all three witnesses cosign it.
    log_verifier = note.Signer(ORIGIN, world.c.log[0]).verifier()
    three = [
        LocalWitness(CosignatureSigner(f"witness-{i}.example", k), log_verifier)
        for i, k in enumerate(world.c.witness)
    ]
    full = Publisher(world.repo, world.log, key("world/publisher"), three)
    full.publish(world.policy(), world.now)
    device = world.client()
    device.refresh()
    assert _kind(device) == "run"
    paused = world.publish(world.pause())
    assert paused.direction == "tightening"
    device.refresh()
    assert _kind(device) == "halt"
    resumed = world.publish(world.resume())
    assert (resumed.direction, resumed.cosignatures, resumed.needed) == ("loosening", 1, 2)
    device.refresh()
    assert _kind(device) == "halt"  # the device stays paused
    (refusal,) = device.refused
    assert refusal.what == "resume resume-1"
    assert refusal.error == "SignatureError"
    assert "1 valid cosignature" in refusal.reason
    # Once enough witnesses cosign a newer checkpoint, renewed receipts lift the pause.
    full.renew_receipts(world.now)
    device.refresh()
    assert _kind(device) == "run"


def test_device_that_cannot_refresh_within_freshness_halts(world: World) -> None:
    world.publish(world.policy(freshness_s=3600))
    clock = [float(world.now)]
    device = world.client(clock=lambda: clock[0])
    device.refresh()
    assert _kind(device) == "run"
    world.server.stop()
    clock[0] += 3000
    assert device.poll() is None
    assert isinstance(device.last_error, GovernanceRefreshError)
    assert _kind(device) == "run"  # still within the limit
    clock[0] += 601
    effect = device.effect(DEVICE)
    assert effect.kind == "halt"
    assert effect.reasons[0].startswith("stale governance view")


def test_restarted_device_is_not_fresh_until_it_refreshes(world: World) -> None:
    world.publish(world.policy())
    world.publish(world.pause())
    first = world.client()
    first.refresh()
    state = world.root / f"device-{world.clients}"
    again = GovernanceClient(state, world.server.url, world.provisioning, clock=lambda: world.now)
    assert again.view == first.view  # kept across restarts
    assert "stale" in again.effect(DEVICE).reasons[0]


def test_rolled_back_timestamp_is_refused(world: World) -> None:
    world.publish(world.policy())
    old = (world.repo.metadata_dir / "timestamp.json").read_bytes()
    world.publish(world.pause())
    device = world.client()
    device.refresh()
    (world.repo.metadata_dir / "timestamp.json").write_bytes(old)
    with pytest.raises(GovernanceRefreshError, match="BadVersionNumberError") as caught:
        device.refresh()
    assert isinstance(caught.value.__cause__, BadVersionNumberError)
    assert _kind(device) == "halt"  # the pause it saw still holds


def test_expired_timestamp_is_refused_freeze_attack(world: World) -> None:
    world.publish(world.policy())
    world.repo.refresh_timestamp(freshness_s=60, now=world.now - DAY)
    device = world.client()
    with pytest.raises(GovernanceRefreshError) as caught:
        device.refresh()
    assert isinstance(caught.value.__cause__, ExpiredMetadataError)
    assert _kind(device) == "halt"


def test_tampered_target_is_refused(world: World) -> None:
    world.publish(world.policy())
    info = world.repo.targets().signed.targets["governance/policies/1.json"]
    stored = world.repo.targets_dir / info.get_prefixed_paths()[0]
    stored.write_bytes(stored.read_bytes().replace(b'"version":1', b'"version":7'))
    with pytest.raises(GovernanceRefreshError) as caught:
        world.client().refresh()
    assert isinstance(caught.value.__cause__, RepositoryError)


def test_device_keeps_a_pause_the_repository_stops_listing(world: World) -> None:
    world.publish(world.policy())
    world.publish(world.pause())
    device = world.client()
    device.refresh()
    # An attacker holding the online key re-signs targets without the pause.
    repo = world.repo
    targets = repo.targets()
    del targets.signed.targets["governance/directives/pause-1.json"]
    del targets.signed.targets[INDEX]
    signer = KeySigner(key("world/publisher"))
    with repo.locked():
        repo._add_target(targets.signed, INDEX, b'{"targets": []}')
        targets.signed.version += 1
        targets.sign(signer)
        (repo.metadata_dir / f"{targets.signed.version}.targets.json").write_bytes(
            targets.to_bytes()
        )
        snapshot = repo.snapshot()
        snapshot.signed.meta["targets.json"].version = targets.signed.version
        snapshot.signed.version += 1
        snapshot.sign(signer)
        (repo.metadata_dir / f"{snapshot.signed.version}.snapshot.json").write_bytes(
            snapshot.to_bytes()
        )
        repo._sign_timestamp(snapshot.signed.version, DAY, world.now)
    report = device.refresh()
    assert report.targets == 0
    assert _kind(device) == "halt"


def test_root_rotation_is_followed_and_old_pause_keys_stop_counting(world: World) -> None:
    world.publish(world.policy())
    new_pause = [key(f"rotated/pause-{i}") for i in range(5)]
    root = world.c.make_root(
        version=2,
        expires=world.now + 300 * DAY,
        overrides={"pause": ([k.public for k in new_pause], 3)},
    )
    world.publish(collect(draft(root), world.c.root_signers()))
    device = world.client()
    device.refresh()
    assert device.view.root.version == 2
    old = world.pause("old-keys")
    with pytest.raises(SignatureError, match="valid signature"):
        world.publish(old)
    new = collect(world.pause("new-keys", signers=0), new_pause[:3])
    world.publish(new)
    device.refresh()
    assert device.effect(DEVICE).directive_ids == ("new-keys",)


def test_security_fix_is_obeyed_at_once_a_new_rule_needs_witnesses(world: World) -> None:
    world.publish(world.policy())
    world.publisher.witnesses = world.publisher.witnesses[:1]
    world.publish(world.policy(version=2, freshness_s=3600))  # tightening only
    world.publish(world.policy(version=3, freshness_s=3600, licence_flop=10**27))
    device = world.client()
    device.refresh()
    assert device.view.policy is not None
    assert device.view.policy.version == 2
    assert [r.what for r in device.refused] == ["policy v3"]


def test_provisioning_must_agree_with_the_tuf_root(world: World) -> None:
    tuf_root = Metadata.from_bytes(world.provisioning.tuf_root)
    tuf_root.signatures.clear()
    bad = type(world.provisioning)(
        world.provisioning.governance_root, tuf_root.to_bytes(), world.provisioning.log_origin
    )
    with pytest.raises(SignatureError, match="TUF root v1"):
        bad.check()


def test_tuf_and_governance_root_rotation_is_followed_by_the_device(world: World) -> None:
    world.publish(world.policy())
    new_root_keys = [key(f"rotated/root-{i}") for i in range(5)]
    root = world.c.make_root(
        version=2,
        expires=world.now + 300 * DAY,
        overrides={"root": ([k.public for k in new_root_keys], 3)},
    )
    world.publish(collect(draft(root), [*world.c.root_signers(), *new_root_keys[:3]]))
    tuf_root = make_tuf_root(root, key("world/publisher").public, version=2)
    for signer in new_root_keys[:3]:
        sign_tuf_root(tuf_root, signer)
    with pytest.raises(SignatureError):
        world.repo.add_root(tuf_root)  # the outgoing governors have not signed
    for signer in world.c.root_signers():
        sign_tuf_root(tuf_root, signer, previous=world.repo.root())
    world.repo.add_root(tuf_root)
    device = world.client()
    device.refresh()
    assert device.view.root.version == 2
    trusted = Metadata.from_bytes((world.root / "device-1" / "tuf" / "root.json").read_bytes())
    assert trusted.signed.version == 2
