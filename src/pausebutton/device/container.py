"""The locked-model container: byte layout, header, chunk nonces and associated data.

Pure: it parses and checks structure and the publisher's signature, but holds no key and
decrypts nothing (`device.locking` does). Integers are big-endian; docs/model-locking.md
gives the layout byte by byte::

    "PBLOCK" | version u16 = 1 | header length u32 | header (RFC 8785 JSON)
    | publisher signature (64 bytes, only if the header names a publisher)
    | chunk 0 | ... | chunk n-1          each: AES-256-GCM ciphertext + 16-byte tag

Chunk i's nonce is ``nonce_prefix (7) || i (u32) || final (u8)`` and its associated data
``SHA-256(magic .. header) || i (u32) || final (u8)``, so a changed header byte, a
reordered, dropped or appended chunk all fail authentication.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic import ValidationError as PydanticValidationError

from pausebutton.crypto.canonical import canonical_bytes, parse_json
from pausebutton.crypto.envelope import signing_message
from pausebutton.crypto.keys import VerifyKey
from pausebutton.errors import FormatError, SignatureError

FORMAT = "pausebutton.locked-model/v1"
MAGIC = b"PBLOCK"
VERSION = 1
PREFIX = struct.Struct(">6sHI")
"""magic, version, header length: the first 12 bytes of every container."""
MAX_HEADER = 1 << 20
MAX_RECIPIENTS = 1024
MIN_CHUNK_SIZE = 16
MAX_CHUNK_SIZE = 1 << 30
DEFAULT_CHUNK_SIZE = 16 << 20
MAX_CHUNKS = 1 << 32
MAX_PLAINTEXT = 1 << 50
TAG_SIZE = 16
SIGNATURE_SIZE = 64
NONCE_PREFIX_SIZE = 7
CONTAINER_ID_SIZE = 16
AEAD = "AES-256-GCM"
KEY_WRAP = "X25519-HKDF-SHA256-AES-256-GCM"
MAX_SAFETENSORS_HEADER = 100 << 20

_HEX64 = r"^[0-9a-f]{64}$"
_B64_32 = r"^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$"
_B64_48 = r"^[A-Za-z0-9+/]{64}$"


class TamperedModelError(FormatError):
    """A locked model fails an integrity check: tampered, truncated, reordered or corrupt."""


def _strict() -> ConfigDict:
    return ConfigDict(frozen=True, extra="forbid", strict=True)


class RecipientEntry(BaseModel):
    """One authorised device: its X25519 key id and the content key wrapped to it."""

    model_config = _strict()

    key_id: str = Field(pattern=_HEX64, description="SHA-256 of the raw X25519 key, hex")
    ephemeral_key: str = Field(pattern=_B64_32, description="ephemeral X25519 key, base64")
    wrapped_key: str = Field(pattern=_B64_48, description="AES-256-GCM(KEK, content key)")


class Plaintext(BaseModel):
    """What the chunks decrypt to."""

    model_config = _strict()

    format: Literal["safetensors"]
    size: int = Field(ge=0, le=MAX_PLAINTEXT)
    sha256: str = Field(pattern=_HEX64)


class Header(BaseModel):
    """The container header: every field is authenticated by every chunk's tag."""

    model_config = _strict()

    format: Literal["pausebutton.locked-model/v1"]
    container_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    model: str = Field(pattern=r"^[^\x00-\x1f\x7f]{1,256}$")
    plaintext: Plaintext
    aead: Literal["AES-256-GCM"]
    chunk_size: int = Field(ge=MIN_CHUNK_SIZE, le=MAX_CHUNK_SIZE)
    nonce_prefix: str = Field(pattern=r"^[0-9a-f]{14}$")
    key_wrap: Literal["X25519-HKDF-SHA256-AES-256-GCM"]
    recipients: list[RecipientEntry] = Field(min_length=1, max_length=MAX_RECIPIENTS)
    publisher: str | None = Field(pattern=_B64_32, description="Ed25519 key, base64")

    @model_validator(mode="after")
    def _consistent(self) -> Header:
        ids = [r.key_id for r in self.recipients]
        if ids != sorted(set(ids)):
            raise ValueError("recipients must be sorted by key_id, each key once")
        if self.chunk_count() > MAX_CHUNKS:
            raise ValueError(f"more than {MAX_CHUNKS} chunks")
        return self

    def chunk_count(self) -> int:
        """Number of chunks: at least one (an empty plaintext is one empty final chunk)."""
        return max(1, -(-self.plaintext.size // self.chunk_size))

    def chunk_plain_size(self, index: int) -> int:
        """Plaintext bytes in chunk `index`."""
        return min(self.chunk_size, self.plaintext.size - index * self.chunk_size)

    def recipient(self, key_id: str) -> RecipientEntry | None:
        """The entry for the X25519 key id `key_id`, or None."""
        return next((r for r in self.recipients if r.key_id == key_id), None)


@dataclass(frozen=True)
class Parsed:
    """A container split into its parts, structure and signature checked."""

    header: Header
    header_digest: bytes
    signature: bytes
    chunks: tuple[memoryview, ...]


def chunk_nonce(header: Header, index: int) -> bytes:
    """The 12-byte GCM nonce of chunk `index`."""
    final = index == header.chunk_count() - 1
    return bytes.fromhex(header.nonce_prefix) + struct.pack(">IB", index, final)


def chunk_aad(header_digest: bytes, header: Header, index: int) -> bytes:
    """The associated data of chunk `index`: header digest, index and final flag."""
    final = index == header.chunk_count() - 1
    return header_digest + struct.pack(">IB", index, final)


def header_prefix(header: Header) -> bytes:
    """Magic, version, header length and the canonical header bytes."""
    body = canonical_bytes(header)
    if len(body) > MAX_HEADER:
        raise FormatError(f"header is {len(body)} bytes, over {MAX_HEADER}")
    return PREFIX.pack(MAGIC, VERSION, len(body)) + body


def signature_message(header: Header) -> bytes:
    """The bytes a publisher signs: the envelope domain, the format name and the header."""
    return signing_message(FORMAT, header.model_dump(mode="json"))


def parse(data: bytes) -> Parsed:
    """Split a container into header, signature and chunks; check everything not secret."""
    view = memoryview(data)
    if len(view) < PREFIX.size or bytes(view[:6]) != MAGIC:
        raise FormatError("not a pausebutton locked model (bad magic)")
    _, version, length = PREFIX.unpack_from(view)
    if version != VERSION:
        raise FormatError(f"locked model version {version} is not supported (only {VERSION})")
    if not 2 <= length <= MAX_HEADER or PREFIX.size + length > len(view):
        raise TamperedModelError(f"header length {length} does not fit the file")
    raw = bytes(view[PREFIX.size : PREFIX.size + length])
    header = _header(raw)
    offset = PREFIX.size + length
    signature = b""
    if header.publisher is not None:
        signature = bytes(view[offset : offset + SIGNATURE_SIZE])
        _check_signature(header, header.publisher, signature)
        offset += SIGNATURE_SIZE
    expected = offset + header.plaintext.size + TAG_SIZE * header.chunk_count()
    if len(view) != expected:
        raise TamperedModelError(
            f"file is {len(view)} bytes, its header says {expected}: truncated or extended"
        )
    chunks = []
    for index in range(header.chunk_count()):
        size = header.chunk_plain_size(index) + TAG_SIZE
        chunks.append(view[offset : offset + size])
        offset += size
    digest = hashlib.sha256(view[: PREFIX.size + length]).digest()
    return Parsed(header, digest, signature, tuple(chunks))


def _header(raw: bytes) -> Header:
    try:
        value: Any = parse_json(raw, limit=MAX_HEADER)
        header = Header.model_validate(value)
    except FormatError as exc:
        raise TamperedModelError(f"header is not valid JSON: {exc}") from None
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "header"
        raise TamperedModelError(f"header is malformed at {where}: {first['msg']}") from None
    if canonical_bytes(value) != raw:
        raise TamperedModelError("header is not in RFC 8785 canonical form")
    return header


def _check_signature(header: Header, publisher: str, signature: bytes) -> None:
    if len(signature) != SIGNATURE_SIZE:
        raise TamperedModelError("publisher signature is truncated")
    try:
        VerifyKey.from_base64(publisher).verify(signature, signature_message(header))
    except SignatureError as exc:
        raise TamperedModelError(f"publisher signature does not verify: {exc}") from None


def check_safetensors(data: bytes) -> int:
    """Raise FormatError unless `data` is a well-formed safetensors file; return its tensors."""
    if len(data) < 8:
        raise FormatError("not safetensors: shorter than its 8-byte header length")
    length = int.from_bytes(data[:8], "little")
    if length > MAX_SAFETENSORS_HEADER or 8 + length > len(data):
        raise FormatError(f"not safetensors: header length {length} does not fit")
    try:
        header = parse_json(data[8 : 8 + length], limit=MAX_SAFETENSORS_HEADER)
    except FormatError as exc:
        raise FormatError(f"not safetensors: {exc}") from None
    if not isinstance(header, dict):
        raise FormatError("not safetensors: its header is not a JSON object")
    body = len(data) - 8 - length
    tensors = 0
    for name, info in header.items():
        if name == "__metadata__":
            continue
        offsets = info.get("data_offsets") if isinstance(info, dict) else None
        if not (
            isinstance(info, dict)
            and isinstance(info.get("dtype"), str)
            and isinstance(info.get("shape"), list)
            and isinstance(offsets, list)
            and len(offsets) == 2
            and all(isinstance(o, int) for o in offsets)
            and 0 <= offsets[0] <= offsets[1] <= body
        ):
            raise FormatError(f"not safetensors: tensor {name!r} is malformed")
        tensors += 1
    return tensors


def b64(data: bytes) -> str:
    """Standard base64 text of `data`."""
    return base64.b64encode(data).decode()
