"""C2SP checkpoints: published vectors, derived vectors, attacks, and round trips."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pausebutton.crypto.keys import SigningKey
from pausebutton.errors import FormatError, NoteError
from pausebutton.log.checkpoint import MAX_SIZE, Checkpoint, open_checkpoint, sign_checkpoint
from pausebutton.log.note import Signer, Verifier, parse_signed_note, sign
from tests.vectors import _load, shared_vectors

DERIVED = json.loads((Path(__file__).parent / "data" / "notes.json").read_text())["checkpoints"]
ROOT = hashlib.sha256(b"a root").digest()
LOG = Signer.from_signing_key("example.org/log", SigningKey.from_seed(bytes(range(32))))


def shared_params(key: str) -> list[Any]:
    """Parametrise by index over checkpoint[key] in ../shared (one skipping case if absent)."""
    data = _load()
    cases = data["checkpoint"][key] if data is not None else [{}]
    return [pytest.param(i, id=str(c.get("why", c.get("source", i)))) for i, c in enumerate(cases)]


# ---------------------------------------------------------------------------------------------
# Published vectors.


def test_published_go_tree_note_parses() -> None:
    case = shared_vectors("checkpoint")["published"][0]
    cp = Checkpoint.parse(case["note_text"])
    assert (cp.origin, cp.size, cp.root_hash.hex()) == (
        case["origin"],
        case["size"],
        case["root_hex"],
    )
    assert cp.to_text() == case["note_text"]


def test_published_short_root_is_refused_by_our_strict_policy() -> None:
    """transparency-dev/formats marshals a 7-byte root; C2SP requires a 32-byte SHA-256 root."""
    case = shared_vectors("checkpoint")["published"][1]
    with pytest.raises(FormatError, match="32 bytes"):
        Checkpoint(case["origin"], case["size"], case["root_ascii"].encode())
    with pytest.raises(FormatError, match="7 bytes, not 32"):
        Checkpoint.parse(case["expect_text"])


def test_published_c2sp_example_parses_but_cannot_verify() -> None:
    case = shared_vectors("checkpoint")["published"][2]
    text, sigs = parse_signed_note(case["note_text"])
    cp = Checkpoint.parse(text)
    assert (cp.origin, cp.size) == ("example.com/behind-the-sofa", 20852163)
    assert f"{sigs[0].key_id:08x}" == "033de0ae"
    sumdb = Verifier.from_vkey(
        "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8"
    )
    with pytest.raises(NoteError, match="no verifiable signatures"):
        open_checkpoint(case["note_text"], sumdb)


@pytest.mark.parametrize("i", shared_params("reject_when_parsing"))
def test_published_malformed_checkpoints_are_refused(i: int) -> None:
    case = shared_vectors("checkpoint")["reject_when_parsing"][i]
    with pytest.raises(FormatError):
        Checkpoint.parse(case["text"])


def test_published_reference_tree_is_signed_byte_for_byte() -> None:
    case = shared_vectors("checkpoint")["derived_signed_reference_tree"]
    signer = Signer.from_skey(case["signer_key"])
    cp = Checkpoint(case["origin"], case["size"], bytes.fromhex(case["root_hex"]))
    assert sign_checkpoint(cp, signer) == case["note_text"]
    opened, note = open_checkpoint(case["note_text"], Verifier.from_vkey(case["verifier_key"]))
    assert opened == cp
    assert note.sigs[0].name == "Log"


# ---------------------------------------------------------------------------------------------
# Derived vectors.


@pytest.mark.parametrize("case", [pytest.param(c, id=c["name"]) for c in DERIVED["accept"]])
def test_derived_checkpoints_are_accepted(case: dict[str, Any]) -> None:
    cp = Checkpoint.parse(case["text"])
    assert cp == Checkpoint(
        case["origin"], case["size"], bytes.fromhex(case["root_hex"]), tuple(case["extensions"])
    )
    assert cp.to_text() == case["text"]


@pytest.mark.parametrize("case", [pytest.param(c, id=c["name"]) for c in DERIVED["reject"]])
def test_derived_checkpoints_are_refused(case: dict[str, Any]) -> None:
    with pytest.raises(FormatError):
        Checkpoint.parse(case["text"])


# ---------------------------------------------------------------------------------------------
# Attacks and strictness.


def test_checkpoint_with_leading_zero_size_is_refused() -> None:
    """Two spellings of one size would let one signature stand for two texts."""
    with pytest.raises(FormatError, match="leading zeros"):
        Checkpoint.parse(f"L\n007\n{base64.b64encode(ROOT).decode()}\n")


def test_checkpoint_signed_by_other_key_is_refused() -> None:
    cp = Checkpoint("example.org/log", 5, ROOT)
    impostor = Signer.generate("example.org/log")
    with pytest.raises(NoteError, match="no verifiable signatures"):
        open_checkpoint(sign_checkpoint(cp, impostor), LOG.verifier())


def test_checkpoint_for_other_origin_is_refused() -> None:
    cp = Checkpoint("example.org/other-log", 5, ROOT)
    with pytest.raises(NoteError, match="origin"):
        open_checkpoint(sign_checkpoint(cp, LOG), LOG.verifier(), origin="example.org/log")
    assert open_checkpoint(sign_checkpoint(cp, LOG), LOG.verifier())[0] == cp


def test_unsigned_text_is_not_parsed_before_its_signature_is_checked() -> None:
    """A malformed body with a bad signature is a signature failure, not a parse error."""
    forged = sign("not a checkpoint\n", [Signer.generate("example.org/log")])
    with pytest.raises(NoteError):
        open_checkpoint(forged, LOG.verifier())


def test_tampered_checkpoint_size_is_refused() -> None:
    signed = sign_checkpoint(Checkpoint("example.org/log", 5, ROOT), LOG)
    with pytest.raises(NoteError, match="invalid signature"):
        open_checkpoint(signed.replace("\n5\n", "\n6\n"), LOG.verifier())


def test_signed_malformed_checkpoint_is_a_format_error() -> None:
    signed = sign("example.org/log\n05\nroot\n", [LOG])
    with pytest.raises(FormatError):
        open_checkpoint(signed, LOG.verifier())


@pytest.mark.parametrize(
    ("origin", "size", "root", "extensions"),
    [
        ("", 1, ROOT, ()),
        ("a\nb", 1, ROOT, ()),
        ("a", -1, ROOT, ()),
        ("a", MAX_SIZE + 1, ROOT, ()),
        ("a", True, ROOT, ()),
        ("a", 1, ROOT[:31], ()),
        ("a", 1, ROOT, ("",)),
        ("a", 1, ROOT, ("x\ny",)),
        ("a", 1, ROOT, ("\x1b[31m",)),
    ],
    ids=[
        "empty origin",
        "newline origin",
        "negative",
        "over uint64",
        "bool size",
        "short root",
        "empty extension",
        "newline extension",
        "escape extension",
    ],
)
def test_unrepresentable_checkpoints_cannot_be_built(
    origin: str, size: int, root: bytes, extensions: tuple[str, ...]
) -> None:
    with pytest.raises(FormatError):
        Checkpoint(origin, size, root, extensions)


# ---------------------------------------------------------------------------------------------
# Properties.

_LINE = st.text(
    st.characters(codec="utf-8", exclude_characters=[chr(c) for c in range(32)]), min_size=1
)


@settings(max_examples=200)
@given(
    origin=_LINE,
    size=st.integers(0, MAX_SIZE),
    root=st.binary(min_size=32, max_size=32),
    extensions=st.lists(_LINE, max_size=3).map(tuple),
)
def test_parse_inverts_to_text(
    origin: str, size: int, root: bytes, extensions: tuple[str, ...]
) -> None:
    cp = Checkpoint(origin, size, root, extensions)
    assert Checkpoint.parse(cp.to_text()) == cp


_TOKENS = st.sampled_from(
    [
        "L",
        "",
        "0",
        "00",
        "01",
        "7",
        "+7",
        " 7",
        str(MAX_SIZE),
        str(MAX_SIZE + 1),
        base64.b64encode(ROOT).decode(),
        base64.b64encode(ROOT).decode().rstrip("="),
        base64.b64encode(ROOT[:31]).decode(),
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=",
        "ext",
    ]
)


@settings(max_examples=300)
@given(lines=st.lists(_TOKENS, max_size=6), final_newline=st.booleans())
def test_only_the_canonical_spelling_parses(lines: list[str], final_newline: bool) -> None:
    """Whatever parses is exactly what to_text writes back: one checkpoint, one text."""
    text = "\n".join(lines) + ("\n" if final_newline else "")
    try:
        cp = Checkpoint.parse(text)
    except FormatError:
        return
    assert cp.to_text() == text
