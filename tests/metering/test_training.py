"""The governed training loop on a real governor: charged exactly, stopped cleanly, resumed."""

from __future__ import annotations

import copy
import functools
import math
from pathlib import Path

import pytest
import torch

from pausebutton.device.governor import Governor
from pausebutton.governance import parse_directive
from pausebutton.metering.example_model import (
    GPTConfig,
    TextBatches,
    TinyGPT,
    analytic_step_flops,
    lm_step,
    make_model,
)
from pausebutton.metering.torch import StepMeter, count_flops
from pausebutton.metering.training import (
    GovernedTrainer,
    checkpoint_to,
    load_checkpoint,
    save_checkpoint,
)
from tests.device.regime import Regime
from tests.governance.ceremony import DAY, NOW

CONFIG = GPTConfig(seq=8, d=16, heads=2, layers=2, batch=2)
COST = analytic_step_flops(CONFIG)
STEPS = 8


def _governed(regime: Regime, budget_steps: int, name: str = "gpu-0001") -> Governor:
    governor = regime.device(name)
    regime.run([governor], run_id=f"run-{name}", flop=10**9)
    governor.install_licence(regime.licence(governor, budget_steps * COST, f"run-{name}"), NOW)
    return governor


def _setup(seed: int = 0) -> tuple[TinyGPT, torch.optim.Optimizer]:
    model = make_model(CONFIG, seed)
    return model, torch.optim.AdamW(model.parameters(), lr=1e-2)


def _trainer(
    governor: Governor, path: Path, model: TinyGPT, opt: torch.optim.Optimizer, **kwargs: object
) -> GovernedTrainer:
    return GovernedTrainer(
        governor,
        StepMeter(),
        checkpoint_to(path, model, opt),
        clock=lambda: NOW,
        **kwargs,  # type: ignore[arg-type]
    )


def test_charged_flops_equal_the_counted_and_the_analytic_flops(tmp_path: Path) -> None:
    governor = _governed(Regime(), budget_steps=100)
    model, opt = _setup()
    batches = TextBatches(CONFIG, STEPS)
    counted = 0
    for x, y in batches:  # count every real step on a copy, as count_flops would charge it
        counted += count_flops(functools.partial(lm_step, copy.deepcopy(model), x, y))
    meter = StepMeter()
    trainer = GovernedTrainer(
        governor, meter, checkpoint_to(tmp_path / "c.pt", model, opt), clock=lambda: NOW
    )
    outcome = trainer.run(lm_step, batches, model=model, optimizer=opt)
    assert outcome.completed
    assert outcome.steps_run == STEPS
    assert outcome.flops_charged == outcome.licensed_flops == counted == STEPS * COST
    assert governor.counters.flops == governor.counters.licensed_ops == STEPS * COST
    assert (meter.misses, meter.hits) == (1, STEPS - 1)  # counted once per shape


def test_the_run_halts_at_its_budget_with_the_checkpoint_saved_and_the_refused_step_free(
    tmp_path: Path,
) -> None:
    governor = _governed(Regime(), budget_steps=3)
    model, opt = _setup()
    path = tmp_path / "c.pt"
    outcome = _trainer(governor, path, model, opt).run(
        lm_step, TextBatches(CONFIG, STEPS), model=model, optimizer=opt
    )
    assert (outcome.completed, outcome.next_step, outcome.steps_run) == (False, 3, 3)
    assert outcome.stop is not None
    assert outcome.stop.cause == "budget_spent"
    assert outcome.reason.endswith("(the run stops rather than crawl)")
    assert governor.counters.flops == 3 * COST  # nothing debited for the step that did not run
    again, opt_again = _setup(seed=1)
    assert load_checkpoint(path, again, opt_again) == 3
    for a, b in zip(model.parameters(), again.parameters(), strict=True):
        assert torch.equal(a, b)
    assert opt_again.state_dict()["state"][0]["step"] == 3


def test_a_resumed_run_ends_with_the_weights_of_an_uninterrupted_run(tmp_path: Path) -> None:
    regime = Regime()
    batches = TextBatches(CONFIG, STEPS, seed=3)
    whole, whole_opt = _setup()
    plenty = _governed(regime, budget_steps=100, name="gpu-whole")
    done = _trainer(plenty, tmp_path / "w.pt", whole, whole_opt).run(
        lm_step, batches, model=whole, optimizer=whole_opt
    )
    assert done.completed
    governor = _governed(regime, budget_steps=3, name="gpu-split")
    path = tmp_path / "split.pt"
    start, phases = 0, 0
    while start < STEPS:
        model, opt = _setup()
        if path.exists():
            start = load_checkpoint(path, model, opt)
        outcome = _trainer(governor, path, model, opt).run(
            lm_step, batches, model=model, optimizer=opt, start_step=start
        )
        phases += 1
        if outcome.completed:
            break
        # Renewal: a new request with the latest receipt, issued on its counters.
        governor.install_licence(regime.licence(governor, 3 * COST, "run-gpu-split"), NOW)
        start = outcome.next_step
    assert phases == 3
    assert governor.counters.licensed_ops == STEPS * COST
    for a, b in zip(whole.parameters(), model.parameters(), strict=True):
        assert torch.equal(a, b)


