"""RFC 9162 Merkle hashing and proofs against published vectors and property tests."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pausebutton.log import ProofError, merkle
from tests.vectors import shared_vectors


def _h(x: str) -> bytes:
    return bytes.fromhex(x)


def _reference() -> tuple[list[bytes], dict[str, Any]]:
    section = shared_vectors("merkle")
    return [_h(x) for x in section["reference_tree"]["leaves_hex"]], section


# --- RFC 6962 reference vectors published by transparency-dev/merkle -----------------


def test_empty_tree_root_and_leaf_vectors() -> None:
    section = shared_vectors("merkle")["hashing"]
    assert merkle.root([]) == _h(section["empty_root"])
    for vector in section["leaf_vectors"]:
        assert merkle.leaf_hash(_h(vector["data_hex"])) == _h(vector["leaf_hash"])
    for vector in section["node_vectors"]:
        assert merkle.node_hash(_h(vector["left_hex"]), _h(vector["right_hex"])) == _h(
            vector["node_hash"]
        )


def test_reference_tree_roots_at_every_size() -> None:
    leaves, section = _reference()
    tree = section["reference_tree"]
    assert [merkle.leaf_hash(x).hex() for x in leaves] == tree["leaf_hashes"]
    roots = tree["roots_by_size"]
    assert roots
    for size, expected in _roots(roots):
        assert merkle.root(leaves[:size]).hex() == expected


def _roots(roots: Any) -> list[tuple[int, str]]:
    if isinstance(roots, dict):
        return [(int(k), v) for k, v in roots.items()]
    return list(enumerate(roots, start=1))


def test_published_inclusion_proofs_are_reproduced_and_verify() -> None:
    leaves, section = _reference()
    for case in section["published_inclusion_proofs"]["cases"]:
        index, size = case["leaf_index"], case["tree_size"]
        proof = merkle.inclusion_proof(leaves[:size], index)
        assert [p.hex() for p in proof] == case["proof"]
        merkle.verify_inclusion(
            merkle.leaf_hash(leaves[index]), index, size, proof, merkle.root(leaves[:size])
        )


def test_published_consistency_proofs_are_reproduced_and_verify() -> None:
    leaves, section = _reference()
    for case in section["published_consistency_proofs"]["cases"]:
        old, new = case["size1"], case["size2"]
        proof = merkle.consistency_proof(leaves[:new], old)
        assert [p.hex() for p in proof] == case["proof"]
        merkle.verify_consistency(
            old, new, merkle.root(leaves[:old]), merkle.root(leaves[:new]), proof
        )


def test_every_derived_proof_of_the_8_leaf_tree() -> None:
    leaves, section = _reference()
    derived = section["derived_complete_8_leaf"]
    for case in derived["inclusion"]:
        proof = merkle.inclusion_proof(leaves[: case["tree_size"]], case["leaf_index"])
        assert [p.hex() for p in proof] == case["proof_hex"]
    for case in derived.get("consistency", []):
        proof = merkle.consistency_proof(leaves[: case["size2"]], case["size1"])
        assert [p.hex() for p in proof] == case["proof_hex"]


# Where the vectors feed a "hash" that is not 32 bytes to an otherwise valid check, Go's
# verifier never looks at its length; RFC 9162 hashes are 32 bytes, and we refuse others.
_STRICTER_THAN_GO = {"testdata/consistency/additional/sizes-are-equal-one-and-proof-is-empty.json"}


@pytest.mark.parametrize("kind", ["inclusion", "consistency"])
def test_negative_probes_from_transparency_dev(kind: str) -> None:
    """Every probe (tampered index, size, proof or root) is accepted or refused as Go does."""
    for case in shared_vectors("merkle")["probes"][kind]:
        want_error = case["want_err"] or case["file"] in _STRICTER_THAN_GO
        try:
            if kind == "inclusion":
                merkle.verify_inclusion(
                    _h(case["leaf_hash_hex"]),
                    case["leaf_index"],
                    case["tree_size"],
                    [_h(p) for p in case["proof_hex"]],
                    _h(case["root_hex"]),
                )
            else:
                merkle.verify_consistency(
                    case["size1"],
                    case["size2"],
                    _h(case["root1_hex"]),
                    _h(case["root2_hex"]),
                    [_h(p) for p in case["proof_hex"]],
                )
        except ProofError:
            assert want_error, f"{case['file']}: refused a valid proof"
        else:
            assert not want_error, f"{case['file']}: accepted a bad proof"


# --- vectors derived from the RFC by this project ------------------------------------


def test_own_vectors_from_rfc_definitions() -> None:
    """Roots computed straight from RFC 9162's recursive MTH definition (tests/data)."""
    import json
    from pathlib import Path

    data = json.loads((Path(__file__).parent / "data" / "merkle_rfc9162.json").read_text())
    for case in data["roots"]:
        entries = [bytes([i % 256]) * (i % 7) for i in range(case["size"])]
        assert merkle.root(entries).hex() == case["root"]


# --- property tests --------------------------------------------------------------------

entries_strategy = st.lists(st.binary(max_size=12), min_size=1, max_size=80)


