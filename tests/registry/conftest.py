"""Fixtures: a world on SQLite and on PostgreSQL, with a cast of verified actors."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pausebutton.crypto import SigningKey
from tests.registry.world import World, sqlite_url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database, SQLite or PostgreSQL."""
    if request.param == "sqlite":
        return sqlite_url(tmp_path, "live.db")
    url: str = request.getfixturevalue("pg_database_url")
    return url


@pytest.fixture
def world(db_url: str) -> Iterator[World]:
    """An empty world on a fresh database."""
    w = World(db_url)
    yield w
    w.close()


@dataclass(frozen=True)
class Cast:
    """The usual actors, all with verified KYC records."""

    maker: SigningKey
    distributor: SigningKey
    operator: SigningKey
    lab: SigningKey
    inspector: SigningKey
    authority: SigningKey
    foreign: SigningKey


@pytest.fixture
def cast(world: World) -> Cast:
    """Register the usual actors in `world`."""
    return Cast(
        maker=world.actor("acme", ["manufacturer"], "TW"),
        distributor=world.actor("dist", ["distributor"], "TW"),
        operator=world.actor("dc", ["datacentre"], "TW"),
        lab=world.actor("lab", ["lab"], "TW"),
        inspector=world.actor("inspector", ["inspector"], "TW"),
        authority=world.actor("bis", ["export_authority"], "US"),
        foreign=world.actor("abroad", ["distributor"], "CN"),
    )
