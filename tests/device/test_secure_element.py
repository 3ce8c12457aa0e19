"""The software secure element: keys, atomic hash-chained state files, and their limits."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from pausebutton.device.errors import StateTamperedError
from pausebutton.device.secure_element import (
    GENESIS,
    DeviceSecrets,
    FileSecureElement,
    MemorySecureElement,
)
from pausebutton.errors import FormatError
from tests.device.regime import secrets


def test_state_records_are_chained_and_versioned(tmp_path: Path) -> None:
    element = FileSecureElement.create(tmp_path / "gpu", secrets("a"))
    assert element.load() is None
    assert element.save({"n": 1}) == 1
    first = element.state_path.read_bytes()
    assert element.save({"n": 2}) == 2
    record = json.loads(element.state_path.read_bytes())["record"]
    assert record["previous"] == hashlib.sha256(first).hexdigest()
    assert json.loads(first)["record"]["previous"] == GENESIS
    reopened = FileSecureElement(tmp_path / "gpu")
    assert (reopened.load(), reopened.version) == ({"n": 2}, 2)
    assert sorted(p.name for p in (tmp_path / "gpu").iterdir()) == ["secrets.json", "state.json"]


def test_a_crash_during_the_write_leaves_the_old_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    element = FileSecureElement.create(tmp_path / "gpu", secrets("a"))
    element.save({"n": 1})

    def power_cut(src: object, dst: object) -> None:
        raise OSError("power cut")

    monkeypatch.setattr(os, "replace", power_cut)
    with pytest.raises(OSError, match="power cut"):
        element.save({"n": 2})
    monkeypatch.undo()
    assert FileSecureElement(tmp_path / "gpu").load() == {"n": 1}
    assert sorted(p.name for p in (tmp_path / "gpu").iterdir()) == ["secrets.json", "state.json"]


def test_secrets_are_owner_only_and_never_overwritten(tmp_path: Path) -> None:
    directory = tmp_path / "gpu"
    FileSecureElement.create(directory)
    path = directory / "secrets.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(FormatError, match="already holds a device"):
        FileSecureElement.create(directory)
    path.chmod(0o644)
    with pytest.raises(FormatError, match="readable by others"):
        FileSecureElement(directory)
    with pytest.raises(FormatError, match="holds no device"):
        FileSecureElement(tmp_path / "nothing")


def test_secrets_round_trip_and_derive_from_a_seed() -> None:
    made = DeviceSecrets.from_seed(b"seed")
    again = DeviceSecrets.from_json(made.to_json())
    assert again == made == DeviceSecrets.from_seed(b"seed")
    assert made != DeviceSecrets.from_seed(b"other")
    assert "ed25519_seed" not in repr(made)  # secrets never show in logs
    with pytest.raises(FormatError):
        DeviceSecrets.from_json(b'{"ed25519_seed": "AAAA"}')


def test_x25519_exchange_agrees_with_the_peer() -> None:
    element = MemorySecureElement(secrets("a"))
    peer = X25519PrivateKey.generate()
    peer_public = peer.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    shared = element.exchange(peer_public)
    assert shared == peer.exchange(X25519PublicKey.from_public_bytes(element.x25519_public()))
    assert (
        element.x25519_private_key().exchange(X25519PublicKey.from_public_bytes(peer_public))
        == shared
    )
    with pytest.raises(FormatError, match="low-order"):
        element.exchange(bytes(32))
    with pytest.raises(FormatError, match="32 bytes"):
        element.exchange(b"short")


def test_a_forged_record_is_refused_even_with_a_fresh_chain() -> None:
    element = MemorySecureElement(secrets("a"))
    element.save({"licensed_ops": "5"})
    record = json.loads(element.data or b"")
    record["record"]["state"] = {"licensed_ops": "0"}
    element.data = json.dumps(record).encode()
    with pytest.raises(StateTamperedError, match="MAC"):
        element.restart().load()
    other = MemorySecureElement(secrets("b"))
    other.save({"licensed_ops": "0"})
    element.data = other.data
    with pytest.raises(StateTamperedError, match="MAC"):
        element.restart().load()
