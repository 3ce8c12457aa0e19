"""Benchmark metering on a governed training loop: our overhead, the naive way, the count.

Run: ``.venv/bin/python bench/metering.py [--rounds R] [--steps S] [--d D --seq T --batch B]
[--json [FILE]]``.

(a) **Loop speed.** The example GPT (`metering.example_model`, 2 layers, d=128, context
    128, batch 8 by default) trains on CPU in four ways, interleaved round by round so
    that load on shared cores hits them alike: no governance; our governed loop
    (`GovernedTrainer`: `StepMeter` cached cost + `Governor.authorize`, persisted
    through a memory secure element, then through the file element, which fsyncs each
    debit); and the naive meter, `FlopCounterMode` wrapped around every step. Each
    figure is the median over rounds of steps per second; overhead is against the
    ungoverned loop. The per-step cost of our metering and debit is also timed alone.
(b) **The count.** FLOPs charged per step vs the analytic count (6·N·D for the weight
    matrices plus the attention products) and what FlopCounterMode alone counts.
(c) **Device crypto.** Licence verifications per second (offline check of a device
    licence: form, licensing-role signature, binding, window, sequence) and usage
    receipts signed and persisted per second (memory and file elements).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from pausebutton.crypto import SigningKey
from pausebutton.device.governor import Governor
from pausebutton.device.provision import provision
from pausebutton.device.secure_element import FileSecureElement, MemorySecureElement
from pausebutton.governance import Policy, combine, draft, make_root, sign
from pausebutton.governance.acceptance import View
from pausebutton.licensing import DeviceFacts, DeviceLicence, sign_licence, verify_device_licence
from pausebutton.metering.example_model import (
    GPTConfig,
    TextBatches,
    analytic_step_flops,
    lm_step,
    make_model,
)
from pausebutton.metering.torch import StepMeter
from pausebutton.metering.training import GovernedTrainer

DAY = 86_400
ROLES = ("root", "policy", "pause", "licensing", "registrar", "log", "witness")


class Regime:
    """A minimal real regime: one key per role, a root, a policy, licences signed by hand."""

    def __init__(self, now: int) -> None:
        self.now = now
        self.keys = {role: SigningKey.generate() for role in ROLES}
        self.root = make_root(
            {role: ([k.public], 1) for role, k in self.keys.items()}, expires=now + 365 * DAY
        )
        self.root_envelope = combine([sign(draft(self.root), self.keys["root"])])
        self.view = View(roots=(self.root,), policy=Policy(version=1, expires=now + 90 * DAY))

    def device(self, element: Any, serial: str) -> Governor:
        """A provisioned device that has seen the view, with a licence of 10^30 operations."""
        governor = provision(
            element, serial=serial, root=self.root_envelope, owner="bench-lab",
            jurisdiction="US", chip_class="3A090.a", now=self.now,
        )  # fmt: skip
        governor.observe(self.view, self.now, self.now)
        governor.install_licence(self.licence(governor), self.now)
        return governor

    def licence(self, governor: Governor, sequence: int | None = None) -> Any:
        """A device licence for `governor`, signed by the licensing key."""
        seq = governor.state.licence_sequence + 1 if sequence is None else sequence
        document = DeviceLicence(
            device_key=governor.device_key.key_id, serial=governor.serial, run_id="bench",
            run_flop=10**30, sequence=seq, flop_budget=10**22, counter_base=0,
            not_before=self.now - 60, not_after=self.now + 30 * DAY, policy_version=1,
            min_firmware_version=1, device_nonce=None, issued=self.now - 60,
        )  # fmt: skip
        return sign_licence(document, [self.keys["licensing"]])


def _median_rate(seconds: list[float], steps: int) -> float:
    return steps / statistics.median(seconds)


def loop_speed(config: GPTConfig, rounds: int, steps: int, tmp: Path) -> dict[str, Any]:
    """Steps/s of the four loops, interleaved, and the per-step governance cost alone."""
    now = int(time.time())
    regime = Regime(now)
    memory = regime.device(MemorySecureElement(), "bench-mem")
    on_file = regime.device(FileSecureElement.create(tmp / "element"), "bench-file")
    batches = TextBatches(config, steps)
    model = make_model(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def update() -> None:
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    def plain() -> None:
        for x, y in batches:
            lm_step(model, x, y)
            update()

    def naive() -> None:
        for x, y in batches:
            with FlopCounterMode(display=False):
                lm_step(model, x, y)
            update()

    def governed(governor: Governor) -> Callable[[], None]:
        trainer = GovernedTrainer(governor, StepMeter(), lambda _: None, clock=lambda: now)

        def run() -> None:
            outcome = trainer.run(lm_step, batches, model=model, optimizer=optimizer)
            assert outcome.completed

        return run

    loops = {
        "ungoverned": plain,
        "ours_memory_element": governed(memory),
        "ours_file_element": governed(on_file),
        "flop_counter_mode_every_step": naive,
    }
    for loop in loops.values():  # warm up: first counts, allocator, oneDNN primitives
        loop()
    times: dict[str, list[float]] = {name: [] for name in loops}
    for _ in range(rounds):
        for name, loop in loops.items():
            began = time.perf_counter()
            loop()
            times[name].append(time.perf_counter() - began)
    rates = {name: _median_rate(t, steps) for name, t in times.items()}
    charged_per_step = memory.counters.licensed_ops // ((rounds + 1) * steps)
    base = rates["ungoverned"]
    meter = StepMeter()
    x, y = batches[0]
    meter.step_cost(lm_step, model, x, y)
    per_step = {
        "step_cost_cached_us": _per_call(lambda: meter.step_cost(lm_step, model, x, y), 500),
        "authorize_memory_us": _per_call(lambda: memory.authorize(1, now=now), 500),
        "authorize_file_us": _per_call(lambda: on_file.authorize(1, now=now), 100),
    }
    step_ms = 1000 / base
    return {
        "config": vars(config) | {"steps_per_round": steps, "rounds": rounds},
        "steps_per_s": rates,
        "overhead_pct": {name: 100 * (base / rate - 1) for name, rate in rates.items()},
        "per_step_us": per_step,
        "per_step_pct_of_step": {
            "memory": 100
            * (per_step["step_cost_cached_us"] + per_step["authorize_memory_us"])
            / 1000
            / step_ms,
            "file": 100
            * (per_step["step_cost_cached_us"] + per_step["authorize_file_us"])
            / 1000
            / step_ms,
        },
        "charged_per_step": charged_per_step,
    }


def _per_call(fn: Callable[[], object], repeat: int) -> float:
    """Best of five rounds of `repeat` calls, µs per call."""
    best = float("inf")
    for _ in range(5):
        began = time.perf_counter()
        for _ in range(repeat):
            fn()
        best = min(best, (time.perf_counter() - began) / repeat)
    return best * 1e6


def the_count(config: GPTConfig) -> dict[str, int | float]:
    """FLOPs we charge for one step, the analytic count, and FlopCounterMode's."""
    model = make_model(config)
    x, y = TextBatches(config, 1)[0]
    charged = StepMeter().step_cost(lm_step, model, x, y)
    naive = FlopCounterMode(display=False)
    with naive:
        lm_step(model, x, y)
    analytic = analytic_step_flops(config)
    return {
        "charged": charged,
        "analytic": analytic,
        "flop_counter_mode": int(naive.get_total_flops()),
        "charged_over_analytic": charged / analytic,
        "flop_counter_mode_over_analytic": naive.get_total_flops() / analytic,
    }


