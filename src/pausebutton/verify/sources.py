"""Where the auditor reads a log from: the `LogSource` interface and the exported directory.

A source only fetches; it decides nothing. The auditor trusts no byte a source returns:
each checkpoint is checked against the keys the auditor was given, each tile and entry
against the checkpoints. So a source may be a mirror, a cache or an adversary.

`DirectorySource` reads the directory `pausebutton log export` writes (`verify.layout`).
An HTTP source for the authority's API will implement the same four methods over C2SP
tlog-tiles URLs (``GET <prefix>/checkpoint``, ``<prefix>/tile/<L>/<N>[.p/<W>]``,
``<prefix>/tile/entries/<N>[.p/<W>]``, falling back from a partial to the full tile as
the spec allows) plus the authority's listing of stored checkpoints; the auditor needs
no change to use it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple, Protocol

from pausebutton.errors import FormatError
from pausebutton.log.merkle import HASH_SIZE
from pausebutton.log.note import MAX_NOTE_SIZE
from pausebutton.log.tiles import TILE_WIDTH, entries_path, tile_path
from pausebutton.verify.layout import CHECKPOINT_FILE, CHECKPOINTS_DIR, decode_bundle

MAX_TILE_FILE = TILE_WIDTH * HASH_SIZE
MAX_BUNDLE_FILE = TILE_WIDTH * (2 + 0xFFFF)


class SourcedCheckpoint(NamedTuple):
    """A signed checkpoint note as a source returned it, and where it came from."""

    where: str
    note: str


class LogSource(Protocol):
    """Fetches a log's checkpoints, entries and hash tiles; raises FormatError if it cannot."""

    def checkpoint(self) -> SourcedCheckpoint:
        """Return the log's newest checkpoint with its cosignatures (C2SP ``checkpoint``)."""
        ...

    def checkpoints(self) -> list[SourcedCheckpoint]:
        """Return every stored signed checkpoint, each with its cosignatures."""
        ...

    def entries(self, start: int, stop: int) -> list[bytes]:
        """Return entries [start, stop) in order."""
        ...

    def tile(self, level: int, index: int, width: int) -> bytes:
        """Return the first `width` hashes of hash tile `level/index`."""
        ...


class DirectorySource:
    """A `LogSource` over an exported directory (see `verify.layout`)."""

    def __init__(self, root: Path) -> None:
        if not root.is_dir():
            raise FormatError(f"{root} is not a directory")
        self.root = root

    def __repr__(self) -> str:
        return f"DirectorySource({str(self.root)!r})"

    def checkpoint(self) -> SourcedCheckpoint:
        """Return the ``checkpoint`` file."""
        return SourcedCheckpoint(CHECKPOINT_FILE, self._text(self.root / CHECKPOINT_FILE))

    def checkpoints(self) -> list[SourcedCheckpoint]:
        """Return every file in ``checkpoints/``, in order of name (sizes numerically)."""
        folder = self.root / CHECKPOINTS_DIR
        if not folder.is_dir():
            return []
        files = [p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")]
        files.sort(key=_by_size)
        return [SourcedCheckpoint(f"{CHECKPOINTS_DIR}/{p.name}", self._text(p)) for p in files]

    def entries(self, start: int, stop: int) -> list[bytes]:
        """Return entries [start, stop) from the entry bundles that hold them."""
        if not 0 <= start < stop:
            raise FormatError(f"entry range [{start}, {stop}) is empty or negative")
        out: list[bytes] = []
        for bundle in range(start // TILE_WIDTH, (stop - 1) // TILE_WIDTH + 1):
            low = bundle * TILE_WIDTH
            need = min(stop, low + TILE_WIDTH) - low
            path, _, data = self._read(entries_path, bundle, need, MAX_BUNDLE_FILE)
            entries = decode_bundle(data)
            if len(entries) < need:
                raise FormatError(f"{path} holds {len(entries)} entries, {need} needed")
            out.extend(entries[max(start - low, 0) : need])
        return out

    def tile(self, level: int, index: int, width: int) -> bytes:
        """Return the first `width` hashes of a tile, from its partial or its full file."""
        path, found, data = self._read(
            lambda i, w: tile_path(level, i, w), index, width, MAX_TILE_FILE
        )
        if len(data) != found * HASH_SIZE:
            raise FormatError(
                f"{path} is {len(data)} bytes; a tile of width {found} is {found * HASH_SIZE}"
            )
        return data[: width * HASH_SIZE]

    def _read(
        self, path_of: Callable[[int, int], str], index: int, width: int, limit: int
    ) -> tuple[str, int, bytes]:
        """Read the file for `index` at `width`, else the full one, else a wider partial."""
        if not 0 < width <= TILE_WIDTH:
            raise FormatError(f"tile width {width} is out of range 1..{TILE_WIDTH}")
        widths = [width]
        if width < TILE_WIDTH:
            widths.append(TILE_WIDTH)
            partials = self.root / path_of(index, 1).rsplit("/", 1)[0]
            if partials.is_dir():
                wider = sorted(
                    int(p.name)
                    for p in partials.iterdir()
                    if p.name.isdigit() and width < int(p.name) < TILE_WIDTH
                )
                widths.extend(wider)
        for found in widths:
            relative = path_of(index, found)
            file = self.root / relative
            if file.is_file():
                return relative, found, self._bytes(file, limit)
        raise FormatError(f"{path_of(index, width)} is missing, and no full or wider one either")

    def _bytes(self, path: Path, limit: int) -> bytes:
        size = path.stat().st_size
        if size > limit:
            raise FormatError(f"{path.relative_to(self.root)} is {size} bytes, over {limit}")
        return path.read_bytes()

    def _text(self, path: Path) -> str:
        if not path.is_file():
            raise FormatError(f"{path.relative_to(self.root)} is missing")
        try:
            return self._bytes(path, MAX_NOTE_SIZE).decode()
        except UnicodeDecodeError:
            raise FormatError(f"{path.relative_to(self.root)} is not UTF-8") from None


def _by_size(path: Path) -> tuple[bool, int, str]:
    digits = path.name.isdigit()
    return not digits, int(path.name) if digits else 0, path.name
