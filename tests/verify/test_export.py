"""`pausebutton log export`: a C2SP tlog-tiles directory, written incrementally and idempotently."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from pausebutton.cli.verify import log_export
from pausebutton.errors import FormatError, StoreError
from pausebutton.log import merkle
from pausebutton.log.tiles import TILE_WIDTH, entries_path, tile_path
from pausebutton.log.tlog import TransparencyLog
from pausebutton.verify.export import export_log
from pausebutton.verify.layout import decode_bundle, encode_bundle, partial_tiles
from pausebutton.verify.sources import DirectorySource
from tests.vectors import shared_vectors
from tests.verify.audit_world import ORIGIN, LogWorld, entry, log_signer


@pytest.fixture
def world(tmp_path: Path) -> Iterator[LogWorld]:
    w = LogWorld(tmp_path / "log")
    yield w
    w.close()


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def test_paths_follow_the_c2sp_vectors() -> None:
    for case in shared_vectors("tiles")["index_path"]:
        assert tile_path(0, case["index"]) == f"tile/0/{case['expect']}"
        assert entries_path(case["index"]) == f"tile/entries/{case['expect']}"
        assert entries_path(case["index"], 7) == f"tile/entries/{case['expect']}.p/7"


def _expected_tiles(expect: dict[str, str]) -> set[str]:
    """Turn '273 full + partial width 112' per level into the tile paths it names."""
    paths = set()
    for name, text in expect.items():
        level = int(name.removeprefix("level"))
        match = re.fullmatch(r"(?:(\d+) full)?(?: \+ )?(?:partial width (\d+))?", text)
        assert match, text
        full = int(match.group(1) or 0)
        paths |= {tile_path(level, n) for n in range(full)}
        if match.group(2):
            paths.add(tile_path(level, full, int(match.group(2))))
    return paths


@pytest.mark.parametrize("case", [0, 1])
def test_export_holds_the_tiles_the_c2sp_vectors_count(world: LogWorld, case: int) -> None:
    vector = shared_vectors("tiles")["tile_counts"][case]
    world.grow(vector["tree_size"])
    export = world.export()
    hashes = {f for f in _files(export) if f.startswith("tile/") and "entries" not in f}
    assert hashes == _expected_tiles(vector["expect"])
    bundles = {f for f in _files(export) if f.startswith("tile/entries/")}
    assert bundles == {f.replace("tile/0/", "tile/entries/") for f in hashes if "tile/0/" in f}


def test_entry_bundles_are_uint16_length_prefixed(world: LogWorld) -> None:
    world.grow(300)
    export = world.export()
    data = (export / entries_path(1, 44)).read_bytes()
    first = entry(256)
    assert data[:2] == len(first).to_bytes(2, "big")
    assert data[2 : 2 + len(first)] == first
    assert decode_bundle(data) == [entry(i) for i in range(256, 300)]
    source = DirectorySource(export)
    assert source.entries(250, 260) == [entry(i) for i in range(250, 260)]
    assert [merkle.leaf_hash(e) for e in source.entries(0, 256)] == [
        source.tile(0, 0, TILE_WIDTH)[i : i + 32] for i in range(0, 8192, 32)
    ]


def test_bundle_format_limits() -> None:
    assert decode_bundle(encode_bundle([b"", b"a" * 0xFFFF])) == [b"", b"a" * 0xFFFF]
    with pytest.raises(FormatError, match="at most 65535"):
        encode_bundle([b"a" * 0x10000])
    with pytest.raises(FormatError, match="truncated"):
        decode_bundle(b"\x00\x05abc")
    with pytest.raises(FormatError, match="more than 256"):
        decode_bundle(encode_bundle([b"x"] * 257))


def test_every_checkpoint_keeps_its_partial_tiles_until_the_full_tile(world: LogWorld) -> None:
    for count in (100, 100, 100):
        world.grow(count)
    files = _files(world.export())
    assert {"checkpoint", "checkpoints/100", "checkpoints/200", "checkpoints/300"} <= files
    # Size 100 and 200 had partial level-0 tiles of tile 0, now full: removed.
    assert not any(f.startswith("tile/0/000.p/") for f in files)
    assert {"tile/0/001.p/44", "tile/entries/001.p/44", "tile/1/000.p/1"} <= files
    for level, index, width in partial_tiles(300):
        assert tile_path(level, index, width) in files


def test_export_is_incremental_and_idempotent(world: LogWorld) -> None:
    world.grow(300)
    export = world.export()
    again = export_log(world.log, export)
    assert again.written == []
    assert again.removed == []
    world.grow(300)
    update = export_log(world.log, export)
    assert set(update.written) == {
        "tile/0/001",
        "tile/entries/001",
        "tile/0/002.p/88",
        "tile/entries/002.p/88",
        "tile/1/000.p/2",
        "checkpoints/600",
        "checkpoint",
    }
    assert set(update.removed) == {"tile/0/001.p/", "tile/entries/001.p/"}
    assert export_log(world.log, export).written == []


def test_new_cosignatures_rewrite_only_their_checkpoint(world: LogWorld) -> None:
    world.grow(10, cosigners=[0])
    world.grow(10, cosigners=[0])
    export = world.export()
    witness = world.witnesses[1]
    text = world.log.checkpoint_at(20)
    assert text is not None
    cosigned = witness.cosign(text, [], world.now)
    world.log.add_cosignatures(cosigned, [c.verifier() for c in world.cosigners])
    assert set(export_log(world.log, export).written) == {"checkpoints/20", "checkpoint"}


def test_a_log_without_a_checkpoint_cannot_be_exported(tmp_path: Path) -> None:
    log = TransparencyLog.open(f"sqlite:///{tmp_path / 'log.db'}", ORIGIN)
    try:
        log.append([b"x"])
        with pytest.raises(StoreError, match="no signed checkpoint"):
            export_log(log, tmp_path / "export")
    finally:
        log.close()


def test_entries_after_the_newest_checkpoint_are_not_exported(world: LogWorld) -> None:
    world.grow(100)
    world.log.append([b"not yet committed"])
    export = world.export()
    assert (export / entries_path(0, 100)).is_file()
    assert not (export / entries_path(0, 101)).exists()


def test_parquet_holds_one_row_per_entry(tmp_path: Path) -> None:
    duckdb = pytest.importorskip("duckdb")
    from tests.registry.scenario import Scenario
    from tests.registry.world import World

    live = World(f"sqlite:///{tmp_path / 'live.db'}")
    try:
        Scenario(live).setup()
        signed = TransparencyLog(live.log.engine, live.log.origin, log_signer(live.log.origin))
        signed.checkpoint()
        export = export_log(signed, tmp_path / "export", parquet=True)
        assert "entries.parquet" in export.written
        rows = duckdb.sql(
            f"SELECT idx, leaf_hash, type, actor, time, data FROM "
            f"'{tmp_path / 'export' / 'entries.parquet'}' ORDER BY idx"
        ).fetchall()
        assert [r[0] for r in rows] == list(range(signed.size))
        for idx, leaf, kind, actor, time, data in rows:
            assert data == signed.entry(idx)
            assert leaf == merkle.leaf_hash(data)
            assert kind is not None
            assert len(actor) == 64
            assert time == live.now
        types = {r[2] for r in rows}
        assert {"actor.registered", "facility.registered", "export.licensed"} <= types
        assert (
            "entries.parquet" not in export_log(signed, tmp_path / "export", parquet=True).written
        )
    finally:
        live.close()


def test_cli_exports(world: LogWorld, tmp_path: Path) -> None:
    world.grow(10)
    app = typer.Typer()
    app.command()(log_export)
    app.command("noop")(lambda: None)
    db = f"sqlite:///{world.folder / 'log.db'}"
    out = tmp_path / "cli-export"
    result = CliRunner().invoke(app, ["log-export", str(out), "--db", db, "--origin", ORIGIN])
    assert result.exit_code == 0, result.output
    assert "at size 10" in result.output
    assert (out / "checkpoint").read_text() == world.log.cosigned_checkpoint(10)
    empty = CliRunner().invoke(app, ["log-export", str(out), "--db", f"sqlite:///{tmp_path}/x.db"])
    assert empty.exit_code == 1
    assert "no signed checkpoint" in empty.output
