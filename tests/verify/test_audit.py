"""The log audit, named after the attacks it must catch, on logs built by the real log code."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from pausebutton.log import merkle
from pausebutton.log.checkpoint import Checkpoint, sign_checkpoint
from pausebutton.log.cosignature import CosignatureSigner
from pausebutton.log.note import Signature, Signer, parse_signed_note
from pausebutton.log.tiles import TILE_WIDTH, entries_path, tile_path
from pausebutton.verify.audit import audit_log
from pausebutton.verify.equivocation import check_equivocation_proof
from pausebutton.verify.layout import CHECKPOINT_FILE, decode_bundle, encode_bundle
from pausebutton.verify.sources import DirectorySource
from pausebutton.verify.trust import AuditTrust
from tests.verify.audit_world import LogWorld, checks, seed


@pytest.fixture
def world(tmp_path: Path) -> Iterator[LogWorld]:
    w = LogWorld(tmp_path / "log")
    yield w
    w.close()


def _grown(world: LogWorld, sizes: list[int]) -> Path:
    for size in sizes:
        world.grow(size - world.log.size)
    return world.export()


def _root(note_text: str) -> Checkpoint:
    return Checkpoint.parse(parse_signed_note(note_text)[0])


def test_honest_log_audits_clean(world: LogWorld) -> None:
    export = _grown(world, [3, 256, 300, 70_000 // 100, 1000])
    result = world.audit(export)
    assert result.ok, result.findings
    assert result.findings == []
    assert result.equivocations == []
    assert [c.size for c in result.checkpoints] == [3, 256, 300, 700, 1000]
    assert result.entries_checked == 1000
    for cp in result.checkpoints:
        assert cp.quorum_met
        assert cp.root_from_tiles
        assert cp.root_from_entries
        assert len(cp.witnesses) == 2
    assert all(c.consistent for c in result.checkpoints)


def test_honest_log_of_100k_entries_audits_clean(world: LogWorld) -> None:
    world.grow(40_000)
    world.grow(60_000)
    result = world.audit(world.export())
    assert result.ok, result.findings
    assert result.entries_checked == 100_000
    assert result.tiles_checked == 391 + 2 + 1 + 2  # and the partials of size 40,000


def test_rewritten_entry_is_detected(world: LogWorld) -> None:
    export = _grown(world, [200, 600, 700])
    bundle = export / entries_path(1)
    entries = decode_bundle(bundle.read_bytes())
    entries[300 - TILE_WIDTH] = entries[300 - TILE_WIDTH].replace(b"entry", b"ENTRY")
    bundle.write_bytes(encode_bundle(entries))
    result = world.audit(export)
    assert not result.ok
    assert {"entry-mismatch/300", "root-mismatch/entries/700"} <= checks(result)
    finding = next(f for f in result.findings if f.id == "entry-mismatch/300")
    assert "the tiles do" in finding.message
    assert finding.evidence["index"] == 300
    assert result.equivocations == []
    by_size = {c.size: c for c in result.checkpoints}
    assert by_size[200].root_from_entries
    assert not by_size[600].root_from_entries
    assert all(c.root_from_tiles and c.consistent is not False for c in result.checkpoints)


@pytest.mark.parametrize(("tile", "position"), [(tile_path(0, 1), 44), (tile_path(0, 2, 188), 7)])
def test_forged_tile_is_detected(world: LogWorld, tile: str, position: int) -> None:
    export = _grown(world, [600, 700])
    path = export / tile
    blob = bytearray(path.read_bytes())
    blob[position * 32 : (position + 1) * 32] = hashlib.sha256(b"forged").digest()
    path.write_bytes(bytes(blob))
    result = world.audit(export)
    assert not result.ok
    found = checks(result)
    index = int(tile.split("/")[2][:3])
    assert f"tile-mismatch/0/{index}" in found
    if index == 1:  # a full tile: the level-1 tile no longer holds its root
        assert "tile-mismatch/1/0" in found
    else:  # the partial edge tile feeds the newest root directly
        assert "root-mismatch/tiles/700" in found
    assert not any(f.startswith("entry-mismatch") for f in found)
    assert result.equivocations == []
    # The entries still prove the checkpoints consistent: the forgery accuses nobody.
    assert [c.consistent for c in result.checkpoints] == [True, True]
    assert all(c.root_from_entries for c in result.checkpoints)


def test_missing_and_truncated_files_are_findings_not_crashes(world: LogWorld) -> None:
    export = _grown(world, [600, 700])
    (export / tile_path(0, 0)).write_bytes(b"short")
    (export / entries_path(1)).unlink()
    result = world.audit(export)
    assert {"tile-missing/0/0", "entries-missing/1"} <= checks(result)
    assert not result.ok
    assert result.equivocations == []


def test_checkpoint_without_quorum_is_flagged(world: LogWorld) -> None:
    world.grow(100)
    world.grow(100, cosigners=[0])
    world.grow(100)
    result = world.audit(world.export())
    assert checks(result) == {"witness-quorum/200"}
    finding = result.findings[0]
    assert finding.severity == "error"
    assert finding.evidence["witnesses"] == [f"witness0.example+{world.cosigners[0].key_id:08x}"]
    assert [c.quorum_met for c in result.checkpoints] == [True, False, True]
    assert world.audit(world.folder / "export", quorum=1).ok


def test_cosignature_by_an_untrusted_witness_does_not_count(world: LogWorld) -> None:
    world.grow(10)
    stranger = CosignatureSigner.from_signing_key("stranger.example", seed("stranger"))
    trust = AuditTrust.from_vkeys(
        [world.signer.vkey()], [world.cosigners[0].vkey(), stranger.vkey()], 2
    )
    result = audit_log(DirectorySource(world.export()), trust)
    assert checks(result) == {"witness-quorum/10"}
    assert result.checkpoints[0].witnesses == [world.cosigners[0].verifier().vkey()[:-45]]


def test_invalid_cosignature_is_flagged_and_not_counted(world: LogWorld) -> None:
    world.grow(10)
    export = world.export()
    text = (export / CHECKPOINT_FILE).read_text()
    _body, sigs = parse_signed_note(text)
    mine = next(s for s in sigs if s.name == "witness0.example")
    broken = Signature(mine.name, mine.key_id, mine.signature[:-1] + b"\0")
    (export / CHECKPOINT_FILE).write_text(text.replace(mine.to_line(), broken.to_line()))
    label = f"{broken.name}+{broken.key_id:08x}"
    result = world.audit(export)
    # The copy in checkpoints/ carries the valid cosignature, and copies are merged.
    assert checks(result) == {f"cosignature-invalid/10/{label}"}
    assert result.ok
    assert result.findings[0].severity == "warning"
    (export / "checkpoints" / "10").unlink()
    result = world.audit(export)
    assert checks(result) == {f"cosignature-invalid/10/{label}", "witness-quorum/10"}
    assert result.checkpoints[0].witnesses == [f"witness1.example+{world.cosigners[1].key_id:08x}"]


def test_checkpoint_signed_by_another_key_is_flagged_not_an_equivocation(
    world: LogWorld,
) -> None:
    export = _grown(world, [100, 200])
    impostor = Signer.from_signing_key(world.log.origin, seed("impostor"))
    text = sign_checkpoint(Checkpoint(world.log.origin, 150, bytes(32)), impostor)
    (export / "checkpoints" / "150").write_text(text)
    result = world.audit(export)
    assert checks(result) == {"checkpoint-signature/checkpoints/150"}
    assert result.equivocations == []


def test_fork_at_same_size_yields_equivocation_proof(world: LogWorld) -> None:
    export = _grown(world, [100, 300])
    fork = world.forged(100, hashlib.sha256(b"another history").digest())
    result = world.audit(export, known=[fork])
    assert "fork/100" in checks(result)
    finding = next(f for f in result.findings if f.id == "fork/100")
    assert finding.severity == "critical"
    proof = result.equivocations[int(str(finding.evidence["proof"]))]
    assert proof.kind == "fork"
    check_equivocation_proof(proof, world.signer.verifier())
    assert {_root(proof.first).root_hash, _root(proof.second).root_hash} == {
        _root(fork).root_hash,
        world.log.root(100),
    }


@pytest.mark.parametrize("fork_size", [256, 300])
def test_non_extension_yields_equivocation_proof(
    world: LogWorld, tmp_path: Path, fork_size: int
) -> None:
    export = _grown(world, [100, 400, 1000])
    rival = LogWorld(tmp_path / "rival", salt="rewritten")  # same key, another history
    try:
        rival.grow(fork_size)
        other = rival.log.cosigned_checkpoint(fork_size)
    finally:
        rival.close()
    result = world.audit(export, known=[other])
    key = f"non-extension/{fork_size}-400"
    assert key in checks(result)
    finding = next(f for f in result.findings if f.id == key)
    assert finding.severity == "critical"
    proof = result.equivocations[int(str(finding.evidence["proof"]))]
    assert proof.kind == "non_extension"
    assert _root(proof.first).size == fork_size
    assert _root(proof.second).size == 400
    check_equivocation_proof(proof, world.signer.verifier())
    # The honest checkpoints are still shown to extend each other.
    assert [c.consistent for c in result.checkpoints if c.size != fork_size] == [True] * 3
    assert [c.consistent for c in result.checkpoints if c.size == fork_size] == [False]


def test_rewritten_history_in_the_export_itself_yields_a_proof(
    world: LogWorld, tmp_path: Path
) -> None:
    world.grow(100)
    old = world.log.cosigned_checkpoint(100)
    rival = LogWorld(tmp_path / "rival", salt="rewritten")
    try:
        rival.grow(500)
        export = rival.export()
    finally:
        rival.close()
    (export / "checkpoints" / "100").write_text(old)  # what the log showed in the past
    result = world.audit(export)
    assert "non-extension/100-500" in checks(result)
    check_equivocation_proof(result.equivocations[0], world.signer.verifier())


def test_rolled_back_log_is_detected(world: LogWorld) -> None:
    world.grow(300)
    world.grow(400)
    export = world.export()
    later = world.grow(500)  # the log grew to 1200; a witness kept this checkpoint
    (export / CHECKPOINT_FILE).write_text((export / "checkpoints" / "300").read_text())
    result = world.audit(export, known=[later])
    assert checks(result) == {"rollback/300-700", "rollback/300-1200"}
    finding = next(f for f in result.findings if f.id == "rollback/300-1200")
    assert finding.evidence["head_size"] == 300
    assert finding.evidence["signed_size"] == 1200
    signed_at, head_at = (
        finding.evidence["signed_witnessed_at"],
        finding.evidence["head_witnessed_at"],
    )
    assert isinstance(signed_at, int)
    assert isinstance(head_at, int)
    assert signed_at > head_at  # the witnesses saw the larger checkpoint later
    assert result.head_size == 300
    assert not result.ok


def test_entries_only_audit_reads_no_entries(world: LogWorld) -> None:
    export = _grown(world, [100, 300])
    for bundle in (export / "tile" / "entries").rglob("*"):
        if bundle.is_file():
            bundle.unlink()
    result = audit_log(DirectorySource(export), world.trust(), entries=False)
    assert result.ok
    assert result.entries_checked == 0
    assert result.checkpoints[0].root_from_tiles
    assert result.checkpoints[0].root_from_entries is None


def test_root_of_the_newest_checkpoint_is_recomputed_from_the_entries(world: LogWorld) -> None:
    world.grow(777)
    result = world.audit(world.export())
    entries = DirectorySource(world.folder / "export").entries(0, 777)
    assert base64.b64encode(merkle.root(entries)).decode() == result.checkpoints[-1].root
