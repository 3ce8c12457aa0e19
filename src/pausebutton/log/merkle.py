"""RFC 9162 (and RFC 6962) Merkle tree hashing, inclusion and consistency proofs: pure functions.

Leaf hash = SHA-256(0x00 || entry); interior node = SHA-256(0x01 || left || right); the
root of the empty tree is SHA-256(""). Proofs follow RFC 9162 sections 2.1.3 and 2.1.4.
The ``*_hashes`` variants work on leaf hashes, so callers that store hashes need not keep
the entries.
"""

from __future__ import annotations

from collections.abc import Sequence
from hashlib import sha256

from pausebutton.errors import ProofError

HASH_SIZE = 32
EMPTY_ROOT = sha256(b"").digest()
MAX_TREE_SIZE = 2**63 - 1


def leaf_hash(entry: bytes) -> bytes:
    """Return the RFC 9162 hash of one log entry: SHA-256(0x00 || entry)."""
    return sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the RFC 9162 hash of an interior node: SHA-256(0x01 || left || right)."""
    return sha256(b"\x01" + left + right).digest()


def split_point(n: int) -> int:
    """Return the largest power of two strictly less than `n` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def root_of_hashes(hashes: Sequence[bytes]) -> bytes:
    """Return the Merkle tree hash of a sequence of leaf (or subtree) hashes."""
    if not hashes:
        return EMPTY_ROOT
    level = list(hashes)
    # Pairing left to right and promoting an unpaired last node yields exactly the
    # RFC 9162 tree, whose left subtrees are always the largest power of two.
    while len(level) > 1:
        paired = [
            sha256(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)
        ]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def root(entries: Sequence[bytes]) -> bytes:
    """Return the Merkle tree hash (root) of a list of entries."""
    return root_of_hashes([leaf_hash(e) for e in entries])


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """Return the leaf ranges [lo, hi) whose subtree hashes form PATH(index, D[size]), in order."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is out of range for a tree of size {size}")
    ranges: list[tuple[int, int]] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = split_point(hi - lo)
        if index < lo + k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo += k
    ranges.reverse()
    return ranges


def consistency_ranges(old_size: int, new_size: int) -> list[tuple[int, int]]:
    """Return the leaf ranges [lo, hi) whose subtree hashes form PROOF(old_size, D[new_size])."""
    if not 0 < old_size <= new_size:
        raise ProofError(
            f"old size {old_size} is out of range 1..{new_size} for a consistency proof"
        )
    ranges: list[tuple[int, int]] = []
    lo, hi, m, complete = 0, new_size, old_size, True
    # Iterative SUBPROOF(m, D[lo:hi], complete) of RFC 9162 section 2.1.4.1.
    while m != hi - lo:
        k = split_point(hi - lo)
        if m <= k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo, m, complete = lo + k, m - k, False
    if not complete:
        ranges.append((lo, hi))
    ranges.reverse()
    return ranges


def inclusion_proof_hashes(hashes: Sequence[bytes], index: int) -> list[bytes]:
    """Return the RFC 9162 inclusion proof PATH(index, D[n]) over leaf hashes."""
    return [root_of_hashes(hashes[lo:hi]) for lo, hi in inclusion_ranges(index, len(hashes))]


def inclusion_proof(entries: Sequence[bytes], index: int) -> list[bytes]:
    """Return the RFC 9162 inclusion proof of entry `index` in the tree of `entries`."""
    return inclusion_proof_hashes([leaf_hash(e) for e in entries], index)


def consistency_proof_hashes(hashes: Sequence[bytes], old_size: int) -> list[bytes]:
    """Return the RFC 9162 consistency proof PROOF(old_size, D[n]) over leaf hashes."""
    ranges = consistency_ranges(old_size, len(hashes))
    return [root_of_hashes(hashes[lo:hi]) for lo, hi in ranges]


def consistency_proof(entries: Sequence[bytes], old_size: int) -> list[bytes]:
    """Return the RFC 9162 consistency proof from the first `old_size` entries to all."""
    return consistency_proof_hashes([leaf_hash(e) for e in entries], old_size)


def _check_hash(name: str, value: bytes) -> None:
    if not isinstance(value, bytes | bytearray) or len(value) != HASH_SIZE:
        size = len(value) if isinstance(value, bytes | bytearray) else type(value).__name__
        raise ProofError(f"{name} must be a {HASH_SIZE}-byte hash, got {size}")


def _check_proof(proof: Sequence[bytes]) -> None:
    for i, element in enumerate(proof):
        _check_hash(f"proof element {i}", element)


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check an RFC 9162 inclusion proof; raise ProofError on any failure, return None if valid."""
    _check_hash("leaf hash", leaf_hash)
    _check_hash("root", root)
    if not 0 <= size <= MAX_TREE_SIZE:
        raise ProofError(f"tree size {size} is out of range")
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is out of range for a tree of size {size}")
    _check_proof(proof)
    inner, border = _decompose(index, size)
    if len(proof) != inner + border:
        raise ProofError(
            f"inclusion proof has {len(proof)} hashes; index {index} in size {size} "
            f"needs {inner + border}"
        )
    computed = _chain_border_right(_chain_inner(leaf_hash, proof[:inner], index), proof[inner:])
    if computed != root:
        raise ProofError(
            f"inclusion proof for index {index} does not lead to the root of size {size}"
        )


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check an RFC 9162 consistency proof; raise ProofError on any failure, None if valid."""
    _check_hash("old root", old_root)
    _check_hash("new root", new_root)
    if not 0 <= new_size <= MAX_TREE_SIZE:
        raise ProofError(f"new size {new_size} is out of range")
    if old_size > new_size:
        raise ProofError(f"old size {old_size} is larger than new size {new_size}")
    if old_size < 1:
        raise ProofError(f"old size {old_size}: consistency with an empty tree proves nothing")
    _check_proof(proof)
    if old_size == new_size:
        if proof:
            raise ProofError("equal sizes need an empty consistency proof")
        if old_root != new_root:
            raise ProofError(f"two different roots for the same size {old_size}")
        return
    inner, border = _decompose(old_size - 1, new_size)
    shift = (old_size & -old_size).bit_length() - 1
    inner -= shift
    # The proof starts with the root of the old tree's last complete subtree of size
    # 2^shift, unless the old tree is that subtree, whose root the verifier already has.
    if old_size == 1 << shift:
        seed, rest = old_root, list(proof)
    else:
        if not proof:
            raise ProofError("consistency proof is empty")
        seed, rest = proof[0], list(proof[1:])
    if len(rest) != inner + border:
        expected = inner + border + len(proof) - len(rest)
        raise ProofError(
            f"consistency proof has {len(proof)} hashes; {old_size} to {new_size} needs {expected}"
        )
    mask = (old_size - 1) >> shift
    old_computed = _chain_border_right(_chain_inner_right(seed, rest[:inner], mask), rest[inner:])
    if old_computed != old_root:
        raise ProofError(f"consistency proof does not reproduce the old root at size {old_size}")
    new_computed = _chain_border_right(_chain_inner(seed, rest[:inner], mask), rest[inner:])
    if new_computed != new_root:
        raise ProofError(f"consistency proof does not reproduce the new root at size {new_size}")


def _decompose(index: int, size: int) -> tuple[int, int]:
    """Split an inclusion proof's length into its inner part and its right border."""
    inner = (index ^ (size - 1)).bit_length()
    border = bin(index >> inner).count("1")
    return inner, border


def _chain_inner(seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    for i, h in enumerate(proof):
        seed = node_hash(seed, h) if (index >> i) & 1 == 0 else node_hash(h, seed)
    return seed


def _chain_inner_right(seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    for i, h in enumerate(proof):
        if (index >> i) & 1:
            seed = node_hash(h, seed)
    return seed


def _chain_border_right(seed: bytes, proof: Sequence[bytes]) -> bytes:
    for h in proof:
        seed = node_hash(h, seed)
    return seed
