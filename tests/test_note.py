"""C2SP signed notes: published vectors, derived vectors, attacks, and properties.

This module also holds the generator of tests/data/notes.json (`derive_vectors`): it builds
every derived vector from the specifications with hashlib, base64 and pyca/cryptography
only, never with pausebutton code, so the vectors check the implementation independently.
Regenerate with ``.venv/bin/python -m tests.test_note``; a test keeps the file in step.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from pausebutton.crypto.keys import SigningKey
from pausebutton.errors import FormatError, NoteError
from pausebutton.log.note import (
    MAX_NOTE_SIZE,
    MAX_SIGNATURES,
    Note,
    Signature,
    Signer,
    Verifier,
    add_signatures,
    key_id,
    parse_signed_note,
    sign,
    verify,
)
from tests.vectors import _load, shared_vectors

DERIVED = Path(__file__).parent / "data" / "notes.json"
MAX_UINT64 = 2**64 - 1

# ---------------------------------------------------------------------------------------------
# The generator of tests/data/notes.json: spec rules applied with primitives only.


def _seed(label: str) -> bytes:
    return hashlib.sha256(b"pausebutton test key: " + label.encode()).digest()


def _public(label: str) -> bytes:
    key = Ed25519PrivateKey.from_private_bytes(_seed(label)).public_key()
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _ed25519(label: str, msg: bytes) -> bytes:
    return Ed25519PrivateKey.from_private_bytes(_seed(label)).sign(msg)


def _kid(name: str, sig_type: int, label: str) -> bytes:
    blob = name.encode() + b"\n" + bytes([sig_type]) + _public(label)
    return hashlib.sha256(blob).digest()[:4]


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _vkey(name: str, sig_type: int, label: str) -> str:
    return f"{name}+{_kid(name, sig_type, label).hex()}+{_b64(bytes([sig_type]) + _public(label))}"


def _line(name: str, kid: bytes, sig: bytes) -> str:
    return f"\u2014 {name} {_b64(kid + sig)}\n"


LOG = "example.org/log"
OTHER = "example.org/other"
UNICODE = "p\u00e9lda.hu/napl\u00f3"
WITNESS = "witness.example.org/w1"
EMPTY_ROOT = hashlib.sha256(b"").digest()


def _signed_line(name: str, label: str, text: str) -> str:
    """A type 0x01 signature line by the key `label` named `name` over `text`."""
    return _line(name, _kid(name, 1, label), _ed25519(label, text.encode()))


def _cosig_line(text: str, timestamp: int, sig_ts: int | None = None) -> str:
    """A type 0x04 cosignature line by the witness key; `sig_ts` overrides the signed time."""
    signed = f"cosignature/v1\ntime {timestamp if sig_ts is None else sig_ts}\n{text}".encode()
    body = timestamp.to_bytes(8, "big") + _ed25519("witness", signed)
    return _line(WITNESS, _kid(WITNESS, 4, "witness"), body)


def _note_case(
    name: str,
    why: str,
    raw: bytes,
    keys: list[str],
    *,
    error: str | None = None,
    text: str | None = None,
    verified: list[str] | None = None,
    unverified: list[str] | None = None,
    policy: str = "spec",
) -> dict[str, Any]:
    try:
        note_text: str | None = raw.decode()
    except UnicodeDecodeError:
        note_text = None
    case: dict[str, Any] = {"name": name, "why": why, "policy": policy}
    case |= {"verifier_keys": keys, "note_base64": _b64(raw), "note_text": note_text}
    if error is not None:
        return case | {"expect_ok": False, "expect_error": error}
    return case | {
        "expect_ok": True,
        "expect_text": text,
        "expect_verified": verified or [],
        "expect_unverified": unverified or [],
    }


def _derive_notes() -> list[dict[str, Any]]:
    log_key = _vkey(LOG, 1, "log")
    log_id = f"{LOG}+{_kid(LOG, 1, 'log').hex()}"
    text = "pausebutton derived vector\n"
    good = _signed_line(LOG, "log", text)
    sig64 = _ed25519("log", text.encode())
    kid = _kid(LOG, 1, "log")
    cases = []

    def ok(name: str, why: str, body: str, sigs: str, **kw: Any) -> None:
        raw = (body + "\n" + sigs).encode()
        cases.append(_note_case(name, why, raw, [log_key], text=body, **kw))

    def bad(name: str, why: str, raw: bytes | str, error: str, **kw: Any) -> None:
        data = raw.encode() if isinstance(raw, str) else raw
        cases.append(_note_case(name, why, data, kw.pop("keys", [log_key]), error=error, **kw))

    for body, why in [
        ("\n", "the shortest text: a single newline"),
        ("a\n\nb\n", "blank lines inside the text; the last blank line separates"),
        ("a\n\n", "a text that itself ends with a blank line"),
        ("del \x7f nel \u0085 ls \u2028 bom \ufeff\n", "only controls below U+0020 are banned"),
    ]:
        ok(f"text: {why}", why, body, _signed_line(LOG, "log", body), verified=[log_id])
    uni_key = _vkey(UNICODE, 1, "unicode")
    uni_line = _signed_line(UNICODE, "unicode", text)
    cases.append(
        _note_case(
            "unicode key name",
            "key names are UTF-8; only spaces and '+' are excluded",
            (text + "\n" + uni_line).encode(),
            [uni_key],
            text=text,
            verified=[f"{UNICODE}+{_kid(UNICODE, 1, 'unicode').hex()}"],
        )
    )
    other_id_same_name = _line(LOG, _kid(LOG, 1, "other"), _ed25519("other", text.encode()))
    ok(
        "unknown key sharing the name of a known key",
        "name matches but key id does not: ignored, kept unverified",
        text,
        good + other_id_same_name,
        verified=[log_id],
        unverified=[f"{LOG}+{_kid(LOG, 1, 'other').hex()}"],
    )
    ok(
        "unknown key sharing the key id of a known key",
        "key id matches but name does not: ignored, kept unverified",
        text,
        good + _line(OTHER, kid, sig64),
        verified=[log_id],
        unverified=[f"{OTHER}+{kid.hex()}"],
    )
    ok("repeated identical line", "counted once", text, good * 3, verified=[log_id])
    ok(
        f"{MAX_SIGNATURES} signature lines",
        f"the limit is {MAX_SIGNATURES} lines, duplicates included",
        text,
        good * MAX_SIGNATURES,
        verified=[log_id],
    )
    tail = "\n" + good
    for name, raw in [
        ("no blank line", text + good),
        ("CRLF line endings", text.replace("\n", "\r\n") + "\r\n" + good.replace("\n", "\r\n")),
        ("tab in the text", "a\tb\n" + tail),
        ("NUL in the text", "a\x00b\n" + tail),
        ("escape in a signature line", text + "\n" + good.replace(" ", " \x1b", 1)),
        ("no space after the em dash", text + "\n" + good.replace("\u2014 ", "\u2014", 1)),
        ("hyphen instead of em dash", text + "\n" + good.replace("\u2014", "-", 1)),
        ("two spaces before the signature", text + "\n" + good.replace(f"{LOG} ", f"{LOG}  ")),
        ("trailing space after the signature", text + "\n" + good[:-1] + " \n"),
        ("'+' in the key name", text + "\n" + _line("a+b", kid, sig64)),
        ("no-break space in the key name", text + "\n" + _line("a\u00a0b", kid, sig64)),
        ("empty key name", text + "\n" + _line("", kid, sig64)),
        ("unpadded base64", text + "\n" + good.replace("=\n", "\n")),
        ("signature of 4 bytes (key id only)", text + "\n" + _line(LOG, kid, b"")),
        ("no final newline", text + "\n" + good[:-1]),
        ("text line after the signatures", text + "\n" + good + "trailer\n"),
    ]:
        bad(f"malformed: {name}", name, raw, "malformed note")
    bad(
        "malformed: overlong UTF-8 '/'",
        "C0 AF",
        b"a\xc0\xafb\n\n" + good.encode(),
        "malformed note",
    )
    bad(
        "malformed: UTF-8 surrogate",
        "ED A0 80",
        b"a\xed\xa0\x80\n\n" + good.encode(),
        "malformed note",
    )
    last = good[-3]  # the base64 digit before "=\n" carries 2 unused bits; set one
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    loose = good[:-3] + alphabet[alphabet.index(last) ^ 1] + good[-2:]
    bad(
        "malformed: non-canonical base64 (unused bits set)",
        "one signature, one spelling; Go's decoder accepts this line",
        text + "\n" + loose,
        "malformed note",
        policy="stricter than golang.org/x/mod/sumdb/note",
    )
    bad(
        f"malformed: {MAX_SIGNATURES + 1} signature lines",
        "over the limit, even if identical",
        text + "\n" + good * (MAX_SIGNATURES + 1),
        "malformed note",
    )
    invalid = f"invalid signature for key {log_id}"
    bad(
        "signature over another text",
        "a valid signature moved to a different text",
        "another text\n\n" + good,
        invalid,
    )
    bad(
        "signature block split by a blank line",
        "the first block becomes text, so the known key's signature no longer covers it",
        text + "\n" + good + "\n" + good,
        invalid,
    )
    bad(
        "known key, 63-byte signature",
        "wrong length",
        text + "\n" + _line(LOG, kid, sig64[:63]),
        invalid,
    )
    corrupt = _line(LOG, kid, sig64[:10] + bytes([sig64[10] ^ 1]) + sig64[11:])
    bad(
        "known key, valid line then an invalid one",
        "every signature by a known key is verified; Go checks only the first",
        text + "\n" + good + corrupt,
        invalid,
        policy="stricter than golang.org/x/mod/sumdb/note (spec: MUST verify)",
    )
    bad(
        "only unknown signers",
        "no signature by a known key",
        text + "\n" + _signed_line(OTHER, "other", text),
        "note has no verifiable signatures",
    )
    return cases


def _derive_checkpoints() -> dict[str, Any]:
    root = _b64(hashlib.sha256(b"pausebutton").digest())
    accept = [
        ("empty tree", f"example.org/log\n0\n{_b64(EMPTY_ROOT)}\n"),
        ("largest uint64 size", f"example.org/log\n{MAX_UINT64}\n{root}\n"),
        ("extension lines", f"example.org/log\n7\n{root}\nfirst ext\n\u2014 second\n"),
        ("origin with spaces and '+' (only a SHOULD)", f"a log + more\n7\n{root}\n"),
    ]
    reject = [
        ("size with a leading zero", f"L\n01\n{root}\n"),
        ("size 00", f"L\n00\n{root}\n"),
        ("size with a plus sign", f"L\n+1\n{root}\n"),
        ("size with a space", f"L\n 1\n{root}\n"),
        ("size with an underscore", f"L\n1_000\n{root}\n"),
        ("fullwidth digit size", f"L\n\uff11\n{root}\n"),
        ("Arabic-Indic digit size", f"L\n\u0663\n{root}\n"),
        ("size 2^64", f"L\n{MAX_UINT64 + 1}\n{root}\n"),
        ("root of 31 bytes", f"L\n1\n{_b64(bytes(31))}\n"),
        ("root of 33 bytes", f"L\n1\n{_b64(bytes(33))}\n"),
        ("root without padding", f"L\n1\n{root.rstrip('=')}\n"),
        ("root with unused bits set", f"L\n1\n{_b64(bytes(32))[:-2]}B=\n"),
        ("root in URL-safe base64", f"L\n1\n{_b64(bytes([251]) * 32).replace('+', '-')}\n"),
        ("empty extension line", f"L\n1\n{root}\n\n"),
        ("empty extension line between two", f"L\n1\n{root}\na\n\nb\n"),
        ("empty origin", f"\n1\n{root}\n"),
        ("CRLF line endings", f"L\r\n1\r\n{root}\r\n"),
        ("tab in the origin", f"L\tog\n1\n{root}\n"),
        ("no final newline", f"L\n1\n{root}"),
        ("two lines", "L\n1\n"),
    ]
    return {
        "accept": [
            {
                "name": n,
                "text": t,
                "origin": t.split("\n")[0],
                "size": int(t.split("\n")[1]),
                "root_hex": base64.b64decode(t.split("\n")[2]).hex(),
                "extensions": t.split("\n")[3:-1],
            }
            for n, t in accept
        ],
        "reject": [{"name": n, "text": t} for n, t in reject],
    }


def _derive_cosignatures() -> dict[str, Any]:
    text = f"example.org/log\n42\n{_b64(hashlib.sha256(b'root 42').digest())}\nan extension\n"
    log_line = _signed_line(LOG, "log", text)
    keys = [_vkey(LOG, 1, "log"), _vkey(WITNESS, 4, "witness")]
    cases = []
    for ts in (0, 1_700_000_000, 2**63 - 1):
        cases.append(
            {
                "name": f"cosignature at time {ts}",
                "checkpoint_note": text + "\n" + log_line,
                "timestamp": ts,
                "signed_message": f"cosignature/v1\ntime {ts}\n{text}",
                "expect_note": text + "\n" + log_line + _cosig_line(text, ts),
                "expect_ok": True,
            }
        )
    refused = [
        ("timestamp above 2^63-1", _cosig_line(text, 2**63), "invalid signature"),
        ("timestamp field changed", _cosig_line(text, 7, sig_ts=8), "invalid signature"),
        (
            "plain Ed25519 signature under the cosigner's 0x04 key id",
            _line(WITNESS, _kid(WITNESS, 4, "witness"), _ed25519("witness", text.encode())),
            "invalid signature",
        ),
    ]
    for name, line, error in refused:
        cases.append(
            {
                "name": name,
                "note": text + "\n" + log_line + line,
                "expect_ok": False,
                "expect_error": error,
            }
        )
    cases.append(
        {
            "name": "witness key used as a plain 0x01 note key is not a cosignature",
            "note": text + "\n" + log_line + _signed_line(WITNESS, "witness", text),
            "expect_ok": True,
            "expect_cosignatures": 0,
        }
    )
    return {"verifier_keys": keys, "cases": cases}


def derive_vectors() -> dict[str, Any]:
    """Return the contents of tests/data/notes.json."""
    return {
        "_about": (
            "Vectors derived by pausebutton from c2sp.org/signed-note, tlog-checkpoint and "
            "tlog-cosignature. Produced by tests/test_note.py::derive_vectors with hashlib, "
            "base64 and pyca/cryptography only (no pausebutton code); regenerate with "
            "'.venv/bin/python -m tests.test_note'. Keys: Ed25519 seed = "
            "SHA-256('pausebutton test key: ' + label). expect_error is a prefix of "
            "pausebutton's NoteError message (Go's wording where Go has one). 'policy' says "
            "where pausebutton is deliberately stricter than Go's sumdb/note."
        ),
        "keys": {
            label: {
                "name": name,
                "sig_type": t,
                "seed_hex": _seed(label).hex(),
                "verifier_key": _vkey(name, t, label),
            }
            for label, name, t in [
                ("log", LOG, 1),
                ("other", OTHER, 1),
                ("unicode", UNICODE, 1),
                ("witness", WITNESS, 4),
            ]
        },
        "notes": _derive_notes(),
        "checkpoints": _derive_checkpoints(),
        "cosignatures": _derive_cosignatures(),
    }


if __name__ == "__main__":
    DERIVED.parent.mkdir(exist_ok=True)
    DERIVED.write_text(json.dumps(derive_vectors(), indent=1, ensure_ascii=False) + "\n")


# ---------------------------------------------------------------------------------------------
# Helpers for the tests.


def shared_params(section: str, key: str) -> list[Any]:
    """Parametrise by index over a list in ../shared vectors (one skipping case if absent)."""
    data = _load()
    cases = data[section][key] if data is not None else [{}]
    return [pytest.param(i, id=str(c.get("name", i))) for i, c in enumerate(cases)]


def derived() -> dict[str, Any]:
    """The derived vectors file."""
    data: dict[str, Any] = json.loads(DERIVED.read_text())
    return data


def _labels(sigs: tuple[Signature, ...]) -> list[str]:
    return [f"{s.name}+{s.key_id:08x}" for s in sigs]


def _check_open_case(case: dict[str, Any]) -> None:
    verifiers = [Verifier.from_vkey(k) for k in case["verifier_keys"]]
    raw = base64.b64decode(case["note_base64"])
    if not case["expect_ok"]:
        with pytest.raises(NoteError) as info:
            verify(raw, verifiers)
        assert str(info.value).startswith(case["expect_error"]), str(info.value)
        return
    note = verify(raw, verifiers)
    assert note.text == case["expect_text"]
    assert _labels(note.sigs) == case["expect_verified"]
    assert _labels(note.unverified_sigs) == case["expect_unverified"]
    if case.get("note_text") is not None:
        assert verify(case["note_text"], verifiers) == note


PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
TEXT = "If you think cryptography is the answer to your problem,\n"


def _signer(label: str, name: str) -> Signer:
    return Signer.from_signing_key(name, SigningKey.from_seed(_seed(label)))


# ---------------------------------------------------------------------------------------------
# Published vectors (../shared/vectors/tlog.json, section signed_note).


@pytest.mark.parametrize("i", shared_params("signed_note", "key_ids"))
def test_published_key_ids(i: int) -> None:
    case = shared_vectors("signed_note")["key_ids"][i]
    public = bytes.fromhex(case["public_key_hex"])
    assert f"{key_id(case['name'], case['sig_type'], public):08x}" == case["expect_key_id"]
    if case["sig_type"] == 1:
        verifier = Verifier.from_vkey(case["verifier_key"])
        assert (verifier.name, verifier.public_key) == (case["name"], public)
        assert verifier.vkey() == case["verifier_key"]


@pytest.mark.parametrize("i", shared_params("signed_note", "verifier_key_parsing"))
def test_published_verifier_key_parsing(i: int) -> None:
    case = shared_vectors("signed_note")["verifier_key_parsing"][i]
    if case["expect_ok"]:
        assert Verifier.from_vkey(case["verifier_key"]).vkey() == case["verifier_key"]
        return
    with pytest.raises(FormatError) as info:
        Verifier.from_vkey(case["verifier_key"])
    assert str(info.value).startswith(case.get("expect_error", "")), str(info.value)


def test_every_mangled_verifier_key_is_refused() -> None:
    """Go's TestNewVerifier loop: every proper substring and every byte increment fails."""
    good = Verifier.from_vkey(PETER_VKEY)
    raw = PETER_VKEY.encode()
    mangled = {raw[i:j] for i in range(len(raw) + 1) for j in range(i + 1, len(raw) + 1)}
    mangled.discard(raw)
    mangled |= {raw[:i] + bytes([raw[i] + 1]) + raw[i + 1 :] for i in range(len(raw))}
    for candidate in mangled:
        try:
            parsed = Verifier.from_vkey(candidate.decode())
        except FormatError:
            continue
        assert parsed != good, candidate


