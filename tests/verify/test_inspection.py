"""Inspection sampling: how many chips to check, and a signed sample no one can steer."""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pausebutton.crypto import sign_envelope
from pausebutton.errors import FormatError, SignatureError, ValidationError
from pausebutton.verify import (
    Randomness,
    approximate_sample_size,
    commit_to_inspection,
    commitment_of,
    detection_probability,
    draw_sample,
    exact_sample_size,
    inventory_digest,
    miss_probability,
    sample_seed,
    sign_sample,
    verify_sample,
)
from tests.verify.network import NOW, key

INSPECTOR = key("inspector/ines")
SECRET = hashlib.sha256(b"inspector secret for tests").digest()
CHIPS = [f"chip-{i:04d}" for i in range(200)]
RANDOMNESS = Randomness(origin="example.org/log", tree_size=1201, root_hash="7f" * 32)


def miss_by_definition(population: int, falsified: int, sample: int) -> Fraction:
    """C(N - r, n) / C(N, n), straight from the definition."""
    return Fraction(math.comb(population - falsified, sample), math.comb(population, sample))


# Sample sizes


def test_known_values() -> None:
    assert exact_sample_size(100, 1, 0.05) == 95
    assert approximate_sample_size(100, 1, 0.05) == 95
    assert exact_sample_size(100, 50, "0.05") == 5
    assert approximate_sample_size(100, 50, "0.05") == 6
    assert exact_sample_size(1000, 10, "0.05") == 258
    assert approximate_sample_size(1000, 10, "0.05") == 259
    assert exact_sample_size(100, 100, "0.05") == 1
    assert exact_sample_size(10, 1, "0.01") == 10


def test_miss_probability_is_exact() -> None:
    assert miss_probability(100, 1, 95) == Fraction(1, 20)
    assert miss_probability(10, 3, 8) == 0
    assert miss_probability(10, 3, 0) == 1
    assert detection_probability(100, 1, 95) == Fraction(19, 20)


def test_beta_is_read_as_the_decimal_it_prints_as() -> None:
    # 0.05 as a binary float is a hair above 1/20; it is read as exactly 1/20.
    assert exact_sample_size(100, 1, 0.05) == exact_sample_size(100, 1, Fraction(1, 20))


@pytest.mark.parametrize(
    ("population", "falsified", "beta"),
    [
        (0, 1, "0.05"),
        (10, 0, "0.05"),
        (10, 11, "0.05"),
        (10, 1, "0"),
        (10, 1, "1"),
        (10, 1, "x"),
        (10, 1, "Infinity"),
        (10, 1, "NaN"),
    ],
)
def test_bad_inputs_are_refused(population: int, falsified: int, beta: str) -> None:
    with pytest.raises(FormatError):
        exact_sample_size(population, falsified, beta)
    with pytest.raises(FormatError):
        approximate_sample_size(population, falsified, beta)


populations = st.integers(1, 3000)
betas = st.sampled_from(["0.001", "0.01", "0.05", "0.1", "0.2", "0.5", "0.9"])


@given(populations, st.data(), betas)
@settings(max_examples=150, deadline=None)
def test_exact_size_is_the_smallest_that_is_enough(
    population: int, data: st.DataObject, beta: str
) -> None:
    falsified = data.draw(st.integers(1, population))
    n = exact_sample_size(population, falsified, beta)
    assert 1 <= n <= population - falsified + 1 <= population
    assert miss_by_definition(population, falsified, n) <= Fraction(beta)
    assert miss_by_definition(population, falsified, n - 1) > Fraction(beta)


@given(populations, st.data(), betas)
@settings(max_examples=150, deadline=None)
def test_more_falsified_records_need_fewer_checks(
    population: int, data: st.DataObject, beta: str
) -> None:
    r1 = data.draw(st.integers(1, population))
    r2 = data.draw(st.integers(r1, population))
    assert exact_sample_size(population, r2, beta) <= exact_sample_size(population, r1, beta)


@given(populations, st.data())
@settings(max_examples=100, deadline=None)
def test_more_confidence_needs_more_checks(population: int, data: st.DataObject) -> None:
    falsified = data.draw(st.integers(1, population))
    sizes = [exact_sample_size(population, falsified, b) for b in ("0.5", "0.1", "0.01")]
    assert sizes == sorted(sizes)


