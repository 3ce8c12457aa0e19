"""C2SP signed notes (c2sp.org/signed-note) with Ed25519 keys (signature type 0x01).

A signed note is a UTF-8 text ending in a newline, a blank line, then one or more lines
``— <key name> base64(uint32_be(key id) || signature)``. The signed message is the text,
final newline included. Limits: at most `MAX_SIGNATURES` signature lines and `MAX_NOTE_SIZE`
bytes in all. Stricter than golang.org/x/mod/sumdb/note where the spec allows it: base64 must
be canonical (so one signature has one spelling), every signature by a known key is verified
(Go checks only the first per key), and key ids in key strings are lowercase hex.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Protocol, Self

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from pausebutton.crypto.keys import SigningKey
from pausebutton.errors import FormatError, NoteError

ED25519 = 0x01
MAX_SIGNATURES = 100
MAX_NOTE_SIZE = 1 << 20
SIGNATURE_PREFIX = "\u2014 "

_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")
_KEY_ID_HEX = re.compile(r"[0-9a-f]{8}")
_SKEY_PREFIX = "PRIVATE+KEY+"


class NoteVerifier(Protocol):
    """Checks one kind of note signature by one key, named by key name and key id."""

    @property
    def name(self) -> str:
        """The key name."""
        ...

    @property
    def key_id(self) -> int:
        """The uint32 key id."""
        ...

    def verify(self, msg: bytes, sig: bytes) -> bool:
        """Report whether `sig` (the bytes after the key id) signs `msg`."""
        ...


class NoteSigner(Protocol):
    """Makes one kind of note signature with one key."""

    @property
    def name(self) -> str:
        """The key name."""
        ...

    @property
    def key_id(self) -> int:
        """The uint32 key id."""
        ...

    def sign(self, msg: bytes) -> bytes:
        """Return the signature bytes (without the key id) over `msg`."""
        ...


def key_id(name: str, sig_type: int, public_key: bytes) -> int:
    """Return the key id: SHA-256(name || 0x0A || sig_type || public_key)[:4], big-endian."""
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([sig_type]) + public_key).digest()
    return int.from_bytes(digest[:4], "big")


def is_valid_name(name: str) -> bool:
    """Report whether `name` may appear in a signature line: non-empty, no spaces, no '+'."""
    return bool(name) and not any(c.isspace() or c == "+" for c in name)


def check_key_name(name: str) -> None:
    """Raise FormatError unless `name` is a valid key name made of graphic characters only."""
    if not is_valid_name(name):
        raise FormatError(f"key name {name!r} is empty or contains a space or '+'")
    if any(unicodedata.category(c)[0] not in "LMNPS" for c in name):
        raise FormatError(f"key name {name!r} contains a non-graphic character")


def decode_base64(text: str) -> bytes | None:
    """Decode canonical standard base64 (padded, zero trailing bits); None if it is not."""
    try:
        raw = binascii.a2b_base64(text.encode("ascii"), strict_mode=True)
    except (UnicodeEncodeError, binascii.Error):
        return None
    return raw if base64.b64encode(raw).decode() == text else None


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def parse_vkey(vkey: str, sig_type: int, key_size: int) -> tuple[str, int, bytes]:
    """Parse ``name+keyid+base64(type || key)``; return (name, key id, key); FormatError if bad."""
    name, _, rest = vkey.partition("+")
    hex_id, _, key64 = rest.partition("+")
    raw = decode_base64(key64)
    if not _KEY_ID_HEX.fullmatch(hex_id):
        raise FormatError(f"malformed verifier id: key id {hex_id!r} is not 8 lowercase hex digits")
    if not raw:
        raise FormatError("malformed verifier id: key data is not canonical non-empty base64")
    try:
        check_key_name(name)
    except FormatError as exc:
        raise FormatError(f"malformed verifier id: {exc}") from None
    expected = key_id(name, raw[0], raw[1:])
    if int(hex_id, 16) != expected:
        raise FormatError(f"invalid verifier hash: key id {hex_id} does not match {expected:08x}")
    if raw[0] != sig_type:
        raise FormatError(
            f"unknown verifier algorithm: signature type 0x{raw[0]:02x}, expected 0x{sig_type:02x}"
        )
    if len(raw) - 1 != key_size:
        raise FormatError(f"malformed verifier id: key is {len(raw) - 1} bytes, not {key_size}")
    return name, expected, raw[1:]


@dataclass(frozen=True)
class Verifier:
    """An Ed25519 note verifier (signature type 0x01): a key name and a 32-byte public key."""

    SIG_TYPE: ClassVar[int] = ED25519

    name: str
    public_key: bytes
    key_id: int = field(init=False)
    _key: Ed25519PublicKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_key_name(self.name)
        if len(self.public_key) != 32:
            raise FormatError(f"an Ed25519 public key is 32 bytes, got {len(self.public_key)}")
        object.__setattr__(self, "key_id", key_id(self.name, self.SIG_TYPE, self.public_key))
        try:
            public = Ed25519PublicKey.from_public_bytes(self.public_key)
        except ValueError as exc:
            raise FormatError(f"not an Ed25519 public key: {exc}") from None
        object.__setattr__(self, "_key", public)

    @classmethod
    def from_vkey(cls, vkey: str) -> Self:
        """Parse a verifier key ``name+keyid+base64(type || public key)``; FormatError if bad."""
        name, _, public_key = parse_vkey(vkey, cls.SIG_TYPE, 32)
        return cls(name, public_key)

    def vkey(self) -> str:
        """Return the verifier key string, as Go's note.GenerateKey writes it."""
        return f"{self.name}+{self.key_id:08x}+{_b64(bytes([self.SIG_TYPE]) + self.public_key)}"

    def verify(self, msg: bytes, sig: bytes) -> bool:
        """Report whether `sig` is this key's Ed25519 signature of `msg`."""
        try:
            self._key.verify(sig, msg)
        except InvalidSignature:
            return False
        return True


