"""The examples in docs/device.md, made by the real code from fixed seeds and a fixed clock.

Run ``.venv/bin/python -m tests.device.examples`` to rewrite the examples in the page;
`test_docs.py` checks that the page still matches what the code makes.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from pausebutton.crypto import Envelope
from pausebutton.device.governor import Governor
from pausebutton.device.provision import describe_status
from pausebutton.device.receipts import check_receipt_chain
from pausebutton.device.secure_element import MemorySecureElement
from pausebutton.licensing import (
    IssuedDevice,
    LicenceBook,
    issue_device_licence,
    issue_run_licence,
    licence_id,
    sign_licence,
    verify_request,
)
from tests.device.regime import Regime, secrets
from tests.governance.ceremony import DAY, NOW, ceremony

DOCS = Path(__file__).resolve().parents[2] / "docs" / "device.md"
BLOCK = re.compile(r"(<!-- example:(?P<name>[a-z-]+) -->\n```(?:json|text)\n)(.*?)(```)", re.S)


class SeededElement(MemorySecureElement):
    """A memory element whose random generator is a counter (reproducible nonces)."""

    draws = 0

    def random(self, size: int) -> bytes:
        self.draws += 1
        return hashlib.sha256(b"example-nonce/%d" % self.draws).digest()[:size]


def _pretty(envelope: Envelope) -> str:
    return json.dumps(json.loads(envelope.to_bytes()), indent=2, ensure_ascii=False) + "\n"


def _state(element: MemorySecureElement) -> str:
    record = json.loads(element.data or b"{}")
    state = record["record"]["state"]
    state["root"] = "… the provisioned root envelope …"
    state["licence"] = "… the installed licence envelope …"
    state["last_receipt"] = "… the last receipt envelope …"
    return json.dumps(record, indent=2, ensure_ascii=False) + "\n"


def examples() -> dict[str, str]:
    """Return each example's text by name, after checking that the code accepts it."""
    regime = Regime(c=ceremony(label="docs/"))
    element = SeededElement(secrets("gpu-0042"))
    governor = regime.device("gpu-0042", element=element, peak_flops=989 * 10**12)
    issued_run = issue_run_licence(
        run_id="lab-a-run-2025-07",
        licensee=regime.c.registrar[0].key_id,
        flop_budget=3 * 10**25,
        devices=[regime.pod(governor)],
        not_before=NOW,
        not_after=NOW + 60 * DAY,
        policy=regime.policy,
        directives=[],
        book=regime.book,
        now=NOW,
    )
    run = sign_licence(issued_run.document, regime.licensing_keys[:1])
    book = LicenceBook()
    book.add_run(issued_run.document)
    request = governor.request_licence(NOW, challenge="authority-challenge-0001")
    issued = issue_device_licence(
        request,
        run_id="lab-a-run-2025-07",
        flop_budget=2 * 10**21,
        policy=regime.policy,
        directives=[],
        book=book,
        now=NOW,
    )
    licence = sign_licence(issued.document, regime.licensing_keys[:1])
    _, receipt, ident = verify_request(request)
    book.add_device(IssuedDevice(licence_id(licence), issued.document, ident, receipt))
    governor.install_licence(licence, NOW)
    grants = [governor.authorize(7 * 10**20, int_ops=10**18, now=NOW + 60 * i) for i in range(4)]
    usage = governor.receipt(NOW + 300, nonce="authority-challenge-0002")
    lines = [
        f"{g.decision:9} {g.cause:13} rate {g.rate:<4g} wait {g.delay_s:<10g} {g.reason}"
        for g in grants
    ]
    rollback = _rollback_findings(regime)
    return {
        "run-licence": _pretty(run),
        "request": _pretty(request),
        "device-licence": _pretty(licence),
        "receipt": _pretty(usage),
        "grants": "\n".join(lines) + "\n",
        "status": "\n".join(describe_status(governor, NOW + 301)) + "\n",
        "state-record": _state(element),
        "findings": rollback,
    }


def _rollback_findings(regime: Regime) -> str:
    element = MemorySecureElement(secrets("gpu-0077"))
    governor = regime.device("gpu-0077", element=element)
    governor.install_licence(regime.forge(governor), NOW)
    receipts = []
    for i in range(2):
        governor.authorize(1000, now=NOW + i)
        receipts.append(governor.receipt(NOW + i))
    copy = element.data
    for i in range(2, 4):
        governor.authorize(1000, now=NOW + i)
        receipts.append(governor.receipt(NOW + i))
    element.data = copy  # root restores the old state file while the device is off
    rolled = Governor(element.restart())
    rolled.observe(regime.view(), NOW + 10, NOW + 10)
    receipts += [rolled.receipt(NOW + 10), rolled.receipt(NOW + 11), rolled.receipt(NOW + 12)]
    keys = {governor.device_key.key_id: governor.device_key}
    return "".join(
        f"{f.kind:9} seq {f.sequence}: {f.detail}\n" for f in check_receipt_chain(receipts, keys)
    )


def blocks(text: str) -> dict[str, str]:
    """Return the example blocks of a page by name."""
    return {m.group("name"): m.group(3) for m in BLOCK.finditer(text)}


def main() -> None:
    """Rewrite the example blocks of docs/device.md from the code."""
    made = examples()
    text = DOCS.read_text()
    text = BLOCK.sub(
        lambda m: m.group(1) + made.get(m.group("name"), m.group(3)) + m.group(4), text
    )
    DOCS.write_text(text)


if __name__ == "__main__":
    main()