@given(st.integers(1000, 1_000_000), st.data(), betas)
@settings(max_examples=100, deadline=None)
def test_approximation_is_never_below_and_close_above(
    population: int, data: st.DataObject, beta: str
) -> None:
    """0 <= approx - exact <= ceil(ln(1/beta)/2) + 1 for large N (second-order term + rounding)."""
    falsified = data.draw(st.integers(1, population // 10))
    exact = exact_sample_size(population, falsified, beta)
    approx = approximate_sample_size(population, falsified, beta)
    assert 0 <= approx - exact <= math.ceil(math.log(1 / float(beta)) / 2) + 1


def test_large_populations_are_quick() -> None:
    assert exact_sample_size(10_000_000, 1000, "0.01") == 45_944
    assert approximate_sample_size(10_000_000, 1000, "0.01") == 45_946


# The drawing algorithm


def test_draw_is_deterministic_and_ignores_input_order() -> None:
    seed = hashlib.sha256(b"seed").digest()
    first = draw_sample(CHIPS, 20, seed)
    assert draw_sample(list(reversed(CHIPS)), 20, seed) == first
    assert len(set(first)) == 20
    assert set(first) <= set(CHIPS)
    assert draw_sample(CHIPS, 20, hashlib.sha256(b"other").digest()) != first
    assert draw_sample(CHIPS, 25, seed)[:20] == first  # a longer sample extends a shorter one


def test_draw_known_answer() -> None:
    """Freezes the algorithm: SHA-256 counter mode into Fisher-Yates over sorted ids."""
    seed = bytes(32)
    assert draw_sample([f"c{i}" for i in range(10)], 4, seed) == KNOWN_ANSWER


KNOWN_ANSWER = ("c8", "c1", "c3", "c6")
"""Worked out apart from `draw_sample`, from the 64-bit words of SHA-256(0^32 || 0^8)."""


def test_draw_is_uniform_enough() -> None:
    counts = Counter(
        draw_sample(["a", "b", "c", "d", "e"], 1, bytes([i % 256, i // 256]))[0]
        for i in range(5000)
    )
    assert all(850 < c < 1150 for c in counts.values()), counts


def test_draw_refuses_repeats_and_oversize() -> None:
    with pytest.raises(FormatError, match="repeated"):
        draw_sample(["a", "a", "b"], 1, bytes(32))
    with pytest.raises(FormatError, match="cannot draw"):
        draw_sample(["a", "b"], 3, bytes(32))


# The signed sample


def signed(**changes: object):
    args = {
        "inspector": "ines",
        "site": "site-7",
        "chips": CHIPS,
        "secret": SECRET,
        "randomness": RANDOMNESS,
        "commitment_leaf": 1100,
        "declaration_leaf": 1150,
        "falsified": 5,
        "beta": "0.05",
        "key": INSPECTOR,
        "issued": NOW,
    }
    args.update(changes)
    return sign_sample(**args)  # type: ignore[arg-type]


def test_signed_sample_verifies_and_is_recomputable_by_anyone() -> None:
    commitment = commit_to_inspection("ines", "site-7", SECRET, INSPECTOR, NOW - 3600)
    sample = verify_sample(
        signed(), inspector_key=INSPECTOR.public, chips=CHIPS, commitment=commitment
    )
    assert len(sample.sample) == exact_sample_size(200, 5, "0.05") == 90
    seed = sample_seed(SECRET.hex(), RANDOMNESS, "site-7", inventory_digest(CHIPS))
    assert sample.sample == draw_sample(CHIPS, 90, seed)
    assert signed() == signed()  # deterministic end to end


def test_sample_changes_with_the_public_randomness() -> None:
    other = RANDOMNESS.model_copy(update={"root_hash": "80" * 32})
    assert signed().payload["sample"] != signed(randomness=other).payload["sample"]


def test_chosen_sample_is_detected() -> None:
    """An inspector (or site) who swaps in friendlier chips, even re-signing, is caught."""
    envelope = signed()
    friendly = sorted(CHIPS)[:90]
    forged = sign_envelope(
        envelope.payload_type, {**envelope.payload, "sample": friendly}, [INSPECTOR]
    )
    with pytest.raises(ValidationError, match="not the one its seed draws"):
        verify_sample(forged, inspector_key=INSPECTOR.public, chips=CHIPS)


def test_tampered_sample_breaks_the_signature() -> None:
    envelope = signed()
    payload = {**envelope.payload, "sample": list(reversed(envelope.payload["sample"]))}
    with pytest.raises(SignatureError):
        verify_sample(
            envelope.model_copy(update={"payload": payload}),
            inspector_key=INSPECTOR.public,
            chips=CHIPS,
        )


def test_sample_signed_by_someone_else_is_refused() -> None:
    with pytest.raises(SignatureError):
        verify_sample(signed(key=key("impostor")), inspector_key=INSPECTOR.public, chips=CHIPS)


def test_sample_of_another_inventory_is_refused() -> None:
    with pytest.raises(ValidationError, match="another list of chips"):
        verify_sample(signed(), inspector_key=INSPECTOR.public, chips=[*CHIPS[:-1], "chip-x"])


def test_secret_that_does_not_open_the_commitment_is_refused() -> None:
    envelope = signed()
    forged = sign_envelope(
        envelope.payload_type, {**envelope.payload, "secret": "00" * 32}, [INSPECTOR]
    )
    with pytest.raises(ValidationError, match="does not open"):
        verify_sample(forged, inspector_key=INSPECTOR.public, chips=CHIPS)


def test_commitment_to_another_secret_is_refused() -> None:
    other = commit_to_inspection("ines", "site-7", bytes(32), INSPECTOR, NOW - 3600)
    with pytest.raises(ValidationError, match="another commitment"):
        verify_sample(signed(), inspector_key=INSPECTOR.public, chips=CHIPS, commitment=other)


def test_commitment_by_another_inspector_is_refused() -> None:
    other = commit_to_inspection("otto", "site-7", SECRET, INSPECTOR, NOW - 3600)
    with pytest.raises(ValidationError, match="inspector"):
        verify_sample(signed(), inspector_key=INSPECTOR.public, chips=CHIPS, commitment=other)


def test_non_canonical_beta_cannot_be_signed() -> None:
    with pytest.raises(FormatError, match="beta"):
        signed(beta="0.050")


def test_randomness_fixed_before_the_declaration_is_refused() -> None:
    early = RANDOMNESS.model_copy(update={"tree_size": 1150})
    with pytest.raises(ValidationError, match="before the declaration"):
        verify_sample(signed(randomness=early), inspector_key=INSPECTOR.public, chips=CHIPS)


def test_changed_confidence_is_detected() -> None:
    envelope = signed()
    forged = sign_envelope(envelope.payload_type, {**envelope.payload, "beta": "0.5"}, [INSPECTOR])
    with pytest.raises(ValidationError, match="not the one its seed draws"):
        verify_sample(forged, inspector_key=INSPECTOR.public, chips=CHIPS)


def test_commitment_needs_32_bytes() -> None:
    assert len(commitment_of(SECRET)) == 64
    with pytest.raises(FormatError):
        commitment_of(b"short")