class KeyedSigner:
    """A key name and an Ed25519 private key, with the key id of the class's signature type."""

    SIG_TYPE: ClassVar[int] = ED25519

    def __init__(self, name: str, key: SigningKey) -> None:
        check_key_name(name)
        self._name = name
        self._key = key
        self._key_id = key_id(name, self.SIG_TYPE, key.public.raw)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self._name!r}, key_id={self._key_id:08x})"

    @property
    def name(self) -> str:
        """The key name."""
        return self._name

    @property
    def key_id(self) -> int:
        """The uint32 key id."""
        return self._key_id

    @classmethod
    def from_signing_key(cls, name: str, key: SigningKey) -> Self:
        """Make a signer for `name` from an existing Ed25519 key."""
        return cls(name, key)

    @classmethod
    def generate(cls, name: str) -> Self:
        """Make a signer for `name` with a fresh random key."""
        return cls(name, SigningKey.generate())


class Signer(KeyedSigner):
    """An Ed25519 note signer (signature type 0x01): a key name and a private key."""

    @classmethod
    def from_skey(cls, skey: str) -> Signer:
        """Parse ``PRIVATE+KEY+name+keyid+base64(0x01 || seed)``; FormatError if bad."""
        if not skey.startswith(_SKEY_PREFIX):
            raise FormatError("malformed signer key: it must start with 'PRIVATE+KEY+'")
        name, _, rest = skey[len(_SKEY_PREFIX) :].partition("+")
        hex_id, _, key64 = rest.partition("+")
        raw = decode_base64(key64)
        if not _KEY_ID_HEX.fullmatch(hex_id) or not raw:
            raise FormatError("malformed signer key: bad key id or key data")
        if raw[0] != cls.SIG_TYPE:
            raise FormatError(f"unknown signer algorithm: signature type 0x{raw[0]:02x}")
        if len(raw) != 33:
            raise FormatError(f"malformed signer key: seed is {len(raw) - 1} bytes, not 32")
        signer = cls(name, SigningKey.from_seed(raw[1:]))
        if signer.key_id != int(hex_id, 16):
            raise FormatError(f"invalid signer hash: {hex_id} does not match {signer.key_id:08x}")
        return signer

    def skey(self) -> str:
        """Return the private key string; anyone holding it can sign."""
        seed = bytes([self.SIG_TYPE]) + self._key.seed()
        return f"{_SKEY_PREFIX}{self._name}+{self._key_id:08x}+{_b64(seed)}"

    def vkey(self) -> str:
        """Return the matching verifier key string."""
        return self.verifier().vkey()

    def verifier(self) -> Verifier:
        """Return the matching verifier."""
        return Verifier(self._name, self._key.public.raw)

    def sign(self, msg: bytes) -> bytes:
        """Return the 64-byte Ed25519 signature of `msg`."""
        return self._key.sign(msg)


@dataclass(frozen=True)
class Signature:
    """One signature line: key name, key id, and the signature bytes after the key id."""

    name: str
    key_id: int
    signature: bytes

    @classmethod
    def from_line(cls, line: str) -> Signature:
        """Parse ``— name base64`` (a final newline is allowed); NoteError if malformed."""
        line = line.removesuffix("\n")
        if not line.startswith(SIGNATURE_PREFIX):
            raise NoteError(f"malformed note: signature line does not start with '— ': {line!r}")
        name, space, b64 = line[len(SIGNATURE_PREFIX) :].partition(" ")
        if not space or not is_valid_name(name):
            raise NoteError(f"malformed note: bad key name in signature line {line!r}")
        raw = decode_base64(b64)
        if raw is None:
            raise NoteError(f"malformed note: signature of {name} is not canonical base64")
        if len(raw) < 5:
            raise NoteError(f"malformed note: signature of {name} is {len(raw)} bytes, under 5")
        return cls(name, int.from_bytes(raw[:4], "big"), raw[4:])

    def to_line(self) -> str:
        """Return the signature line, final newline included."""
        raw = self.key_id.to_bytes(4, "big") + self.signature
        return f"{SIGNATURE_PREFIX}{self.name} {_b64(raw)}\n"


