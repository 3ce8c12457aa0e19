"""Model locking: round trips, and every way a locked model must stay locked."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from pausebutton.cli import model as model_cli
from pausebutton.cli.model import load_x25519_key, save_x25519_key
from pausebutton.crypto import SigningKey, save_signing_key
from pausebutton.device import container
from pausebutton.device.container import TamperedModelError
from pausebutton.device.locking import (
    NoLicenceError,
    NotARecipientError,
    PauseInForceError,
    Standing,
    StandingGate,
    UnlockRefusedError,
    inspect,
    lock,
    unlock,
    x25519_key_id,
)
from pausebutton.errors import Error, FormatError, SignatureError
from tests.device.test_container import reheader, tiny_safetensors

NOW = 1_800_000_000
LICENSED = StandingGate(Standing(licence_not_before=NOW - 10, licence_not_after=NOW + 10))
SECRET = b"SECRET-WEIGHTS-" * 8
WEIGHTS = tiny_safetensors(SECRET)
DEVICE = X25519PrivateKey.from_private_bytes(b"\x11" * 32)
LOCKED = lock(WEIGHTS, [DEVICE.public_key()], model="tiny", chunk_size=32)
EVER = {"not_before": 0, "not_after": 2**40}


def key_id(key: X25519PrivateKey) -> str:
    """The key id of a device's X25519 key."""
    return x25519_key_id(key.public_key())


def open_for(key: X25519PrivateKey, data: bytes, gate: object = LICENSED) -> bytes:
    """Unlock `data` on the device holding `key`, at NOW."""
    return unlock(data, key, key_id(key), gate, NOW)  # type: ignore[arg-type]


class RecordingGate:
    """A gate that records when it was asked and answers with a fixed decision."""

    def __init__(self, refuse: Error | None) -> None:
        self.refuse = refuse
        self.asked: list[int] = []

    def may_unlock(self, now: int) -> None:
        self.asked.append(now)
        if self.refuse is not None:
            raise self.refuse


def test_a_real_torch_model_round_trips() -> None:
    torch = pytest.importorskip("torch")
    safetensors_torch = pytest.importorskip("safetensors.torch")
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4))
    weights = safetensors_torch.save(model.state_dict())
    a, b = X25519PrivateKey.generate(), X25519PrivateKey.generate()
    locked = lock(weights, [a.public_key(), b.public_key()], model="mlp", chunk_size=256)
    assert container.parse(locked).header.chunk_count() > 2
    assert bytes(weights) not in locked
    x = torch.randn(5, 8)
    for key in (a, b):
        fresh = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4))
        fresh.load_state_dict(safetensors_torch.load(open_for(key, locked)))
        assert torch.equal(fresh(x), model(x))


def test_every_recipient_unlocks_the_same_weights() -> None:
    keys = [X25519PrivateKey.generate() for _ in range(5)]
    locked = lock(WEIGHTS, [k.public_key() for k in keys], model="m")
    assert [r.key_id for r in inspect(locked).recipients] == sorted(key_id(k) for k in keys)
    assert all(open_for(k, locked) == WEIGHTS for k in keys)


def test_raw_public_key_bytes_are_accepted() -> None:
    raw = DEVICE.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    assert open_for(DEVICE, lock(WEIGHTS, [raw], model="m")) == WEIGHTS


class Element:
    """Agrees keys without ever handing its private key out, as a secure element does."""

    def __init__(self, key: X25519PrivateKey) -> None:
        self._key = key

    def x25519_public(self) -> bytes:
        return self._key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    def exchange(self, peer_public: bytes) -> bytes:
        return self._key.exchange(X25519PublicKey.from_public_bytes(peer_public))


def test_a_key_kept_inside_an_element_unlocks() -> None:
    assert unlock(LOCKED, Element(DEVICE), key_id(DEVICE), LICENSED, NOW) == WEIGHTS


def test_locked_model_on_another_device_is_refused() -> None:
    other = X25519PrivateKey.generate()
    gate = RecordingGate(None)
    with pytest.raises(NotARecipientError, match="not locked to device key"):
        open_for(other, LOCKED, gate)
    assert gate.asked == []


def test_unlock_without_licence_is_refused() -> None:
    with pytest.raises(NoLicenceError, match="no licence"):
        open_for(DEVICE, LOCKED, StandingGate(Standing()))


def test_unlock_with_an_expired_licence_is_refused() -> None:
    expired = StandingGate(Standing(licence_not_before=NOW - 100, licence_not_after=NOW))
    with pytest.raises(NoLicenceError, match="not at"):
        open_for(DEVICE, LOCKED, expired)


