"""The verifier's detectors: each reads a `History` and returns findings with their evidence.

One module per family: `dark` (chips that went dark), `chain` (counter rollback, forks,
withheld receipts), `clones` (cloned identity), `licences` (licence replay, budget
overrun), `split` (split runs), `diversion`, `pause` (work during a pause). Every finding
names the leaf indices that prove it (``evidence["entries"]``) and has a stable id.
"""

from __future__ import annotations

from collections.abc import Callable

from pausebutton.verify.detectors._common import Parameters, finding
from pausebutton.verify.detectors.chain import detect_chain
from pausebutton.verify.detectors.clones import detect_clones
from pausebutton.verify.detectors.dark import detect_dark
from pausebutton.verify.detectors.diversion import detect_diversion
from pausebutton.verify.detectors.licences import detect_licences
from pausebutton.verify.detectors.pause import detect_pause_work
from pausebutton.verify.detectors.split import detect_split_runs
from pausebutton.verify.findings import Finding
from pausebutton.verify.history import History

Detector = Callable[[History, Parameters], list[Finding]]

DETECTORS: dict[str, Detector] = {
    "dark": detect_dark,
    "chain": detect_chain,
    "clones": detect_clones,
    "licences": detect_licences,
    "split": detect_split_runs,
    "diversion": detect_diversion,
    "pause": detect_pause_work,
}
"""Every detector family, by name, in the order they run."""


def problems(history: History) -> list[Finding]:
    """Entries the history could not read, or that the registry's rules refuse."""
    return [
        finding("unreadable-entry", "error", f"entry {index}: {message}", [index])
        for index, message in history.problems
    ]


def run_detectors(
    history: History, params: Parameters | None = None, *, signatures: bool = True
) -> list[Finding]:
    """Run every detector; `signatures` False skips receipt signatures (checked elsewhere)."""
    chosen = params or Parameters.from_policy(history.policy)
    found = problems(history)
    for name, detector in DETECTORS.items():
        if name == "chain":
            found += detect_chain(history, chosen, signatures=signatures)
        else:
            found += detector(history, chosen)
    return sorted(found, key=lambda f: (f.check, f.id))


__all__ = [
    "DETECTORS",
    "Detector",
    "Parameters",
    "detect_chain",
    "detect_clones",
    "detect_dark",
    "detect_diversion",
    "detect_licences",
    "detect_pause_work",
    "detect_split_runs",
    "problems",
    "run_detectors",
]
