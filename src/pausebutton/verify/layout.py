"""The exported log's layout: file names, tile widths, and the C2SP entry bundle format.

An export is a C2SP tlog-tiles directory (``checkpoint``, ``tile/<L>/<N>[.p/<W>]``,
``tile/entries/<N>[.p/<W>]``) plus ``checkpoints/<size>``, every signed checkpoint with
its cosignatures, and optionally ``entries.parquet``. `export` writes it, `sources` reads it.
"""

from __future__ import annotations

from collections.abc import Sequence

from pausebutton.errors import FormatError
from pausebutton.log.merkle import HASH_SIZE
from pausebutton.log.tiles import TILE_HEIGHT, TILE_WIDTH, edge_tiles

CHECKPOINT_FILE = "checkpoint"
CHECKPOINTS_DIR = "checkpoints"
PARQUET_FILE = "entries.parquet"
MAX_BUNDLED_ENTRY = 0xFFFF
"""The largest entry a C2SP entry bundle can hold: its length is a big-endian uint16."""

PartialTile = tuple[int, int, int]
"""(level, index, width) of a partial tile."""


def tile_width(size: int, level: int, index: int) -> int:
    """Return how many hashes tile `level/index` holds in a tree of `size` leaves (0: none)."""
    count = size >> (TILE_HEIGHT * level)
    return max(0, min(TILE_WIDTH, count - index * TILE_WIDTH))


def tile_bytes(size: int, level: int, index: int) -> int:
    """Return the length in bytes of tile `level/index` in a tree of `size` leaves."""
    return tile_width(size, level, index) * HASH_SIZE


def partial_tiles(size: int) -> list[PartialTile]:
    """Return the partial tiles a checkpoint at `size` needs, one per level at most."""
    return [(level, index, width) for (level, index), width in edge_tiles(size)]


def encode_bundle(entries: Sequence[bytes]) -> bytes:
    """Encode entries as a C2SP entry bundle: each a big-endian uint16 length, then its bytes."""
    parts = []
    for i, entry in enumerate(entries):
        if len(entry) > MAX_BUNDLED_ENTRY:
            raise FormatError(
                f"entry {i} of the bundle is {len(entry)} bytes; a C2SP entry bundle holds "
                f"at most {MAX_BUNDLED_ENTRY}"
            )
        parts.append(len(entry).to_bytes(2, "big") + entry)
    return b"".join(parts)


def decode_bundle(data: bytes) -> list[bytes]:
    """Decode a C2SP entry bundle; FormatError if it is truncated or holds over 256 entries."""
    entries: list[bytes] = []
    at = 0
    while at < len(data):
        if at + 2 > len(data):
            raise FormatError(f"entry bundle is truncated in the length of entry {len(entries)}")
        length = int.from_bytes(data[at : at + 2], "big")
        if at + 2 + length > len(data):
            raise FormatError(f"entry bundle is truncated in entry {len(entries)}")
        entries.append(data[at + 2 : at + 2 + length])
        at += 2 + length
        if len(entries) > TILE_WIDTH:
            raise FormatError(f"entry bundle holds more than {TILE_WIDTH} entries")
    return entries
