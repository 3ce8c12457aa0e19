"""Inspection sampling: how many chips to check, and a random sample the site cannot predict.

If r of a site's N chip records are false and an inspector checks n chips drawn at random
without replacement, the chance of seeing no false record is hypergeometric::

    P(miss) = C(N - r, n) / C(N, n) = C(N - n, r) / C(N, r)

`exact_sample_size` is the smallest n with P(miss) <= beta, computed with integers;
`approximate_sample_size` is the attribute-sampling formula n = N (1 - beta^(1/r)),
rounded up, which never asks for fewer chips than the exact answer.

The sample itself is drawn by `draw_sample` from a seed no one controls alone: the
inspector's secret (committed to before the site declared its chips) and public randomness
fixed after the declaration (a log checkpoint's root hash): see `sign_sample`, and
`verify_sample`, with which anyone can redraw it.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator, Sequence
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import ClassVar, Final, Literal

from pydantic import Field, field_validator

from pausebutton.crypto import Envelope, SigningKey, VerifyKey, canonical_bytes, verify_threshold
from pausebutton.errors import FormatError, ValidationError
from pausebutton.verify._common import (
    MAX_SAFE_INT,
    Hex32,
    Identifier,
    SignedMessage,
    StrictModel,
    UnixTime,
    build,
    parse_message,
)

ALGORITHM: Final = "sha256-ctr/fisher-yates/v1"
"""The name of the drawing algorithm, written into every signed sample."""

SEED_DOMAIN = b"pausebutton-inspection-seed-v1\n"
_WORD = 2**64


def as_fraction(beta: Fraction | Decimal | str | float) -> Fraction:
    """Read a probability exactly; a float is read as the decimal it prints as (0.05 is 1/20)."""
    if isinstance(beta, Fraction):
        value = beta
    else:
        try:
            value = Fraction(Decimal(repr(beta) if isinstance(beta, float) else beta))
        except (InvalidOperation, ValueError, OverflowError, TypeError):
            raise FormatError(f"{beta!r} is not a number") from None
    if not 0 < value < 1:
        raise FormatError(f"beta must be strictly between 0 and 1, got {beta}")
    return value


def _check(population: int, falsified: int) -> None:
    if population < 1:
        raise FormatError(f"population must be at least 1, got {population}")
    if not 1 <= falsified <= population:
        raise FormatError(f"falsified must be between 1 and {population}, got {falsified}")


def miss_probability(population: int, falsified: int, sample: int) -> Fraction:
    """The exact chance that `sample` chips drawn from `population` hold none of `falsified`."""
    _check(population, falsified)
    if not 0 <= sample <= population:
        raise FormatError(f"sample must be between 0 and {population}, got {sample}")
    return Fraction(*_miss_ratio(population, falsified, sample))


def _miss_ratio(population: int, falsified: int, sample: int) -> tuple[int, int]:
    """P(miss) as (numerator, denominator), from the shorter of its two equal products."""
    if sample > population - falsified:
        return 0, 1
    if sample <= falsified:
        return math.perm(population - falsified, sample), math.perm(population, sample)
    return math.perm(population - sample, falsified), math.perm(population, falsified)


def detection_probability(population: int, falsified: int, sample: int) -> Fraction:
    """The exact chance that the sample holds at least one falsified record."""
    return 1 - miss_probability(population, falsified, sample)


def exact_sample_size(
    population: int, falsified: int, beta: Fraction | Decimal | str | float
) -> int:
    """The smallest n with P(miss) <= beta (hypergeometric, exact integer arithmetic)."""
    target = as_fraction(beta)
    _check(population, falsified)
    lo, hi = 0, population - falsified + 1  # at hi the miss probability is 0
    while lo < hi:  # P(miss) falls as n grows: binary search for the first n that is enough
        mid = (lo + hi) // 2
        num, den = _miss_ratio(population, falsified, mid)
        if num * target.denominator <= target.numerator * den:
            hi = mid
        else:
            lo = mid + 1
    return lo


def approximate_sample_size(
    population: int, falsified: int, beta: Fraction | Decimal | str | float
) -> int:
    """The usual approximation n = N (1 - beta^(1/r)), rounded up (never below the exact n)."""
    target = as_fraction(beta)
    _check(population, falsified)
    value = population * (1 - math.pow(float(target), 1 / falsified))
    # Round to 9 places first so that 95.00000000000001 is read as 95, not 96.
    return min(population, math.ceil(round(value, 9)))


def inventory_digest(chips: Sequence[str]) -> str:
    """SHA-256 (hex) of the declared chip ids, sorted, as an RFC 8785 JSON array."""
    ordered = sorted(chips)
    if len(set(ordered)) != len(ordered):
        raise FormatError("the declared chips contain a repeated id")
    return hashlib.sha256(canonical_bytes(ordered)).hexdigest()


def _stream(seed: bytes) -> Iterator[int]:
    """Yield 64-bit words: block i is SHA-256(seed || i as 8 bytes, big-endian)."""
    counter = 0
    while True:
        block = hashlib.sha256(seed + counter.to_bytes(8, "big")).digest()
        counter += 1
        for i in range(0, 32, 8):
            yield int.from_bytes(block[i : i + 8], "big")


def draw_sample(chips: Sequence[str], size: int, seed: bytes) -> tuple[str, ...]:
    """Draw `size` distinct chips: Fisher-Yates over the sorted ids, fed by SHA-256 counter mode.

    Step i swaps position i with position i + u, u uniform in [0, N - i), taken from the
    next 64-bit word below the largest multiple of N - i (words above it are skipped, so
    there is no modulo bias). The sample is the first `size` positions, in draw order.
    """
    items = sorted(chips)
    if len(set(items)) != len(items):
        raise FormatError("the declared chips contain a repeated id")
    if not 0 <= size <= len(items):
        raise FormatError(f"cannot draw {size} of {len(items)} chips")
    words = _stream(seed)
    for i in range(size):
        span = len(items) - i
        limit = _WORD - _WORD % span
        word = next(words)
        while word >= limit:
            word = next(words)
        j = i + word % span
        items[i], items[j] = items[j], items[i]
    return tuple(items[:size])


COMMITMENT_DOMAIN = b"pausebutton-inspection-commitment-v1\n"
COMMITMENT_TYPE = "pausebutton.inspection-commitment/v1"
SAMPLE_TYPE = "pausebutton.inspection-sample/v1"
BETA_PATTERN = r"^0\.[0-9]{0,17}[1-9]$"


def commitment_of(secret: bytes) -> str:
    """The inspector's commitment to a 32-byte secret: SHA-256 of domain || secret, hex."""
    if len(secret) != 32:
        raise FormatError(f"an inspection secret is 32 bytes, got {len(secret)}")
    return hashlib.sha256(COMMITMENT_DOMAIN + secret).hexdigest()


