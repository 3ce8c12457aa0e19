"""Custody after manufacture: only the holder moves a chip, and only along the state machine."""

from __future__ import annotations

import pytest

from pausebutton.errors import SignatureError
from pausebutton.registry.records import DESTROYED, HELD, INSTALLED, LEASED, LOST, STOLEN
from tests.registry.conftest import Cast
from tests.registry.world import World, refused


@pytest.fixture
def chip(world: World, cast: Cast) -> str:
    """A chip made by the maker and sold to the distributor."""
    world.submit(
        world.made(cast.maker, "S1"),
        world.event(
            "chip.transferred",
            cast.maker,
            cast.distributor,
            serial="S1",
            buyer=cast.distributor.key_id,
        ),
        world.event(
            "facility.registered",
            cast.operator,
            facility="dc-1",
            name="DC One",
            jurisdiction="TW",
            latitude=25.03,
            longitude=121.56,
        ),
    )
    return "S1"


def test_transfer_moves_custody(world: World, cast: Cast, chip: str) -> None:
    assert world.chip(chip).holder == cast.distributor.key_id


def test_transfer_by_non_holder_is_refused(world: World, cast: Cast, chip: str) -> None:
    steal = world.event(
        "chip.transferred", cast.maker, cast.lab, serial=chip, buyer=cast.lab.key_id
    )
    refused(world, "is not the holder of chip S1", steal)


def test_transfer_without_the_buyers_signature_is_refused(
    world: World, cast: Cast, chip: str
) -> None:
    unsigned = world.event("chip.transferred", cast.distributor, serial=chip, buyer=cast.lab.key_id)
    refused(world, "not signed by its co-signer", unsigned, error=SignatureError)


def test_transfer_to_an_actor_without_kyc_is_refused(world: World, cast: Cast, chip: str) -> None:
    shell = world.actor("shell", ["distributor"], "TW", status="rejected")
    sale = world.event("chip.transferred", cast.distributor, shell, serial=chip, buyer=shell.key_id)
    refused(world, r"buyer .* has no verified KYC record \(status: rejected\)", sale)


def test_transfer_to_an_inspector_is_refused(world: World, cast: Cast, chip: str) -> None:
    sale = world.event(
        "chip.transferred",
        cast.distributor,
        cast.inspector,
        serial=chip,
        buyer=cast.inspector.key_id,
    )
    refused(world, "buyer .* needs one of", sale)


def test_transfer_of_an_unknown_chip_is_refused(world: World, cast: Cast) -> None:
    sale = world.event(
        "chip.transferred", cast.maker, cast.lab, serial="NOPE", buyer=cast.lab.key_id
    )
    refused(world, "no chip with serial 'NOPE' is registered", sale)


def test_installation_lease_and_return(world: World, cast: Cast, chip: str) -> None:
    d, op, lab = cast.distributor, cast.operator, cast.lab
    world.submit(
        world.event("chip.installed", d, op, serial=chip, facility="dc-1", operator=op.key_id)
    )
    assert (world.chip(chip).state, world.chip(chip).facility) == (INSTALLED, "dc-1")
    world.submit(
        world.event("chip.leased", d, lab, serial=chip, lessee=lab.key_id, until=world.now + 3600)
    )
    assert (world.chip(chip).state, world.chip(chip).lessee) == (LEASED, lab.key_id)
    refused(
        world,
        "chip S1 is leased; the event needs it held",
        world.event("chip.transferred", d, cast.lab, serial=chip, buyer=lab.key_id),
    )
    refused(
        world,
        "the holder may end the lease .* only once it expires",
        world.event("chip.lease_ended", d, serial=chip),
    )
    world.submit(world.event("chip.lease_ended", lab, serial=chip))
    world.submit(world.event("chip.uninstalled", d, serial=chip))
    after = world.chip(chip)
    assert (after.state, after.facility, after.lessee) == (HELD, None, None)


def test_holder_may_end_an_expired_lease(world: World, cast: Cast, chip: str) -> None:
    d, op, lab = cast.distributor, cast.operator, cast.lab
    world.submit(
        world.event("chip.installed", d, op, serial=chip, facility="dc-1", operator=op.key_id),
        world.event("chip.leased", d, lab, serial=chip, lessee=lab.key_id, until=world.now + 60),
    )
    world.now += 60
    world.submit(world.event("chip.lease_ended", d, serial=chip))
    assert world.chip(chip).state == INSTALLED