def test_every_mangled_signer_key_is_refused() -> None:
    """Go's TestNewSigner loop over the private key string."""
    raw = PETER_SKEY.encode()
    mangled = {raw[i:j] for i in range(len(raw) + 1) for j in range(i + 1, len(raw) + 1)}
    mangled.discard(raw)
    mangled |= {raw[:i] + bytes([raw[i] + 1]) + raw[i + 1 :] for i in range(len(raw))}
    for candidate in mangled:
        with pytest.raises(FormatError):
            Signer.from_skey(candidate.decode())


@pytest.mark.parametrize("i", shared_params("signed_note", "open"))
def test_published_notes_open_as_go_does(i: int) -> None:
    _check_open_case(shared_vectors("signed_note")["open"][i])


@pytest.mark.parametrize("i", shared_params("signed_note", "sign"))
def test_published_signatures_are_reproduced(i: int) -> None:
    case = shared_vectors("signed_note")["sign"][i]
    signer = Signer.from_skey(case["signer_key"])
    assert signer.skey() == case["signer_key"]
    assert signer.vkey() == case["verifier_key"]
    if "text" in case:
        signed = sign(case["text"], [signer])
    else:
        signed = add_signatures(case["existing_signed_note"], [signer])
    assert signed == case["expect_signed_note"]
    assert verify(signed, [signer.verifier()]).sigs[-1].name == signer.name


