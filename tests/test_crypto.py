"""Keys, canonical bytes and k-of-n signed envelopes."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pausebutton.crypto import (
    SigningKey,
    VerifyKey,
    canonical_bytes,
    key_id,
    load_signing_key,
    parse_envelope,
    save_signing_key,
    sign_envelope,
    verify_threshold,
)
from pausebutton.crypto.envelope import MAX_ENVELOPE_BYTES, EnvelopeSignature
from pausebutton.errors import Error, FormatError, SignatureError

KEYS = [SigningKey.from_seed(bytes([i]) * 32) for i in range(5)]


def test_key_id_is_sha256_of_the_raw_public_key() -> None:
    key = KEYS[0]
    assert key.key_id == hashlib.sha256(key.public.raw).hexdigest()
    assert key_id(key.public.raw) == key.key_id
    with pytest.raises(FormatError):
        key_id(b"short")


def test_rfc8032_test_vector_1() -> None:
    """RFC 8032 section 7.1, TEST 1: the empty message."""
    seed = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
    key = SigningKey.from_seed(seed)
    assert key.public.raw.hex() == (
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    )
    assert key.sign(b"").hex() == (
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
        "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
    )


def test_saved_key_is_owner_only_and_loads_back(tmp_path: Path) -> None:
    path = tmp_path / "governor.key"
    save_signing_key(KEYS[1], path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_signing_key(path).key_id == KEYS[1].key_id


def test_saving_over_an_existing_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "k.key"
    save_signing_key(KEYS[0], path)
    with pytest.raises(FormatError, match="refusing to overwrite"):
        save_signing_key(KEYS[1], path)
    assert load_signing_key(path).key_id == KEYS[0].key_id


def test_world_readable_key_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "k.key"
    save_signing_key(KEYS[0], path)
    os.chmod(path, 0o644)
    with pytest.raises(FormatError, match="readable by others"):
        load_signing_key(path)


def test_garbage_key_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "k.key"
    path.write_bytes(b"not a key")
    os.chmod(path, 0o600)
    with pytest.raises(FormatError, match="PEM"):
        load_signing_key(path)
    with pytest.raises(FormatError, match="no key file"):
        load_signing_key(tmp_path / "missing.key")


def test_canonical_bytes_follow_rfc8785() -> None:
    assert canonical_bytes({"b": 1, "a": [1.0, "é", None, True]}) == (
        '{"a":[1,"é",null,true],"b":1}'.encode()
    )
    with pytest.raises(FormatError):
        canonical_bytes({"x": float("nan")})


def test_envelope_round_trip_and_threshold() -> None:
    envelope = sign_envelope("pausebutton.test/v1", {"n": 1}, KEYS[:3])
    parsed = parse_envelope(envelope.to_bytes())
    assert parsed == envelope
    assert verify_threshold(parsed, [k.public for k in KEYS], 3) == {k.key_id for k in KEYS[:3]}


def test_too_few_signatures_are_refused() -> None:
    envelope = sign_envelope("pausebutton.test/v1", {"n": 1}, KEYS[:2])
    with pytest.raises(SignatureError, match="2 valid signature"):
        verify_threshold(envelope, [k.public for k in KEYS], 3)


def test_signatures_by_keys_outside_the_allowed_set_do_not_count() -> None:
    envelope = sign_envelope("pausebutton.test/v1", {"n": 1}, KEYS[2:])
    allowed = [k.public for k in KEYS[:3]]
    with pytest.raises(SignatureError, match=r"2 required \(2 by keys not allowed\)"):
        verify_threshold(envelope, allowed, 2)


def test_same_key_twice_is_refused() -> None:
    envelope = sign_envelope("pausebutton.test/v1", {"n": 1}, KEYS[:1])
    doubled = envelope.model_copy(update={"signatures": envelope.signatures * 2})
    with pytest.raises(SignatureError, match="more than once"):
        verify_threshold(doubled, [k.public for k in KEYS], 1)
    with pytest.raises(SignatureError, match="already signed"):
        envelope.with_signature(KEYS[0])


def test_signature_over_other_payload_is_refused() -> None:
    envelope = sign_envelope("pausebutton.test/v1", {"n": 1}, KEYS[:1])
    forged = envelope.model_copy(update={"payload": {"n": 2}})
    with pytest.raises(SignatureError, match="does not verify"):
        verify_threshold(forged, [KEYS[0].public], 1)


def test_signature_for_another_payload_type_is_refused() -> None:
    """Domain separation: a licence signature cannot be replayed as a pause directive."""
    envelope = sign_envelope("pausebutton.licence/v1", {"n": 1}, KEYS[:1])
    moved = envelope.model_copy(update={"payload_type": "pausebutton.pause/v1"})
    with pytest.raises(SignatureError):
        verify_threshold(moved, [KEYS[0].public], 1)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"{", "not valid JSON"),
        (b"[]", "malformed envelope"),
        (b'{"payload_type": "x", "payload": {}, "signatures": [], "extra": 1}', "extra"),
        (b'{"payload_type": "BAD TYPE", "payload": {}}', "payload_type"),
        (
            b'{"payload_type": "t", "payload": {}, "signatures": [{"keyid": "00", "sig": "x"}]}',
            "keyid",
        ),
        (b"\xff\xfe", "not valid JSON"),
        (b" " * (MAX_ENVELOPE_BYTES + 1), "over the limit"),
    ],
)
def test_malformed_envelopes_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        parse_envelope(data)


def test_bad_signature_encoding_is_refused() -> None:
    envelope = sign_envelope("pausebutton.test/v1", {"n": 1}, KEYS[:1])
    for bad in ["!!!", base64.b64encode(b"x" * 10).decode()]:
        broken = envelope.model_copy(
            update={"signatures": (EnvelopeSignature(keyid=KEYS[0].key_id, sig=bad),)}
        )
        with pytest.raises(SignatureError):
            verify_threshold(broken, [KEYS[0].public], 1)


def test_impossible_thresholds_are_refused() -> None:
    envelope = sign_envelope("pausebutton.test/v1", {"n": 1}, KEYS[:1])
    with pytest.raises(SignatureError, match="at least 1"):
        verify_threshold(envelope, [KEYS[0].public], 0)
    with pytest.raises(SignatureError, match="exceeds"):
        verify_threshold(envelope, [KEYS[0].public], 2)


@settings(max_examples=100, deadline=None)
@given(k=st.integers(1, 5), signers=st.sets(st.integers(0, 4)))
def test_fewer_than_k_distinct_allowed_signers_never_pass(k: int, signers: set[int]) -> None:
    envelope = sign_envelope("pausebutton.test/v1", {"k": k}, [KEYS[i] for i in sorted(signers)])
    allowed = [key.public for key in KEYS]
    if len(signers) >= k:
        assert len(verify_threshold(envelope, allowed, k)) == len(signers)
    else:
        with pytest.raises(SignatureError):
            verify_threshold(envelope, allowed, k)


@settings(max_examples=150, deadline=None)
@given(position=st.integers(0, 10_000), value=st.integers(0, 255))
def test_any_byte_change_is_refused_with_a_typed_error(position: int, value: int) -> None:
    data = bytearray(sign_envelope("pausebutton.test/v1", {"n": 1}, KEYS[:2]).to_bytes())
    position %= len(data)
    if data[position] == value:
        return
    data[position] = value
    try:
        envelope = parse_envelope(bytes(data))
        verify_threshold(envelope, [k.public for k in KEYS[:2]], 2)
    except Error:
        return
    # A change that still parses and verifies must be semantically the same document.
    assert json.loads(bytes(data)) == json.loads(
        sign_envelope("pausebutton.test/v1", {"n": 1}, KEYS[:2]).to_bytes()
    )


def test_verify_key_base64_round_trip() -> None:
    text = KEYS[2].public.to_base64()
    assert VerifyKey.from_base64(text) == KEYS[2].public
    with pytest.raises(FormatError):
        VerifyKey.from_base64("@@@")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"a": 1, "a": 2}', "duplicate key"),
        (b'{"a": NaN}', "NaN is not allowed"),
        (b"[" * 30000, "nested too deeply|not valid JSON"),
    ],
)
def test_ambiguous_json_is_refused(data: bytes, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        parse_envelope(data)
    with pytest.raises(FormatError):
        parse_envelope("\ud800")


def test_non_canonical_signature_base64_is_refused() -> None:
    """Stray low bits in the last base64 character must not give a second spelling."""
    envelope = sign_envelope("pausebutton.test/v1", {"n": 1}, KEYS[:1])
    sig = envelope.signatures[0].sig
    last = sig[-3]  # 64 bytes -> 88 chars ending in '=='; the char before them has 4 spare bits
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    tweaked = sig[:-3] + alphabet[alphabet.index(last) ^ 1] + sig[-2:]
    broken = envelope.model_copy(
        update={"signatures": (EnvelopeSignature(keyid=KEYS[0].key_id, sig=tweaked),)}
    )
    with pytest.raises(SignatureError, match="canonical"):
        verify_threshold(broken, [KEYS[0].public], 1)