class Randomness(StrictModel):
    """Public randomness: the root hash of a log checkpoint, and which one."""

    origin: str = Field(min_length=1, max_length=256, description="the log's origin line")
    tree_size: int = Field(ge=1, le=MAX_SAFE_INT)
    root_hash: Hex32


class InspectionCommitment(SignedMessage):
    """The inspector binds itself to a secret before the site declares its chips."""

    PAYLOAD_TYPE: ClassVar[str] = COMMITMENT_TYPE

    inspector: Identifier
    site: Identifier
    commitment: Hex32
    issued: UnixTime


class InspectionSample(SignedMessage):
    """Which chips the inspector will check, and everything needed to redraw them."""

    PAYLOAD_TYPE: ClassVar[str] = SAMPLE_TYPE

    inspector: Identifier
    site: Identifier
    population: int = Field(ge=1, le=MAX_SAFE_INT, description="N, the chips declared")
    inventory_sha256: Hex32 = Field(description="`inventory_digest` of the declared chip ids")
    declaration_leaf: int = Field(ge=0, le=MAX_SAFE_INT, description="log index of the declaration")
    commitment_leaf: int = Field(ge=0, le=MAX_SAFE_INT, description="log index of the commitment")
    commitment: Hex32
    secret: Hex32 = Field(description="the committed secret, revealed")
    randomness: Randomness
    falsified: int = Field(ge=1, le=MAX_SAFE_INT, description="r, falsified records to catch")
    beta: str = Field(pattern=BETA_PATTERN, description="chance of missing them all, decimal")
    algorithm: Literal["sha256-ctr/fisher-yates/v1"]
    sample: tuple[Identifier, ...]
    issued: UnixTime

    _tuple = field_validator("sample", mode="before")(
        lambda v: tuple(v) if isinstance(v, list) else v
    )


