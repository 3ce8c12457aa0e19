"""Benchmark the pause button end to end, and the cost of the device's governance checks.

Run: ``.venv/bin/python bench/governance.py [--trials N] [--poll-ms P] [--repeat R] [--json F]``.

(a) **Pause latency**: a real ceremony (`governance init`: 5 governors, 3-of-5), a real
    log with three witnesses, a TUF repository served over local HTTP, and a device
    client polling it every P ms in its own thread. Each trial: three governors sign a
    pause (each their own copy); the clock starts when the copies are combined; the
    publisher verifies, logs, gets the witnesses' cosignatures and signs new TUF metadata;
    the clock stops when the device's poll sees ``halt``. A resume (with its witnessed
    receipt) brings the device back to ``run`` before the next trial.
(b) **Verification cost**: verifying the chain root + policy + directive on the device
    (5 + 3 + 3 Ed25519 signatures: the ceremony's root carries all five governors';
    strict parsing, RFC 8785 canonical bytes, the k-of-n rules), and the witnessed receipt
    a resume needs, against the baseline of one plain Ed25519 check of the same bytes.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pausebutton.crypto import Envelope, SigningKey, load_signing_key
from pausebutton.device.governance_client import GovernanceClient
from pausebutton.governance import (
    DeviceContext,
    Policy,
    combine,
    draft,
    draft_pause,
    draft_resume,
    sign,
    verify_directive,
    verify_initial_root,
    verify_policy,
)
from pausebutton.governance.acceptance import View, fold
from pausebutton.governance.provisioning import Provisioning
from pausebutton.governance.publication import required_cosignatures, verify_receipt
from pausebutton.governance.serve import RepositoryServer
from pausebutton.governance.workspace import DEFAULT_ORIGIN, Workspace, init_workspace

DEVICE = DeviceContext("bench-gpu", "lab", "US", "3A090.a")
DAY = 86_400


def _keys(ws: Path, role: str, count: int) -> list[SigningKey]:
    return [
        load_signing_key(ws / "governors" / f"governor-{i + 1}" / f"{role}.key")
        for i in range(count)
    ]


def _collect(envelope: Envelope, keys: Sequence[SigningKey]) -> Envelope:
    return combine([sign(envelope, k) for k in keys])


class Poller(threading.Thread):
    """A device: refresh every `interval` s and record when each effect was first seen."""

    def __init__(self, client: GovernanceClient, interval: float) -> None:
        super().__init__(daemon=True)
        self.client, self.interval = client, interval
        self.seen: list[tuple[float, str]] = []
        self.lock, self.stopped = threading.Lock(), threading.Event()
        self.refreshes: list[float] = []

    def run(self) -> None:
        while not self.stopped.is_set():
            began = time.perf_counter()
            self.client.poll()
            done = time.perf_counter()
            with self.lock:
                self.refreshes.append(done - began)
                self.seen.append((done, self.client.effect(DEVICE).kind))
            self.stopped.wait(self.interval)

    def wait_for(self, kind: str, after: float, timeout: float = 30.0) -> float:
        """Return the first time after `after` the device saw `kind`."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            with self.lock:
                for at, seen in self.seen:
                    if at > after and seen == kind:
                        return at
            time.sleep(0.001)
        raise TimeoutError(f"the device never saw {kind}")


def latency(ws_dir: Path, trials: int, poll_ms: float) -> dict[str, Any]:
    """Run the pause trials; return the latency distribution and its parts, in ms."""
    ws = Workspace(ws_dir)
    now = int(time.time())
    pause_keys, policy_keys = _keys(ws_dir, "pause", 3), _keys(ws_dir, "policy", 3)
    with ws.publisher() as publisher:
        publisher.publish(
            _collect(draft(Policy(version=1, expires=now + 90 * DAY)), policy_keys), now
        )
    provisioning = Provisioning.load(ws_dir / "provisioning")
    total, publish, detect = [], [], []
    with RepositoryServer(ws.repo_dir) as server, ws.publisher() as publisher:
        client = GovernanceClient(ws_dir / "device", server.url, provisioning)
        client.refresh()
        poller = Poller(client, poll_ms / 1000)
        poller.start()
        for trial in range(trials):
            now = int(time.time())
            unsigned = draft_pause(f"p-{trial}", issued=now, effective_at=now - 1, reason="bench")
            copies = [sign(unsigned, k) for k in pause_keys]
            start = time.perf_counter()
            publisher.publish(combine(copies), now)
            published = time.perf_counter()
            seen = poller.wait_for("halt", published)
            total.append(seen - start)
            publish.append(published - start)
            detect.append(seen - published)
            resume = draft_resume(
                f"r-{trial}", lifts=f"p-{trial}", issued=now, effective_at=now - 1, reason="bench"
            )
            publisher.publish(_collect(resume, pause_keys), now)
            poller.wait_for("run", time.perf_counter())
        poller.stopped.set()
        poller.join()
    return {
        "trials": trials,
        "poll_ms": poll_ms,
        "total_ms": _dist(total),
        "publish_ms": _dist(publish),
        "detect_ms": _dist(detect),
        "device_refresh_ms": _dist(poller.refreshes),
    }


