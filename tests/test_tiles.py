"""C2SP tlog-tiles layout and the tile arithmetic behind stored-hash proofs."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pausebutton.errors import FormatError
from pausebutton.log import merkle, tiles
from tests.vectors import shared_vectors


def test_published_index_paths() -> None:
    for case in shared_vectors("tiles")["index_path"]:
        assert tiles.encode_index(case["index"]) == case["expect"]


def test_published_tile_counts() -> None:
    """tlog-tiles: a tree of 70,000 has 273 full level-0 tiles and a partial of width 112."""
    for case in shared_vectors("tiles")["tile_counts"]:
        size, expect = case["tree_size"], case["expect"]
        for level in range(3):
            text = expect.get(f"level{level}", "")
            widths = tiles.tile_widths(size, level)
            full = sum(1 for _, w in widths if w == tiles.TILE_WIDTH)
            partial = [w for _, w in widths if w != tiles.TILE_WIDTH]
            described = (f"{full} full + " if full else "") + (
                f"partial width {partial[0]}" if partial else ""
            )
            assert described.removesuffix(" + ") == text


def test_tile_paths() -> None:
    assert tiles.tile_path(0, 1234067) == "tile/0/x001/x234/067"
    assert tiles.tile_path(1, 5, 17) == "tile/1/005.p/17"
    assert tiles.entries_path(1234067, 3) == "tile/entries/x001/x234/067.p/3"
    with pytest.raises(FormatError):
        tiles.tile_path(0, 1, 0)
    with pytest.raises(FormatError):
        tiles.encode_index(-1)


@settings(max_examples=60, deadline=None)
@given(
    batches=st.lists(st.integers(1, 700), min_size=1, max_size=6),
    seed=st.integers(0, 2**32),
)
def test_tiles_reproduce_roots_and_proofs_at_every_size(batches: list[int], seed: int) -> None:
    """Appending in any batching, every root and proof from tiles equals the reference."""
    rng = random.Random(seed)
    stored: dict[tiles.TileKey, tiles.StoredTile] = {}
    edge: dict[int, bytes] = {}
    hashes: list[bytes] = []
    for batch in batches:
        new = [merkle.leaf_hash(rng.randbytes(4)) for _ in range(batch)]
        stored.update(tiles.append_hashes(len(hashes), edge, new))
        hashes += new
    hasher = tiles.TileHasher(cache_size=2)
    for _ in range(20):
        size = rng.randint(1, len(hashes))
        index, old = rng.randrange(size), rng.randint(1, size)
        assert hasher.range_hash(0, size, stored) == merkle.root_of_hashes(hashes[:size])
        assert hasher.ranges_hashes(
            merkle.inclusion_ranges(index, size), stored
        ) == merkle.inclusion_proof_hashes(hashes[:size], index)
        assert hasher.ranges_hashes(
            merkle.consistency_ranges(old, size), stored
        ) == merkle.consistency_proof_hashes(hashes[:size], old)


def test_full_tile_keeps_inner_hashes_whose_last_is_its_root() -> None:
    leaves = [merkle.leaf_hash(bytes([i])) for i in range(256)]
    changed = tiles.append_hashes(0, {}, leaves)
    _blob, inner = changed[(0, 0)]
    assert inner is not None
    assert len(inner) == 255 * 32
    assert inner[-32:] == merkle.root_of_hashes(leaves)
    assert changed[(1, 0)] == (inner[-32:], None)


def test_subtree_decomposition_is_maximal_and_ordered() -> None:
    assert tiles.subtree_nodes(0, 8) == [(3, 0)]
    assert tiles.subtree_nodes(0, 7) == [(2, 0), (1, 2), (0, 6)]
    assert tiles.subtree_nodes(8, 13) == [(2, 2), (0, 12)]
