"""Usage receipts, signed by the device, and the verifier's check of a device's chain of them.

A receipt (``pausebutton.usage-receipt/v1``, signed by the device's Ed25519 key) states the
device's counters, the licence it runs under, its receipt sequence number, the hash of
its previous receipt, the version of its secure element's state record, and the
authority's challenge nonce. Receipts form one hash chain per device, so what a device
cannot prevent locally shows up to whoever holds its receipts:

- a state file rolled back to an older copy makes the device reuse sequence numbers
  (a **fork**: two different receipts with one sequence) and, later on, report counters
  lower than it already reported (a **rollback**);
- a cloned device key makes two devices sign receipts with the same sequences (a fork);
- a licence replayed after a rollback shows as a licence sequence going back (rollback);
- receipts withheld show as a **gap** in the sequence numbers.

`check_receipt_chain` is pure: it takes receipts in any order and returns its findings.
"""

from __future__ import annotations

import base64
import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import Field, model_validator

from pausebutton.crypto.envelope import Envelope, EnvelopeSignature, verify_threshold
from pausebutton.crypto.keys import VerifyKey
from pausebutton.errors import Error, SignatureError, ValidationError
from pausebutton.governance._common import (
    MAX_SAFE_INT,
    FlopCount,
    KeyId,
    SignedDocument,
    StrictModel,
    UnixTime,
    parse_document,
)
from pausebutton.registry.chips import SERIAL as SERIAL_PATTERN
from pausebutton.registry.events import NONCE_PATTERN

RECEIPT_PAYLOAD_TYPE = "pausebutton.usage-receipt/v1"
METERS = ("flops", "int_ops", "bytes_moved", "licensed_ops")

Digest = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
Sequence_ = Annotated[int, Field(ge=1, le=MAX_SAFE_INT)]
FindingKind = Literal["fork", "rollback", "gap", "bad_signature", "malformed"]


class Counters(StrictModel):
    """The device's monotonic meters: FLOP, integer operations, bytes moved, licensed ops."""

    flops: FlopCount = 0
    int_ops: FlopCount = 0
    bytes_moved: FlopCount = 0
    licensed_ops: FlopCount = Field(
        default=0, description="operations (FLOP + integer) charged to licences"
    )

    @property
    def ops(self) -> int:
        """All operations: FLOP and integer operations together."""
        return self.flops + self.int_ops

    def add(self, flops: int, int_ops: int, bytes_moved: int, *, licensed: bool) -> Counters:
        """Return the counters after a debit (charged to the licence if `licensed`)."""
        return Counters(
            flops=self.flops + flops,
            int_ops=self.int_ops + int_ops,
            bytes_moved=self.bytes_moved + bytes_moved,
            licensed_ops=self.licensed_ops + (flops + int_ops if licensed else 0),
        )

    def below(self, other: Counters) -> tuple[str, ...]:
        """The meters on which these counters are lower than `other`'s."""
        return tuple(m for m in METERS if getattr(self, m) < getattr(other, m))


class UsageReceipt(SignedDocument):
    """What a device reports it did, signed by its own key, chained to its last receipt."""

    PAYLOAD_TYPE = RECEIPT_PAYLOAD_TYPE

    device_key: KeyId = Field(description="key id of the signing device key")
    serial: Annotated[str, Field(pattern=SERIAL_PATTERN)]
    sequence: Sequence_ = Field(description="1 for the first receipt, then +1 each")
    previous: Digest | None = Field(description="receipt_id of the previous; null for the first")
    licence: Digest | None = Field(description="licence_id of the licence installed, if any")
    licence_sequence: int = Field(ge=0, le=MAX_SAFE_INT, description="its sequence; 0: none")
    counters: Counters
    state_version: Sequence_ = Field(description="version of the state record when signed")
    nonce: Annotated[str, Field(pattern=NONCE_PATTERN)] | None = Field(
        description="the authority's challenge this receipt answers, if any"
    )
    time: UnixTime

    @model_validator(mode="after")
    def _chained(self) -> UsageReceipt:
        if (self.sequence == 1) != (self.previous is None):
            raise ValidationError("receipt: previous is null exactly for sequence 1")
        if (self.licence is None) != (self.licence_sequence == 0):
            raise ValidationError("receipt: licence is null exactly when licence_sequence is 0")
        return self


def receipt_id(envelope: Envelope) -> str:
    """The id of a receipt: hex SHA-256 of the bytes its signature covers."""
    return hashlib.sha256(envelope.signing_message()).hexdigest()


