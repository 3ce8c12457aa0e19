"""C2SP tlog-cosignature v1 and the witness: vectors, attacks on witnesses, round trips."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pausebutton.crypto.keys import SigningKey
from pausebutton.errors import FormatError, NoteError, ProofError, SignatureError
from pausebutton.log.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from pausebutton.log.cosignature import (
    MAX_TIMESTAMP,
    Cosignature,
    CosignatureSigner,
    CosignatureVerifier,
    EquivocationError,
    StaleCheckpointError,
    Witness,
    cosign,
    cosignatures,
    cosigned_message,
    open_cosigned_checkpoint,
)
from pausebutton.log.note import Signature, Signer, Verifier, parse_signed_note, sign, verify
from tests.vectors import _load, shared_vectors

DERIVED = json.loads((Path(__file__).parent / "data" / "notes.json").read_text())["cosignatures"]
ORIGIN = "example.org/log"


def _seed(label: str) -> bytes:
    return hashlib.sha256(b"pausebutton test key: " + label.encode()).digest()


LOG = Signer.from_signing_key(ORIGIN, SigningKey.from_seed(_seed("log")))
W1 = CosignatureSigner("witness.example.org/w1", SigningKey.from_seed(_seed("witness")))
W2 = CosignatureSigner.generate("witness.example.org/w2")


# ---------------------------------------------------------------------------------------------
# A tiny RFC 6962 section 2.1 tree (MTH and PROOF), independent of pausebutton.log.merkle.


def _mth(leaves: list[bytes]) -> bytes:
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + _mth(leaves[:k]) + _mth(leaves[k:])).digest()


def _subproof(m: int, leaves: list[bytes], complete: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if complete else [_mth(leaves)]
    k = 1 << ((n - 1).bit_length() - 1)
    if m <= k:
        return [*_subproof(m, leaves[:k], complete), _mth(leaves[k:])]
    return [*_subproof(m - k, leaves[k:], False), _mth(leaves[:k])]


def _proof(m: int, leaves: list[bytes]) -> list[bytes]:
    return _subproof(m, leaves, True)


LEAVES = [f"entry {i}".encode() for i in range(20)]


def _note(size: int, leaves: list[bytes] = LEAVES, signer: Signer = LOG) -> str:
    return sign_checkpoint(Checkpoint(ORIGIN, size, _mth(leaves[:size])), signer)


@pytest.fixture
def witness() -> Witness:
    pytest.importorskip("pausebutton.log.merkle")
    return Witness(W1, LOG.verifier(), ORIGIN)


# ---------------------------------------------------------------------------------------------
# Published vectors.


def test_published_cosigner_key_parses_as_type_4_only() -> None:
    case = next(k for k in shared_vectors("signed_note")["key_ids"] if k["sig_type"] == 4)
    verifier = CosignatureVerifier.from_vkey(case["verifier_key"])
    assert f"{verifier.key_id:08x}" == case["expect_key_id"]
    assert verifier.public_key.hex() == case["public_key_hex"]
    assert verifier.vkey() == case["verifier_key"]
    with pytest.raises(FormatError, match="unknown verifier algorithm"):
        Verifier.from_vkey(case["verifier_key"])
    with pytest.raises(FormatError, match="unknown verifier algorithm"):
        CosignatureVerifier.from_vkey(
            "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
        )


def _published_params() -> list[Any]:
    data = _load()
    cases = data["cosignature"]["published_parse_only"] if data is not None else [{}]
    return [pytest.param(i, id=str(c.get("source", i))) for i, c in enumerate(cases)]


@pytest.mark.parametrize("i", _published_params())
def test_published_cosignature_lines_parse(i: int) -> None:
    case = shared_vectors("cosignature")["published_parse_only"][i]
    line = case.get("signature_line") or "\u2014 w " + case["signature_base64"]
    if case.get("expect_error"):
        with pytest.raises(NoteError, match="a cosignature is 72"):
            Cosignature.from_line(line)
        return
    cosig = Cosignature.from_line(line)
    assert cosig.timestamp == case["expect_timestamp"]
    assert len(cosig.signature) == case.get("expect_sig_len", 64)
    if "expect_key_id" in case:
        assert f"{cosig.key_id:08x}" == case["expect_key_id"]


def test_published_derived_cosignature_is_reproduced() -> None:
    case = shared_vectors("cosignature")["derived_example"]
    signer = CosignatureSigner("witness.example.com/w1", SigningKey.from_seed(bytes(32)))
    assert signer.vkey() == case["cosigner_verifier_key"]
    log_note = case["full_note"].split("\u2014 witness")[0]
    text, _ = parse_signed_note(log_note)
    assert cosigned_message(text.encode(), 1679315147).decode() == case["signed_message_text"]
    assert cosign(log_note, signer, 1679315147) == case["full_note"]
    log = Verifier.from_vkey(case["log_verifier_key"])
    cosigner = CosignatureVerifier.from_vkey(case["cosigner_verifier_key"])
    cp, found = open_cosigned_checkpoint(case["full_note"], log, [cosigner], quorum=1)
    assert (cp.origin, cp.size) == ("Log", 8)
    assert [(c.name, c.timestamp) for c in found] == [("witness.example.com/w1", 1679315147)]


# ---------------------------------------------------------------------------------------------
# Derived vectors.


def _derived_verifiers() -> tuple[Verifier, CosignatureVerifier]:
    log_key, witness_key = DERIVED["verifier_keys"]
    return Verifier.from_vkey(log_key), CosignatureVerifier.from_vkey(witness_key)


@pytest.mark.parametrize("case", [pytest.param(c, id=c["name"]) for c in DERIVED["cases"]])
def test_derived_cosignatures(case: dict[str, Any]) -> None:
    log, witness_key = _derived_verifiers()
    if "timestamp" in case:
        text, _ = parse_signed_note(case["checkpoint_note"])
        message = cosigned_message(text.encode(), case["timestamp"])
        assert message.decode() == case["signed_message"]
        assert cosign(case["checkpoint_note"], W1, case["timestamp"]) == case["expect_note"]
        note_text = case["expect_note"]
    else:
        note_text = case["note"]
    if not case["expect_ok"]:
        with pytest.raises(NoteError, match=case["expect_error"]):
            verify(note_text, [log, witness_key])
        return
    note = verify(note_text, [log, witness_key])
    found = cosignatures(note, [witness_key])
    assert len(found) == case.get("expect_cosignatures", 1)
    if "timestamp" in case:
        assert found[0].timestamp == case["timestamp"]


# ---------------------------------------------------------------------------------------------
# Cosignature attacks.


def test_cosignature_moved_to_another_checkpoint_is_refused() -> None:
    cosigned = cosign(_note(5), W1, 100)
    moved = _note(6) + cosigned.splitlines(keepends=True)[-1]
    with pytest.raises(NoteError, match="invalid signature for key witness"):
        verify(moved, [LOG.verifier(), W1.verifier()])


def test_cosignature_with_rewritten_timestamp_is_refused() -> None:
    cosigned = cosign(_note(5), W1, 100)
    _, sigs = parse_signed_note(cosigned)
    sig = sigs[-1]
    later = Signature(sig.name, sig.key_id, (200).to_bytes(8, "big") + sig.signature[8:])
    forged = cosigned.replace(sig.to_line(), later.to_line())
    with pytest.raises(NoteError, match="invalid signature"):
        verify(forged, [LOG.verifier(), W1.verifier()])


def test_cosignature_key_cannot_sign_plain_notes() -> None:
    """A 0x04 key id never matches a 0x01 signature line by the same key and name."""
    plain = Signer.from_signing_key(W1.name, SigningKey.from_seed(_seed("witness")))
    assert plain.key_id != W1.key_id
    with pytest.raises(NoteError, match="no verifiable signatures"):
        verify(sign_checkpoint(Checkpoint(ORIGIN, 1, bytes(32)), plain), [W1.verifier()])


def test_quorum_of_cosigners_is_enforced() -> None:
    note = cosign(cosign(_note(5), W1, 100), W2, 101)
    verifiers = [W1.verifier(), W2.verifier()]
    cp, found = open_cosigned_checkpoint(note, LOG.verifier(), verifiers, quorum=2, origin=ORIGIN)
    assert cp.size == 5
    assert {c.timestamp for c in found} == {100, 101}
    with pytest.raises(SignatureError, match="needs 3"):
        open_cosigned_checkpoint(note, LOG.verifier(), verifiers, quorum=3)


def test_cosigned_checkpoint_without_log_signature_is_refused() -> None:
    forged = sign_checkpoint(Checkpoint(ORIGIN, 5, bytes(32)), Signer.generate(ORIGIN))
    forged = cosign(forged, W1, 100)
    with pytest.raises(NoteError, match="log key"):
        open_cosigned_checkpoint(forged, LOG.verifier(), [W1.verifier()], quorum=1)


def test_cosign_refuses_text_that_is_not_a_checkpoint() -> None:
    with pytest.raises(FormatError):
        cosign(sign("not a checkpoint\n", [LOG]), W1, 1)


@pytest.mark.parametrize("ts", [-1, MAX_TIMESTAMP + 1])
def test_out_of_range_timestamps_are_refused(ts: int) -> None:
    with pytest.raises(FormatError):
        cosign(_note(5), W1, ts)


# ---------------------------------------------------------------------------------------------
# The witness.


def test_witness_cosigns_first_checkpoint_and_growth(witness: Witness) -> None:
    first = witness.cosign(_note(3), [], now=10)
    assert witness.state == Checkpoint(ORIGIN, 3, _mth(LEAVES[:3]))
    grown = witness.cosign(_note(13), _proof(3, LEAVES[:13]), now=20)
    cp, found = open_cosigned_checkpoint(grown, LOG.verifier(), [W1.verifier()], quorum=1)
    assert cp.size == 13
    assert found[0].timestamp == 20
    assert open_cosigned_checkpoint(first, LOG.verifier(), [W1.verifier()], 1)[1][0].timestamp == 10


def test_witness_refuses_fork_at_same_size(witness: Witness) -> None:
    witness.cosign(_note(8), [], now=10)
    fork = [b"forked " + leaf for leaf in LEAVES]
    with pytest.raises(EquivocationError):
        witness.cosign(_note(8, fork), [], now=11)
    assert witness.state == Checkpoint(ORIGIN, 8, _mth(LEAVES[:8]))


def test_witness_refuses_rollback_to_smaller_size(witness: Witness) -> None:
    witness.cosign(_note(8), [], now=10)
    with pytest.raises(StaleCheckpointError):
        witness.cosign(_note(7), [], now=11)


def test_witness_refuses_fork_that_grows(witness: Witness) -> None:
    """A larger tree that rewrites history has no valid proof from the cosigned one."""
    witness.cosign(_note(5), [], now=10)
    fork = [*LEAVES[:4], b"rewritten", *LEAVES[5:]]
    with pytest.raises(ProofError):
        witness.cosign(_note(9, fork), _proof(5, fork[:9]), now=11)
    assert witness.state is not None
    assert witness.state.size == 5


def test_witness_refuses_tampered_consistency_proof(witness: Witness) -> None:
    witness.cosign(_note(6), [], now=10)
    proof = _proof(6, LEAVES[:11])
    for i in range(len(proof)):
        bad = [*proof[:i], bytes(32), *proof[i + 1 :]]
        with pytest.raises(ProofError):
            witness.cosign(_note(11), bad, now=11)
    with pytest.raises(ProofError):
        witness.cosign(_note(11), proof[:-1], now=11)
    witness.cosign(_note(11), proof, now=11)


def test_witness_refuses_checkpoint_not_signed_by_the_log(witness: Witness) -> None:
    with pytest.raises(NoteError):
        witness.cosign(_note(4, signer=Signer.generate(ORIGIN)), [], now=10)
    assert witness.state is None


def test_witness_refuses_checkpoint_of_another_origin(witness: Witness) -> None:
    other = sign_checkpoint(Checkpoint("example.org/other", 4, _mth(LEAVES[:4])), LOG)
    with pytest.raises(NoteError, match="origin"):
        witness.cosign(other, [], now=10)


def test_witness_refuses_proof_for_first_checkpoint(witness: Witness) -> None:
    with pytest.raises(ProofError):
        witness.cosign(_note(4), [bytes(32)], now=10)


def test_witness_recosigns_same_checkpoint_and_replaces_its_line(witness: Witness) -> None:
    once = witness.cosign(_note(4), [], now=10)
    twice = witness.cosign(once, [], now=20)
    _, sigs = parse_signed_note(twice)
    assert [s.name for s in sigs] == [ORIGIN, W1.name]
    note = verify(twice, [LOG.verifier(), W1.verifier()])
    assert cosignatures(note, [W1.verifier()])[0].timestamp == 20


def test_witness_state_survives_persistence(witness: Witness) -> None:
    witness.cosign(_note(5), [], now=10)
    assert witness.state is not None
    saved = witness.state.to_text()
    restored = Witness(W1, LOG.verifier(), ORIGIN, Checkpoint.parse(saved))
    restored.cosign(_note(12), _proof(5, LEAVES[:12]), now=20)
    with pytest.raises(StaleCheckpointError):
        restored.cosign(_note(5), [], now=21)
    with pytest.raises(FormatError):
        Witness(W1, LOG.verifier(), "example.org/other", Checkpoint.parse(saved))


# ---------------------------------------------------------------------------------------------
# Properties.


@settings(max_examples=50, deadline=None)
@given(size=st.integers(1, 20), timestamp=st.integers(0, MAX_TIMESTAMP))
def test_cosign_then_verify_round_trips(size: int, timestamp: int) -> None:
    cosigned = cosign(_note(size), W1, timestamp)
    cp, note = open_checkpoint(cosigned, LOG.verifier())
    assert cp.size == size
    assert [s.name for s in note.unverified_sigs] == [W1.name]
    _, found = open_cosigned_checkpoint(cosigned, LOG.verifier(), [W1.verifier()], quorum=1)
    assert found[0].timestamp == timestamp


@settings(max_examples=30, deadline=None)
@given(sizes=st.lists(st.integers(1, 20), min_size=1, max_size=6))
def test_witness_accepts_any_growth_with_a_proof(sizes: list[int]) -> None:
    pytest.importorskip("pausebutton.log.merkle")
    witness = Witness(W1, LOG.verifier(), ORIGIN)
    for size in sorted(sizes):
        old = witness.state.size if witness.state is not None else 0
        proof = _proof(old, LEAVES[:size]) if 0 < old < size else []
        witness.cosign(_note(size), proof, now=size)
    assert witness.state is not None
    assert witness.state.size == max(sizes)


def test_witness_refuses_empty_tree_with_a_nonempty_root(witness: Witness) -> None:
    with pytest.raises(EquivocationError):
        witness.cosign(sign_checkpoint(Checkpoint(ORIGIN, 0, bytes(32)), LOG), [], now=1)
    witness.cosign(_note(0), [], now=2)
    witness.cosign(_note(3), [], now=3)
    assert witness.state == Checkpoint(ORIGIN, 3, _mth(LEAVES[:3]))


DOC_LOG_NOTE = (
    "example.org/log\n13\nwMEonwBgX419h4C59CZMc2zPuEzpFwjCsn5kJr/H2Kg=\n\n"
    "\u2014 example.org/log 7OfZSQ3/pwnuCR+S9evJqf0V9rzDZDwz+ky+xvkdqx5CyzwPoL7lffbdbWNGoRQiu"
    "LCBRggizAY+H8r2MgnVcLi5kwM=\n"
)
DOC_COSIGNATURE = (
    "\u2014 witness.example.org/w1 Uz3x0wAAAABlU/EARLfq0jk/G+hwDldtQI61shnUCrc3zBISq/hO3PQ4pE"
    "YNOW0Jgan8U40dZV/eJrzq7hmd4i/tiYrv/8EqXxwMBw==\n"
)


def test_documented_examples_are_reproduced() -> None:
    """docs/formats/notes-and-checkpoints.md shows exactly these bytes."""
    assert LOG.skey() == (
        "PRIVATE+KEY+example.org/log+ece7d949+AdqZLBxyokLg08Z2/m/cnThyEobPtFpAKqGypz0c6709"
    )
    assert LOG.vkey() == "example.org/log+ece7d949+AYkLCngrF2GsjHo+gO0wV9U8CeVV7cD36fr4SsyqKSij"
    assert W1.vkey() == (
        "witness.example.org/w1+533df1d3+BMKFXtnJmQRoJWF0cgx2Y5HAMTkipp40vbsYGvt9PPwA"
    )
    assert sign("Hello from pausebutton.\nA note may span lines.\n", [LOG]) == (
        "Hello from pausebutton.\nA note may span lines.\n\n\u2014 example.org/log 7OfZSU7BVjtw0y"
        "DtNP7d9DAgJTGzgS0Be0sQsANdB+s88j3Of7+2+i7tBKiQZTVsWZBWqP7zJJBdjMDGSVs7JvQ+Ywk=\n"
    )
    assert _note(13) == DOC_LOG_NOTE
    assert cosign(DOC_LOG_NOTE, W1, 1_700_000_000) == DOC_LOG_NOTE + DOC_COSIGNATURE
    doc = Path(__file__).parents[1] / "docs" / "formats" / "notes-and-checkpoints.md"
    if doc.is_file():
        assert DOC_COSIGNATURE.strip() in doc.read_text()
