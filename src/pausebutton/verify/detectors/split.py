"""Split runs: one beneficial owner whose runs add up past the threshold each stays under.

Runs are attributed to the beneficial owners of their licensee key (from the KYC opening
an authorised verifier holds; without it, to the licensee's registered entity, so
accounts of one entity are still added up). Two measures, over every window of
`Parameters.split_window_s`:

- **licensed**: the run budgets issued in the window;
- **used**: the licensed operations the run's devices report in the window (the growth
  of each device's licensed counter between receipts, dated at the later receipt).

A window whose sum reaches `split_threshold_flop`, made of at least two runs that each
stay under it, is a finding naming the runs and the leaves of their licences.
"""

from __future__ import annotations

from collections import defaultdict

from pausebutton.verify.detectors._common import Parameters, finding
from pausebutton.verify.findings import Finding
from pausebutton.verify.history import History

Part = tuple[int, str, int, int]
"""(time, run id, amount, leaf index)."""


def detect_split_runs(history: History, params: Parameters) -> list[Finding]:
    """Owners whose small runs add up, in a window, to a run that would need a licence."""
    licensed: dict[str, list[Part]] = defaultdict(list)
    for run in history.runs.values():
        for owner in _owners(history, run.licence.licensee):
            licensed[owner].append(
                (run.time, run.licence.run_id, run.licence.flop_budget, run.index)
            )
    used: dict[str, list[Part]] = defaultdict(list)
    for part in _usage(history):
        for owner in _owners(history, history.runs[part[1]].licence.licensee):
            used[owner].append(part)
    found: list[Finding] = []
    for measure, parts_by_owner in (("licensed", licensed), ("used", used)):
        for owner, parts in sorted(parts_by_owner.items()):
            hit = _window(sorted(parts), params)
            if hit is None:
                continue
            runs = sorted({p[1] for p in hit})
            total = sum(p[2] for p in hit)
            leaves = [history.runs[r].index for r in runs] + [p[3] for p in hit]
            found.append(
                finding(
                    "split-run",
                    "critical",
                    f"beneficial owner {owner!r}: runs {', '.join(runs)} together {measure} "
                    f"{total:.4g} operations within {params.split_window_s // 86400} days, at or "
                    f"over {params.split_threshold_flop:.4g}, while each stays under it",
                    leaves,
                    owner=owner,
                    measure=measure,
                    runs=runs,
                    total=str(total),
                )
            )
    return found


def _owners(history: History, key_id: str) -> tuple[str, ...]:
    owner = history.owners.get(key_id)
    return (key_id,) if owner is None else owner.beneficial_owners


def _usage(history: History) -> list[Part]:
    """Each growth of a device's licensed counter under a run, dated at the later receipt."""
    parts: list[Part] = []
    for chain in history.chains().values():
        last: int | None = None
        for r in chain:
            grant = history.grants.get(r.receipt.licence or "")
            now = r.receipt.counters.licensed_ops
            if grant is not None and grant.licence.run_id in history.runs:
                start = (
                    grant.licence.counter_base
                    if last is None
                    else max(last, grant.licence.counter_base)
                )
                if now > start:
                    parts.append((r.receipt.time, grant.licence.run_id, now - start, r.index))
            last = now if last is None else max(last, now)
    return parts


def _window(parts: list[Part], params: Parameters) -> list[Part] | None:
    """The window with the largest sum, if it crosses the threshold made of parts under it."""
    limit = params.split_threshold_flop
    per_run: dict[str, int] = defaultdict(int)
    for p in parts:
        per_run[p[1]] += p[2]
    if any(v >= limit for v in per_run.values()):
        parts = [p for p in parts if per_run[p[1]] < limit]
    best: list[Part] | None = None
    best_sum, low, running = 0, 0, 0
    for high, part in enumerate(parts):
        running += part[2]
        while part[0] - parts[low][0] >= params.split_window_s:
            running -= parts[low][2]
            low += 1
        window = parts[low : high + 1]
        if running >= limit and running > best_sum and len({p[1] for p in window}) > 1:
            best, best_sum = window, running
    return best