def sign_document(
    document: SignedDocument, key_id: str, sign: Callable[[bytes], bytes]
) -> Envelope:
    """Return `document` in an envelope signed once by `sign` (the secure element's key)."""
    envelope = document.to_envelope()
    signature = base64.b64encode(sign(envelope.signing_message())).decode()
    return envelope.model_copy(
        update={"signatures": (EnvelopeSignature(keyid=key_id, sig=signature),)}
    )


def parse_receipt(envelope: Envelope) -> UsageReceipt:
    """Read a receipt from its envelope, checking its form but no signature."""
    return parse_document(UsageReceipt, envelope)


def verify_receipt(envelope: Envelope, key: VerifyKey) -> UsageReceipt:
    """Accept a receipt signed by the device key `key` that it names, or raise."""
    receipt = parse_receipt(envelope)
    if receipt.device_key != key.key_id:
        raise SignatureError(
            f"receipt names device key {receipt.device_key[:16]}…, not {key.key_id[:16]}…"
        )
    verify_threshold(envelope, [key], 1)
    return receipt


@dataclass(frozen=True)
class Finding:
    """Something a device's receipts show: its kind, the device, the sequence, the evidence."""

    kind: FindingKind
    device: str
    sequence: int | None
    detail: str
    receipts: tuple[str, ...] = ()


_Chain = dict[int, dict[str, UsageReceipt]]


def check_receipt_chain(
    receipts: Iterable[Envelope], keys: Mapping[str, VerifyKey] | None = None, *, start: int = 1
) -> list[Finding]:
    """Check each device's receipts: forks, rollbacks and gaps (and signatures, given `keys`).

    `keys` maps device key ids to their registered public keys; without it signatures are
    not checked. `start` is the first sequence number the caller expects to hold (1: the
    whole history); sequences below it are still checked for forks and rollbacks.
    """
    findings: list[Finding] = []
    chains: dict[str, _Chain] = defaultdict(lambda: defaultdict(dict))
    for envelope in receipts:
        ident = receipt_id(envelope)
        try:
            receipt = parse_receipt(envelope)
        except Error as exc:
            findings.append(Finding("malformed", "?", None, str(exc), (ident,)))
            continue
        if keys is not None:
            try:
                verify_receipt(envelope, keys[receipt.device_key])
            except (KeyError, Error) as exc:
                why = "unknown device key" if isinstance(exc, KeyError) else str(exc)
                findings.append(
                    Finding("bad_signature", receipt.device_key, receipt.sequence, why, (ident,))
                )
                continue
        chains[receipt.device_key][receipt.sequence][ident] = receipt
    for device in sorted(chains):
        findings += _check_device(device, chains[device], start)
    return findings


def _check_device(device: str, chain: _Chain, start: int) -> list[Finding]:
    findings: list[Finding] = []
    expected = start
    high: Counters | None = None
    high_state = high_licence = 0
    for sequence in sorted(chain):
        at = chain[sequence]
        ids = tuple(sorted(at))
        if len(at) > 1:
            findings.append(Finding("fork", device, sequence, f"{len(at)} receipts", ids))
        if sequence > expected:
            missing = f"{expected}" if sequence == expected + 1 else f"{expected}..{sequence - 1}"
            findings.append(Finding("gap", device, sequence, f"receipts {missing} missing", ids))
        expected = max(expected, sequence + 1)
        before = chain.get(sequence - 1, {})
        for ident in ids:
            receipt = at[ident]
            if before and receipt.previous not in before:
                findings.append(
                    Finding(
                        "fork",
                        device,
                        sequence,
                        f"does not link to any receipt {sequence - 1} held",
                        (ident, *sorted(before)),
                    )
                )
            lower = () if high is None else receipt.counters.below(high)
            if lower:
                what = ", ".join(lower)
                findings.append(
                    Finding("rollback", device, sequence, f"counters went down: {what}", (ident,))
                )
            if receipt.state_version <= high_state:
                findings.append(
                    Finding(
                        "rollback",
                        device,
                        sequence,
                        f"state version {receipt.state_version} not above {high_state}",
                        (ident,),
                    )
                )
            if receipt.licence_sequence < high_licence:
                findings.append(
                    Finding(
                        "rollback",
                        device,
                        sequence,
                        f"licence sequence {receipt.licence_sequence} below {high_licence}",
                        (ident,),
                    )
                )
        for receipt in at.values():
            high = receipt.counters if high is None else _max(high, receipt.counters)
            high_state = max(high_state, receipt.state_version)
            high_licence = max(high_licence, receipt.licence_sequence)
    return findings


def _max(a: Counters, b: Counters) -> Counters:
    return Counters(**{m: max(getattr(a, m), getattr(b, m)) for m in METERS})