def test_unlock_during_pause_is_refused() -> None:
    paused = Standing(licence_not_before=0, licence_not_after=NOW * 2, pause="pause-7 global")
    with pytest.raises(PauseInForceError, match="pause-7"):
        open_for(DEVICE, LOCKED, StandingGate(paused))


def test_unlock_with_unknown_standing_fails_closed() -> None:
    with pytest.raises(UnlockRefusedError, match="unknown"):
        open_for(DEVICE, LOCKED, StandingGate(None))


def test_the_gate_is_asked_before_the_key_is_unwrapped() -> None:
    header = container.parse(LOCKED).header
    entry = header.recipients[0].model_dump()
    wrapped = bytearray(base64.b64decode(entry["wrapped_key"]))
    wrapped[0] ^= 1
    entry["wrapped_key"] = container.b64(bytes(wrapped))
    broken = reheader(LOCKED, {"recipients": [entry]})
    refusing = RecordingGate(PauseInForceError("paused"))
    with pytest.raises(PauseInForceError):
        open_for(DEVICE, broken, refusing)
    allowing = RecordingGate(None)
    with pytest.raises(TamperedModelError, match="content key wrapped"):
        open_for(DEVICE, broken, allowing)
    assert refusing.asked == allowing.asked == [NOW]


def _refused(data: bytes) -> Error:
    with pytest.raises(Error) as info:
        open_for(DEVICE, data)
    assert SECRET[:14] not in str(info.value).encode()
    return info.value


def test_tampered_locked_model_is_refused() -> None:
    """Every single byte of the file, flipped: refused, every time."""
    for index in range(len(LOCKED)):
        flipped = bytearray(LOCKED)
        flipped[index] ^= 0x01
        error = _refused(bytes(flipped))
        assert isinstance(error, FormatError | NotARecipientError), (index, error)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(index=st.integers(0, len(LOCKED) - 1), mask=st.integers(1, 255))
def test_any_flipped_bits_are_refused(index: int, mask: int) -> None:
    flipped = bytearray(LOCKED)
    flipped[index] ^= mask
    _refused(bytes(flipped))


def test_truncated_locked_model_is_refused() -> None:
    for length in range(len(LOCKED)):
        assert isinstance(_refused(LOCKED[:length]), FormatError)


def test_appended_bytes_are_refused() -> None:
    with pytest.raises(TamperedModelError, match="truncated or extended"):
        open_for(DEVICE, LOCKED + b"\0")


def test_reordered_chunks_are_refused() -> None:
    parsed = container.parse(LOCKED)
    first, second = bytes(parsed.chunks[0]), bytes(parsed.chunks[1])
    assert len(first) == len(second)
    start = len(LOCKED) - sum(len(c) for c in parsed.chunks)
    swapped = LOCKED[:start] + second + first + LOCKED[start + 2 * len(first) :]
    with pytest.raises(TamperedModelError, match="chunk 0 of"):
        open_for(DEVICE, swapped)


def test_a_dropped_final_chunk_with_a_matching_header_is_refused() -> None:
    parsed = container.parse(LOCKED)
    header = parsed.header
    size = (header.chunk_count() - 1) * header.chunk_size
    plaintext = header.plaintext.model_dump() | {"size": size}
    shorter = reheader(LOCKED[: -len(parsed.chunks[-1])], {"plaintext": plaintext})
    with pytest.raises(TamperedModelError, match="chunk 0 of"):
        open_for(DEVICE, shorter)


def test_a_signed_model_names_its_publisher() -> None:
    publisher = SigningKey.generate()
    locked = lock(WEIGHTS, [DEVICE.public_key()], model="m", publisher=publisher)
    assert inspect(locked, publisher=publisher.public).publisher == publisher.public.to_base64()
    assert unlock(locked, DEVICE, key_id(DEVICE), LICENSED, NOW, publisher=publisher.public)
    with pytest.raises(SignatureError, match="not signed by publisher"):
        unlock(LOCKED, DEVICE, key_id(DEVICE), LICENSED, NOW, publisher=publisher.public)
    impostor = SigningKey.generate()
    with pytest.raises(SignatureError, match="not signed by publisher"):
        inspect(locked, publisher=impostor.public)


def test_a_resigned_header_is_refused() -> None:
    """A recipient who rewrites the header cannot keep the publisher's signature."""
    publisher = SigningKey.generate()
    locked = lock(WEIGHTS, [DEVICE.public_key()], model="m", publisher=publisher)
    with pytest.raises(TamperedModelError, match="signature does not verify"):
        inspect(reheader(locked, {"model": "renamed"}))