@settings(max_examples=150, deadline=None)
@given(entries=entries_strategy, data=st.data())
def test_every_generated_inclusion_proof_verifies(
    entries: list[bytes], data: st.DataObject
) -> None:
    index = data.draw(st.integers(0, len(entries) - 1))
    proof = merkle.inclusion_proof(entries, index)
    merkle.verify_inclusion(
        merkle.leaf_hash(entries[index]), index, len(entries), proof, merkle.root(entries)
    )


@settings(max_examples=150, deadline=None)
@given(entries=entries_strategy, data=st.data())
def test_every_generated_consistency_proof_verifies(
    entries: list[bytes], data: st.DataObject
) -> None:
    old = data.draw(st.integers(1, len(entries)))
    proof = merkle.consistency_proof(entries, old)
    merkle.verify_consistency(
        old, len(entries), merkle.root(entries[:old]), merkle.root(entries), proof
    )


@settings(max_examples=150, deadline=None)
@given(entries=st.lists(st.binary(max_size=8), min_size=2, max_size=64), data=st.data())
def test_one_flipped_bit_breaks_an_inclusion_proof(
    entries: list[bytes], data: st.DataObject
) -> None:
    index = data.draw(st.integers(0, len(entries) - 1))
    proof = merkle.inclusion_proof(entries, index)
    leaf, root = merkle.leaf_hash(entries[index]), merkle.root(entries)
    which = data.draw(st.integers(0, len(proof)))  # len(proof) means: flip the leaf hash
    bit = data.draw(st.integers(0, 255))
    if which == len(proof):
        leaf = _flip(leaf, bit)
    else:
        proof[which] = _flip(proof[which], bit)
    with pytest.raises(ProofError):
        merkle.verify_inclusion(leaf, index, len(entries), proof, root)


@settings(max_examples=150, deadline=None)
@given(entries=st.lists(st.binary(max_size=8), min_size=2, max_size=64), data=st.data())
def test_one_flipped_bit_breaks_a_consistency_proof(
    entries: list[bytes], data: st.DataObject
) -> None:
    old = data.draw(st.integers(1, len(entries) - 1))
    proof = merkle.consistency_proof(entries, old)
    old_root, new_root = merkle.root(entries[:old]), merkle.root(entries)
    which = data.draw(st.integers(0, len(proof) + 1))
    bit = data.draw(st.integers(0, 255))
    if which == len(proof):
        old_root = _flip(old_root, bit)
    elif which == len(proof) + 1:
        new_root = _flip(new_root, bit)
    else:
        proof[which] = _flip(proof[which], bit)
    with pytest.raises(ProofError):
        merkle.verify_consistency(old, len(entries), old_root, new_root, proof)


@settings(max_examples=100, deadline=None)
@given(entries=st.lists(st.binary(max_size=8), min_size=1, max_size=40), data=st.data())
def test_truncated_or_extended_proofs_are_refused(
    entries: list[bytes], data: st.DataObject
) -> None:
    index = data.draw(st.integers(0, len(entries) - 1))
    proof = merkle.inclusion_proof(entries, index)
    leaf, root = merkle.leaf_hash(entries[index]), merkle.root(entries)
    with pytest.raises(ProofError):
        merkle.verify_inclusion(leaf, index, len(entries), [*proof, root], root)
    if proof:
        with pytest.raises(ProofError):
            merkle.verify_inclusion(leaf, index, len(entries), proof[:-1], root)


def _flip(value: bytes, bit: int) -> bytes:
    out = bytearray(value)
    out[(bit // 8) % len(out)] ^= 1 << (bit % 8)
    return bytes(out)


# --- bad arguments ---------------------------------------------------------------------


@pytest.mark.parametrize(("index", "size"), [(-1, 4), (4, 4), (0, 0), (2**64, 2**64 + 1), (0, -3)])
def test_out_of_range_index_or_size_is_refused(index: int, size: int) -> None:
    root = merkle.root([b"a", b"b", b"c", b"d"])
    with pytest.raises(ProofError):
        merkle.verify_inclusion(merkle.leaf_hash(b"a"), index, size, [], root)


def test_old_size_larger_than_new_size_is_refused() -> None:
    entries = [b"a", b"b", b"c"]
    with pytest.raises(ProofError, match="larger than new size"):
        merkle.verify_consistency(3, 2, merkle.root(entries), merkle.root(entries[:2]), [])


def test_non_hash_proof_elements_are_refused() -> None:
    entries = [b"a", b"b", b"c"]
    proof = merkle.inclusion_proof(entries, 0)
    with pytest.raises(ProofError, match="32-byte"):
        merkle.verify_inclusion(
            merkle.leaf_hash(b"a"), 0, 3, [proof[0][:31], proof[1]], merkle.root(entries)
        )


def test_proof_generation_refuses_out_of_range_arguments() -> None:
    with pytest.raises(ProofError):
        merkle.inclusion_proof([b"a"], 1)
    with pytest.raises(ProofError):
        merkle.consistency_proof([b"a", b"b"], 0)
    with pytest.raises(ProofError):
        merkle.consistency_proof([b"a", b"b"], 3)