# ---------------------------------------------------------------------------------------------
# Derived vectors (tests/data/notes.json).


def test_derived_vectors_file_is_reproducible() -> None:
    assert derived() == json.loads(json.dumps(derive_vectors()))


def test_derived_keys_match_the_implementation() -> None:
    for label, key in derived()["keys"].items():
        if key["sig_type"] != 1:
            continue
        signer = _signer(label, key["name"])
        assert signer.vkey() == key["verifier_key"]
        assert Signer.from_skey(signer.skey()).key_id == signer.key_id


@pytest.mark.parametrize(
    "case", [pytest.param(c, id=c["name"]) for c in json.loads(DERIVED.read_text())["notes"]]
)
def test_derived_notes(case: dict[str, Any]) -> None:
    _check_open_case(case)


# ---------------------------------------------------------------------------------------------
# Keys.


@pytest.mark.parametrize(
    "name",
    ["", "a+b", "a b", "a\tb", "a\u00a0b", "a\u3000b", "a\u200bb", "a\ue000b", "a\u0378b", "\n"],
    ids=[
        "empty",
        "plus",
        "space",
        "tab",
        "nbsp",
        "ideographic",
        "zwsp",
        "private",
        "unassigned",
        "newline",
    ],
)
def test_bad_key_names_are_refused(name: str) -> None:
    key = SigningKey.from_seed(_seed("log"))
    with pytest.raises(FormatError):
        Signer.from_signing_key(name, key)
    with pytest.raises(FormatError):
        Verifier(name, key.public.raw)
    typed_key = bytes([1]) + key.public.raw
    forged = f"{name}+{key_id(name, 1, key.public.raw):08x}+{_b64(typed_key)}"
    with pytest.raises(FormatError):
        Verifier.from_vkey(forged)


