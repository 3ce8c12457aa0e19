"""`pausebutton train --example`: a small GPT trained on CPU under a licence, halted and resumed.

Everything is real and local (`device.sandbox`): a key ceremony, a policy published
through a witnessed log and a TUF repository served over HTTP, a device with a file
secure element, a run licence and a device licence issued by a licensing office into the
log. The model trains under the governor until its licence's budget is spent (the
checkpoint is saved), the agent renews the licence with the device's latest receipt, and
training resumes from the checkpoint. With ``--pause-at``, the governors publish a pause
at that step; the device halts (checkpoint saved) until a witnessed resume is published.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from torch.utils.flop_counter import FlopCounterMode

from pausebutton.cli.common import console
from pausebutton.device.governor import Grant
from pausebutton.device.receipts import check_receipt_chain
from pausebutton.device.sandbox import Sandbox, open_sandbox
from pausebutton.errors import Error
from pausebutton.metering.example_model import (
    GPTConfig,
    TextBatches,
    analytic_step_flops,
    attention_step_flops,
    lm_loss,
    lm_step,
    make_model,
)
from pausebutton.metering.torch import StepMeter
from pausebutton.metering.training import (
    GovernedTrainer,
    TrainingOutcome,
    checkpoint_to,
    load_checkpoint,
    save_checkpoint,
)

EXTRA_PHASES = 4
"""Phases allowed beyond one per licence (a pause, a failed renewal) before giving up."""


def run_example(
    workdir: Path, steps: int, budget_steps: int, pause_at: int | None, seed: int
) -> None:
    """Run the example in `workdir`: train, halt, renew, pause, resume; print a summary."""
    config = GPTConfig()
    batches = TextBatches(config, steps, seed=seed)
    step_flops = StepMeter().step_cost(lm_step, make_model(config, seed), *batches[0])
    budget = budget_steps * step_flops
    console.print(
        Panel(
            f"A {config.layers}-layer GPT (d={config.d}, context {config.seq}, batch "
            f"{config.batch}) trains {steps} steps on CPU.\n"
            f"Each device licence pays for {budget_steps} steps: {budget:,} FLOP.\n"
            "The governor debits each step before it runs. When it refuses, the\n"
            "checkpoint is saved; the run resumes from it once it may again.",
            title="pausebutton train --example",
            expand=False,
        )
    )
    with open_sandbox(workdir, run_flop=4 * steps * step_flops, device_budget=budget) as sandbox:
        console.print(
            f"authority  {workdir / 'authority'} (TUF repository at {sandbox.server.url})"
        )
        console.print(
            f"device     {sandbox.governor.serial}, key {sandbox.governor.device_key.key_id}"
        )
        _tick(sandbox)
        run = _Run(
            sandbox,
            workdir / "checkpoint.pt",
            config,
            batches,
            step_flops,
            budget_steps,
            pause_at,
            seed,
        )
        outcomes, final = run.phases()
        _tick(sandbox)  # the last receipt, for the work since the last renewal
        _summary(sandbox, config, outcomes, batches, make_model(config, seed), final)


def _tick(sandbox: Sandbox) -> None:
    for line in sandbox.agent.tick().lines():
        console.print(f"  [dim]agent[/]  {line}", highlight=False)


@dataclass
class _Run:
    """One example run: the sandbox, the data, where to checkpoint, and the pause plan."""

    sandbox: Sandbox
    path: Path
    config: GPTConfig
    batches: TextBatches
    step_flops: int
    budget_steps: int
    pause_at: int | None
    seed: int
    paused: bool = False

    def phases(self) -> tuple[list[TrainingOutcome], torch.nn.Module]:
        """Train from the checkpoint until done, letting the agent act after each stop."""
        outcomes: list[TrainingOutcome] = []
        most = len(self.batches) // self.budget_steps + EXTRA_PHASES
        while len(outcomes) < most:
            model = make_model(self.config, self.seed)
            optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
            start = load_checkpoint(self.path, model, optimizer) if self.path.exists() else 0
            if start:
                console.print(f"resuming from {self.path.name} at step {start}")
            outcome = self.phase(model, optimizer, start)
            outcomes.append(outcome)
            if outcome.completed:
                save_checkpoint(self.path, outcome.next_step, model, optimizer)
                console.print(
                    f"[green]completed[/] {outcome.next_step} steps; weights in {self.path}"
                )
                return outcomes, model
            self.after_stop(outcome)
        raise Error(f"training did not finish in {most} phases")

    def phase(
        self, model: torch.nn.Module, optimizer: torch.optim.Optimizer, start: int
    ) -> TrainingOutcome:
        """Train from `start` with a progress bar until done or stopped."""
        governor = self.sandbox.governor
        with Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("licence budget left {task.fields[left]:>13,} FLOP"),
            TextColumn("loss {task.fields[loss]}"),
            TimeElapsedColumn(),
            console=console,
        ) as progress:
            task = progress.add_task(
                "training",
                total=len(self.batches),
                completed=start,
                left=governor.remaining(),
                loss="-",
            )

            def on_step(index: int, grant: Grant) -> None:
                progress.update(task, advance=1, left=governor.remaining())
                if index % 5 == 4:
                    progress.update(task, loss=f"{lm_loss(model, *self.batches[index]):.3f}")
                if self.pause_at is not None and not self.paused and index + 1 == self.pause_at:
                    self.paused = True
                    done = self.sandbox.pause()
                    progress.console.print(f"governors publish pause-1 (log index {done.index})")
                    self.sandbox.agent.tick()

            checkpoint = checkpoint_to(self.path, model, optimizer)
            trainer = GovernedTrainer(governor, StepMeter(), checkpoint, on_step=on_step)
            return trainer.run(
                lm_step, self.batches, model=model, optimizer=optimizer, start_step=start
            )

    def after_stop(self, outcome: TrainingOutcome) -> None:
        """Say why the run stopped; lift the pause or let the agent renew the licence."""
        assert outcome.stop is not None
        console.print(
            f"[yellow]stopped[/] before step {outcome.next_step}: {outcome.reason}; "
            f"checkpoint saved to {self.path.name}",
            highlight=False,
        )
        if outcome.stop.cause == "pause":
            done = self.sandbox.resume()
            console.print(
                f"governors publish resume-1 (log index {done.index}, {done.cosignatures} "
                f"witness cosignatures of {done.needed} needed)"
            )
        _tick(self.sandbox)
        now = int(self.sandbox.clock())
        if not self.sandbox.governor.check(now, self.step_flops).licensed:
            raise Error(f"the device is still refused after the agent's tick: {outcome.reason}")


def _flop_counter_mode(config: GPTConfig, batches: TextBatches) -> int:
    """What PyTorch's FlopCounterMode alone counts for one real step (the naive meter)."""
    counter = FlopCounterMode(display=False)
    with counter:
        lm_step(make_model(config), *batches[0])
    return int(counter.get_total_flops())


