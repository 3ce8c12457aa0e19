"""The locked-model container format: layout, strict header, chunking, and the docs example."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import re
import struct
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from pausebutton.crypto import canonical_bytes
from pausebutton.device import container
from pausebutton.device.container import TamperedModelError, check_safetensors
from pausebutton.device.locking import lock
from pausebutton.errors import FormatError

DOC = Path(__file__).parents[2] / "docs" / "model-locking.md"


def tiny_safetensors(payload: bytes = bytes(range(40)), name: str = "w") -> bytes:
    """A valid safetensors file of one U8 tensor holding `payload` (standard library only)."""
    header = json.dumps(
        {name: {"dtype": "U8", "shape": [len(payload)], "data_offsets": [0, len(payload)]}}
    ).encode()
    return len(header).to_bytes(8, "little") + header + payload


def device() -> X25519PrivateKey:
    """A fresh device key."""
    return X25519PrivateKey.generate()


def reheader(locked: bytes, change: dict[str, object]) -> bytes:
    """Rewrite a container's header with `change` applied (no key needed, so no tag fixes)."""
    _, _, length = container.PREFIX.unpack_from(locked)
    value = json.loads(locked[12 : 12 + length])
    value.update(change)
    body = canonical_bytes(value)
    return container.PREFIX.pack(b"PBLOCK", 1, len(body)) + body + locked[12 + length :]


def test_layout_is_magic_version_length_header_then_chunks() -> None:
    weights = tiny_safetensors(bytes(100))
    locked = lock(weights, [device().public_key()], model="m", chunk_size=16)
    magic, version, length = struct.unpack(">6sHI", locked[:12])
    assert (magic, version) == (b"PBLOCK", 1)
    header = json.loads(locked[12 : 12 + length])
    assert canonical_bytes(header) == locked[12 : 12 + length]
    size = header["plaintext"]["size"]
    assert size == len(weights)
    assert header["plaintext"]["sha256"] == hashlib.sha256(weights).hexdigest()
    chunks = -(-size // 16)
    assert len(locked) == 12 + length + size + 16 * chunks
    parsed = container.parse(locked)
    last = (size % 16 or 16) + 16
    assert [len(c) for c in parsed.chunks] == [16 + 16] * (chunks - 1) + [last]


def test_nonce_and_associated_data_carry_the_index_and_the_final_flag() -> None:
    locked = lock(tiny_safetensors(bytes(100)), [device().public_key()], model="m", chunk_size=64)
    parsed = container.parse(locked)
    header = parsed.header
    assert header.chunk_count() == 3
    prefix = bytes.fromhex(header.nonce_prefix)
    assert container.chunk_nonce(header, 0) == prefix + b"\0\0\0\0\0"
    assert container.chunk_nonce(header, 2) == prefix + b"\0\0\0\2\1"
    digest = hashlib.sha256(locked[: 12 + struct.unpack(">I", locked[8:12])[0]]).digest()
    assert parsed.header_digest == digest
    assert container.chunk_aad(digest, header, 1) == digest + b"\0\0\0\1\0"
    assert container.chunk_aad(digest, header, 2) == digest + b"\0\0\0\2\1"


def test_a_file_that_is_not_a_locked_model_is_refused() -> None:
    with pytest.raises(FormatError, match="bad magic") as info:
        container.parse(tiny_safetensors())
    assert not isinstance(info.value, TamperedModelError)


def test_an_unknown_version_is_refused() -> None:
    locked = lock(tiny_safetensors(), [device().public_key()], model="m")
    with pytest.raises(FormatError, match="version 2 is not supported"):
        container.parse(locked[:6] + b"\0\2" + locked[8:])


def test_a_non_canonical_header_is_refused() -> None:
    locked = lock(tiny_safetensors(), [device().public_key()], model="m")
    _, _, length = container.PREFIX.unpack_from(locked)
    body = json.dumps(json.loads(locked[12 : 12 + length]), indent=1).encode()
    spaced = container.PREFIX.pack(b"PBLOCK", 1, len(body)) + body + locked[12 + length :]
    with pytest.raises(TamperedModelError, match="canonical"):
        container.parse(spaced)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"extra": 1}, "extra"),
        ({"aead": "AES-128-GCM"}, "aead"),
        ({"chunk_size": 8}, "chunk_size"),
        ({"model": "a\nb"}, "model"),
        ({"recipients": []}, "recipients"),
        ({"publisher": "not base64"}, "publisher"),
    ],
)
def test_a_malformed_header_is_refused(change: dict[str, object], message: str) -> None:
    locked = lock(tiny_safetensors(), [device().public_key()], model="m")
    with pytest.raises(TamperedModelError, match=message):
        container.parse(reheader(locked, change))


def test_recipients_out_of_order_are_refused() -> None:
    locked = lock(tiny_safetensors(), [device().public_key(), device().public_key()], model="m")
    header = container.parse(locked).header
    backwards = [r.model_dump() for r in reversed(header.recipients)]
    with pytest.raises(TamperedModelError, match="sorted by key_id"):
        container.parse(reheader(locked, {"recipients": backwards}))


def test_a_changed_size_no_longer_fits_the_file() -> None:
    locked = lock(tiny_safetensors(), [device().public_key()], model="m")
    header = container.parse(locked).header
    plaintext = header.plaintext.model_dump() | {"size": header.plaintext.size + 1}
    with pytest.raises(TamperedModelError, match="truncated or extended"):
        container.parse(reheader(locked, {"plaintext": plaintext}))


def test_only_safetensors_can_be_locked() -> None:
    pickle = b"\x80\x04\x95" + bytes(60)
    with pytest.raises(FormatError, match="not safetensors"):
        lock(pickle, [device().public_key()], model="m")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x01\0\0\0\0\0\0\0{",
        b"\x02\0\0\0\0\0\0\0[]",
        b"\x10\0\0\0\0\0\0\0" + b'{"w": 1}' + b" " * 8,
        tiny_safetensors(b"ab")[:-1],
    ],
)
def test_malformed_safetensors_are_refused(data: bytes) -> None:
    with pytest.raises(FormatError, match="not safetensors"):
        check_safetensors(data)


def test_safetensors_with_metadata_are_accepted() -> None:
    header = b'{"__metadata__":{"k":"v"},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'
    assert check_safetensors(len(header).to_bytes(8, "little") + header + bytes(4)) == 1


def _block(marker: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    found = re.search(rf"<!-- {marker} -->\n```[a-z]*\n(.*?)\n```", text, re.DOTALL)
    assert found, marker
    return found.group(1)


def test_the_documented_example_is_real_output() -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(_block("locking-example"), str(DOC), "exec"), {"__name__": "example"})
    assert out.getvalue().rstrip("\n") == _block("locking-example-output")