def test_verifier_key_with_uppercase_key_id_is_refused() -> None:
    with pytest.raises(FormatError, match="malformed verifier id"):
        Verifier.from_vkey(PETER_VKEY.replace("c74f20a3", "C74F20A3"))


def test_signer_key_with_wrong_key_id_is_refused() -> None:
    with pytest.raises(FormatError, match="invalid signer hash"):
        Signer.from_skey(PETER_SKEY.replace("c74f20a3", "c74f20a4"))


def test_signer_key_strings_round_trip() -> None:
    signer = Signer.generate("example.org/fresh")
    again = Signer.from_skey(signer.skey())
    assert (again.name, again.key_id) == (signer.name, signer.key_id)
    assert Verifier.from_vkey(signer.vkey()) == signer.verifier()
    assert signer.skey() not in repr(signer)


def test_wrong_length_public_key_is_refused() -> None:
    with pytest.raises(FormatError):
        Verifier("x", bytes(31))


# ---------------------------------------------------------------------------------------------
# Attacks on verification.

LOG_SIGNER = _signer("log", LOG)
OTHER_SIGNER = _signer("other", OTHER)
BODY = "example.org/log\n3\nroot\n"


def test_signature_over_other_text_is_refused() -> None:
    signed = sign(BODY, [LOG_SIGNER])
    forged = signed.replace("\n3\n", "\n4\n")
    with pytest.raises(NoteError, match="invalid signature for key"):
        verify(forged, [LOG_SIGNER.verifier()])


