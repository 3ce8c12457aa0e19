"""Exports: a chip leaves its jurisdiction only under the licence its destination needs."""

from __future__ import annotations

import pytest

from pausebutton.crypto import Envelope
from tests.registry.conftest import Cast
from tests.registry.world import UNCONTROLLED, World, refused

CN_LICENCE = "BIS-2026-0001"


@pytest.fixture
def chips(world: World, cast: Cast) -> list[str]:
    """A controlled chip S1 and an uncontrolled chip E1, held by the maker in TW."""
    world.submit(world.made(cast.maker, "S1"), world.made(cast.maker, "E1", spec=UNCONTROLLED))
    return ["S1", "E1"]


def _licence(
    world: World,
    cast: Cast,
    *,
    eccn: str = "3A090.a",
    quantity: int = 1,
    expires: int | None = None,
    licence: str = CN_LICENCE,
) -> None:
    world.submit(
        world.event(
            "export.licensed",
            cast.authority,
            licence=licence,
            exporter=cast.maker.key_id,
            consignee=cast.foreign.key_id,
            destination="CN",
            eccn=eccn,
            quantity=quantity,
            expires=expires or world.now + 86400,
        )
    )


def _export(world: World, cast: Cast, serial: str, licence: str | None = None) -> Envelope:
    fields = {} if licence is None else {"licence": licence}
    return world.event(
        "chip.exported",
        cast.maker,
        cast.foreign,
        serial=serial,
        destination="CN",
        consignee=cast.foreign.key_id,
        **fields,
    )


def test_export_without_required_licence_is_refused(
    world: World, cast: Cast, chips: list[str]
) -> None:
    refused(
        world,
        r"chip S1 \(3A090.a\) needs an export licence to CN: 3A090.a: ",
        _export(world, cast, "S1"),
    )


def test_export_under_a_licence_moves_the_chip_and_draws_on_it(
    world: World, cast: Cast, chips: list[str]
) -> None:
    _licence(world, cast)
    world.submit(_export(world, cast, "S1", CN_LICENCE))
    chip = world.chip("S1")
    assert (chip.jurisdiction, chip.holder) == ("CN", cast.foreign.key_id)
    assert world.licence(CN_LICENCE).used == 1


def test_licence_that_is_used_up_is_refused(world: World, cast: Cast, chips: list[str]) -> None:
    _licence(world, cast)
    world.submit(world.made(cast.maker, "S2"))
    world.submit(_export(world, cast, "S1", CN_LICENCE))
    refused(world, "licence BIS-2026-0001 is used up", _export(world, cast, "S2", CN_LICENCE))


def test_licence_for_a_lesser_eccn_is_refused(world: World, cast: Cast, chips: list[str]) -> None:
    _licence(world, cast, eccn="3A090.b")
    refused(
        world,
        "licence BIS-2026-0001 covers 3A090.b, not 3A090.a",
        _export(world, cast, "S1", CN_LICENCE),
    )


def test_expired_licence_is_refused(world: World, cast: Cast, chips: list[str]) -> None:
    _licence(world, cast, expires=world.now + 10)
    world.now += 10
    refused(world, "expired", _export(world, cast, "S1", CN_LICENCE))


def test_licence_for_another_consignee_is_refused(
    world: World, cast: Cast, chips: list[str]
) -> None:
    _licence(world, cast)
    other = world.actor("elsewhere", ["distributor"], "CN")
    export = world.event(
        "chip.exported",
        cast.maker,
        other,
        serial="S1",
        destination="CN",
        consignee=other.key_id,
        licence=CN_LICENCE,
    )
    refused(world, "licence BIS-2026-0001 is for consignee", export)


def test_unknown_licence_is_refused(world: World, cast: Cast, chips: list[str]) -> None:
    refused(world, "no export licence NOPE was issued", _export(world, cast, "S1", "NOPE"))


def test_uncontrolled_chip_needs_no_licence(world: World, cast: Cast, chips: list[str]) -> None:
    world.submit(_export(world, cast, "E1"))
    assert world.chip("E1").jurisdiction == "CN"


def test_controlled_chip_to_an_allied_destination_needs_no_licence(
    world: World, cast: Cast, chips: list[str]
) -> None:
    buyer = world.actor("uk", ["distributor"], "GB")
    world.submit(
        world.event(
            "chip.exported",
            cast.maker,
            buyer,
            serial="S1",
            destination="GB",
            consignee=buyer.key_id,
        )
    )
    assert world.chip("S1").jurisdiction == "GB"


def test_consignee_headquartered_in_d5_needs_a_licence_anywhere(
    world: World, cast: Cast, chips: list[str]
) -> None:
    subsidiary = world.actor("cn-sub", ["distributor"], "CN")
    export = world.event(
        "chip.exported",
        cast.maker,
        subsidiary,
        serial="S1",
        destination="GB",
        consignee=subsidiary.key_id,
    )
    refused(world, "headquartered in CN", export)


def test_shipping_on_from_abroad_is_a_reexport(world: World, cast: Cast, chips: list[str]) -> None:
    buyer = world.actor("uk", ["distributor"], "GB")
    world.submit(
        world.event(
            "chip.exported",
            cast.maker,
            buyer,
            serial="E1",
            destination="GB",
            consignee=buyer.key_id,
        )
    )
    wrong = world.event(
        "chip.exported",
        buyer,
        cast.foreign,
        serial="E1",
        destination="CN",
        consignee=cast.foreign.key_id,
    )
    refused(world, "shipping it on is a chip.reexported", wrong)
    world.submit(
        world.event(
            "chip.reexported",
            buyer,
            cast.foreign,
            serial="E1",
            destination="CN",
            consignee=cast.foreign.key_id,
        )
    )
    assert world.chip("E1").jurisdiction == "CN"


def test_export_by_non_holder_is_refused(world: World, cast: Cast, chips: list[str]) -> None:
    export = world.event(
        "chip.exported",
        cast.distributor,
        cast.foreign,
        serial="E1",
        destination="CN",
        consignee=cast.foreign.key_id,
    )
    refused(world, "is not the holder of chip E1", export)


def test_export_to_where_the_chip_is_is_refused(world: World, cast: Cast, chips: list[str]) -> None:
    export = world.event(
        "chip.exported",
        cast.maker,
        cast.distributor,
        serial="E1",
        destination="TW",
        consignee=cast.distributor.key_id,
    )
    refused(world, "chip E1 is in TW already", export)


def test_licence_issued_by_a_non_authority_is_refused(
    world: World, cast: Cast, chips: list[str]
) -> None:
    forged = world.event(
        "export.licensed",
        cast.maker,
        licence="SELF-1",
        exporter=cast.maker.key_id,
        consignee=cast.foreign.key_id,
        destination="CN",
        eccn="3A090.a",
        quantity=10,
        expires=world.now + 100,
    )
    refused(world, "may not submit export.licensed", forged)
