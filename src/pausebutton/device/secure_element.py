"""The secure element: the device's keys and persistent state, behind a small interface.

**This is an emulation.** In a chip, the secure element is hardware: its keys never leave
it, its state sits in tamper-resistant storage guarded by a monotonic counter, and no
one, not even the host's root user, can read the keys or put an older state back. Here:

- `SecureElement` is the interface a hardware implementation would provide instead;
- `FileSecureElement` keeps the keys in an owner-only file (``secrets.json``, mode 0600)
  and the state in ``state.json``, written atomically (temporary file, fsync, rename,
  fsync of the folder), so a crash leaves either the old record or the new one;
- `MemorySecureElement` keeps both in memory (tests, simulations).

A state file is ``{"mac": <hex>, "record": {"format", "version", "previous", "state"}}``:
`version` counts writes from 1, `previous` is the SHA-256 of the previous file's bytes
(64 zeros for the first), and `mac` is HMAC-SHA256, under a state key kept with the device
keys, of the record's compact sorted-key JSON (exactly the bytes in the file). Editing,
truncating or forging the file is detected on load; a file replaced while an element is
running is detected at its next write, because the file's head is no longer the record
it wrote (`StateTamperedError` both ways).

What software cannot detect: someone with the key file's rights (root) putting back an
*older genuine copy* of the state while the element is stopped. That rollback is
invisible locally; hardware prevents it with a monotonic counter. Here the device's
receipts make it evident to the verifier (see `device.receipts`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from pausebutton.crypto.canonical import parse_json
from pausebutton.crypto.keys import SigningKey, VerifyKey
from pausebutton.device.errors import StateTamperedError
from pausebutton.device.keys import DeviceSecrets
from pausebutton.errors import FormatError

__all__ = [
    "GENESIS",
    "STATE_FORMAT",
    "DeviceSecrets",
    "FileSecureElement",
    "MemorySecureElement",
    "SecureElement",
]

STATE_FORMAT = "pausebutton.device-state/v1"
GENESIS = "0" * 64
MAX_STATE_BYTES = 1 << 20
SECRETS_FILE = "secrets.json"
STATE_FILE = "state.json"
_RECORD_FIELDS = frozenset({"format", "version", "previous", "state"})


class SecureElement(Protocol):
    """The device's keys and persistent state: what the governor needs from hardware."""

    @property
    def signing_key(self) -> VerifyKey:
        """The device's Ed25519 public key (receipts, requests)."""

    def x25519_public(self) -> bytes:
        """The device's raw X25519 public key (locked models are wrapped to it)."""

    @property
    def version(self) -> int:
        """The version of the state record last loaded or saved (0: none)."""

    def sign(self, message: bytes) -> bytes:
        """Sign `message` with the device key."""

    def exchange(self, peer_public: bytes) -> bytes:
        """Return the X25519 shared secret with a raw 32-byte peer public key."""

    def random(self, size: int) -> bytes:
        """Return `size` random bytes from the element's generator."""

    def load(self) -> dict[str, Any] | None:
        """Return the verified current state, or None if none was ever saved."""

    def save(self, state: Mapping[str, Any]) -> int:
        """Persist `state` as the next record, durably, before returning its version."""


