"""C2SP tlog-tiles layout and the pure arithmetic for a log that stores tiles of hashes.

A tile at level L and index N holds up to 256 consecutive hashes of tree height 8*L:
level 0 holds leaf hashes, level 1 the roots of complete 256-leaf subtrees, and so on.
A partial tile is a prefix of the full tile it becomes. Any complete subtree (a *node*
``(height, index)`` covering leaves ``[index * 2**height, (index + 1) * 2**height)``) lies
inside one tile, so roots and proofs at any tree size need O(log n) tile reads.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from hashlib import sha256

from pausebutton.errors import FormatError, ProofError
from pausebutton.log.merkle import HASH_SIZE

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
TILE_BYTES = TILE_WIDTH * HASH_SIZE

Node = tuple[int, int]
TileKey = tuple[int, int]


def encode_index(n: int) -> str:
    """Encode a tile index as C2SP path elements: 1234067 -> 'x001/x234/067'."""
    if n < 0:
        raise FormatError(f"tile index {n} is negative")
    groups = []
    while True:
        groups.append(n % 1000)
        n //= 1000
        if n == 0:
            break
    groups.reverse()
    return "/".join([f"x{g:03d}" for g in groups[:-1]] + [f"{groups[-1]:03d}"])


def tile_path(level: int, index: int, width: int = TILE_WIDTH) -> str:
    """Return the C2SP path of a hash tile, with the `.p/<W>` suffix when it is partial."""
    if not 0 < width <= TILE_WIDTH:
        raise FormatError(f"tile width {width} is out of range 1..{TILE_WIDTH}")
    suffix = "" if width == TILE_WIDTH else f".p/{width}"
    return f"tile/{level}/{encode_index(index)}{suffix}"


def entries_path(index: int, width: int = TILE_WIDTH) -> str:
    """Return the C2SP path of an entry bundle, with the `.p/<W>` suffix when it is partial."""
    return tile_path(0, index, width).replace("tile/0/", "tile/entries/", 1)


def tile_widths(size: int, level: int) -> list[tuple[int, int]]:
    """Return (index, width) of every tile at `level` for a tree of `size` leaves."""
    count = size >> (TILE_HEIGHT * level)
    full, partial = divmod(count, TILE_WIDTH)
    tiles = [(n, TILE_WIDTH) for n in range(full)]
    if partial:
        tiles.append((full, partial))
    return tiles


def subtree_nodes(lo: int, hi: int) -> list[Node]:
    """Decompose leaves [lo, hi) into maximal complete subtrees, left to right."""
    nodes: list[Node] = []
    while lo < hi:
        height = (lo & -lo).bit_length() - 1 if lo else (hi - lo).bit_length() - 1
        while lo + (1 << height) > hi:
            height -= 1
        nodes.append((height, lo >> height))
        lo += 1 << height
    return nodes


def node_tile(node: Node) -> TileKey:
    """Return the tile that holds the hashes a node is computed from."""
    height, index = node
    level, rest = divmod(height, TILE_HEIGHT)
    return level, (index << rest) >> TILE_HEIGHT


def tiles_for_ranges(ranges: Iterable[tuple[int, int]]) -> set[TileKey]:
    """Return every tile needed to hash the given leaf ranges."""
    return {node_tile(n) for lo, hi in ranges for n in subtree_nodes(lo, hi)}


StoredTile = tuple[bytes, bytes | None]
"""A tile as stored: its C2SP hashes, and for a full tile its 255 inner hashes."""


def tile_inner(blob: bytes) -> bytes:
    """Return the inner hashes of a full tile, level by level upwards; the last is its root."""
    level = [blob[i : i + HASH_SIZE] for i in range(0, len(blob), HASH_SIZE)]
    out: list[bytes] = []
    while len(level) > 1:
        level = [
            sha256(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level), 2)
        ]
        out.extend(level)
    return b"".join(out)


class TileHasher:
    """Computes node and range hashes from stored tiles.

    A full tile carries its inner hashes, so any node in it is one slice. Only a partial
    tile (at the right edge of the tree) is hashed here; those levels are cached.
    """

    def __init__(self, cache_size: int = 64) -> None:
        self._levels: OrderedDict[TileKey, list[list[bytes]]] = OrderedDict()
        self._cache_size = cache_size

    def _partial_levels(self, key: TileKey, blob: bytes, needed: int) -> list[list[bytes]]:
        levels = self._levels.get(key)
        if levels is not None and len(levels[0]) >= needed:
            self._levels.move_to_end(key)
            return levels
        level = [blob[i : i + HASH_SIZE] for i in range(0, len(blob), HASH_SIZE)]
        levels = [level]
        while len(level) > 1:
            level = [
                sha256(b"\x01" + level[i] + level[i + 1]).digest()
                for i in range(0, len(level) - 1, 2)
            ]
            levels.append(level)
        self._levels[key] = levels
        if len(self._levels) > self._cache_size:
            self._levels.popitem(last=False)
        return levels

    def node(self, node: Node, tiles: Mapping[TileKey, StoredTile]) -> bytes:
        """Return the hash of a complete subtree from the tile that holds it."""
        height, index = node
        key = node_tile(node)
        rest = height % TILE_HEIGHT
        first = (index << rest) & (TILE_WIDTH - 1)
        needed = first + (1 << rest)
        stored = tiles.get(key)
        if stored is None or len(stored[0]) < needed * HASH_SIZE:
            raise ProofError(f"tile {key} is missing or too short for node {node}")
        blob, inner = stored
        if rest == 0:
            return blob[first * HASH_SIZE : (first + 1) * HASH_SIZE]
        if inner is not None:
            at = (TILE_WIDTH - (2 * TILE_WIDTH >> rest) + (first >> rest)) * HASH_SIZE
            return inner[at : at + HASH_SIZE]
        return self._partial_levels(key, blob, needed)[rest][first >> rest]

    def range_hash(self, lo: int, hi: int, tiles: Mapping[TileKey, StoredTile]) -> bytes:
        """Return the Merkle tree hash of leaves [lo, hi) (an RFC 9162 subtree)."""
        hashes = [self.node(n, tiles) for n in subtree_nodes(lo, hi)]
        result = hashes[-1]
        for h in reversed(hashes[:-1]):
            result = sha256(b"\x01" + h + result).digest()
        return result

    def ranges_hashes(
        self, ranges: Sequence[tuple[int, int]], tiles: Mapping[TileKey, StoredTile]
    ) -> list[bytes]:
        """Return the hash of each leaf range, in order (a proof, given its ranges)."""
        return [self.range_hash(lo, hi, tiles) for lo, hi in ranges]


def append_hashes(
    size: int, edge: dict[int, bytes], leaf_hashes: Sequence[bytes]
) -> dict[TileKey, StoredTile]:
    """Add leaf hashes to a tree of `size` leaves; return every tile that changed.

    `edge` maps each level to the bytes of its rightmost partial tile and is updated in
    place. A completed tile gets its inner hashes and pushes its root one level up.
    """
    changed: dict[TileKey, StoredTile] = {}
    new = list(leaf_hashes)
    level, count = 0, size
    while new:
        buffer = edge.get(level, b"") + b"".join(new)
        first_tile = count // TILE_WIDTH
        full = len(buffer) // TILE_BYTES
        up = []
        for t in range(full):
            blob = buffer[t * TILE_BYTES : (t + 1) * TILE_BYTES]
            inner = tile_inner(blob)
            changed[(level, first_tile + t)] = (blob, inner)
            up.append(inner[-HASH_SIZE:])
        rest = buffer[full * TILE_BYTES :]
        if rest:
            changed[(level, first_tile + full)] = (rest, None)
        edge[level] = rest
        new, level, count = up, level + 1, count // TILE_WIDTH
    return changed


def edge_tiles(size: int) -> list[tuple[TileKey, int]]:
    """Return the rightmost partial tile at each level for `size` leaves, with its width."""
    result = []
    level = 0
    count = size
    while count:
        if count % TILE_WIDTH:
            result.append(((level, count // TILE_WIDTH), count % TILE_WIDTH))
        count //= TILE_WIDTH
        level += 1
    return result
