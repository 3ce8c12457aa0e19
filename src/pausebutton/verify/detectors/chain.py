"""Counter rollback, forks and withheld receipts: `device.receipts.check_receipt_chain` on the log.

The device module's check is the one source of truth; this turns what it finds into
findings that name the leaves holding the receipts. A fork or a rollback is *critical*
(a state rolled back, or a cloned key); a gap is a *warning* (receipts not logged); a
receipt that does not verify under its chip's registered key is an *error*.
"""

from __future__ import annotations

from pausebutton.crypto.keys import VerifyKey
from pausebutton.device.receipts import check_receipt_chain
from pausebutton.verify.detectors._common import Parameters, finding
from pausebutton.verify.findings import Finding, Severity
from pausebutton.verify.history import History

SEVERITY: dict[str, Severity] = {
    "fork": "critical",
    "rollback": "critical",
    "gap": "warning",
    "bad_signature": "error",
    "malformed": "error",
}


def detect_chain(history: History, params: Parameters, *, signatures: bool = True) -> list[Finding]:
    """Forks, rollbacks and gaps in each device's receipts (and bad signatures if asked)."""
    keys = None
    if signatures:
        keys = {c.device_key: VerifyKey.from_base64(c.public_key) for c in history.chips.values()}
    envelopes = [r.envelope for r in history.receipts.values()]
    found: list[Finding] = []
    for f in check_receipt_chain(envelopes, keys):
        if f.kind == "gap" and not params.report_gaps:
            continue
        entries = [history.receipts[i].index for i in f.receipts if i in history.receipts]
        serial = history.by_key.get(f.device)
        who = f"chip {serial}" if serial else f"device key {f.device[:16]}…"
        at = "" if f.sequence is None else f" at receipt #{f.sequence}"
        found.append(
            finding(
                f.kind.replace("_", "-"),
                SEVERITY[f.kind],
                f"{who}{at}: {f.detail}",
                entries,
                device=f.device,
                serial=serial,
                sequence=f.sequence,
                receipts=list(f.receipts),
            )
        )
    return found