@dataclass(frozen=True)
class Note:
    """A verified note: its text, the verified signatures, and those by unknown keys."""

    text: str
    sigs: tuple[Signature, ...]
    unverified_sigs: tuple[Signature, ...] = ()


def _check_text(text: str | bytes) -> tuple[str, bytes]:
    """Return (text, UTF-8 bytes) after the size, UTF-8 and control-character checks."""
    try:
        raw = text if isinstance(text, bytes) else text.encode()
        if len(raw) > MAX_NOTE_SIZE:
            raise NoteError(f"malformed note: {len(raw)} bytes, over the {MAX_NOTE_SIZE} limit")
        decoded = raw.decode() if isinstance(text, bytes) else text
    except UnicodeError:
        raise NoteError("malformed note: not valid UTF-8") from None
    bad = _CONTROL.search(decoded)
    if bad:
        raise NoteError(f"malformed note: control character {bad.group()!r} at {bad.start()}")
    return decoded, raw


def parse_signed_note(note: str | bytes) -> tuple[str, tuple[Signature, ...]]:
    """Split a note into its text and signature lines, checking syntax only: verifies nothing."""
    decoded, _ = _check_text(note)
    split = decoded.rfind("\n\n")
    if split < 0:
        raise NoteError("malformed note: no blank line before the signatures")
    text, block = decoded[: split + 1], decoded[split + 2 :]
    if not block.endswith("\n"):
        raise NoteError("malformed note: it does not end with a signature line and a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"malformed note: {len(lines)} signatures, over {MAX_SIGNATURES}")
    return text, tuple(Signature.from_line(line) for line in lines)


def verify(note: str | bytes, verifiers: Sequence[NoteVerifier]) -> Note:
    """Verify a signed note against known keys; return it, or raise NoteError.

    Signatures by unknown keys (name and key id not both known) are kept unverified; any
    signature by a known key must verify; at least one must. Repeated lines are dropped.
    """
    text, sigs = parse_signed_note(note)
    known: dict[tuple[str, int], list[NoteVerifier]] = {}
    for v in verifiers:
        known.setdefault((v.name, v.key_id), []).append(v)
    msg = text.encode()
    verified: dict[tuple[str, int], Signature] = {}
    unverified: dict[Signature, None] = {}
    for sig in sigs:
        matches = known.get((sig.name, sig.key_id))
        if matches is None:
            unverified.setdefault(sig)
            continue
        label = f"{sig.name}+{sig.key_id:08x}"
        if len(matches) > 1:
            raise NoteError(f"ambiguous key {label}: {len(matches)} verifiers share it")
        if not matches[0].verify(msg, sig.signature):
            raise NoteError(f"invalid signature for key {label}")
        verified.setdefault((sig.name, sig.key_id), sig)
    if not verified:
        raise NoteError("note has no verifiable signatures")
    return Note(text, tuple(verified.values()), tuple(unverified))


def add_signatures(signed_note: str, signers: Sequence[NoteSigner]) -> str:
    """Sign a note's text again, keeping its other signature lines; verifies nothing.

    An existing line by the same key name and id as a new signer is replaced.
    """
    text, sigs = parse_signed_note(signed_note)
    new = {(s.name, s.key_id) for s in signers}
    return _sign(text, [sig for sig in sigs if (sig.name, sig.key_id) not in new], signers)


def sign(text: str, signers: Sequence[NoteSigner]) -> str:
    """Return `text` signed by each of `signers`, as a signed note."""
    return _sign(text, [], signers)


def _sign(text: str, kept: Sequence[Signature], signers: Sequence[NoteSigner]) -> str:
    _check_text(text)
    if not text.endswith("\n"):
        raise NoteError("malformed note: the text must end with a newline")
    if not signers:
        raise NoteError("invalid signer: signing needs at least one signer")
    ids = [(s.name, s.key_id) for s in signers]
    if len(set(ids)) != len(ids):
        raise NoteError("invalid signer: two signers share a key name and id")
    msg = text.encode()
    lines = [sig.to_line() for sig in kept]
    for s in signers:
        if not is_valid_name(s.name) or not 0 <= s.key_id < 1 << 32:
            raise NoteError(f"invalid signer: name {s.name!r} or key id is not valid")
        lines.append(Signature(s.name, s.key_id, s.sign(msg)).to_line())
    signed = text + "\n" + "".join(lines)
    parse_signed_note(signed)  # never emit what verify would refuse (limits, empty signatures)
    return signed
