"""Model locking: seal safetensors weights to devices' X25519 keys; unlock only past a gate.

`lock` encrypts the weights with AES-256-GCM under a fresh content key, in chunks (see
`device.container`), and wraps that key to each authorised device: a fresh ephemeral
X25519 key agrees a secret with the device's key, HKDF-SHA256 turns it into a key-
encryption key bound to the container id and the device's key id, and AES-256-GCM wraps
the content key under it. `unlock` asks an `UnlockGate` (the device governor) *before* it
unwraps anything, and returns the weights only after every chunk and the plaintext digest
have verified. docs/model-locking.md documents the format and what this emulation cannot
guarantee (whoever can read the device's X25519 private key can decrypt).
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from pausebutton.crypto.keys import SigningKey, VerifyKey
from pausebutton.device import container
from pausebutton.device.container import Header, Plaintext, RecipientEntry, TamperedModelError
from pausebutton.device.errors import UnlockRefusedError
from pausebutton.errors import Error, FormatError, SignatureError

WRAP_INFO = b"pausebutton.locked-model/v1 key-wrap\x00"
"""HKDF info prefix; the container id (16 bytes) and the device key id (32) follow."""
WRAP_NONCE = bytes(12)
"""The key-wrap nonce: all zero, safe because every KEK is used exactly once."""
CONTENT_KEY_SIZE = 32

RandomBytes = Callable[[int], bytes]


class NotARecipientError(Error):
    """The locked model is not addressed to this device's key."""


class NoLicenceError(UnlockRefusedError):
    """The device holds no licence valid at this time."""


class PauseInForceError(UnlockRefusedError):
    """A pause directive in force covers this device."""


class X25519Agreement(Protocol):
    """What unwrapping needs of a device key; a `SecureElement` has both, keeping the key."""

    def x25519_public(self) -> bytes:
        """The device's raw 32-byte X25519 public key."""

    def exchange(self, peer_public: bytes) -> bytes:
        """The X25519 shared secret with a raw 32-byte peer key."""


DeviceKey = X25519PrivateKey | X25519Agreement


class _PrivateKey:
    """An X25519 private key held in memory, as an `X25519Agreement` (emulation only)."""

    def __init__(self, key: X25519PrivateKey) -> None:
        self._key = key

    def x25519_public(self) -> bytes:
        return _raw(self._key.public_key())

    def exchange(self, peer_public: bytes) -> bytes:
        return self._key.exchange(X25519PublicKey.from_public_bytes(peer_public))


class UnlockGate(Protocol):
    """The governor's say on unlocking: return to allow, raise a pausebutton Error to refuse."""

    def may_unlock(self, now: int) -> None:
        """Raise unless this device may unlock a model at `now` (Unix seconds)."""


@dataclass(frozen=True)
class Standing:
    """The device's standing as the governor last decided it: licence window and any pause."""

    licence_not_before: int | None = None
    licence_not_after: int | None = None
    pause: str | None = None


class StandingGate:
    """A gate that reads a decided `Standing`; None means unknown, which refuses."""

    def __init__(self, standing: Standing | None) -> None:
        self.standing = standing

    def may_unlock(self, now: int) -> None:
        """Raise UnlockRefusedError, PauseInForceError or NoLicenceError, or allow."""
        s = self.standing
        if s is None:
            raise UnlockRefusedError(
                "the device's licence and pause state are unknown: refusing (fail closed)"
            )
        if s.pause is not None:
            raise PauseInForceError(f"a pause is in force on this device ({s.pause})")
        if s.licence_not_before is None or s.licence_not_after is None:
            raise NoLicenceError("the device holds no licence")
        if not s.licence_not_before <= now < s.licence_not_after:
            raise NoLicenceError(
                f"the device's licence is valid from {s.licence_not_before} until "
                f"{s.licence_not_after}, not at {now}"
            )


def x25519_key_id(public: X25519PublicKey | bytes) -> str:
    """The key id of an X25519 public key: hex SHA-256 of its 32 raw bytes."""
    return hashlib.sha256(_raw(_public(public))).hexdigest()


def lock(
    weights: bytes,
    recipients: Sequence[X25519PublicKey | bytes],
    *,
    model: str,
    publisher: SigningKey | None = None,
    chunk_size: int = container.DEFAULT_CHUNK_SIZE,
    randbytes: RandomBytes = os.urandom,
) -> bytes:
    """Lock safetensors `weights` to each device in `recipients`; return the container.

    `randbytes` is for reproducible test vectors only; keep the default otherwise.
    """
    container.check_safetensors(weights)
    keys = [_public(r) for r in recipients]
    if not keys:
        raise FormatError("lock a model to at least one device")
    if len({x25519_key_id(k) for k in keys}) != len(keys):
        raise FormatError("a device key is named twice")
    content_key = randbytes(CONTENT_KEY_SIZE)
    container_id = randbytes(container.CONTAINER_ID_SIZE)
    nonce_prefix = randbytes(container.NONCE_PREFIX_SIZE)
    entries = sorted(
        (_wrap(content_key, key, container_id, randbytes) for key in keys),
        key=lambda e: e.key_id,
    )
    try:
        header = Header(
            format=container.FORMAT,
            container_id=container_id.hex(),
            model=model,
            plaintext=Plaintext(
                format="safetensors",
                size=len(weights),
                sha256=hashlib.sha256(weights).hexdigest(),
            ),
            aead=container.AEAD,
            chunk_size=chunk_size,
            nonce_prefix=nonce_prefix.hex(),
            key_wrap=container.KEY_WRAP,
            recipients=entries,
            publisher=None if publisher is None else publisher.public.to_base64(),
        )
    except ValueError as exc:
        raise FormatError(f"cannot lock: {exc}") from None
    head = container.header_prefix(header)
    digest = hashlib.sha256(head).digest()
    parts = [head]
    if publisher is not None:
        parts.append(publisher.sign(container.signature_message(header)))
    aead = AESGCM(content_key)
    view = memoryview(weights)
    for index in range(header.chunk_count()):
        chunk = view[index * chunk_size : index * chunk_size + header.chunk_plain_size(index)]
        nonce = container.chunk_nonce(header, index)
        parts.append(aead.encrypt(nonce, chunk, container.chunk_aad(digest, header, index)))
    return b"".join(parts)


