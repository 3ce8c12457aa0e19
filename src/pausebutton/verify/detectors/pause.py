"""Work during a pause: receipts whose counters grew while a pause covering the device bound it.

A pause binds a device from `grace` after it is both in force and published in the log
(`Parameters.pause_grace_s`, the policy's freshness: a device that has not seen the pause
by then must have halted for stale governance) until it expires or a resume lifting it
takes effect. Between two receipts of a device at t1 and t2, the operations it counted
are provably partly done while bound when they exceed what the chip could do outside the
binding stretch at its declared peak, plus (for a throttle) the throttled rate inside it.
Which devices a pause covers is decided by its own `Scope.matches`, on the device as its
licence's run lists it (else as the registry holds it).
"""

from __future__ import annotations

import itertools

from pausebutton.governance.directives import DeviceContext, PauseDirective, ResumeDirective
from pausebutton.verify.detectors._common import Parameters, finding
from pausebutton.verify.findings import Finding
from pausebutton.verify.history import Chip, History, Receipt

Binding = tuple[PauseDirective, int, int, int]
"""A pause, the first and last second it binds devices, and the leaf that published it."""


def bindings(history: History, grace: int) -> list[Binding]:
    """Each pause with the stretch of time in which it binds the devices it covers."""
    resumes = [
        (x.directive.lifts, x.directive.issued, x.directive.effective_at)
        for x in history.directives
        if isinstance(x.directive, ResumeDirective)
    ]
    out: list[Binding] = []
    for logged in history.directives:
        pause = logged.directive
        if not isinstance(pause, PauseDirective):
            continue
        start = max(pause.effective_at, logged.time) + grace
        ends = [pause.expires] if pause.expires is not None else []
        ends += [
            at for lifts, issued, at in resumes if lifts == pause.id and issued >= pause.issued
        ]
        end = min(ends, default=2**62)
        if end > start:
            out.append((pause, start, end, logged.index))
    return out


def detect_pause_work(history: History, params: Parameters) -> list[Finding]:
    """Operations counted, beyond what the chip could do otherwise, while a pause bound it."""
    found: list[Finding] = []
    binds = bindings(history, params.pause_grace_s)
    if not binds:
        return found
    for device, chain in sorted(history.chains().items()):
        chip = history.chip_of(device)
        if chip is None:
            continue
        for a, b in itertools.pairwise(chain):
            for bind in binds:
                hit = _overrun(history, chip, a, b, bind)
                if hit is not None:
                    found.append(hit)
    return found


def _overrun(history: History, chip: Chip, a: Receipt, b: Receipt, bind: Binding) -> Finding | None:
    pause, start, end, leaf = bind
    t1, t2 = a.receipt.time, b.receipt.time
    grown = b.ops - a.ops
    inside = min(t2, end) - max(t1, start)
    if grown <= 0 or inside <= 0 or t2 < t1:
        return None
    rate = 0.0 if pause.rate is None else pause.rate
    allowed = chip.peak_ops * ((t2 - t1 - inside) + 1 + rate * inside)
    if grown <= allowed or not pause.scope.matches(_context(history, chip, b)):
        return None
    return finding(
        "pause-work",
        "critical",
        f"chip {chip.serial} counted {grown:.4g} operations between receipts "
        f"#{a.receipt.sequence} ({t1}) and #{b.receipt.sequence} ({t2}); pause {pause.id} "
        f"({pause.effect}) bound it for {inside} s of that, so at most {allowed:.4g} were allowed",
        [a.index, b.index, leaf],
        serial=chip.serial,
        pause=pause.id,
        receipts=[a.id, b.id],
    )


def _context(history: History, chip: Chip, r: Receipt) -> DeviceContext:
    """The device as pause scopes see it when it signed `r`."""
    grant = history.grants.get(r.receipt.licence or "")
    run = None if grant is None else history.runs.get(grant.licence.run_id)
    if grant is not None and run is not None:
        for member in run.licence.devices:
            if member.device_key == chip.device_key:
                return member.context(grant.licence.run_flop)
    custody = history.custody_at(chip.serial, r.receipt.time)
    holder = None if custody is None else (custody.lessee or custody.holder)
    owner = history.owners.get(holder or "")
    name = (owner.entity or owner.key_id) if owner is not None else (holder or "")
    where = chip.made_in if custody is None else custody.jurisdiction
    return DeviceContext(chip.serial, name, where, chip.chip_class, 0)
