"""C2SP transparency-log checkpoints (c2sp.org/tlog-checkpoint): the signed tree head.

The note text is the origin, the tree size in decimal, the base64 root hash, then optional
extension lines, each ending in a newline. Parsing is strict per the spec: no leading zeros
in the size, a size that fits a uint64, a canonical base64 32-byte root, non-empty lines.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

from pausebutton.errors import FormatError, NoteError
from pausebutton.log.note import Note, NoteSigner, NoteVerifier, decode_base64, sign, verify

HASH_SIZE = 32
MAX_SIZE = 2**64 - 1

_SIZE = re.compile(r"0|[1-9][0-9]*")
_CONTROL = re.compile(r"[\x00-\x1f]")


def _check_line(what: str, line: str) -> None:
    if not line:
        raise FormatError(f"checkpoint {what} is empty")
    bad = _CONTROL.search(line)
    if bad:
        raise FormatError(f"checkpoint {what} contains control character {bad.group()!r}")
    try:
        line.encode()
    except UnicodeError:
        raise FormatError(f"checkpoint {what} is not valid UTF-8") from None


@dataclass(frozen=True)
class Checkpoint:
    """A log's tree head: origin, tree size, RFC 6962 root hash, and extension lines."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_line("origin", self.origin)
        if isinstance(self.size, bool) or not isinstance(self.size, int):
            raise FormatError(f"checkpoint size must be an int, got {type(self.size).__name__}")
        if not 0 <= self.size <= MAX_SIZE:
            raise FormatError(f"checkpoint size {self.size} is outside 0..2^64-1")
        if not isinstance(self.root_hash, bytes) or len(self.root_hash) != HASH_SIZE:
            raise FormatError(f"checkpoint root hash must be {HASH_SIZE} bytes")
        for i, line in enumerate(self.extensions):
            _check_line(f"extension line {i + 1}", line)

    def to_text(self) -> str:
        """Return the checkpoint's note text, final newline included."""
        lines = [
            self.origin,
            str(self.size),
            base64.b64encode(self.root_hash).decode(),
            *self.extensions,
        ]
        return "".join(line + "\n" for line in lines)

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """Parse a checkpoint's note text strictly; raise FormatError with the reason."""
        if not text.endswith("\n"):
            raise FormatError("checkpoint text does not end with a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise FormatError(f"checkpoint has {len(lines)} lines, needs at least 3")
        origin, size, root, *extensions = lines
        if not _SIZE.fullmatch(size):
            raise FormatError(f"checkpoint size {size!r} is not a decimal without leading zeros")
        if int(size) > MAX_SIZE:
            raise FormatError(f"checkpoint size {size} does not fit in a uint64")
        root_hash = decode_base64(root)
        if root_hash is None:
            raise FormatError(f"checkpoint root hash {root!r} is not canonical base64")
        if len(root_hash) != HASH_SIZE:
            raise FormatError(f"checkpoint root hash is {len(root_hash)} bytes, not {HASH_SIZE}")
        return cls(origin, int(size), root_hash, tuple(extensions))


def sign_checkpoint(cp: Checkpoint, signer: NoteSigner) -> str:
    """Return `cp` as a signed note, signed by the log's key."""
    return sign(cp.to_text(), [signer])


def open_checkpoint(
    note_text: str | bytes, log_verifier: NoteVerifier, origin: str | None = None
) -> tuple[Checkpoint, Note]:
    """Verify the log's signature (NoteError), then parse the checkpoint (FormatError).

    With `origin`, a checkpoint for any other origin is refused (NoteError).
    """
    note = verify(note_text, [log_verifier])
    cp = Checkpoint.parse(note.text)
    if origin is not None and cp.origin != origin:
        raise NoteError(f"checkpoint is for origin {cp.origin!r}, expected {origin!r}")
    return cp, note
