"""Ed25519 keys: generate, save with owner-only permissions, load, and name by key id."""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from pausebutton.errors import FormatError, SignatureError

SIGNATURE_SIZE = 64
PUBLIC_KEY_SIZE = 32


def key_id(public_raw: bytes) -> str:
    """Return the key id of a raw 32-byte Ed25519 public key: hex SHA-256 of those bytes."""
    if len(public_raw) != PUBLIC_KEY_SIZE:
        raise FormatError(
            f"an Ed25519 public key is {PUBLIC_KEY_SIZE} bytes, got {len(public_raw)}"
        )
    return hashlib.sha256(public_raw).hexdigest()


@dataclass(frozen=True)
class VerifyKey:
    """An Ed25519 public key with its key id."""

    raw: bytes
    key_id: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key_id", key_id(self.raw))

    @classmethod
    def from_base64(cls, text: str) -> VerifyKey:
        """Parse a standard-base64 raw public key."""
        try:
            raw = base64.b64decode(text, validate=True)
        except ValueError as exc:
            raise FormatError(f"public key is not valid base64: {exc}") from None
        return cls(raw)

    def to_base64(self) -> str:
        """Return the raw public key in standard base64."""
        return base64.b64encode(self.raw).decode()

    def verify(self, signature: bytes, message: bytes) -> None:
        """Raise SignatureError unless `signature` is this key's Ed25519 signature of `message`."""
        if len(signature) != SIGNATURE_SIZE:
            raise SignatureError(
                f"an Ed25519 signature is {SIGNATURE_SIZE} bytes, got {len(signature)}"
            )
        try:
            Ed25519PublicKey.from_public_bytes(self.raw).verify(signature, message)
        except InvalidSignature:
            raise SignatureError(f"signature by key {self.key_id[:16]}… does not verify") from None


class SigningKey:
    """An Ed25519 private key with its public half and key id."""

    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._private = private
        self.public = VerifyKey(
            private.public_key().public_bytes(
                serialization.Encoding.Raw, serialization.PublicFormat.Raw
            )
        )

    @classmethod
    def generate(cls) -> SigningKey:
        """Make a fresh key from the operating system's random source."""
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> SigningKey:
        """Rebuild a key from its 32-byte seed (the raw private key)."""
        if len(seed) != 32:
            raise FormatError(f"an Ed25519 seed is 32 bytes, got {len(seed)}")
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    @property
    def key_id(self) -> str:
        """The key id of the public half."""
        return self.public.key_id

    def seed(self) -> bytes:
        """Return the 32-byte seed; handle with care."""
        return self._private.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )

    def sign(self, message: bytes) -> bytes:
        """Return the 64-byte Ed25519 signature of `message`."""
        return self._private.sign(message)


def save_signing_key(key: SigningKey, path: Path) -> None:
    """Write `key` as PKCS#8 PEM to a new file readable by its owner only (mode 0600).

    Refuses to overwrite an existing file, so a key is never lost by accident.
    """
    pem = key._private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise FormatError(f"{path} exists; refusing to overwrite a key file") from None
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
        handle.flush()
        os.fsync(handle.fileno())


def load_signing_key(path: Path) -> SigningKey:
    """Load a key written by `save_signing_key`; refuse one that others can read."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise FormatError(f"no key file at {path}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise FormatError(
            f"{path} is readable by others (mode {stat.S_IMODE(mode):o}); chmod 600 it first"
        )
    data = path.read_bytes()
    try:
        private = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise FormatError(f"{path} is not an unencrypted PKCS#8 PEM private key: {exc}") from None
    if not isinstance(private, Ed25519PrivateKey):
        raise FormatError(f"{path} holds a {type(private).__name__}, not an Ed25519 key")
    return SigningKey(private)
