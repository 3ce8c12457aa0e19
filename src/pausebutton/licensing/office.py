"""The licensing office: the issuer's rules over a transparency log. The I/O shell.

It reads the licence book from the log, applies the pure rules of `licensing.issuer`,
signs with the licensing keys it holds, and appends the licence as an event through the
log's `EventLog` (which re-checks the licensing role's signatures inside the append).
One office per log: it serialises issuance, so two licences never race for one budget.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from pausebutton.crypto.envelope import Envelope
from pausebutton.crypto.keys import SigningKey
from pausebutton.errors import ValidationError
from pausebutton.governance.directives import Directive
from pausebutton.governance.policy import Policy
from pausebutton.governance.root import Root
from pausebutton.licensing.book import LicenceBook
from pausebutton.licensing.events import (
    LICENSING_ROLE,
    book_from_log,
    device_issued_event,
    licensing_policy,
    run_issued_event,
)
from pausebutton.licensing.issuer import issue_device_licence, issue_run_licence, sign_licence
from pausebutton.licensing.licences import PodDevice
from pausebutton.licensing.requests import parse_request
from pausebutton.log.tlog import TransparencyLog
from pausebutton.registry.pipeline import ActorKey
from pausebutton.registry.submission import EventLog


@dataclass(frozen=True)
class Logged:
    """A licence signed and appended: the envelope, the issuer's notes, the log index."""

    envelope: Envelope
    notes: tuple[str, ...]
    index: int


class LicensingOffice:
    """Issues licences into one transparency log with the licensing keys it holds."""

    def __init__(
        self,
        log: TransparencyLog,
        keys: Sequence[SigningKey],
        root: Callable[[], Root],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not keys:
            raise ValidationError("a licensing office needs at least one licensing key")
        self.log = log
        self.keys = tuple(keys)
        self.root = root
        self.clock = clock

    def book(self) -> LicenceBook:
        """The licence book, replayed from the log."""
        entries = self.log.entries(0, self.log.size) if self.log.size else []
        return book_from_log(enumerate(entries))

    def issue_run(
        self,
        *,
        run_id: str,
        licensee: str,
        flop_budget: int,
        devices: Sequence[PodDevice],
        not_before: int,
        not_after: int,
        policy: Policy,
        directives: Iterable[Directive],
    ) -> Logged:
        """Issue, sign and log a run licence, or raise and log nothing."""
        now = int(self.clock())
        issued = issue_run_licence(
            run_id=run_id,
            licensee=licensee,
            flop_budget=flop_budget,
            devices=devices,
            not_before=not_before,
            not_after=not_after,
            policy=policy,
            directives=directives,
            book=self.book(),
            now=now,
        )
        envelope = sign_licence(issued.document, self.keys)
        index = self._submit(run_issued_event(envelope, self.keys[0], now), now)
        return Logged(envelope, issued.notes, index)

    def issue_device(
        self,
        request: Envelope,
        *,
        run_id: str,
        flop_budget: int,
        policy: Policy,
        directives: Iterable[Directive],
    ) -> Logged:
        """Issue, sign and log a device licence answering `request`, or raise."""
        now = int(self.clock())
        issued = issue_device_licence(
            request,
            run_id=run_id,
            flop_budget=flop_budget,
            policy=policy,
            directives=directives,
            book=self.book(),
            now=now,
        )
        envelope = sign_licence(issued.document, self.keys)
        receipt = parse_request(request).receipt
        index = self._submit(device_issued_event(envelope, receipt, self.keys[0], now), now)
        return Logged(envelope, issued.notes, index)

    def _submit(self, event: Envelope, now: int) -> int:
        actor = ActorKey(self.keys[0].public, frozenset({LICENSING_ROLE}), name="licensing")
        intake = EventLog(
            self.log, anchors=[actor], policy=licensing_policy(self.root), clock=lambda: now
        )
        (index,) = intake.submit_batch([event])
        return index
