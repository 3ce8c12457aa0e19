"""The JSON examples in docs/governance.md, made by the real code from fixed seeds.

Run ``.venv/bin/python -m tests.governance.examples`` to rewrite the examples in the page;
`test_docs.py` checks that the page still matches what the code makes.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from pausebutton.crypto import Envelope
from pausebutton.governance import (
    DeviceContext,
    Scope,
    draft_pause,
    draft_resume,
    effect_for,
    pause_state,
    verify_directive,
    verify_initial_root,
    verify_policy,
)
from pausebutton.regulation.parameters import ProductionCap
from tests.governance.ceremony import DAY, NOW, ceremony, collect

DOCS = Path(__file__).resolve().parents[2] / "docs" / "governance.md"
BLOCK = re.compile(r"(<!-- example:(?P<name>[a-z-]+) -->\n```(?:json|text)\n)(.*?)(```)", re.S)


def _pretty(envelope: Envelope) -> str:
    return json.dumps(json.loads(envelope.to_bytes()), indent=2, ensure_ascii=False) + "\n"


def examples() -> dict[str, str]:
    """Return each example's text by name, after checking that the code accepts it."""
    c = ceremony(label="docs/")
    root = verify_initial_root(c.root_envelope, NOW)
    policy = c.policy(
        version=1,
        expires=NOW + 90 * DAY,
        production_caps={
            "acme-chips": ProductionCap(
                manufacturer="acme-chips", max_chips=2_000_000, max_tpp=9_600_000_000
            )
        },
        jurisdictions=("CN", "EU", "GB", "JP", "KR", "NL", "TW", "US"),
    )
    policy_envelope = c.signed_policy(policy)
    verify_policy(policy_envelope, root, NOW, None)
    pause = draft_pause(
        "2025-06-us-eu-large-runs",
        issued=NOW,
        effective_at=NOW + 3600,
        scope=Scope(jurisdictions=("EU", "US"), min_run_flop=10**26),
        effect="halt",
        reason="Treaty council decision 2025-14: halt runs of 1e26 FLOP or more pending review",
    )
    pause_envelope = collect(pause, c.role_keys("pause")[:3])
    resume = draft_resume(
        "2025-06-us-eu-large-runs-lifted",
        lifts="2025-06-us-eu-large-runs",
        issued=NOW + 7 * DAY,
        effective_at=NOW + 7 * DAY,
        reason="Treaty council decision 2025-15: review complete",
    )
    resume_envelope = collect(resume, c.role_keys("pause")[1:4])
    pause_directive = verify_directive(pause_envelope, root, policy, NOW)
    resume_directive = verify_directive(resume_envelope, root, policy, NOW + 7 * DAY)
    device = DeviceContext("gpu-0042", "lab-a", "US", "3A090.a", run_flop=3 * 10**26)
    status: list[str] = []
    for now in (NOW + 2 * 3600, NOW + 8 * DAY):
        state = pause_state([pause_directive, resume_directive], now)
        status += [f"# at {now}", *state.describe()]
        status.append(f"effect on {device.device_id}: {effect_for(state, device).kind}")
    return {
        "root": _pretty(c.root_envelope),
        "policy": _pretty(policy_envelope),
        "pause": _pretty(pause_envelope),
        "resume": _pretty(resume_envelope),
        "status": "\n".join(status) + "\n",
    }


def blocks(text: str) -> dict[str, str]:
    """Return the example blocks of a page by name."""
    return {m.group("name"): m.group(3) for m in BLOCK.finditer(text)}


def main() -> None:
    """Rewrite the example blocks of docs/governance.md from the code."""
    made = examples()
    text = DOCS.read_text()
    text = BLOCK.sub(lambda m: m.group(1) + made[m.group("name")] + m.group(4), text)
    DOCS.write_text(text)


if __name__ == "__main__":
    main()