def test_a_halt_pause_stops_the_run_at_a_step_boundary_and_a_resume_lets_it_go_on(
    tmp_path: Path,
) -> None:
    regime = Regime()
    governor = _governed(regime, budget_steps=100)
    model, opt = _setup()
    path = tmp_path / "c.pt"
    batches = TextBatches(CONFIG, STEPS)

    def pause_after_two(index: int, grant: object) -> None:
        if index == 1:
            regime.pause("stop-all")
            governor.observe(regime.view(), NOW, NOW)

    trainer = _trainer(governor, path, model, opt, on_step=pause_after_two)
    outcome = trainer.run(lm_step, batches, model=model, optimizer=opt)
    assert (outcome.next_step, outcome.stop and outcome.stop.cause) == (2, "pause")
    assert "stop-all" in outcome.reason
    assert governor.counters.flops == 2 * COST
    assert torch.load(path, weights_only=True)["next_step"] == 2
    regime.directives.append(parse_directive(regime.c.resume(lifts="stop-all")))
    governor.observe(regime.view(), NOW, NOW)
    trainer.on_step = None
    resumed = trainer.run(lm_step, batches, model=model, optimizer=opt, start_step=2)
    assert resumed.completed
    assert governor.counters.flops == STEPS * COST


def test_a_throttle_pause_sleeps_as_the_governor_schedules_and_charges_the_licence(
    tmp_path: Path,
) -> None:
    regime = Regime()
    governor = _governed(regime, budget_steps=100)
    regime.pause("slow-down", effect="throttle", rate=0.5)
    governor.observe(regime.view(), NOW, NOW)
    model, opt = _setup()
    slept: list[float] = []
    trainer = _trainer(governor, tmp_path / "c.pt", model, opt, sleep=slept.append)
    outcome = trainer.run(lm_step, TextBatches(CONFIG, 4), model=model, optimizer=opt)
    per_step_us = math.ceil(COST * 1_000_000 / (0.5 * governor.state.peak_flops))
    assert outcome.completed
    assert outcome.throttled_steps == 4
    assert slept == pytest.approx([per_step_us * i / 1e6 for i in range(1, 4)])
    assert outcome.licensed_flops == 4 * COST


def test_without_a_licence_the_run_stops_unless_told_to_crawl_at_the_baseline(
    tmp_path: Path,
) -> None:
    regime = Regime()
    governor = regime.device()
    model, opt = _setup()
    stopped = _trainer(governor, tmp_path / "c.pt", model, opt).run(
        lm_step, TextBatches(CONFIG, 3), model=model, optimizer=opt
    )
    assert (stopped.next_step, stopped.stop and stopped.stop.cause) == (0, "no_licence")
    assert governor.counters.flops == 0
    slept: list[float] = []
    crawling = _trainer(
        governor, tmp_path / "c.pt", model, opt, sleep=slept.append, unlicensed="throttle"
    )
    outcome = crawling.run(lm_step, TextBatches(CONFIG, 3), model=model, optimizer=opt)
    assert outcome.completed
    assert outcome.throttled_steps == 3
    assert outcome.licensed_flops == 0
    assert governor.counters.flops == 3 * COST
    assert governor.counters.licensed_ops == 0
    assert len(slept) == 2  # the first throttled step starts at once, the next wait their turn


def test_a_device_with_stale_governance_halts_the_run(tmp_path: Path) -> None:
    governor = _governed(Regime(), budget_steps=100)
    model, opt = _setup()
    trainer = GovernedTrainer(
        governor,
        StepMeter(),
        checkpoint_to(tmp_path / "c.pt", model, opt),
        clock=lambda: NOW + 2 * DAY,
    )
    outcome = trainer.run(lm_step, TextBatches(CONFIG, 3), model=model, optimizer=opt)
    assert outcome.stop is not None
    assert outcome.stop.cause == "governance"
    assert governor.counters.flops == 0
    assert (tmp_path / "c.pt").exists()


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    governor = _governed(Regime(), budget_steps=1)
    model, opt = _setup()
    with pytest.raises(ValueError, match="unlicensed"):
        GovernedTrainer(governor, StepMeter(), lambda _: None, unlicensed="maybe")  # type: ignore[arg-type]
    trainer = _trainer(governor, tmp_path / "c.pt", model, opt)
    with pytest.raises(ValueError, match="start_step"):
        trainer.run(lm_step, TextBatches(CONFIG, 3), model=model, start_step=4)
    save_checkpoint(tmp_path / "bare.pt", 1, model)
    assert load_checkpoint(tmp_path / "bare.pt", make_model(CONFIG)) == 1