def test_signature_by_impostor_with_same_name_is_ignored() -> None:
    impostor = _signer("other", LOG)
    signed = sign(BODY, [impostor])
    with pytest.raises(NoteError, match="no verifiable signatures"):
        verify(signed, [LOG_SIGNER.verifier()])


def test_impostor_signature_claiming_known_name_and_id_is_refused() -> None:
    impostor = _signer("other", LOG)
    sig = impostor.sign(BODY.encode())
    forged = BODY + "\n" + Signature(LOG, LOG_SIGNER.key_id, sig).to_line()
    with pytest.raises(NoteError, match="invalid signature"):
        verify(forged, [LOG_SIGNER.verifier()])


def test_rotated_keys_with_same_name_both_verify() -> None:
    new_log = _signer("rotated", LOG)
    signed = sign(BODY, [LOG_SIGNER, new_log])
    note = verify(signed, [LOG_SIGNER.verifier(), new_log.verifier()])
    assert {s.key_id for s in note.sigs} == {LOG_SIGNER.key_id, new_log.key_id}
    assert verify(signed, [new_log.verifier()]).sigs[0].key_id == new_log.key_id


def test_ambiguous_verifier_list_is_refused_when_used() -> None:
    signed = sign(BODY, [LOG_SIGNER])
    with pytest.raises(NoteError, match="ambiguous key"):
        verify(signed, [LOG_SIGNER.verifier(), LOG_SIGNER.verifier()])


