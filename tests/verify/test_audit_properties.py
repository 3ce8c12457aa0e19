"""Properties: an honest log never raises an alarm, and no tampering with its export frames it."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.verify.audit_world import LogWorld


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    grows=st.lists(st.integers(1, 700), min_size=1, max_size=4),
    skipped=st.sets(st.integers(0, 3), max_size=2),
)
def test_honest_histories_audit_clean(grows: list[int], skipped: set[int]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        world = LogWorld(Path(tmp), witnesses=3)
        try:
            for i, count in enumerate(grows):
                # A witness may miss a checkpoint; the other two still make the quorum.
                world.grow(count, cosigners=[0, 1] if i in skipped else None)
            result = world.audit(world.export())
        finally:
            world.close()
    assert result.findings == []
    assert result.entries_checked == sum(grows)
    assert all(c.quorum_met and c.root_from_entries for c in result.checkpoints)
    assert all(c.consistent is not False for c in result.checkpoints)


@pytest.fixture(scope="module")
def honest(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LogWorld, Path]]:
    world = LogWorld(tmp_path_factory.mktemp("honest"))
    for count in (100, 200, 300):
        world.grow(count)
    yield world, world.export()
    world.close()


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_a_flipped_bit_anywhere_in_the_export_never_frames_the_log(
    honest: tuple[LogWorld, Path], data: st.DataObject
) -> None:
    world, export = honest
    files = sorted(p.relative_to(export) for p in export.rglob("*") if p.is_file())
    chosen = data.draw(st.sampled_from(files))
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "export"
        shutil.copytree(export, copy)
        blob = bytearray((copy / chosen).read_bytes())
        at = data.draw(st.integers(0, len(blob) - 1))
        blob[at] ^= 1 << data.draw(st.integers(0, 7))
        (copy / chosen).write_bytes(bytes(blob))
        result = world.audit(copy)
    assert result.equivocations == []
    if chosen.parts[0] == "tile":
        assert not result.ok, (chosen, at)
