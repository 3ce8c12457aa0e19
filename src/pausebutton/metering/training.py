"""The governed training loop: each step metered, debited before it runs, stopped cleanly.

`GovernedTrainer.run` trains step by step. Before each step it asks the `StepMeter` for
the step's FLOPs (counted once per step shape on fake tensors, then cached) and the
governor for a grant, which debits the counters and persists them before it answers:

- **granted**: the step runs;
- **throttled** (a throttle pause, or no licence budget with ``unlicensed="throttle"``):
  the loop sleeps ``grant.delay_s`` (the governor's schedule), then the step runs;
- **halted** (a halt pause, stale governance, old firmware), or no licence budget with
  ``unlicensed="stop"`` (the default: baseline speed is useless for training): the loop
  calls the checkpoint callback with the index of the first step not run, and returns.
  Nothing was debited for that step, so the counters charge exactly the steps that ran.

Steps are indexed from 0; ``batches[i]`` is the batch of step ``i``, so a run resumed
with ``start_step`` from a checkpoint sees the batches an uninterrupted run would. The
step function does the forward and backward pass (the metered work); the trainer then
runs the optimizer's update, which is elementwise and, as in 6·N·D, charged zero.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from pausebutton.device.governor import Governor, Grant
from pausebutton.metering.steps import StepMeter

Unlicensed = Literal["stop", "throttle"]
StepFn = Callable[..., object]
Checkpoint = Callable[[int], None]
OnStep = Callable[[int, Grant], None]


@dataclass(frozen=True)
class TrainingOutcome:
    """How a governed run ended: where to resume, what was charged, and what stopped it."""

    completed: bool
    next_step: int
    """The first step not run: where a resumed run starts."""
    steps_run: int
    flops_charged: int
    """FLOPs the governor debited for the steps run (every one of them ran)."""
    licensed_flops: int
    """Of those, the FLOPs charged to the licence."""
    throttled_steps: int = 0
    waited_s: float = 0.0
    stop: Grant | None = None
    """The governor's answer that stopped the run (None when it completed)."""

    @property
    def reason(self) -> str:
        """Why the run ended, in words."""
        if self.stop is None:
            return "completed" if self.completed else "stopped"
        if self.stop.decision == "halted":
            return f"halted ({self.stop.cause}): {self.stop.reason}"
        return f"{self.stop.cause}: {self.stop.reason} (the run stops rather than crawl)"


class GovernedTrainer:
    """Runs training steps under a governor, checkpointing and stopping when it refuses."""

    def __init__(
        self,
        governor: Governor,
        meter: StepMeter,
        checkpoint: Checkpoint,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        unlicensed: Unlicensed = "stop",
        on_step: OnStep | None = None,
    ) -> None:
        if unlicensed not in ("stop", "throttle"):
            raise ValueError(f"unlicensed must be 'stop' or 'throttle', not {unlicensed!r}")
        self.governor = governor
        self.meter = meter
        self.checkpoint = checkpoint
        self.clock = clock
        self.sleep = sleep
        self.unlicensed: Unlicensed = unlicensed
        self.on_step = on_step

    def run(
        self,
        step: StepFn,
        batches: Sequence[Sequence[Any]],
        *,
        model: nn.Module,
        optimizer: torch.optim.Optimizer | None = None,
        start_step: int = 0,
        stop_step: int | None = None,
    ) -> TrainingOutcome:
        """Run ``step(model, *batches[i])`` for i from `start_step` to `stop_step` (the end)."""
        end = len(batches) if stop_step is None else min(stop_step, len(batches))
        if not 0 <= start_step <= end:
            raise ValueError(f"start_step {start_step} is outside 0..{end}")
        charged = licensed = throttled = 0
        waited = 0.0
        for index in range(start_step, end):
            batch = batches[index]
            cost = self.meter.step_cost(step, model, *batch)
            grant, stop = self._ask(cost, int(self.clock()))
            if stop:
                self.checkpoint(index)
                return TrainingOutcome(
                    False, index, index - start_step, charged, licensed, throttled, waited, grant
                )
            if grant.decision == "throttled":
                throttled += 1
                if grant.delay_s > 0:
                    self.sleep(grant.delay_s)
                    waited += grant.delay_s
            step(model, *batch)
            if optimizer is not None:
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
            charged += grant.flops + grant.int_ops
            licensed += grant.flops + grant.int_ops if grant.licensed else 0
            if self.on_step is not None:
                self.on_step(index, grant)
        return TrainingOutcome(True, end, end - start_step, charged, licensed, throttled, waited)

    def _ask(self, cost: int, now: int) -> tuple[Grant, bool]:
        """The governor's answer for a step of `cost` FLOPs, and whether it stops the run.

        A stopping answer debited nothing: a halt, or (with ``unlicensed="stop"``) the
        unlicensed throttle, which is asked with `Governor.check` so that no step that
        will not run is ever charged.
        """
        if self.unlicensed == "stop" and self._unlicensed(cost, now):
            probe = self.governor.check(now, cost)
            if not probe.licensed:
                return probe, True
        grant = self.governor.authorize(cost, now=now)
        return grant, not grant.allowed

    def _unlicensed(self, cost: int, now: int) -> bool:
        """Whether the installed licence cannot cover `cost` at `now` (cheap, no verdict)."""
        licence = self.governor.licence
        if licence is None or not licence.not_before <= now < licence.not_after:
            return True
        return self.governor.remaining() < cost


# --- checkpoints ---------------------------------------------------------------------------


def save_checkpoint(
    path: Path, next_step: int, model: nn.Module, optimizer: torch.optim.Optimizer | None = None
) -> None:
    """Save the model, the optimizer, the RNG and the next step with torch.save, atomically."""
    state = {
        "next_step": next_step,
        "model": model.state_dict(),
        "optimizer": None if optimizer is None else optimizer.state_dict(),
        "rng": torch.get_rng_state(),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with partial.open("wb") as handle:
        torch.save(state, handle)
        handle.flush()
        os.fsync(handle.fileno())
    partial.replace(path)


def load_checkpoint(
    path: Path, model: nn.Module, optimizer: torch.optim.Optimizer | None = None
) -> int:
    """Restore what `save_checkpoint` saved into `model` and `optimizer`; return the next step."""
    state = torch.load(path, weights_only=True)
    model.load_state_dict(state["model"])
    if optimizer is not None and state["optimizer"] is not None:
        optimizer.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["rng"])
    return int(state["next_step"])


def checkpoint_to(
    path: Path, model: nn.Module, optimizer: torch.optim.Optimizer | None = None
) -> Checkpoint:
    """A checkpoint callback that saves `model` and `optimizer` to `path`."""

    def save(next_step: int) -> None:
        save_checkpoint(path, next_step, model, optimizer)

    return save
