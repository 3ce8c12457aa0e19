"""The device agent: the I/O that keeps a governor in touch with the authority.

The governor does no I/O; the agent does it for it, one `Agent.tick(now)` at a time:

1. **governance**: refresh over TUF (`GovernanceClient.poll`), then show the governor the
   view and the time of the last good refresh (`Governor.observe`). A failed refresh
   changes nothing but the clock: once the last good refresh is older than the policy's
   ``freshness_s`` the governor halts on its own (fail closed), and the report says so;
2. **licence**: when there is no licence, its remaining budget is below a fraction of
   its budget, or it expires soon, sign a request (with a fresh receipt), send it to the
   licensing desk, and install what comes back (verified offline by the governor). Not
   while a pause covers the device: the issuer refuses then anyway;
3. **challenges**: for each nonce the authority asked about, sign a receipt carrying it;
4. **receipts**: sign a receipt if the counters moved since the last one, and upload
   every receipt not yet uploaded as a ``device.receipt`` event signed by the operator.
   Receipts that fail to upload wait in the outbox (a folder, if given) for the next tick.

The desk and the log intake are protocols: in-process here (`OfficeDesk` over a
`LicensingOffice`; an `EventLog`), HTTP clients later.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from pausebutton.crypto.envelope import Envelope
from pausebutton.crypto.keys import SigningKey
from pausebutton.device.governance_client import GovernanceClient
from pausebutton.device.governor import Governor, Grant
from pausebutton.device.receipt_events import receipt_event
from pausebutton.device.receipts import parse_receipt, receipt_id
from pausebutton.errors import Error, StoreError
from pausebutton.governance.acceptance import View
from pausebutton.licensing.office import LicensingOffice

SENT = "last-sent"
"""In the outbox: the id of the last receipt uploaded (not uploaded again after a restart)."""


class LicenceDesk(Protocol):
    """Where a device sends a signed licence request and gets a signed licence back."""

    def renew(self, request: Envelope) -> Envelope:
        """Answer `request` with a device licence, or raise the issuer's refusal."""


class ReceiptSink(Protocol):
    """Where receipt events go: the log's intake (`EventLog` is one)."""

    def submit_batch(self, items: Sequence[Envelope]) -> list[int]:
        """Append the events, all or none; return their leaf indices."""


@dataclass
class OfficeDesk:
    """A `LicenceDesk` over an in-process `LicensingOffice`, for one run and budget."""

    office: LicensingOffice
    run_id: str
    flop_budget: int
    view: Callable[[], View]
    """The authority's published governance state (its policy and directives)."""

    def renew(self, request: Envelope) -> Envelope:
        """Issue and log a device licence answering `request`."""
        view = self.view()
        if view.policy is None:
            raise StoreError("no policy is published: no licence can be issued")
        logged = self.office.issue_device(
            request,
            run_id=self.run_id,
            flop_budget=self.flop_budget,
            policy=view.policy,
            directives=view.directives,
        )
        return logged.envelope


@dataclass(frozen=True)
class Renewal:
    """When to ask for a new licence: budget below a fraction of it, or expiry near."""

    below_fraction: float = 0.1
    before_expiry_s: int = 86_400


@dataclass(frozen=True)
class TickReport:
    """What one tick did and where the device stands after it."""

    at: int
    status: Grant
    """What the governor would answer for work now (`Governor.check`)."""
    refreshed: bool | None = None
    """True: a good refresh; False: it failed; None: no governance client."""
    refresh_error: str | None = None
    contact_age_s: int | None = None
    """Seconds since the last good refresh (None: never)."""
    renewed: int | None = None
    """The sequence of the licence installed by this tick."""
    renew_error: str | None = None
    answered: tuple[str, ...] = ()
    uploaded: tuple[int, ...] = ()
    """Leaf indices of the receipt events appended."""
    upload_error: str | None = None
    pending: int = 0
    """Receipts still waiting to be uploaded."""

    @property
    def fail_closed(self) -> bool:
        """Whether the device halts for want of fresh governance (lost contact, or none)."""
        return self.status.decision == "halted" and self.status.cause == "governance"

    def lines(self) -> tuple[str, ...]:
        """The report in words, one line each."""
        out = [f"at {self.at}: {self.status.decision} ({self.status.cause}): {self.status.reason}"]
        if self.refreshed is not None:
            age = "never" if self.contact_age_s is None else f"{self.contact_age_s} s ago"
            what = "ok" if self.refreshed else f"failed: {self.refresh_error}"
            out.append(f"governance refresh {what}; last good refresh {age}")
        if self.fail_closed:
            out.append("fail closed: no fresh governance view, all work is halted")
        if self.renewed is not None:
            out.append(f"licence #{self.renewed} installed")
        if self.renew_error is not None:
            out.append(f"licence renewal: {self.renew_error}")
        out += [f"challenge {nonce} answered" for nonce in self.answered]
        if self.uploaded:
            out.append(f"{len(self.uploaded)} receipt(s) logged at {list(self.uploaded)}")
        if self.upload_error is not None:
            out.append(f"receipt upload failed ({self.pending} waiting): {self.upload_error}")
        return tuple(out)


@dataclass
class _Tick:
    refreshed: bool | None = None
    refresh_error: str | None = None
    renewed: int | None = None
    renew_error: str | None = None
    answered: list[str] = field(default_factory=list)
    uploaded: tuple[int, ...] = ()
    upload_error: str | None = None