def test_installation_abroad_is_refused(world: World, cast: Cast, chip: str) -> None:
    op = cast.operator
    world.submit(
        world.event(
            "facility.registered",
            op,
            facility="dc-us",
            name="US",
            jurisdiction="US",
            latitude=40.0,
            longitude=-75.0,
        )
    )
    install = world.event(
        "chip.installed", cast.distributor, op, serial=chip, facility="dc-us", operator=op.key_id
    )
    refused(
        world, "facility dc-us is in US, chip S1 in TW: it must be exported there first", install
    )


def test_installation_at_someone_elses_facility_is_refused(
    world: World, cast: Cast, chip: str
) -> None:
    install = world.event(
        "chip.installed",
        cast.distributor,
        cast.lab,
        serial=chip,
        facility="dc-1",
        operator=cast.lab.key_id,
    )
    refused(world, "facility dc-1 is operated by", install)


def test_facility_registered_twice_is_refused(world: World, cast: Cast, chip: str) -> None:
    again = world.event(
        "facility.registered",
        cast.operator,
        facility="dc-1",
        name="Again",
        jurisdiction="TW",
        latitude=0.0,
        longitude=0.0,
    )
    refused(world, "facility dc-1 is already registered", again)


def test_stolen_chip_cannot_move_until_recovered(world: World, cast: Cast, chip: str) -> None:
    d, inspector = cast.distributor, cast.inspector
    world.submit(world.event("chip.reported_stolen", d, serial=chip, details="truck hijacked"))
    assert world.chip(chip).state == STOLEN
    refused(
        world,
        "chip S1 is stolen; the event needs it held",
        world.event("chip.transferred", d, cast.lab, serial=chip, buyer=cast.lab.key_id),
    )
    world.submit(
        world.event(
            "chip.recovered",
            d,
            inspector,
            serial=chip,
            jurisdiction="TW",
            inspector=inspector.key_id,
        )
    )
    assert world.chip(chip).state == HELD


def test_operator_may_report_a_chip_lost_from_its_facility(
    world: World, cast: Cast, chip: str
) -> None:
    d, op = cast.distributor, cast.operator
    world.submit(
        world.event("chip.installed", d, op, serial=chip, facility="dc-1", operator=op.key_id)
    )
    world.submit(world.event("chip.reported_lost", op, serial=chip))
    assert (world.chip(chip).state, world.chip(chip).facility) == (LOST, None)


def test_inspection_is_recorded(world: World, cast: Cast, chip: str) -> None:
    index = world.submit(
        world.event("chip.inspected", cast.inspector, serial=chip, outcome="present")
    )
    assert (world.chip(chip).inspected_at, world.chip(chip).inspection) == (index[0], "present")


def test_inspection_by_a_lab_is_refused(world: World, cast: Cast, chip: str) -> None:
    refused(
        world,
        "may not submit chip.inspected",
        world.event("chip.inspected", cast.lab, serial=chip, outcome="present"),
    )


def test_destruction_needs_an_inspectors_witness(world: World, cast: Cast, chip: str) -> None:
    by_lab = world.event(
        "chip.destroyed",
        cast.distributor,
        cast.lab,
        serial=chip,
        witness=cast.lab.key_id,
        method="shredded",
    )
    refused(world, "witness .* needs one of inspector", by_lab)
    alone = world.event(
        "chip.destroyed",
        cast.distributor,
        serial=chip,
        witness=cast.inspector.key_id,
        method="shredded",
    )
    refused(world, "not signed by its co-signer", alone, error=SignatureError)


def test_event_for_destroyed_chip_is_refused(world: World, cast: Cast, chip: str) -> None:
    d, inspector = cast.distributor, cast.inspector
    world.submit(
        world.event(
            "chip.destroyed", d, inspector, serial=chip, witness=inspector.key_id, method="shredded"
        )
    )
    assert world.chip(chip).state == DESTROYED
    for event in (
        world.event("chip.transferred", d, cast.lab, serial=chip, buyer=cast.lab.key_id),
        world.event("chip.inspected", inspector, serial=chip, outcome="absent"),
        world.event("chip.reported_stolen", d, serial=chip),
    ):
        refused(world, r"chip S1 was destroyed \(entry \d+\); no event may follow", event)
