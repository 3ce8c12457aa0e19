"""Manufacture: a chip, its device keys and its components are registered once, by its maker."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from pausebutton.errors import SignatureError
from pausebutton.registry import client
from pausebutton.registry.chips import ChipManufactured, verify_endorsement
from pausebutton.registry.compliance import RegistryRegulation
from pausebutton.registry.records import HELD, ComponentRecord
from pausebutton.regulation.parameters import ProductionCap
from tests.registry.conftest import Cast
from tests.registry.world import CONTROLLED, UNCONTROLLED, World, key, refused, sqlite_url


def test_manufactured_chip_is_held_by_its_maker(world: World, cast: Cast) -> None:
    world.submit(world.made(cast.maker, "S1"))
    chip = world.chip("S1")
    assert (chip.state, chip.holder, chip.jurisdiction, chip.made_in) == (
        HELD,
        cast.maker.key_id,
        "TW",
        "TW",
    )
    assert chip.tpp == 15832
    assert chip.device_key == key("device S1").key_id
    component = world.get(ComponentRecord, "S1-hbm")
    assert component == ComponentRecord("S1-hbm", "hbm_stack", "S1")


def test_chip_registered_twice_is_refused(world: World, cast: Cast) -> None:
    world.submit(world.made(cast.maker, "S1"))
    again = world.made(cast.maker, "S1", device="other", components=[("logic_die", "new-die")])
    refused(world, r"chip S1 is already registered \(entry \d+\)", again)


def test_chip_registered_twice_in_one_batch_is_refused(world: World, cast: Cast) -> None:
    first = world.made(cast.maker, "S1")
    second = world.made(cast.maker, "S1", device="other", components=[("logic_die", "x")])
    refused(world, "event 1: chip.manufactured: chip S1 is already registered", first, second)


def test_component_reused_in_second_chip_is_refused(world: World, cast: Cast) -> None:
    world.submit(world.made(cast.maker, "S1"))
    reuse = world.made(
        cast.maker, "S2", components=[("logic_die", "S2-die"), ("hbm_stack", "S1-hbm")]
    )
    refused(world, r"component S1-hbm \(hbm_stack\) is already in chip S1", reuse)


def test_component_of_destroyed_chip_cannot_be_reused(world: World, cast: Cast) -> None:
    world.submit(world.made(cast.maker, "S1"))
    world.submit(
        world.event(
            "chip.destroyed",
            cast.maker,
            cast.inspector,
            serial="S1",
            witness=cast.inspector.key_id,
            method="shredded",
        )
    )
    reuse = world.made(cast.maker, "S2", components=[("logic_die", "S1-die")])
    refused(world, "component S1-die .* is already in chip S1", reuse)


def test_cloned_device_key_is_refused(world: World, cast: Cast) -> None:
    world.submit(world.made(cast.maker, "S1"))
    clone = world.made(cast.maker, "S2", device="S1")
    refused(world, "device signing key of chip S2 is already chip S1's", clone)


def test_endorsement_by_another_key_is_refused(world: World, cast: Cast) -> None:
    event = world.made(cast.maker, "S1")
    payload = dict(event.payload["payload"])
    device = dict(payload["device"])
    forged = client.manufacture(
        cast.distributor,
        serial="S1",
        model="Acme H1",
        jurisdiction="TW",
        spec=CONTROLLED,
        device_key=key("device S1").public,
        x25519_key=b"\x01" * 32,
        components=[("logic_die", "d")],
    )
    device["endorsement"] = forged.payload["payload"]["device"]["endorsement"]
    payload["device"] = device
    tampered = world.event("chip.manufactured", cast.maker, **payload)
    refused(world, "not the maker's", tampered, error=SignatureError)


def test_manufacture_by_a_distributor_is_refused(world: World, cast: Cast) -> None:
    refused(world, "may not submit chip.manufactured", world.made(cast.distributor, "S1"))


def test_manufacturer_without_verified_kyc_is_refused(world: World) -> None:
    maker = world.actor("shady", ["manufacturer"], "TW", status="pending")
    refused(world, r"no verified KYC record \(status: pending\)", world.made(maker, "S1"))


def test_manufacture_in_unknown_jurisdiction_is_refused(world: World, cast: Cast) -> None:
    event = world.made(cast.maker, "S1", jurisdiction="XX")
    refused(world, "place of manufacture XX is not a jurisdiction the policy knows", event)


def test_malformed_spec_is_refused_before_signing(world: World, cast: Cast) -> None:
    bad = {**CONTROLLED, "dense_tops_by_bits": {"7": 10}}
    with pytest.raises(Exception, match="dense_tops_by_bits"):
        world.made(cast.maker, "S1", spec=bad)


def test_production_over_the_cap_is_refused(tmp_path: Path) -> None:
    cap = ProductionCap(manufacturer="acme", period_s=86400, max_chips=2, max_tpp=10**9)
    world = World(sqlite_url(tmp_path, "cap.db"), RegistryRegulation(caps={"acme": cap}))
    try:
        maker = world.actor("acme", ["manufacturer"], "TW")
        world.submit(world.made(maker, "S1"), world.made(maker, "S2"))
        refused(world, "production cap: acme: .* chip 3 of the period", world.made(maker, "S3"))
        world.now += 86400  # a new period starts afresh
        world.submit(world.made(maker, "S3"))
    finally:
        world.close()


def test_production_over_the_tpp_cap_is_refused_within_a_batch(tmp_path: Path) -> None:
    cap = ProductionCap(manufacturer="acme", max_chips=100, max_tpp=17_000)
    world = World(sqlite_url(tmp_path, "cap.db"), RegistryRegulation(caps={"acme": cap}))
    try:
        maker = world.actor("acme", ["manufacturer"], "TW")
        small = world.made(maker, "E1", spec=UNCONTROLLED)
        big = world.made(maker, "S1")
        refused(
            world,
            "event 2: .*over the cap of 17000",
            small,
            world.made(maker, "E2", spec=UNCONTROLLED),
            big,
        )
        world.submit(small, big)
    finally:
        world.close()


def test_endorsement_verifies_offline(world: World, cast: Cast) -> None:
    event = world.made(cast.maker, "S1")
    payload = ChipManufactured.model_validate(event.payload["payload"])
    verify_endorsement(cast.maker.public, payload)
    with pytest.raises(SignatureError):
        verify_endorsement(cast.distributor.public, payload)
    assert base64.b64decode(payload.device.endorsement)
