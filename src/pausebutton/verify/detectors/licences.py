"""Licence replay and budget overrun: receipts that consume more than the licences issued.

Every licence a receipt names must be in the log, issued to the device that signed the
receipt, with the sequence the receipt states (else a *replayed* or *forged* licence),
and the receipt's licensed counter must stay within the licence's range (else an
*overrun*). Per run, what the devices used (each device's highest licensed counter under
the run less its first counter base) and what the device licences commit must stay
within the run's budget, and every device licence must name a device of the run's pod.
"""

from __future__ import annotations

from collections import defaultdict

from pausebutton.verify.detectors._common import Parameters, finding
from pausebutton.verify.findings import Finding
from pausebutton.verify.history import History


def detect_licences(history: History, params: Parameters) -> list[Finding]:
    """Receipts under unknown or foreign licences, overruns per licence and per run."""
    found = _receipts(history) + _grants(history)
    for ident, index in history.duplicates:
        found.append(
            finding(
                "licence-replay",
                "error",
                f"licence {ident[:16]}… is in the log twice (again at entry {index})",
                [index],
                licence=ident,
            )
        )
    return found


def _receipts(history: History) -> list[Finding]:
    out: list[Finding] = []
    for r in sorted(history.receipts.values(), key=lambda r: r.index):
        named, device = r.receipt.licence, r.receipt.device_key
        if named is None:
            continue
        grant = history.grants.get(named)
        who = f"receipt #{r.receipt.sequence} of {r.receipt.serial}"
        if grant is None:
            out.append(
                finding(
                    "licence-replay",
                    "critical",
                    f"{who} runs under licence {named[:16]}…, which the log never issued",
                    [r.index],
                    device=device,
                    licence=named,
                    receipts=[r.id],
                )
            )
            continue
        licence = grant.licence
        if licence.device_key != device or licence.sequence != r.receipt.licence_sequence:
            out.append(
                finding(
                    "licence-replay",
                    "critical",
                    f"{who} runs under licence #{licence.sequence} of {licence.serial}, issued "
                    f"to another device or with another sequence ({r.receipt.licence_sequence})",
                    [r.index, grant.index],
                    device=device,
                    licence=named,
                    receipts=[r.id],
                )
            )
        used = r.receipt.counters.licensed_ops
        if not licence.counter_base <= used <= licence.ceiling:
            out.append(
                finding(
                    "budget-overrun",
                    "critical",
                    f"{who}: licensed counter {used} is outside licence #{licence.sequence}'s "
                    f"range {licence.counter_base}..{licence.ceiling}",
                    [r.index, grant.index],
                    device=device,
                    licence=named,
                    receipts=[r.id],
                    over=max(0, used - licence.ceiling),
                )
            )
    return out


def _grants(history: History) -> list[Finding]:
    out: list[Finding] = []
    for grant in sorted(history.grants.values(), key=lambda g: g.index):
        licence = grant.licence
        run = history.runs.get(licence.run_id)
        if run is None or licence.device_key not in {d.device_key for d in run.licence.devices}:
            out.append(
                finding(
                    "licence-replay",
                    "error",
                    f"device licence #{licence.sequence} of {licence.serial} is for run "
                    f"{licence.run_id}, which "
                    + ("the log never licensed" if run is None else "does not list the device"),
                    [grant.index, *([] if run is None else [run.index])],
                    licence=grant.id,
                    run=licence.run_id,
                )
            )
    leaves: dict[str, list[int]] = defaultdict(list)
    for grant in history.grants.values():
        leaves[grant.licence.run_id].append(grant.index)
    for run_id, (committed, spent) in sorted(run_usage(history).items()):
        run = history.runs[run_id]
        budget = run.licence.flop_budget
        for what, amount in (("commit", committed), ("used", spent)):
            if amount > budget:
                out.append(
                    finding(
                        "budget-overrun",
                        "critical",
                        f"run {run_id}: its device licences {what} {amount:.4g} operations, "
                        f"over its budget of {budget:.4g}",
                        [run.index, *leaves[run_id]],
                        run=run_id,
                        measure=what,
                        over=amount - budget,
                    )
                )
    return out


def run_usage(history: History) -> dict[str, tuple[int, int]]:
    """Per run: what its device licences commit, and what its devices used under them.

    Per device, committed is its highest licence ceiling under the run less its lowest
    counter base (the licence book's rule), and used its highest licensed counter in a
    receipt under one of the run's licences less that base.
    """
    spans: dict[str, dict[str, tuple[int, int]]] = defaultdict(dict)
    for grant in history.grants.values():
        licence = grant.licence
        if licence.run_id not in history.runs:
            continue
        base, top = spans[licence.run_id].get(licence.device_key, (licence.counter_base, 0))
        spans[licence.run_id][licence.device_key] = (
            min(base, licence.counter_base),
            max(top, licence.ceiling),
        )
    used = _used(history)
    return {
        run_id: (
            sum(top - base for base, top in devices.values()),
            sum(max(0, used.get((run_id, d), base) - base) for d, (base, _) in devices.items()),
        )
        for run_id, devices in spans.items()
    }


def _used(history: History) -> dict[tuple[str, str], int]:
    """The highest licensed counter each device reported under each run's licences."""
    used: dict[tuple[str, str], int] = {}
    for r in history.receipts.values():
        grant = history.grants.get(r.receipt.licence or "")
        if grant is None or grant.licence.device_key != r.receipt.device_key:
            continue
        key = (grant.licence.run_id, r.receipt.device_key)
        used[key] = max(used.get(key, 0), r.receipt.counters.licensed_ops)
    return used
