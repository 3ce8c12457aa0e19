"""The audit's data pass: each entry against its level-0 tile, each tile against the tiles below.

One streaming pass over the entry bundles of the newest checkpoint: each entry's leaf hash
is compared with the level-0 tile, fed to a Merkle frontier that yields the root at every
checkpoint size, and each full bundle's root is carried up to check the level-1 tile, and
so on. Memory is one bundle plus 1/256 of the leaf hashes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from pausebutton.errors import Error
from pausebutton.log.merkle import EMPTY_ROOT, HASH_SIZE, leaf_hash, node_hash, root_of_hashes
from pausebutton.log.tiles import (
    TILE_WIDTH,
    StoredTile,
    TileHasher,
    TileKey,
    tile_inner,
    tile_path,
    tile_widths,
)
from pausebutton.verify.findings import FindingLog
from pausebutton.verify.layout import partial_tiles, tile_width
from pausebutton.verify.sources import LogSource

MAX_KEPT = 1000
"""Leaf disagreements kept as evidence; the rest are only counted."""


class Frontier:
    """The right edge of a Merkle tree built leaf by leaf: its root at any size, O(log n) memory."""

    def __init__(self) -> None:
        self.size = 0
        self._stack: list[bytes] = []

    def push(self, leaf: bytes) -> None:
        """Append one leaf hash."""
        h, n = leaf, self.size
        while n & 1:
            h = node_hash(self._stack.pop(), h)
            n >>= 1
        self._stack.append(h)
        self.size += 1

    def root(self) -> bytes:
        """Return the RFC 9162 root of the leaves so far."""
        if not self._stack:
            return EMPTY_ROOT
        h = self._stack[-1]
        for left in reversed(self._stack[:-1]):
            h = node_hash(left, h)
        return h


@dataclass
class Scan:
    """What the data pass found."""

    roots: dict[int, bytes] = field(default_factory=dict)
    """Checkpoint size -> the root recomputed from the entries (while they were all readable)."""
    disagreements: list[tuple[int, bytes, bytes]] = field(default_factory=list)
    disagreeing: int = 0
    """How many leaves disagree in all (only the first `MAX_KEPT` are kept)."""
    """(leaf index, hash in the level-0 tile, hash of the entry) where the two differ."""
    corrections: dict[TileKey, bytes] = field(default_factory=dict)
    """Tiles as the entries make them, where the exported ones differ or are missing."""
    entries: int = 0
    tiles: int = 0


def split(blob: bytes) -> list[bytes]:
    """Split a tile into its hashes."""
    return [blob[i : i + HASH_SIZE] for i in range(0, len(blob), HASH_SIZE)]


def fetch_tile(
    source: LogSource,
    level: int,
    index: int,
    width: int,
    findings: FindingLog,
    key: str | None = None,
) -> bytes | None:
    """Fetch a tile, recording a finding (and returning None) if the source cannot."""
    try:
        return source.tile(level, index, width)
    except Error as exc:
        path = tile_path(level, index, width)
        findings.add("tile-missing", key or f"{level}/{index}", "error", str(exc), {"path": path})
        return None


def _leaves(
    source: LogSource, index: int, width: int, findings: FindingLog, key: str | None = None
) -> list[bytes] | None:
    start = index * TILE_WIDTH
    try:
        return [leaf_hash(e) for e in source.entries(start, start + width)]
    except Error as exc:
        findings.add(
            "entries-missing",
            key or str(index),
            "error",
            f"entries {start}..{start + width - 1}: {exc}",
            {"first": start, "count": width},
        )
        return None


def scan(source: LogSource, size: int, sizes: Sequence[int], findings: FindingLog) -> Scan:
    """Check entries and tiles of the tree of `size` leaves; recompute the roots at `sizes`."""
    result = Scan()
    pending = iter(sorted({s for s in sizes if 0 < s <= size}))
    target = next(pending, None)
    frontier: Frontier | None = Frontier()
    up_tiles: list[bytes | None] = []
    up_entries: list[bytes | None] = []
    for index, width in tile_widths(size, 0):
        tile = fetch_tile(source, 0, index, width, findings)
        leaves = _leaves(source, index, width, findings)
        hashes = split(tile) if tile is not None else None
        result.tiles += tile is not None
        if leaves is None:
            frontier = None
        else:
            result.entries += width
            if hashes != leaves:
                result.corrections[(0, index)] = b"".join(leaves)
            for j, (h, leaf) in enumerate(zip(hashes or [], leaves, strict=False)):
                if h != leaf:
                    result.disagreeing += 1
                    if len(result.disagreements) < MAX_KEPT:
                        result.disagreements.append((index * TILE_WIDTH + j, h, leaf))
        if frontier is not None and leaves is not None:
            for leaf in leaves:
                frontier.push(leaf)
                if frontier.size == target:
                    result.roots[target] = frontier.root()
                    target = next(pending, None)
        if width == TILE_WIDTH:
            up_tiles.append(root_of_hashes(hashes) if hashes is not None else None)
            up_entries.append(root_of_hashes(leaves) if leaves is not None else None)
    _upper(source, size, up_tiles, up_entries, result, findings)
    return result


def _upper(
    source: LogSource,
    size: int,
    from_tiles: list[bytes | None],
    from_entries: list[bytes | None],
    result: Scan,
    findings: FindingLog,
) -> None:
    """Check each tile above level 0 holds the roots of the full tiles below it."""
    level = 1
    while widths := tile_widths(size, level):
        next_tiles: list[bytes | None] = []
        next_entries: list[bytes | None] = []
        for index, width in widths:
            low = index * TILE_WIDTH
            expect_t, expect_e = from_tiles[low : low + width], from_entries[low : low + width]
            tile = fetch_tile(source, level, index, width, findings)
            hashes = split(tile) if tile is not None else None
            result.tiles += tile is not None
            if hashes is not None:
                bad = [
                    j for j, (h, e) in enumerate(zip(hashes, expect_t, strict=True)) if e and h != e
                ]
                if bad:
                    findings.add(
                        "tile-mismatch",
                        f"{level}/{index}",
                        "error",
                        f"{tile_path(level, index, width)} does not hold the roots of the "
                        f"full tiles below it (positions {bad[:8]})",
                        {"level": level, "index": index, "positions": bad},
                    )
            known = [e for e in expect_e if e is not None]
            if len(known) == width and hashes != known:
                result.corrections[(level, index)] = b"".join(known)
            if width == TILE_WIDTH:
                next_tiles.append(root_of_hashes(hashes) if hashes is not None else None)
                next_entries.append(root_of_hashes(known) if len(known) == width else None)
        from_tiles, from_entries = next_tiles, next_entries
        level += 1


def check_partials(
    source: LogSource,
    view: TileView,
    sizes: Sequence[int],
    findings: FindingLog,
    *,
    entries: bool = True,
) -> int:
    """Check the partial tiles and bundles older checkpoints need agree with the newest tree.

    C2SP logs must serve them for every checkpoint size; a client verifying an older
    checkpoint reads them. Returns how many were checked.
    """
    checked = 0
    for at in sorted({s for s in sizes if 0 < s < view.size}):
        for level, index, width in partial_tiles(at):
            if tile_width(view.size, level, index) == width:
                continue  # the newest tree's own tile, checked already
            try:
                expected = view[(level, index)][0][: width * HASH_SIZE]
            except KeyError:
                continue  # the newest tile is missing: reported already
            key, path = f"{level}/{index}.p/{width}", tile_path(level, index, width)
            tile = fetch_tile(source, level, index, width, findings, key)
            checked += tile is not None
            if tile is not None and tile != expected:
                message = f"{path} is not a prefix of the newest tree's tile"
                findings.add("tile-mismatch", key, "error", message, {"path": path})
            if level == 0 and entries:
                leaves = _leaves(source, index, width, findings, key)
                if leaves is not None and b"".join(leaves) != expected:
                    message = f"the entries in bundle {key} do not hash to the newest tree's"
                    findings.add("entry-mismatch", f"bundle/{key}", "error", message, {})
    return checked


class TileView(Mapping[TileKey, StoredTile]):
    """The tiles of one tree of `size` leaves, fetched from a source on demand (or overlaid)."""

    def __init__(
        self, source: LogSource, size: int, overlay: Mapping[TileKey, bytes] | None = None
    ) -> None:
        self._source, self.size, self._overlay = source, size, overlay or {}
        self._cache: dict[TileKey, StoredTile] = {}
        self._hasher = TileHasher()

    def __getitem__(self, key: TileKey) -> StoredTile:
        stored = self._cache.get(key)
        if stored is None:
            width = tile_width(self.size, *key)
            if width == 0:
                raise KeyError(key)
            blob = self._overlay.get(key)
            if blob is None:
                try:
                    blob = self._source.tile(key[0], key[1], width)
                except Error:
                    raise KeyError(key) from None
            stored = (blob, tile_inner(blob) if width == TILE_WIDTH else None)
            self._cache[key] = stored
        return stored

    def __iter__(self) -> Iterator[TileKey]:
        return iter(self._cache)

    def __len__(self) -> int:
        return len(self._cache)

    def hashes(self, ranges: Sequence[tuple[int, int]]) -> list[bytes] | None:
        """Return the hash of each leaf range, or None if a tile is missing."""
        try:
            return self._hasher.ranges_hashes(ranges, self)
        except Error:
            return None

    def root(self, size: int) -> bytes | None:
        """Return the root at `size` (at most this view's size), or None if a tile is missing."""
        if size == 0:
            return EMPTY_ROOT
        found = self.hashes([(0, size)])
        return None if found is None else found[0]
