"""Done when: a run trains, is charged exactly, halts at its budget and at a pause with its
checkpoint saved, and resumes after renewal and after a witnessed resume. All real: the
ceremony, a witnessed log, TUF over HTTP, the licensing office, a file secure element."""

from __future__ import annotations

from pathlib import Path

import torch

from pausebutton.device.governor import Grant
from pausebutton.device.receipts import check_receipt_chain, parse_receipt
from pausebutton.device.sandbox import open_sandbox
from pausebutton.metering.example_model import (
    GPTConfig,
    TextBatches,
    analytic_step_flops,
    lm_step,
    make_model,
)
from pausebutton.metering.torch import StepMeter
from pausebutton.metering.training import (
    GovernedTrainer,
    TrainingOutcome,
    checkpoint_to,
    load_checkpoint,
)

CONFIG = GPTConfig(seq=8, d=16, heads=2, layers=2, batch=2)
COST = analytic_step_flops(CONFIG)
STEPS, BUDGET_STEPS, PAUSE_AT = 12, 5, 7


def _fresh() -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    model = make_model(CONFIG, seed=1)
    return model, torch.optim.AdamW(model.parameters(), lr=1e-2)


def test_done_when_a_run_is_charged_exactly_halts_at_budget_and_pause_and_resumes(
    tmp_path: Path,
) -> None:
    batches = TextBatches(CONFIG, STEPS, seed=1)
    reference, reference_opt = _fresh()
    for x, y in batches:  # the same run with no governance at all
        lm_step(reference, x, y)
        reference_opt.step()
        reference_opt.zero_grad(set_to_none=True)

    path = tmp_path / "checkpoint.pt"
    with open_sandbox(
        tmp_path / "sb", run_flop=4 * STEPS * COST, device_budget=BUDGET_STEPS * COST
    ) as sb:
        governor = sb.governor
        assert sb.agent.tick().renewed == 1
        outcomes: list[TrainingOutcome] = []
        saved_at: list[int] = []
        paused = False
        while True:
            model, opt = _fresh()
            start = load_checkpoint(path, model, opt) if path.exists() else 0
            assert start == (outcomes[-1].next_step if outcomes else 0)

            def save(
                next_step: int, model: torch.nn.Module = model, opt: torch.optim.Optimizer = opt
            ) -> None:
                checkpoint_to(path, model, opt)(next_step)
                saved_at.append(next_step)

            def pause_once(index: int, grant: Grant) -> None:
                nonlocal paused
                if index + 1 == PAUSE_AT and not paused:
                    paused = True
                    sb.pause()
                    sb.agent.tick()

            trainer = GovernedTrainer(governor, StepMeter(), save, on_step=pause_once)
            outcome = trainer.run(lm_step, batches, model=model, optimizer=opt, start_step=start)
            outcomes.append(outcome)
            if outcome.completed:
                break
            assert outcome.stop is not None
            if outcome.stop.cause == "pause":
                sb.resume()
            report = sb.agent.tick()
            assert report.status.decision == "granted", report.lines()
        final_tick = sb.agent.tick()

        causes = [o.stop.cause for o in outcomes if o.stop is not None]
        assert causes == ["budget_spent", "pause", "budget_spent"]
        assert saved_at == [5, 7, 10]  # licence #2, from step 5, pays for steps 5..9
        assert [o.steps_run for o in outcomes] == [5, 2, 3, 2]
        charged = sum(o.flops_charged for o in outcomes)
        assert charged == STEPS * COST
        assert governor.counters.flops == governor.counters.licensed_ops == STEPS * COST
        key = governor.device_key
        receipts = sb.receipts()
        assert check_receipt_chain(receipts, {key.key_id: key}) == []
        assert parse_receipt(receipts[-1]).counters.licensed_ops == STEPS * COST
        assert sb.office.book().last_sequence(key.key_id) == 3 + (final_tick.renewed is not None)
    for a, b in zip(reference.parameters(), model.parameters(), strict=True):
        assert torch.equal(a, b)