class _ChainedElement:
    """The keys and the MACed, hash-chained state records; subclasses do the storage."""

    def __init__(self, secrets: DeviceSecrets) -> None:
        self._secrets = secrets
        self._signing = SigningKey.from_seed(secrets.ed25519_seed)
        self._x25519 = X25519PrivateKey.from_private_bytes(secrets.x25519_private)
        self._head = GENESIS
        self._version = 0

    @property
    def signing_key(self) -> VerifyKey:
        """The device's Ed25519 public key."""
        return self._signing.public

    def x25519_public(self) -> bytes:
        """The device's raw X25519 public key."""
        return self._x25519.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    @property
    def version(self) -> int:
        """The version of the state record last loaded or saved (0: none)."""
        return self._version

    def sign(self, message: bytes) -> bytes:
        """Sign `message` with the device key."""
        return self._signing.sign(message)

    def exchange(self, peer_public: bytes) -> bytes:
        """Return the X25519 shared secret with a raw 32-byte peer public key."""
        if len(peer_public) != 32:
            raise FormatError(f"an X25519 public key is 32 bytes, got {len(peer_public)}")
        try:
            return self._x25519.exchange(X25519PublicKey.from_public_bytes(peer_public))
        except ValueError:
            raise FormatError("X25519 exchange with a low-order point refused") from None

    def x25519_private_key(self) -> X25519PrivateKey:
        """The X25519 private key itself. Emulation only: a hardware element never exports it."""
        return self._x25519

    def random(self, size: int) -> bytes:
        """Return `size` random bytes."""
        return os.urandom(size)

    def load(self) -> dict[str, Any] | None:
        """Return the verified current state, or None if none was ever saved."""
        raw = self._read()
        if raw is None:
            self._head, self._version = GENESIS, 0
            return None
        record = self._open(raw)
        self._head, self._version = hashlib.sha256(raw).hexdigest(), record["version"]
        state: dict[str, Any] = record["state"]
        return state

    def save(self, state: Mapping[str, Any]) -> int:
        """Persist `state` as the next record, chained to the one this element last saw."""
        current = self._read()
        head = GENESIS if current is None else hashlib.sha256(current).hexdigest()
        if head != self._head:
            raise StateTamperedError(
                f"the device state changed underneath the running element (expected record "
                f"{self._head[:16]}…, found {head[:16]}…): replaced or rolled back"
            )
        record = {
            "format": STATE_FORMAT,
            "version": self._version + 1,
            "previous": self._head,
            "state": dict(state),
        }
        body = _compact(record)
        raw = b'{"mac":"' + self._mac(body).encode() + b'","record":' + body + b"}"
        self._write(raw)
        self._head, self._version = hashlib.sha256(raw).hexdigest(), self._version + 1
        return self._version

    def _mac(self, body: bytes) -> str:
        return hmac.new(self._secrets.state_key, body, hashlib.sha256).hexdigest()

    def _open(self, raw: bytes) -> dict[str, Any]:
        try:
            value = parse_json(raw, limit=MAX_STATE_BYTES)
        except FormatError as exc:
            raise StateTamperedError(f"the device state is not a state file: {exc}") from None
        if not isinstance(value, dict) or set(value) != {"mac", "record"}:
            raise StateTamperedError("the device state is not a state file: wrong fields")
        record, mac = value["record"], value["mac"]
        if not isinstance(record, dict) or set(record) != _RECORD_FIELDS:
            raise StateTamperedError("the device state record has the wrong fields")
        body = _compact(record)
        if not isinstance(mac, str) or not hmac.compare_digest(mac, self._mac(body)):
            raise StateTamperedError("the device state's MAC does not verify: it was altered")
        version = record["version"]
        if record["format"] != STATE_FORMAT or not isinstance(version, int) or version < 1:
            raise StateTamperedError("the device state record has a wrong format or version")
        if not isinstance(record["state"], dict):
            raise StateTamperedError("the device state record holds no state object")
        return record

    def _read(self) -> bytes | None:
        raise NotImplementedError

    def _write(self, raw: bytes) -> None:
        raise NotImplementedError


class MemorySecureElement(_ChainedElement):
    """An element held in memory; `data` is the 'file' (tests tamper with or restore it)."""

    def __init__(self, secrets: DeviceSecrets | None = None, data: bytes | None = None) -> None:
        super().__init__(DeviceSecrets.generate() if secrets is None else secrets)
        self.data = data

    def restart(self) -> MemorySecureElement:
        """A new element over the same secrets and stored bytes (a power cycle)."""
        return MemorySecureElement(self._secrets, self.data)

    def _read(self) -> bytes | None:
        return self.data

    def _write(self, raw: bytes) -> None:
        self.data = raw


class FileSecureElement(_ChainedElement):
    """An element whose secrets and state are files in one owner-only folder."""

    def __init__(self, directory: Path) -> None:
        path = directory / SECRETS_FILE
        try:
            mode = path.stat().st_mode
        except FileNotFoundError:
            raise FormatError(f"{directory} holds no device ({SECRETS_FILE} is missing)") from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise FormatError(f"{path} is readable by others; chmod 600 it first")
        super().__init__(DeviceSecrets.from_json(path.read_bytes()))
        self.directory = directory

    @classmethod
    def create(cls, directory: Path, secrets: DeviceSecrets | None = None) -> FileSecureElement:
        """Make a new device folder with fresh (or the given) secrets; never overwrite one."""
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        made = DeviceSecrets.generate() if secrets is None else secrets
        try:
            fd = os.open(directory / SECRETS_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise FormatError(
                f"{directory} already holds a device; refusing to replace it"
            ) from None
        with os.fdopen(fd, "wb") as handle:
            handle.write(made.to_json())
            handle.flush()
            os.fsync(handle.fileno())
        _fsync_dir(directory)
        return cls(directory)

    @property
    def state_path(self) -> Path:
        """The state file."""
        return self.directory / STATE_FILE

    def _read(self) -> bytes | None:
        try:
            with self.state_path.open("rb") as handle:
                raw = handle.read(MAX_STATE_BYTES + 1)
        except FileNotFoundError:
            return None
        if len(raw) > MAX_STATE_BYTES:
            raise StateTamperedError(f"{self.state_path} is over {MAX_STATE_BYTES} bytes")
        return raw

    def _write(self, raw: bytes) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".state-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(raw)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.state_path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _fsync_dir(self.directory)


def _compact(record: Mapping[str, Any]) -> bytes:
    """The record's bytes: compact JSON with sorted keys (what the MAC covers)."""
    try:
        text = json.dumps(record, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise FormatError(f"device state is not plain JSON: {exc}") from None
    return text.encode()


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
