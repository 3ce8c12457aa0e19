"""Replay from an export: the registry the authority publishes is the one its log implies."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from pausebutton.cli.verify import app
from pausebutton.errors import FormatError, StoreError
from pausebutton.log.tlog import TransparencyLog
from pausebutton.store.db import write_transaction
from pausebutton.store.models import registry_chips
from pausebutton.verify.export import export_log
from pausebutton.verify.replay import replay_and_compare, replay_source
from pausebutton.verify.sources import DirectorySource
from tests.registry.scenario import OPERATIONS, Scenario
from tests.registry.world import World
from tests.verify.audit_world import log_signer


@pytest.fixture
def live(tmp_path: Path) -> Iterator[World]:
    """An authority's registry after a random supply-chain history, exported."""
    world = World(f"sqlite:///{tmp_path / 'live.db'}")
    rng = random.Random(11)
    scenario = Scenario(world)
    scenario.setup()
    scenario.run(
        [
            (rng.randrange(len(OPERATIONS)), rng.randrange(64), rng.randrange(16), rng.randrange(4))
            for _ in range(120)
        ]
    )
    signed = TransparencyLog(world.log.engine, world.log.origin, log_signer(world.log.origin))
    signed.checkpoint()
    export_log(signed, tmp_path / "export")
    yield world
    world.close()


def test_replayed_export_equals_the_published_database(live: World, tmp_path: Path) -> None:
    report = replay_and_compare(
        DirectorySource(tmp_path / "export"), f"sqlite:///{tmp_path}/r.db", live.url
    )
    assert report.equal, report.first_difference
    assert report.size == live.log.size
    assert report.published_digest == report.replayed_digest == live.digest()
    assert report.rows["registry_chips"] > 0


def test_replayed_export_equals_the_published_digest(live: World, tmp_path: Path) -> None:
    source = DirectorySource(tmp_path / "export")
    report = replay_and_compare(source, f"sqlite:///{tmp_path}/r.db", live.digest(), live.log.size)
    assert report.equal
    with pytest.raises(FormatError, match="needs the size"):
        replay_and_compare(source, f"sqlite:///{tmp_path}/r2.db", live.digest())


def test_tampered_projection_is_reported_with_the_first_difference(
    live: World, tmp_path: Path
) -> None:
    with write_transaction(live.log.engine) as conn:
        serial = conn.execute(select(registry_chips.c.serial).limit(1)).scalar_one()
        conn.execute(
            update(registry_chips)
            .where(registry_chips.c.serial == serial)
            .values(jurisdiction="XX")
        )
    report = replay_and_compare(
        DirectorySource(tmp_path / "export"), f"sqlite:///{tmp_path}/r.db", live.url
    )
    assert not report.equal
    assert report.first_difference is not None
    assert '"jurisdiction":"XX"' in report.first_difference.published
    assert '"jurisdiction":"XX"' not in report.first_difference.replayed
    by_digest = replay_and_compare(
        DirectorySource(tmp_path / "export"),
        f"sqlite:///{tmp_path}/r2.db",
        live.digest(),
        live.log.size,
    )
    assert not by_digest.equal


def test_replay_needs_a_fresh_database(live: World, tmp_path: Path) -> None:
    source = DirectorySource(tmp_path / "export")
    replay_source(source, live.log.size, f"sqlite:///{tmp_path}/r.db").dispose()
    with pytest.raises(StoreError, match="fresh database"):
        replay_source(source, live.log.size, f"sqlite:///{tmp_path}/r.db")


def test_cli_replay(live: World, tmp_path: Path) -> None:
    runner = CliRunner()
    export = str(tmp_path / "export")
    ok = runner.invoke(
        app, ["replay", export, "--db", live.url, "--json", str(tmp_path / "r.json")]
    )
    assert ok.exit_code == 0, ok.output
    assert "OK" in ok.output
    assert json.loads((tmp_path / "r.json").read_text())["equal"] is True
    by_digest = runner.invoke(app, ["replay", export, "--digest", live.digest()])
    assert by_digest.exit_code == 0, by_digest.output
    wrong = runner.invoke(app, ["replay", export, "--digest", "0" * 64])
    assert wrong.exit_code == 2
    assert "DIFFERENT" in wrong.output
    neither = runner.invoke(app, ["replay", export])
    assert neither.exit_code == 1