def inspect(data: bytes, *, publisher: VerifyKey | None = None) -> Header:
    """Return a container's header after checking its structure and any signature."""
    parsed = container.parse(data)
    _check_publisher(parsed.header, publisher)
    return parsed.header


def unlock(
    data: bytes,
    device_key: DeviceKey,
    device_key_id: str,
    gate: UnlockGate,
    now: int,
    *,
    publisher: VerifyKey | None = None,
) -> bytes:
    """Return the weights locked in `data` if this device is a recipient and `gate` allows.

    `device_key` is the device's X25519 private key, or anything that agrees keys with it
    without giving it out (a `SecureElement`). Order: structure and signature, recipient,
    the gate, then unwrap and decrypt. Nothing is returned unless every chunk and the
    plaintext's SHA-256 verify.
    """
    parsed = container.parse(data)
    header = parsed.header
    _check_publisher(header, publisher)
    agreement = _PrivateKey(device_key) if isinstance(device_key, X25519PrivateKey) else device_key
    if x25519_key_id(agreement.x25519_public()) != device_key_id:
        raise FormatError(f"device key id {device_key_id[:16]}… is not that of the private key")
    entry = header.recipient(device_key_id)
    if entry is None:
        raise NotARecipientError(
            f"model {header.model!r} is not locked to device key {device_key_id[:16]}…"
        )
    gate.may_unlock(now)
    aead = AESGCM(_unwrap(entry, agreement, bytes.fromhex(header.container_id)))
    out = bytearray()
    count = header.chunk_count()
    for index, chunk in enumerate(parsed.chunks):
        nonce = container.chunk_nonce(header, index)
        aad = container.chunk_aad(parsed.header_digest, header, index)
        try:
            out += aead.decrypt(nonce, bytes(chunk), aad)
        except InvalidTag:
            raise TamperedModelError(
                f"chunk {index} of {count} fails authentication: the header or the chunk was "
                "changed, or chunks were reordered or truncated"
            ) from None
    weights = bytes(out)
    if hashlib.sha256(weights).hexdigest() != header.plaintext.sha256:
        raise TamperedModelError("the decrypted weights do not match the header's SHA-256")
    container.check_safetensors(weights)
    return weights


def _check_publisher(header: Header, publisher: VerifyKey | None) -> None:
    if publisher is not None and header.publisher != publisher.to_base64():
        raise SignatureError(f"model is not signed by publisher {publisher.key_id[:16]}…")


def _public(key: X25519PublicKey | bytes) -> X25519PublicKey:
    if isinstance(key, X25519PublicKey):
        return key
    if len(key) != 32:
        raise FormatError(f"an X25519 public key is 32 bytes, got {len(key)}")
    return X25519PublicKey.from_public_bytes(key)


def _raw(key: X25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _kek(shared: bytes, ephemeral: bytes, device: bytes, info: bytes) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=ephemeral + device, info=info)
    return hkdf.derive(shared)


def _wrap(
    content_key: bytes, device: X25519PublicKey, container_id: bytes, randbytes: RandomBytes
) -> RecipientEntry:
    ephemeral = X25519PrivateKey.from_private_bytes(randbytes(32))
    try:
        shared = ephemeral.exchange(device)
    except ValueError:
        raise FormatError("device X25519 key is a low-order point; refusing it") from None
    key_id = x25519_key_id(device)
    info = WRAP_INFO + container_id + bytes.fromhex(key_id)
    ephemeral_raw = _raw(ephemeral.public_key())
    kek = _kek(shared, ephemeral_raw, _raw(device), info)
    wrapped = AESGCM(kek).encrypt(WRAP_NONCE, content_key, info)
    return RecipientEntry(
        key_id=key_id,
        ephemeral_key=container.b64(ephemeral_raw),
        wrapped_key=container.b64(wrapped),
    )


def _unwrap(entry: RecipientEntry, device: X25519Agreement, container_id: bytes) -> bytes:
    ephemeral_raw = base64.b64decode(entry.ephemeral_key)
    info = WRAP_INFO + container_id + bytes.fromhex(entry.key_id)
    try:
        shared = device.exchange(ephemeral_raw)
        kek = _kek(shared, ephemeral_raw, device.x25519_public(), info)
        return AESGCM(kek).decrypt(WRAP_NONCE, base64.b64decode(entry.wrapped_key), info)
    except (ValueError, InvalidTag, FormatError):
        raise TamperedModelError(
            f"the content key wrapped to device key {entry.key_id[:16]}… fails authentication"
        ) from None
