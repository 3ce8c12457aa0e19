"""The example GPT: counted exactly by hand, deterministic data, `pausebutton train --example`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
import typer
from torch.utils.flop_counter import FlopCounterMode
from typer.testing import CliRunner

from pausebutton.cli.train import train
from pausebutton.metering.estimate import training_flops
from pausebutton.metering.example_model import (
    TEXT,
    GPTConfig,
    TextBatches,
    analytic_step_flops,
    attention_step_flops,
    lm_step,
    make_model,
    matmul_params,
)
from pausebutton.metering.torch import count_flops


@pytest.mark.parametrize(
    "config", [GPTConfig(), GPTConfig(seq=8, d=16, heads=2, layers=3, batch=2)], ids=str
)
def test_a_step_counts_exactly_6nd_plus_the_attention_that_flop_counter_mode_misses(
    config: GPTConfig,
) -> None:
    model = make_model(config)
    x, y = TextBatches(config, 1)[0]
    counted = count_flops(lambda: lm_step(model, x, y))
    naive = FlopCounterMode(display=False)
    with naive:
        lm_step(make_model(config), x, y)
    six_nd = training_flops(matmul_params(config), config.tokens)
    assert counted == analytic_step_flops(config) == six_nd + attention_step_flops(config)
    assert naive.get_total_flops() == six_nd  # sdpa on CPU counts zero there


def test_batches_depend_only_on_seed_and_step() -> None:
    config = GPTConfig(seq=8, batch=3)
    a, b = TextBatches(config, 10, seed=7), TextBatches(config, 10, seed=7)
    assert all(torch.equal(p, q) for p, q in zip(a[5], b[5], strict=True))
    assert [torch.equal(p[0], q[0]) for p, q in zip(a[2:4], list(b)[2:4], strict=True)] == [
        True,
        True,
    ]
    assert not torch.equal(a[5][0], TextBatches(config, 10, seed=8)[5][0])
    x, y = a[-1]
    assert x.shape == y.shape == (3, 8)
    assert torch.equal(x[:, 1:], y[:, :-1])  # the target is the input shifted by one
    assert bytes(x[0].tolist()).decode() in TEXT
    with pytest.raises(IndexError):
        a[10]


def test_the_same_seed_makes_the_same_model() -> None:
    one, two = make_model(GPTConfig(), 3), make_model(GPTConfig(), 3)
    assert all(torch.equal(p, q) for p, q in zip(one.parameters(), two.parameters(), strict=True))


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("train")(train)
    app.command("other")(lambda: None)  # keep `train` a sub-command, as in `pausebutton`
    return app


def test_train_example_halts_at_its_budget_and_a_pause_then_resumes_and_charges_exactly(
    tmp_path: Path,
) -> None:
    result = CliRunner().invoke(
        _app(),
        [
            "train",
            "--example",
            "--steps",
            "30",
            "--budget-steps",
            "12",
            "--pause-at",
            "18",
            "--dir",
            str(tmp_path / "run"),
        ],
        terminal_width=200,
    )
    out = result.output
    assert result.exit_code == 0, out
    assert "stopped before step 12: budget_spent: licence #1" in out
    assert "stopped before step 18: halted (pause)" in out
    assert "2 witness cosignatures of 2 needed" in out
    assert "stopped before step 24: budget_spent: licence #2" in out
    assert "completed 30 steps" in out
    assert out.count("resuming from checkpoint.pt") == 3
    step = analytic_step_flops(GPTConfig())
    assert re.search(rf"FLOPs charged \(per grant\)\s+│\s+{30 * step:,}", out)
    assert re.search(rf"device counter, licensed\s+│\s+{30 * step:,}", out)
    assert re.search(r"charged / analytic\s+│\s+1\.000000", out)
    assert re.search(r"chain findings: 0", out)
    assert (tmp_path / "run" / "checkpoint.pt").exists()
    assert torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["next_step"] == 30


def test_train_needs_the_example_flag() -> None:
    result = CliRunner().invoke(_app(), ["train"])
    assert result.exit_code == 1
    assert "pass --example" in result.output
