"""Analytic FLOP estimates: 6·N·D for training, 2·N·D for inference.

A dense transformer spends about 2 FLOPs per parameter per token in the forward pass
(one multiply-add per weight) and twice that in the backward pass (gradients of the
activations and of the weights), hence 6·N·D to train on D tokens and 2·N·D to run the
model over D tokens. For a mixture of experts, N is the parameters *active* per token.
"""

from __future__ import annotations

from pausebutton.errors import FormatError

TRAINING_FLOPS_PER_PARAM_TOKEN = 6
"""Forward (2) plus backward (4) FLOPs per active parameter per token."""

INFERENCE_FLOPS_PER_PARAM_TOKEN = 2
"""Forward FLOPs per active parameter per token."""


def _count(name: str, value: object, *, minimum: int) -> int:
    """``value`` as a plain int of at least ``minimum``, or FormatError."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise FormatError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise FormatError(f"{name} must be at least {minimum}, got {value}")
    return value


def training_flops(params: int, tokens: int, active_params: int | None = None) -> int:
    """FLOPs to train a model of ``params`` parameters on ``tokens`` tokens (6·N·D)."""
    n = _count("params", params, minimum=1)
    d = _count("tokens", tokens, minimum=0)
    if active_params is not None:
        active = _count("active_params", active_params, minimum=1)
        if active > n:
            raise FormatError(f"active_params ({active}) exceeds params ({n})")
        n = active
    return TRAINING_FLOPS_PER_PARAM_TOKEN * n * d


def inference_flops(params: int, tokens: int) -> int:
    """FLOPs to run a model of ``params`` (active) parameters over ``tokens`` tokens (2·N·D)."""
    n = _count("params", params, minimum=1)
    d = _count("tokens", tokens, minimum=0)
    return INFERENCE_FLOPS_PER_PARAM_TOKEN * n * d