def sample_seed(secret: str, randomness: Randomness, site: str, inventory_sha256: str) -> bytes:
    """SHA-256 of the domain and the RFC 8785 JSON of the secret, randomness, site, inventory."""
    fields = {
        "inventory_sha256": inventory_sha256,
        "randomness": randomness.model_dump(mode="json"),
        "secret": secret,
        "site": site,
    }
    return hashlib.sha256(SEED_DOMAIN + canonical_bytes(fields)).digest()


def commit_to_inspection(
    inspector: str, site: str, secret: bytes, key: SigningKey, issued: int
) -> Envelope:
    """Inspector: sign a commitment to `secret` (published before the site's declaration)."""
    message = build(
        InspectionCommitment,
        inspector=inspector,
        site=site,
        commitment=commitment_of(secret),
        issued=issued,
    )
    return message.sign(key)


def sign_sample(
    *,
    inspector: str,
    site: str,
    chips: Sequence[str],
    secret: bytes,
    randomness: Randomness,
    commitment_leaf: int,
    declaration_leaf: int,
    falsified: int,
    beta: str,
    key: SigningKey,
    issued: int,
) -> Envelope:
    """Inspector: draw the sample of exactly `exact_sample_size` chips and sign it."""
    digest = inventory_digest(chips)
    size = exact_sample_size(len(chips), falsified, beta)
    chosen = draw_sample(chips, size, sample_seed(secret.hex(), randomness, site, digest))
    message = build(
        InspectionSample,
        inspector=inspector,
        site=site,
        population=len(chips),
        inventory_sha256=digest,
        declaration_leaf=declaration_leaf,
        commitment_leaf=commitment_leaf,
        commitment=commitment_of(secret),
        secret=secret.hex(),
        randomness=randomness,
        falsified=falsified,
        beta=beta,
        algorithm=ALGORITHM,
        sample=chosen,
        issued=issued,
    )
    return message.sign(key)


def verify_sample(
    envelope: Envelope,
    *,
    inspector_key: VerifyKey,
    chips: Sequence[str],
    commitment: Envelope | None = None,
) -> InspectionSample:
    """Check a signed sample and redraw it from its seed; raise a typed error if anything differs.

    The caller checks the log facts the sample cites: the checkpoint (`randomness`) is
    genuine and is the first one after both leaves, which hold the declaration and
    `commitment`.
    """
    verify_threshold(envelope, [inspector_key], 1)
    sample = parse_message(InspectionSample, envelope)
    if len(chips) != sample.population or inventory_digest(chips) != sample.inventory_sha256:
        raise ValidationError("the sample was drawn from another list of chips")
    if commitment_of(bytes.fromhex(sample.secret)) != sample.commitment:
        raise ValidationError("the revealed secret does not open the commitment")
    if commitment is not None:
        verify_threshold(commitment, [inspector_key], 1)
        committed = parse_message(InspectionCommitment, commitment)
        cited = (sample.commitment, sample.site, sample.inspector)
        if (committed.commitment, committed.site, committed.inspector) != cited:
            raise ValidationError("the sample cites another commitment, site or inspector")
    if sample.randomness.tree_size <= max(sample.declaration_leaf, sample.commitment_leaf):
        raise ValidationError("the randomness was fixed before the declaration or commitment")
    size = exact_sample_size(sample.population, sample.falsified, sample.beta)
    seed = sample_seed(sample.secret, sample.randomness, sample.site, sample.inventory_sha256)
    if sample.sample != draw_sample(chips, size, seed):
        raise ValidationError("the sample is not the one its seed draws")
    return sample
