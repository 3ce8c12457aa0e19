"""Issuing licences: the licensing authority's rules, as pure functions over the book.

A **run licence** is refused when the policy is expired, the run's size is above the
policy's ``ceiling_flop``, the run id is taken, its window is empty or already over, or
any device of its pod is covered by a pause in force (halt *or* throttle: no run at
all in the scope of a pause). Its size sets its tier: at least ``licence_flop`` needs
the licence (tier ``licence``); from ``notify_flop`` it must be notified (tier
``notify``, with a note); below, it is noted as below the notification threshold.

A **device licence** answers a device's signed request (`licensing.requests`) for a
run already in the book. It is refused when the device is not in the run's pod, the
run is outside its window or paused for the device, the device's firmware is below the
policy's minimum, the budget is above ``max_device_licence_flop``, the device licences
of the run would commit more than the run's budget, or the request's receipt is not
consistent with what the book knows (`check_renewal`). It counts from that receipt's
licensed counter, lasts ``licence_validity_s`` (within the run's window), and carries
the request's nonce and the next sequence number for the device.

Issued licences are signed by the licensing role (`sign_licence`) and appended to the
log as events (`licensing.events`); the book is their projection.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from pausebutton.crypto.envelope import Envelope
from pausebutton.crypto.keys import SigningKey
from pausebutton.device.receipts import UsageReceipt
from pausebutton.errors import ReplayError, ValidationError
from pausebutton.governance._common import SignedDocument, check_fresh
from pausebutton.governance.directives import Directive
from pausebutton.governance.policy import Policy
from pausebutton.governance.state import effect_for, pause_state
from pausebutton.licensing.book import LicenceBook
from pausebutton.licensing.licences import (
    DeviceLicence,
    PodDevice,
    RunLicence,
    Tier,
    check_window,
)
from pausebutton.licensing.requests import verify_request

T = TypeVar("T", bound=SignedDocument)


@dataclass(frozen=True)
class Issued(Generic[T]):
    """A licence the rules allow (unsigned), and notes for the record."""

    document: T
    notes: tuple[str, ...]


def classify_run(flop: int, policy: Policy) -> tuple[Tier, str]:
    """Place a run of `flop` operations in the policy's tiers, refusing one above the ceiling."""
    if flop > policy.ceiling_flop:
        raise ValidationError(
            f"a run of {flop:.3g} FLOP is above the policy's ceiling_flop "
            f"({policy.ceiling_flop:.3g}): no licence allows it"
        )
    if flop >= policy.licence_flop:
        return "licence", f"{flop:.3g} FLOP is at least licence_flop: licensed run"
    if flop >= policy.notify_flop:
        return "notify", f"{flop:.3g} FLOP is at least notify_flop: the run is notified"
    return "below_notify", f"{flop:.3g} FLOP is below notify_flop"


def check_not_paused(
    devices: Iterable[PodDevice], run_flop: int, directives: Iterable[Directive], now: int
) -> tuple[str, ...]:
    """Refuse if a pause in force covers any device; return notes on scheduled pauses."""
    state = pause_state(directives, now)
    for device in devices:
        effect = effect_for(state, device.context(run_flop))
        if effect.kind != "run":
            raise ValidationError(
                f"device {device.serial} is in the scope of pause "
                f"{', '.join(effect.directive_ids)} ({effect.kind}): no licence is issued"
            )
    return tuple(f"scheduled: pause {p.id} from {p.effective_at}" for p in state.scheduled)


def issue_run_licence(
    *,
    run_id: str,
    licensee: str,
    flop_budget: int,
    devices: Sequence[PodDevice],
    not_before: int,
    not_after: int,
    policy: Policy,
    directives: Iterable[Directive],
    book: LicenceBook,
    now: int,
) -> Issued[RunLicence]:
    """Apply the run rules; return the run licence to sign, or raise ValidationError."""
    check_fresh(f"policy version {policy.version}", policy.expires, now)
    tier, note = classify_run(flop_budget, policy)
    if run_id in book.runs:
        raise ValidationError(f"run id {run_id} is already licensed")
    if not_after <= max(not_before, now):
        raise ValidationError(f"run {run_id}: its window ends at {not_after}, not after now")
    pod = tuple(sorted(devices, key=lambda d: d.device_key))
    notes = check_not_paused(pod, flop_budget, directives, now)
    licence = RunLicence(
        run_id=run_id,
        licensee=licensee,
        flop_budget=flop_budget,
        devices=pod,
        not_before=not_before,
        not_after=not_after,
        policy_version=policy.version,
        tier=tier,
        issued=now,
    )
    return Issued(licence, (note, *notes))


