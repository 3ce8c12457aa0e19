"""The examples in docs/verification.md, made by the real code from fixed keys and seeds.

Run ``.venv/bin/python -m tests.verify.examples`` to rewrite the examples in the page;
`test_docs.py` checks that the page still matches what the code makes.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from pausebutton.crypto import Envelope
from pausebutton.verify import (
    NonceLedger,
    Randomness,
    approximate_sample_size,
    check_location,
    commit_to_inspection,
    detection_probability,
    exact_sample_size,
    jurisdiction_outline,
    sign_sample,
    verify_evidence,
    verify_sample,
)
from tests.verify.network import NOW, Network, key

DOCS = Path(__file__).resolve().parents[2] / "docs" / "verification.md"
BLOCK = re.compile(r"(<!-- example:(?P<name>[a-z-]+) -->\n```(?:json|text)\n)(.*?)(```)", re.S)
DEVICE = "gpu-0042"


def _pretty(value: Envelope | dict[str, object]) -> str:
    raw = value.to_bytes() if isinstance(value, Envelope) else json.dumps(value)
    return json.dumps(json.loads(raw), indent=2, ensure_ascii=False) + "\n"


def location_examples() -> dict[str, str]:
    """A device near Frankfurt, measured from Frankfurt, Amsterdam and Paris."""
    net, device_key = Network.of(), key(f"device/{DEVICE}")
    ledger, verified, evidence = NonceLedger(), [], []
    for name in ("frankfurt", "amsterdam", "paris"):
        rtt = net.rtt_us(name, 50.05, 8.57)
        evidence.append(net.measure(name, DEVICE, device_key, rtt))
        verified.append(
            verify_evidence(
                evidence[-1],
                landmarks=net.landmarks,
                device=DEVICE,
                device_key=device_key.public,
                now=NOW,
                ledger=ledger,
            )
        )
    lines = []
    for m in verified:
        disc = m.disc()
        lines.append(f"{m.landmark.id:<10} rtt {m.rtt_us:>5} µs  disc {disc.radius_km:7.1f} km")
    for codes in (("DE",), ("FR",), ("NL",)):
        outline = jurisdiction_outline(*codes)
        result = check_location(verified, outline)
        lines.append(f"{outline.code}: {result.verdict.value} ({result.reason})")
    wide = [m for m in verified if m.landmark.id != "frankfurt"]
    result = check_location(wide, jurisdiction_outline("DE"))
    lines.append(f"DE without Frankfurt: {result.verdict.value} ({result.reason})")
    return {
        "challenge": _pretty(evidence[0].challenge),
        "response": _pretty(evidence[0].response),
        "measurement": _pretty(evidence[0].measurement),
        "verdicts": "\n".join(lines) + "\n",
    }


def inspection_examples() -> dict[str, str]:
    """A site of 40 chips, 2 falsified records to find with 90 % confidence."""
    inspector = key("inspector/ines")
    secret = hashlib.sha256(b"docs/inspection-secret").digest()
    chips = [f"acme-h200-{i:05d}" for i in range(40)]
    randomness = Randomness(
        origin="log.pausebutton.example/v1",
        tree_size=5120,
        root_hash=hashlib.sha256(b"docs/checkpoint").hexdigest(),
    )
    commitment = commit_to_inspection("ines", "site-berlin-1", secret, inspector, NOW - 86_400)
    sample = sign_sample(
        inspector="ines",
        site="site-berlin-1",
        chips=chips,
        secret=secret,
        randomness=randomness,
        commitment_leaf=4980,
        declaration_leaf=5011,
        falsified=2,
        beta="0.1",
        key=inspector,
        issued=NOW,
    )
    verify_sample(sample, inspector_key=inspector.public, chips=chips, commitment=commitment)
    lines = ["N       r  beta   exact  approx  P(detect) at exact n"]
    for n_chips, r, beta in (
        (100, 1, "0.05"),
        (40, 2, "0.1"),
        (1000, 10, "0.05"),
        (10_000, 50, "0.01"),
    ):
        exact = exact_sample_size(n_chips, r, beta)
        approx = approximate_sample_size(n_chips, r, beta)
        p = float(detection_probability(n_chips, r, exact))
        lines.append(f"{n_chips:<7} {r:<2} {beta:<6} {exact:<6} {approx:<7} {p:.4f}")
    return {
        "commitment": _pretty(commitment),
        "sample": _pretty(sample),
        "sizes": "\n".join(lines) + "\n",
    }


def examples() -> dict[str, str]:
    """Return each example's text by name, after checking that the code accepts it."""
    return {**location_examples(), **inspection_examples()}


def blocks(text: str) -> dict[str, str]:
    """Return the example blocks of a page by name."""
    return {m.group("name"): m.group(3) for m in BLOCK.finditer(text)}


def main() -> None:
    """Rewrite the example blocks of docs/verification.md from the code."""
    made = examples()
    text = DOCS.read_text(encoding="utf-8")
    text = BLOCK.sub(lambda m: m.group(1) + made[m.group("name")] + m.group(4), text)
    DOCS.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