def _dist(samples: Sequence[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in samples)
    return {
        "min": ms[0],
        "median": statistics.median(ms),
        "mean": statistics.fmean(ms),
        "p90": ms[min(len(ms) - 1, int(0.9 * len(ms)))],
        "max": ms[-1],
    }


def _per_call(fn: Callable[[], object], repeat: int) -> float:
    rounds = []
    for _ in range(5):
        began = time.perf_counter()
        for _ in range(repeat):
            fn()
        rounds.append((time.perf_counter() - began) / repeat)
    return min(rounds) * 1e6


def verification(ws_dir: Path, repeat: int) -> dict[str, Any]:
    """Time the device's checks and the plain-signature baseline, in µs per call."""
    ws = Workspace(ws_dir)
    with ws.publisher() as publisher:
        publications = sorted(publisher.repo.publications().values(), key=lambda p: p.receipt.index)
    root_env = publications[0].envelope()
    policy_env = publications[1].envelope()
    pause_env = next(
        p.envelope() for p in publications if p.envelope().payload_type.endswith("pause/v1")
    )
    resume = next(p for p in publications if p.envelope().payload_type.endswith("resume/v1"))
    now = int(time.time())
    root = verify_initial_root(root_env, now)
    policy = verify_policy(policy_env, root, now, None)

    def chain() -> None:
        trusted = verify_initial_root(root_env, now)
        current = verify_policy(policy_env, trusted, now, None)
        verify_directive(pause_env, trusted, current, now)

    message = b"".join(e.signing_message() for e in (root_env, policy_env, pause_env))
    key = SigningKey.generate()
    signature = key.sign(message)
    quorum = required_cosignatures(root, policy)
    start = View.starting_from(root)
    figures = {
        "chain_us": _per_call(chain, repeat),
        "baseline_one_ed25519_us": _per_call(lambda: key.public.verify(signature, message), repeat),
        "receipt_us": _per_call(lambda: verify_receipt(resume, root, quorum, ws.origin), repeat),
        "fold_all_us": _per_call(
            lambda: fold(start, publications, now, ws.origin), max(1, repeat // 20)
        ),
        "documents": len(publications),
        "chain_bytes": len(message),
    }
    figures["chain_ratio"] = figures["chain_us"] / figures["baseline_one_ed25519_us"]
    figures["receipt_ratio"] = figures["receipt_us"] / figures["baseline_one_ed25519_us"]
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    """Run both benchmarks and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--trials", type=int, default=20, help="pauses to time (default 20)")
    parser.add_argument("--poll-ms", type=float, default=50.0, help="device poll interval")
    parser.add_argument("--repeat", type=int, default=200, help="calls per timing round")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-governance-") as tmp:
        ws_dir = Path(tmp) / "ws"
        now = int(time.time())
        init_workspace(ws_dir, governors=5, threshold=3, witnesses=3, witness_threshold=2,
                       origin=DEFAULT_ORIGIN, expires=now + 365 * DAY, now=now)  # fmt: skip
        pause = latency(ws_dir, args.trials, args.poll_ms)
        cost = verification(ws_dir, args.repeat)
    print(f"(a) last signature combined -> device sees the pause ({args.trials} trials, "
          f"device polls every {args.poll_ms:g} ms over local HTTP)")  # fmt: skip
    for name in ("total_ms", "publish_ms", "detect_ms", "device_refresh_ms"):
        d = pause[name]
        print(f"    {name:18} min {d['min']:7.1f}  median {d['median']:7.1f}  "
              f"p90 {d['p90']:7.1f}  max {d['max']:7.1f}")  # fmt: skip
    print("(b) device-side verification, µs per call (best of 5 rounds)")
    base = cost["baseline_one_ed25519_us"]
    print(f"    baseline: one Ed25519 check of the same {cost['chain_bytes']} bytes  {base:8.1f}")
    print(f"    root + policy + directive chain (11 signatures) {cost['chain_us']:8.1f}  "
          f"x{cost['chain_ratio']:.1f}")  # fmt: skip
    print(f"    witnessed receipt of a resume                   {cost['receipt_us']:8.1f}  "
          f"x{cost['receipt_ratio']:.1f}")  # fmt: skip
    print(f"    fold of all {cost['documents']} published documents (with receipts)  "
          f"{cost['fold_all_us']:8.1f}")  # fmt: skip
    if args.json is not None:
        figures = {
            "machine": {"python": sys.version.split()[0], "platform": platform.platform()},
            "latency": pause,
            "verification": cost,
        }
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
        print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