def test_oversized_note_is_refused() -> None:
    padding = "x" * (MAX_NOTE_SIZE) + "\n"
    line = Signature(LOG, LOG_SIGNER.key_id, bytes(64)).to_line()
    with pytest.raises(NoteError, match="over the"):
        verify(padding + "\n" + line, [LOG_SIGNER.verifier()])
    with pytest.raises(NoteError, match="over the"):
        sign(padding, [LOG_SIGNER])


def test_note_just_under_the_size_limit_is_accepted() -> None:
    line_size = len(Signature(LOG, LOG_SIGNER.key_id, bytes(64)).to_line().encode())
    body = "x" * (MAX_NOTE_SIZE - line_size - 2) + "\n"
    signed = sign(body, [LOG_SIGNER])
    assert len(signed.encode()) == MAX_NOTE_SIZE
    assert verify(signed, [LOG_SIGNER.verifier()]).text == body


def test_text_with_lone_surrogate_is_refused() -> None:
    with pytest.raises(NoteError, match="UTF-8"):
        verify("a\udc80\n\n" + sign("a\n", [LOG_SIGNER]).split("\n\n")[1], [LOG_SIGNER.verifier()])


def test_every_single_bit_flip_breaks_the_note() -> None:
    """Exhaustive: no flipped bit leaves the same verified result (canonical base64 matters)."""
    signed = sign(BODY, [LOG_SIGNER, OTHER_SIGNER]).encode()
    verifiers = [LOG_SIGNER.verifier(), OTHER_SIGNER.verifier()]
    original = verify(signed, verifiers)
    for i in range(len(signed)):
        for bit in range(8):
            _assert_tamper_detected(
                signed[:i] + bytes([signed[i] ^ 1 << bit]) + signed[i + 1 :], verifiers, original
            )