def test_a_low_order_device_key_is_refused() -> None:
    with pytest.raises(FormatError, match="low-order"):
        lock(WEIGHTS, [X25519PublicKey.from_public_bytes(bytes(32))], model="m")


def test_a_device_named_twice_or_none_is_refused() -> None:
    with pytest.raises(FormatError, match="named twice"):
        lock(WEIGHTS, [DEVICE.public_key(), DEVICE.public_key()], model="m")
    with pytest.raises(FormatError, match="at least one"):
        lock(WEIGHTS, [], model="m")


def test_a_key_id_that_is_not_the_private_keys_is_refused() -> None:
    with pytest.raises(FormatError, match="is not that of the private key"):
        unlock(LOCKED, DEVICE, "00" * 32, LICENSED, NOW)


def test_device_key_files_are_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "device.key"
    save_x25519_key(DEVICE, path)
    assert key_id(load_x25519_key(path)) == key_id(DEVICE)
    with pytest.raises(FormatError, match="refusing to overwrite"):
        save_x25519_key(DEVICE, path)
    path.chmod(0o644)
    with pytest.raises(FormatError, match="readable by others"):
        load_x25519_key(path)


# The CLI, as a user runs it.


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.chdir(tmp_path)
    return CliRunner()


def _state(path: Path, licence: dict[str, int] | None, pause: str | None = None) -> str:
    body = {"format": "pausebutton.device-standing/v1", "licence": licence, "pause": pause}
    path.write_text(json.dumps(body))
    return str(path)


def test_cli_locks_inspects_and_unlocks(cli: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "w.safetensors").write_bytes(WEIGHTS)
    for name in ("a.key", "b.key"):
        assert cli.invoke(model_cli.app, ["keygen", name]).exit_code == 0
    save_signing_key(SigningKey.generate(), tmp_path / "pub.key")
    pub_b = (tmp_path / "b.key.pub").read_text().strip()
    args = ["lock", "w.safetensors", "--to", "a.key.pub", "--to", pub_b, "--out", "w.locked"]
    result = cli.invoke(model_cli.app, [*args, "--sign", "pub.key"])
    assert result.exit_code == 0, result.output
    shown = json.loads(cli.invoke(model_cli.app, ["inspect", "w.locked"]).stdout)
    assert shown["header"]["model"] == "w"
    assert len(shown["header"]["recipients"]) == 2
    licence = _state(tmp_path / "ok.json", EVER)
    unlock_b = ["unlock", "w.locked", "--device-key", "b.key", "--out", "w.out"]
    result = cli.invoke(model_cli.app, [*unlock_b, "--state", licence])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "w.out").read_bytes() == WEIGHTS
    assert (tmp_path / "w.out").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize(
    ("given_state", "licence", "pause", "message"),
    [
        (False, None, None, "UnlockRefusedError"),
        (True, None, None, "NoLicenceError"),
        (True, {"not_before": 0, "not_after": 1}, None, "NoLicenceError"),
        (True, EVER, "p1", "PauseInForceError"),
    ],
)
def test_cli_unlock_is_refused_without_standing(
    cli: CliRunner,
    tmp_path: Path,
    given_state: bool,
    licence: dict[str, int] | None,
    pause: str | None,
    message: str,
) -> None:
    (tmp_path / "w.locked").write_bytes(LOCKED)
    save_x25519_key(DEVICE, tmp_path / "d.key")
    args = ["unlock", "w.locked", "--device-key", "d.key", "--out", "w.out"]
    if given_state:
        args += ["--state", _state(tmp_path / "s.json", licence, pause)]
    result = cli.invoke(model_cli.app, args)
    assert result.exit_code == 1
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "w.out").exists()


def test_cli_refuses_a_tampered_file_and_another_device(cli: CliRunner, tmp_path: Path) -> None:
    tampered = bytearray(LOCKED)
    tampered[-1] ^= 1
    (tmp_path / "t.locked").write_bytes(bytes(tampered))
    save_x25519_key(DEVICE, tmp_path / "d.key")
    save_x25519_key(X25519PrivateKey.generate(), tmp_path / "other.key")
    licence = _state(tmp_path / "ok.json", EVER)
    for key, error in (("d.key", "TamperedModelError"), ("other.key", "NotARecipientError")):
        args = ["unlock", "t.locked", "--device-key", key, "--out", "o", "--state", licence]
        result = cli.invoke(model_cli.app, args)
        assert result.exit_code == 1
        assert error in result.output
    assert not (tmp_path / "o").exists()
