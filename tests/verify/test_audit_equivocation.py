"""Equivocation proofs: sound (honest checkpoints are never framed) and portable (key alone)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from pausebutton.cli.verify import app
from pausebutton.errors import FormatError, ProofError
from pausebutton.log import merkle
from pausebutton.log.checkpoint import Checkpoint, sign_checkpoint
from pausebutton.log.note import Signer
from pausebutton.log.proofs import encode_hashes
from pausebutton.verify.equivocation import (
    EquivocationProof,
    UnprovenEquivocationError,
    chain_consistency,
    check_equivocation_proof,
    equivocation_proof_bytes,
    fork_proof,
    non_extension_proof,
    parse_equivocation_proof,
    seeded_ranges,
)
from tests.verify.audit_world import ORIGIN, log_signer, seed

LEAVES = [merkle.leaf_hash(b"leaf %d" % i) for i in range(300)]
OTHER = [merkle.leaf_hash(b"other %d" % i) for i in range(300)]


def _path(leaves: list[bytes], old: int, new: int) -> list[bytes]:
    return [merkle.root_of_hashes(leaves[lo:hi]) for lo, hi in seeded_ranges(old, new)]


def _note(signer: Signer, leaves: list[bytes], size: int, origin: str = ORIGIN) -> str:
    return sign_checkpoint(Checkpoint(origin, size, merkle.root_of_hashes(leaves[:size])), signer)


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 299), st.integers(2, 300))
def test_seeded_path_reproduces_both_roots_as_rfc9162_does(old: int, new: int) -> None:
    if old >= new:
        old, new = new - 1, new
    path = _path(LEAVES, old, new)
    first, last = chain_consistency(old, new, path)
    assert first == merkle.root_of_hashes(LEAVES[:old])
    assert last == merkle.root_of_hashes(LEAVES[:new])
    unseeded = merkle.consistency_proof_hashes(LEAVES[:new], old)
    merkle.verify_consistency(old, new, first, last, unseeded)
    assert path[len(path) - len(unseeded) :] == unseeded


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 299), st.integers(2, 300), st.data())
def test_any_changed_hash_in_a_path_breaks_the_newer_root(
    old: int, new: int, data: st.DataObject
) -> None:
    if old >= new:
        old, new = new - 1, new
    path = _path(LEAVES, old, new)
    at = data.draw(st.integers(0, len(path) - 1))
    path[at] = hashlib.sha256(path[at]).digest()
    assert chain_consistency(old, new, path)[1] != merkle.root_of_hashes(LEAVES[:new])


def test_wrong_path_lengths_are_refused() -> None:
    path = _path(LEAVES, 5, 9)
    with pytest.raises(ProofError, match="too long"):
        chain_consistency(5, 9, [*path, path[0]])
    with pytest.raises(ProofError, match="too short"):
        chain_consistency(5, 9, path[:-1])


def test_fork_proof_checks_with_the_log_key_alone() -> None:
    signer = log_signer()
    proof = fork_proof(_note(signer, LEAVES, 100), _note(signer, OTHER, 100))
    check_equivocation_proof(proof, signer.verifier())
    again = parse_equivocation_proof(equivocation_proof_bytes(proof))
    assert again == proof
    check_equivocation_proof(equivocation_proof_bytes(proof), [signer.verifier()])


@pytest.mark.parametrize(("old", "new"), [(1, 2), (64, 300), (100, 300), (255, 256)])
def test_non_extension_proof_checks_with_the_log_key_alone(old: int, new: int) -> None:
    signer = log_signer()
    proof = non_extension_proof(
        _note(signer, OTHER, old), _note(signer, LEAVES, new), _path(LEAVES, old, new)
    )
    check_equivocation_proof(proof, signer.verifier())


def _honest_cases(signer: Signer) -> dict[str, EquivocationProof]:
    a, b = _note(signer, LEAVES, 100), _note(signer, LEAVES, 300)
    good = _path(LEAVES, 100, 300)
    forged = _path(OTHER, 100, 300)  # a path of another tree: ends at another root
    framed = list(good)
    framed[0] = hashlib.sha256(b"not the prefix").digest()
    return {
        "same checkpoint twice": fork_proof(a, a),
        "two sizes as a fork": fork_proof(a, b),
        "consistent checkpoints": non_extension_proof(a, b, good),
        "a path of another tree": non_extension_proof(a, b, forged),
        "a tampered path": non_extension_proof(a, b, framed),
        "sizes reversed": non_extension_proof(b, a, good),
        "a path on a fork": EquivocationProof(
            kind="fork", first=a, second=_note(signer, OTHER, 100), proof=encode_hashes(good[:1])
        ),
    }


HONEST_CASES = sorted(_honest_cases(log_signer()))


@pytest.mark.parametrize("case", HONEST_CASES)
def test_equivocation_proof_with_honest_checkpoints_is_rejected(case: str) -> None:
    signer = log_signer()
    with pytest.raises(UnprovenEquivocationError):
        check_equivocation_proof(_honest_cases(signer)[case], signer.verifier())


def test_proof_signed_by_another_key_or_for_two_logs_is_rejected() -> None:
    signer, impostor = log_signer(), Signer.from_signing_key(ORIGIN, seed("impostor"))
    fork = fork_proof(_note(impostor, LEAVES, 100), _note(impostor, OTHER, 100))
    with pytest.raises(UnprovenEquivocationError, match="first checkpoint"):
        check_equivocation_proof(fork, signer.verifier())
    other = log_signer("other.example/log")
    two_logs = fork_proof(_note(signer, LEAVES, 100), _note(other, OTHER, 100, "other.example/log"))
    with pytest.raises(UnprovenEquivocationError, match="two logs"):
        check_equivocation_proof(two_logs, [signer.verifier(), other.verifier()])


def test_malformed_documents_are_format_errors() -> None:
    with pytest.raises(FormatError):
        parse_equivocation_proof(b'{"format": "pausebutton.consistency/v1"}')
    with pytest.raises(FormatError, match="kind"):
        parse_equivocation_proof(
            json.dumps(
                {"format": "pausebutton.equivocation/v1", "kind": "x", "first": "", "second": ""}
            )
        )


def test_cli_checks_a_proof(tmp_path: Path) -> None:
    signer = log_signer()
    proven = tmp_path / "proven.json"
    proven.write_bytes(
        equivocation_proof_bytes(fork_proof(_note(signer, LEAVES, 9), _note(signer, OTHER, 9)))
    )
    honest = tmp_path / "honest.json"
    a = _note(signer, LEAVES, 9)
    honest.write_bytes(equivocation_proof_bytes(fork_proof(a, a)))
    runner = CliRunner()
    ok = runner.invoke(app, ["equivocation", str(proven), "--vkey", signer.vkey()])
    assert ok.exit_code == 0, ok.output
    assert "PROVEN" in ok.output
    assert "two roots for size 9" in ok.output
    refused = runner.invoke(app, ["equivocation", str(honest), "--vkey", signer.vkey()])
    assert refused.exit_code == 1
    assert "UnprovenEquivocationError" in refused.output
