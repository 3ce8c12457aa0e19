"""The secrets a secure element holds: the device's two keys and its state MAC key."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass

from pausebutton.crypto.canonical import parse_json
from pausebutton.errors import FormatError


@dataclass(frozen=True, repr=False)
class DeviceSecrets:
    """What never leaves a real secure element: the two device keys and the state MAC key."""

    ed25519_seed: bytes
    x25519_private: bytes
    state_key: bytes

    @classmethod
    def generate(cls) -> DeviceSecrets:
        """Fresh secrets from the operating system's random source."""
        return cls(os.urandom(32), os.urandom(32), os.urandom(32))

    @classmethod
    def from_seed(cls, seed: bytes) -> DeviceSecrets:
        """Secrets derived from one seed (reproducible devices for tests and examples)."""

        def derive(label: bytes) -> bytes:
            return hashlib.sha256(b"pausebutton-device/" + label + b"\n" + seed).digest()

        return cls(derive(b"ed25519"), derive(b"x25519"), derive(b"state-mac"))

    def to_json(self) -> bytes:
        """The secrets as JSON with base64 values."""
        values = {
            "ed25519_seed": self.ed25519_seed,
            "x25519_private": self.x25519_private,
            "state_key": self.state_key,
        }
        text = {k: base64.b64encode(v).decode() for k, v in values.items()}
        return json.dumps(text, indent=2).encode() + b"\n"

    @classmethod
    def from_json(cls, data: bytes) -> DeviceSecrets:
        """Read secrets written by `to_json`."""
        value = parse_json(data, limit=4096)
        try:
            raw = {k: base64.b64decode(value[k], validate=True) for k in value}
            secrets = cls(raw["ed25519_seed"], raw["x25519_private"], raw["state_key"])
        except (KeyError, TypeError, ValueError) as exc:
            raise FormatError(f"device secrets: {exc}") from None
        if {len(secrets.ed25519_seed), len(secrets.x25519_private), len(secrets.state_key)} != {32}:
            raise FormatError("device secrets: every secret is 32 bytes")
        return secrets