class Agent:
    """Keeps one governor in touch with the authority, one `tick` at a time."""

    def __init__(
        self,
        governor: Governor,
        client: GovernanceClient | None = None,
        *,
        desk: LicenceDesk | None = None,
        sink: ReceiptSink | None = None,
        operator: SigningKey | None = None,
        challenges: Callable[[], Sequence[str]] | None = None,
        renewal: Renewal | None = None,
        outbox: Path | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if sink is not None and operator is None:
            raise ValueError("uploading receipts needs the operator's key to sign the events")
        self.governor = governor
        self.client = client
        self.desk = desk
        self.sink = sink
        self.operator = operator
        self.challenges = challenges
        self.renewal = renewal or Renewal()
        self.clock = clock
        self._outbox = outbox
        self._pending: dict[str, Envelope] = {}
        self._sent: set[str] = set()
        if outbox is not None:
            outbox.mkdir(parents=True, exist_ok=True)
            for path in sorted(outbox.glob("*.json")):
                envelope = Envelope.model_validate_json(path.read_bytes())
                self._pending[receipt_id(envelope)] = envelope
            sent = outbox / SENT
            if sent.exists():
                self._sent.add(sent.read_text().strip())

    @property
    def pending(self) -> tuple[Envelope, ...]:
        """Receipts signed but not uploaded yet, oldest first."""
        return tuple(self._pending.values())

    def tick(self, now: int | None = None) -> TickReport:
        """Refresh governance, renew the licence, answer challenges, upload receipts."""
        at = int(self.clock()) if now is None else now
        done = _Tick()
        self._queue_last()  # a receipt signed elsewhere since the last tick (no gap in the log)
        self._refresh(at, done)
        self._renew(at, done)
        for nonce in self.challenges() if self.challenges is not None else ():
            self.answer(nonce, at)
            done.answered.append(nonce)
        self._upload(at, done)
        fresh = None if self.client is None else self.client.fresh_at
        if fresh is None and self.governor.state.governance is not None:
            fresh = self.governor.state.governance.fresh_at
        if now is None:
            at = max(at, int(self.clock()))
        return TickReport(
            at=at,
            status=self.governor.check(at),
            refreshed=done.refreshed,
            refresh_error=done.refresh_error,
            contact_age_s=None if fresh is None else at - fresh,
            renewed=done.renewed,
            renew_error=done.renew_error,
            answered=tuple(done.answered),
            uploaded=done.uploaded,
            upload_error=done.upload_error,
            pending=len(self._pending),
        )

    def answer(self, nonce: str, now: int) -> Envelope:
        """Sign a receipt answering the authority's challenge `nonce`; queue it for upload."""
        receipt = self.governor.receipt(now, nonce)
        self._queue(receipt)
        return receipt

    # --- the steps of a tick -----------------------------------------------------------------

    def _refresh(self, now: int, done: _Tick) -> None:
        if self.client is None:
            return
        done.refreshed = self.client.poll() is not None
        if not done.refreshed and self.client.last_error is not None:
            done.refresh_error = str(self.client.last_error)
        try:
            self.governor.observe(self.client.view, self.client.fresh_at, now)
        except Error as exc:
            done.refreshed, done.refresh_error = False, f"view refused: {exc}"

    def needs_licence(self, now: int) -> bool:
        """Whether the licence is missing, nearly spent, or near its end."""
        licence = self.governor.licence
        if licence is None:
            return True
        low = self.governor.remaining() < self.renewal.below_fraction * licence.flop_budget
        return low or now >= licence.not_after - self.renewal.before_expiry_s

    def _renew(self, now: int, done: _Tick) -> None:
        if self.desk is None or not self.needs_licence(now):
            return
        effect = self.governor.effect(now)
        if effect.directive_ids and effect.kind != "run":
            done.renew_error = f"deferred: pause {', '.join(effect.directive_ids)} in force"
            return
        request = self.governor.request_licence(now)
        self._queue_last()
        try:
            answer = self.desk.renew(request)
            # The desk dates the licence from its own clock, which may have ticked on since.
            licence = self.governor.install_licence(answer, max(now, int(self.clock())))
        except Error as exc:
            done.renew_error = f"{type(exc).__name__}: {exc}"
            return
        done.renewed = licence.sequence

    def _upload(self, now: int, done: _Tick) -> None:
        last = self.governor.state.last_receipt
        moved = last is None or parse_receipt(last).counters != self.governor.counters
        if self.sink is not None and moved:
            self._queue(self.governor.receipt(now))
        if self.sink is None or self.operator is None or not self._pending:
            return
        receipts = list(self._pending.values())
        try:
            done.uploaded = tuple(
                self.sink.submit_batch([receipt_event(r, self.operator, now) for r in receipts])
            )
        except Error as exc:
            done.upload_error = f"{type(exc).__name__}: {exc}"
            return
        for receipt in receipts:
            self._done(receipt)

    # --- the outbox -----------------------------------------------------------------------

    def _queue_last(self) -> None:
        """Queue the governor's last receipt if it was signed elsewhere and never queued."""
        last = self.governor.state.last_receipt
        if last is not None:
            self._queue(last)

    def _queue(self, receipt: Envelope) -> None:
        ident = receipt_id(receipt)
        if self.sink is None or ident in self._sent or ident in self._pending:
            return
        self._pending[ident] = receipt
        if self._outbox is not None:
            name = f"{parse_receipt(receipt).sequence:012d}-{ident[:16]}.json"
            (self._outbox / name).write_bytes(receipt.to_bytes())

    def _done(self, receipt: Envelope) -> None:
        ident = receipt_id(receipt)
        self._pending.pop(ident, None)
        self._sent.add(ident)
        if self._outbox is not None:
            (self._outbox / SENT).write_text(ident + "\n")
            for path in self._outbox.glob(f"*-{ident[:16]}.json"):
                path.unlink()
