"""Replay: the registry is a deterministic function of the log, byte for byte."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from pausebutton.errors import StoreError, ValidationError
from pausebutton.registry.replay import _canonical, compare, dump, replay
from pausebutton.store.models import registry_chips
from tests.registry.conftest import Cast
from tests.registry.scenario import OPERATIONS, Scenario
from tests.registry.world import World, sqlite_url


def _random_history(world: World, ops: int, seed: int) -> Scenario:
    rng = random.Random(seed)
    scenario = Scenario(world)
    scenario.setup()
    scenario.run(
        [
            (rng.randrange(len(OPERATIONS)), rng.randrange(64), rng.randrange(16), rng.randrange(4))
            for _ in range(ops)
        ]
    )
    return scenario


@pytest.mark.slow
def test_replay_after_a_long_random_history_equals_live(
    world: World, db_url: str, tmp_path: Path
) -> None:
    ops = 1500 if db_url.startswith("sqlite") else 800
    scenario = _random_history(world, ops, seed=4)
    assert scenario.accepted > ops // 4
    assert scenario.refused > ops // 10
    result = world.replay_and_compare(sqlite_url(tmp_path, "replayed.db"))
    assert result.equal, result.first_difference
    assert result.lines > world.log.size // 2


@pytest.mark.postgres
def test_replay_of_a_sqlite_log_into_postgresql_equals_live(
    tmp_path: Path, pg_database_url: str
) -> None:
    world = World(sqlite_url(tmp_path, "live.db"))
    try:
        _random_history(world, 200, seed=7)
        result = world.replay_and_compare(pg_database_url)
        assert result.equal, result.first_difference
    finally:
        world.close()


def test_compare_finds_a_tampered_row(world: World, cast: Cast, tmp_path: Path) -> None:
    world.submit(world.made(cast.maker, "S1"), world.made(cast.maker, "S2"))
    with world.log.engine.begin() as conn:
        conn.execute(
            update(registry_chips)
            .where(registry_chips.c.serial == "S2")
            .values(holder=cast.distributor.key_id)
        )
    result = world.replay_and_compare(sqlite_url(tmp_path, "replayed.db"))
    assert not result.equal
    assert result.first_difference is not None
    _line, live, replayed = result.first_difference
    assert b'"serial":"S2"' in live
    assert cast.distributor.key_id.encode() in live
    assert cast.maker.key_id.encode() in replayed.split(b'"holder":')[1][:70]
    assert result.live_digest != result.replay_digest


def test_replay_into_a_used_database_is_refused(world: World, cast: Cast, tmp_path: Path) -> None:
    url = sqlite_url(tmp_path, "replayed.db")
    replay(world.log, url).dispose()
    with pytest.raises(StoreError, match="already holds a registry"):
        replay(world.log, url)


def test_replay_refuses_a_log_that_breaks_the_rules(
    world: World, cast: Cast, tmp_path: Path
) -> None:
    # An entry appended around the intake (a misbehaving authority) is caught by replay.
    sale = world.event("chip.transferred", cast.maker, cast.lab, serial="S9", buyer=cast.lab.key_id)
    index = world.log.append([sale.to_bytes()])
    with pytest.raises(ValidationError, match=f"entry {index}: chip.transferred: no chip"):
        replay(world.log, sqlite_url(tmp_path, "replayed.db"))
    # ... and the live intake refuses to build on it.
    with pytest.raises(ValidationError, match=f"entry {index}"):
        world.submit(world.made(cast.maker, "S1"))


def test_dump_is_canonical_json_lines(world: World, cast: Cast) -> None:
    world.submit(
        world.made(cast.maker, "S1"),
        world.event(
            "facility.registered",
            cast.operator,
            facility="dc-1",
            name="DC",
            jurisdiction="TW",
            latitude=25.5,
            longitude=121.0,
        ),
    )
    with world.log.engine.connect() as conn:
        lines = list(dump(conn))
    assert lines[0] == b'["registry_head",{"size":%d}]\n' % world.log.size
    for line in lines:
        assert line.endswith(b"\n")
        assert bytes(rfc8785.dumps(json.loads(line))) == line[:-1]
    assert any(b'"latitude":25.5,"longitude":121,' in line for line in lines)


json_values = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**53) + 1, 2**53 - 1), st.text(max_size=20)
)


@settings(max_examples=300)
@given(st.dictionaries(st.text(st.characters(max_codepoint=127), max_size=8), json_values))
def test_fast_canonical_rows_match_rfc8785(row: dict[str, Any]) -> None:
    value: Any = ["t", row]
    assert _canonical(value) == bytes(rfc8785.dumps(value))


def test_compare_of_equal_registries(world: World, cast: Cast, tmp_path: Path) -> None:
    world.submit(world.made(cast.maker, "S1"))
    engine = replay(world.log, sqlite_url(tmp_path, "replayed.db"))
    result = compare(world.log.engine, engine)
    engine.dispose()
    assert result.equal
    assert result.live_digest == result.replay_digest