def _summary(
    sandbox: Sandbox,
    config: GPTConfig,
    outcomes: list[TrainingOutcome],
    batches: TextBatches,
    first: torch.nn.Module,
    final: torch.nn.Module,
) -> None:
    charged = sum(o.flops_charged for o in outcomes)
    ran = sum(o.steps_run for o in outcomes)
    analytic = ran * analytic_step_flops(config)
    naive = ran * _flop_counter_mode(config, batches)
    counters = sandbox.governor.counters
    receipts = sandbox.receipts()
    key = sandbox.governor.device_key
    findings = check_receipt_chain(receipts, {key.key_id: key})
    table = Table(title="summary", show_header=False)
    table.add_column(justify="left")
    table.add_column(justify="right")
    table.add_row("steps run", f"{ran} in {len(outcomes)} phase(s)")
    table.add_row("FLOPs charged (per grant)", f"{charged:,}")
    table.add_row("device counter, licensed", f"{counters.licensed_ops:,}")
    table.add_row("analytic 6·N·D + attention", f"{analytic:,}")
    table.add_row("  of which attention", f"{ran * attention_step_flops(config):,}")
    table.add_row("FlopCounterMode alone", f"{naive:,} (misses attention on CPU)")
    table.add_row("charged / analytic", f"{charged / analytic:.6f}")
    table.add_row("licences issued", str(sandbox.office.book().last_sequence(key.key_id)))
    table.add_row("receipts in the log", f"{len(receipts)}; chain findings: {len(findings)}")
    table.add_row("log size", str(sandbox.log.size))
    x, y = batches[len(batches) - 1]
    table.add_row(
        "loss, first -> last", f"{lm_loss(first, x, y):.3f} -> {lm_loss(final, x, y):.3f}"
    )
    console.print(table)