def device_crypto(tmp: Path, repeat: int) -> dict[str, float]:
    """Licence verifications/s and receipts signed (and persisted) per second."""
    now = int(time.time())
    regime = Regime(now)
    memory = regime.device(MemorySecureElement(), "bench-crypto")
    on_file = regime.device(FileSecureElement.create(tmp / "crypto"), "bench-crypto-file")
    envelope = regime.licence(memory, sequence=memory.state.licence_sequence + 1)
    facts = DeviceFacts(
        device_key=memory.device_key.key_id, serial=memory.serial, firmware_version=1,
        highest_sequence=memory.state.licence_sequence, licensed_ops=0, pending_nonce=None,
    )  # fmt: skip
    policy = regime.view.policy

    def verify() -> None:
        verify_device_licence(envelope, regime.root, facts, now, policy)

    return {
        "licence_verifications_per_s": 1e6 / _per_call(verify, repeat),
        "receipts_signed_per_s_memory": 1e6 / _per_call(lambda: memory.receipt(now), repeat),
        "receipts_signed_per_s_file": 1e6
        / _per_call(lambda: on_file.receipt(now), max(1, repeat // 5)),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the three measurements and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (default 7)")
    parser.add_argument("--steps", type=int, default=20, help="steps per loop per round")
    parser.add_argument("--d", type=int, default=128, help="model width")
    parser.add_argument("--seq", type=int, default=128, help="context length")
    parser.add_argument("--batch", type=int, default=8, help="sequences per step")
    parser.add_argument("--repeat", type=int, default=200, help="calls per crypto timing round")
    parser.add_argument(
        "--json", nargs="?", const="-", default=None, help="print JSON (or write it to FILE)"
    )
    args = parser.parse_args(argv)
    config = GPTConfig(d=args.d, seq=args.seq, batch=args.batch)
    with tempfile.TemporaryDirectory(prefix="bench-metering-") as tmp:
        speed = loop_speed(config, args.rounds, args.steps, Path(tmp))
        crypto = device_crypto(Path(tmp), args.repeat)
    count = the_count(config)
    figures = {
        "machine": {
            "python": sys.version.split()[0],
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "platform": platform.platform(),
        },
        "loop": speed,
        "count": count,
        "device": crypto,
    }
    if args.json == "-":
        print(json.dumps(figures, indent=2))
        return 0
    _print(figures)
    if args.json is not None:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
        print(f"figures written to {args.json}")
    return 0


def _print(figures: dict[str, Any]) -> None:
    loop, count, crypto = figures["loop"], figures["count"], figures["device"]
    c = loop["config"]
    print(f"(a) training loop, GPT d={c['d']} context {c['seq']} batch {c['batch']} "
          f"{c['layers']} layers, {c['rounds']} rounds x {c['steps_per_round']} steps, "
          f"{figures['machine']['threads']} threads")  # fmt: skip
    base = loop["steps_per_s"]["ungoverned"]
    for name, rate in loop["steps_per_s"].items():
        print(f"    {name:30} {rate:8.2f} steps/s  overhead {loop['overhead_pct'][name]:+6.2f}%"
              f"  ratio {base / rate:.3f}")  # fmt: skip
    p = loop["per_step_us"]
    print(f"    per step, timed alone: cached StepMeter cost {p['step_cost_cached_us']:.0f} µs, "
          f"authorize {p['authorize_memory_us']:.0f} µs (memory) / "
          f"{p['authorize_file_us']:.0f} µs (file, fsync)")  # fmt: skip
    q = loop["per_step_pct_of_step"]
    print(f"    = {q['memory']:.2f}% (memory) / {q['file']:.2f}% (file) of an ungoverned step "
          f"({1000 / base:.1f} ms)")  # fmt: skip
    print("(b) FLOPs per step")
    print(
        f"    charged by us         {count['charged']:>14,}  x{count['charged_over_analytic']:.6f}"
    )
    print(f"    analytic 6ND + attn   {count['analytic']:>14,}")
    naive = count["flop_counter_mode_over_analytic"]
    print(f"    FlopCounterMode alone {count['flop_counter_mode']:>14,}  "
          f"x{naive:.6f} (attention on CPU counts zero)")  # fmt: skip
    print(f"    charged per step in the governed loop {loop['charged_per_step']:,}")
    print("(c) device crypto")
    print(f"    licence verifications/s            {crypto['licence_verifications_per_s']:10,.0f}")
    print(f"    receipts signed/s (memory element) {crypto['receipts_signed_per_s_memory']:10,.0f}")
    print(f"    receipts signed/s (file element)   {crypto['receipts_signed_per_s_file']:10,.0f}")


if __name__ == "__main__":
    raise SystemExit(main())
