"""Metering real PyTorch work: FLOPs counted with every kernel a training step runs.

``count_flops(fn)`` runs ``fn`` once under ``FlopCounterMode`` with our formula table (see
``docs/metering.md``). ``StepMeter`` gives a governed loop the cost of a step *before* it
runs: counted once per step shape on fake tensors, then read from a cache.
"""

from __future__ import annotations

from pausebutton.metering._counter import FlopReport, MeteringError, count_flops, measure, op_name
from pausebutton.metering._formula import Formula
from pausebutton.metering._table import FORMULAS, FREE_NAMESPACES, REFUSED
from pausebutton.metering.steps import StepMeter, on_fake, step_signature

__all__ = [
    "FORMULAS",
    "FREE_NAMESPACES",
    "REFUSED",
    "FlopReport",
    "Formula",
    "MeteringError",
    "StepMeter",
    "count_flops",
    "measure",
    "on_fake",
    "op_name",
    "step_signature",
]