def _assert_tamper_detected(raw: bytes, verifiers: list[Verifier], original: Note) -> None:
    try:
        note = verify(raw, verifiers)
    except NoteError:
        return
    assert note.text == original.text
    assert set(note.sigs) < set(original.sigs), raw


# ---------------------------------------------------------------------------------------------
# Signing.


def test_sign_refuses_text_without_final_newline() -> None:
    with pytest.raises(NoteError, match="newline"):
        sign("abc", [LOG_SIGNER])


def test_sign_refuses_control_characters() -> None:
    with pytest.raises(NoteError, match="control"):
        sign("a\rb\n", [LOG_SIGNER])


def test_sign_refuses_no_signers_and_duplicate_signers() -> None:
    with pytest.raises(NoteError, match="at least one"):
        sign(BODY, [])
    with pytest.raises(NoteError, match="share"):
        sign(BODY, [LOG_SIGNER, LOG_SIGNER])


def test_add_signatures_replaces_the_signers_own_line() -> None:
    stale = BODY + "\n" + Signature(LOG, LOG_SIGNER.key_id, bytes(64)).to_line()
    stale += Signature(OTHER, 7, b"other-sig").to_line()
    signed = add_signatures(stale, [LOG_SIGNER])
    text, sigs = parse_signed_note(signed)
    assert text == BODY
    assert [(s.name, s.key_id) for s in sigs] == [(OTHER, 7), (LOG, LOG_SIGNER.key_id)]
    assert verify(signed, [LOG_SIGNER.verifier()]).unverified_sigs == (sigs[0],)


def test_signature_line_round_trips() -> None:
    sig = Signature("a.example/b", 0xDEADBEEF, bytes(range(64)))
    assert Signature.from_line(sig.to_line()) == sig


# ---------------------------------------------------------------------------------------------
# Properties.

_TEXT_CHARS = st.characters(
    codec="utf-8", exclude_characters=[chr(c) for c in range(32) if c != 10]
)
_NAME_CHARS = st.characters(categories=("L", "M", "N", "P", "S"), exclude_characters="+")


@settings(max_examples=50, deadline=None)
@given(
    text=st.text(_TEXT_CHARS, max_size=200),
    names=st.lists(
        st.text(_NAME_CHARS, min_size=1, max_size=20), min_size=1, max_size=4, unique=True
    ),
)
def test_sign_then_verify_round_trips(text: str, names: list[str]) -> None:
    signers = [Signer.generate(name) for name in names]
    signed = sign(text + "\n", signers)
    note = verify(signed, [s.verifier() for s in signers])
    assert note.text == text + "\n"
    assert [(s.name, s.key_id) for s in note.sigs] == [(s.name, s.key_id) for s in signers]
    assert note.unverified_sigs == ()


_FLIP_NOTE = (
    sign(BODY, [LOG_SIGNER, OTHER_SIGNER]) + sign(BODY, [_signer("x", "x")]).split("\n\n")[1]
)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_changing_any_byte_fails_or_drops_that_signature(data: st.DataObject) -> None:
    raw = _FLIP_NOTE.encode()
    i = data.draw(st.integers(0, len(raw) - 1))
    new = data.draw(st.integers(0, 255).filter(lambda b: b != raw[i]))
    verifiers = [LOG_SIGNER.verifier(), OTHER_SIGNER.verifier()]
    original = verify(raw, verifiers)
    mutated = raw[:i] + bytes([new]) + raw[i + 1 :]
    try:
        note = verify(mutated, verifiers)
    except NoteError:
        return
    assert note.text == original.text
    assert set(note.sigs) <= set(original.sigs)
    assert note != original
