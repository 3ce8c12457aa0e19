"""`pausebutton train --example`: a tiny GPT trained under a licence (see training_example).

The command's options live here and the run in `training_example`, imported only when the
command runs, so PyTorch is not loaded every time `pausebutton` starts.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer

from pausebutton.cli.common import reporting_errors
from pausebutton.errors import FormatError


def train(
    example: Annotated[
        bool, typer.Option("--example", help="Train the built-in tiny GPT (the only mode yet).")
    ] = False,
    steps: Annotated[int, typer.Option(help="Training steps in all.")] = 60,
    budget_steps: Annotated[
        int, typer.Option(help="Steps each device licence pays for (its FLOP budget).")
    ] = 25,
    pause_at: Annotated[
        int | None, typer.Option(help="Publish a pause after this many steps, then resume.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the model and the batches.")] = 0,
    directory: Annotated[
        Path | None,
        typer.Option("--dir", help="Keep the authority, device and checkpoint here (new folder)."),
    ] = None,
) -> None:
    """Train a small GPT under a licence: budget counting down, halt, renewal, resume."""
    from pausebutton.cli.training_example import run_example

    with reporting_errors():
        if not example:
            raise FormatError("only the built-in example is available yet: pass --example")
        if budget_steps < 1 or steps < 1:
            raise FormatError("--steps and --budget-steps must be positive")
        if pause_at is not None and not 0 < pause_at < steps:
            raise FormatError(f"--pause-at must be between 1 and {steps - 1}")
        if directory is None:
            with tempfile.TemporaryDirectory(prefix="pausebutton-train-") as tmp:
                run_example(Path(tmp), steps, budget_steps, pause_at, seed)
        else:
            if directory.exists() and any(directory.iterdir()):
                raise FormatError(f"{directory} is not empty; give --dir a new folder")
            run_example(directory, steps, budget_steps, pause_at, seed)