def check_renewal(book: LicenceBook, receipt: UsageReceipt, receipt_ident: str) -> None:
    """Refuse a request whose receipt contradicts what the book knows of the device."""
    device = receipt.device_key
    last = book.last_receipt(device)
    if last is not None:
        last_id, previous = last
        if receipt.sequence == previous.sequence and receipt_ident != last_id:
            raise ValidationError(f"receipt #{receipt.sequence} forks from the one seen before")
        if receipt.sequence <= previous.sequence:
            raise ReplayError(
                f"receipt #{receipt.sequence} is not newer than #{previous.sequence}, already "
                "used for a licence (replayed request)"
            )
        lower = receipt.counters.below(previous.counters)
        if lower:
            raise ValidationError(f"receipt counters went down ({', '.join(lower)}): rollback")
    issued = book.issued_to(device)
    if not issued:
        return
    if receipt.licence is None:
        raise ValidationError("renewal needs a receipt under the device's licence; it names none")
    named = [i for i in issued if i.licence_id == receipt.licence]
    if not named:
        raise ValidationError("the receipt names a licence never issued to this device")
    licence = named[0].licence
    used = receipt.counters.licensed_ops
    if receipt.licence_sequence != licence.sequence:
        raise ValidationError("the receipt's licence sequence does not match its licence")
    if not licence.counter_base <= used <= licence.ceiling:
        raise ValidationError(
            f"the receipt's licensed counter {used} is outside licence #{licence.sequence}'s "
            f"range {licence.counter_base}..{licence.ceiling}"
        )


def issue_device_licence(
    request: Envelope,
    *,
    run_id: str,
    flop_budget: int,
    policy: Policy,
    directives: Iterable[Directive],
    book: LicenceBook,
    now: int,
) -> Issued[DeviceLicence]:
    """Apply the device rules to a signed request; return the licence to sign, or raise."""
    run = book.run(run_id)
    asked, receipt, receipt_ident = verify_request(request)
    member = run.member(asked.device_key)
    if member.serial != asked.serial:
        raise ValidationError(f"request from serial {asked.serial}; the pod lists {member.serial}")
    check_window(f"run {run_id}", run.not_before, run.not_after, now)
    check_fresh(f"policy version {policy.version}", policy.expires, now)
    if asked.firmware_version < policy.min_firmware_version:
        raise ValidationError(
            f"device {asked.serial} runs firmware {asked.firmware_version}, below the "
            f"policy's minimum {policy.min_firmware_version}"
        )
    notes = check_not_paused([member], run.flop_budget, directives, now)
    if not 0 < flop_budget <= policy.max_device_licence_flop:
        raise ValidationError(
            f"a device licence budget is 1..{policy.max_device_licence_flop:.3g} FLOP "
            f"(max_device_licence_flop), not {flop_budget:.3g}"
        )
    check_renewal(book, receipt, receipt_ident)
    licence = DeviceLicence(
        device_key=asked.device_key,
        serial=asked.serial,
        run_id=run_id,
        run_flop=run.flop_budget,
        sequence=book.last_sequence(asked.device_key) + 1,
        flop_budget=flop_budget,
        counter_base=receipt.counters.licensed_ops,
        not_before=now,
        not_after=min(now + policy.licence_validity_s, run.not_after),
        policy_version=policy.version,
        min_firmware_version=policy.min_firmware_version,
        device_nonce=asked.nonce,
        issued=now,
    )
    committed = book.committed(run_id, adding=licence)
    if committed > run.flop_budget:
        raise ValidationError(
            f"run {run_id}: this licence would commit {committed:.4g} FLOP of the run's "
            f"{run.flop_budget:.4g}"
        )
    return Issued(licence, (f"run {run_id}: {committed} of {run.flop_budget} committed", *notes))


def sign_licence(document: RunLicence | DeviceLicence, keys: Sequence[SigningKey]) -> Envelope:
    """Sign a licence with each of the licensing role's `keys` (k-of-n per the root)."""
    envelope = document.to_envelope()
    for key in keys:
        envelope = envelope.with_signature(key)
    return envelope
