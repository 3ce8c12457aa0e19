"""Analytic estimates: 6·N·D and 2·N·D, their inputs, and how they compare to a real step."""

from __future__ import annotations

from fractions import Fraction

import pytest

from pausebutton.errors import FormatError
from pausebutton.metering.estimate import inference_flops, training_flops


def test_training_is_6_n_d() -> None:
    assert training_flops(7_000_000_000, 2_000_000_000_000) == 6 * 7 * 2 * 10**21


def test_a_mixture_of_experts_is_charged_its_active_parameters() -> None:
    assert training_flops(47 * 10**9, 10**12, active_params=13 * 10**9) == 6 * 13 * 10**21


def test_inference_is_2_n_d() -> None:
    assert inference_flops(10**9, 1000) == 2 * 10**12


def test_zero_tokens_cost_nothing() -> None:
    assert training_flops(10, 0) == inference_flops(10, 0) == 0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"params": 7e9, "tokens": 10},
        {"params": True, "tokens": 10},
        {"params": "7B", "tokens": 10},
        {"params": 0, "tokens": 10},
        {"params": 10, "tokens": -1},
        {"params": 10, "tokens": 1.5},
        {"params": 10, "tokens": 10, "active_params": 11},
        {"params": 10, "tokens": 10, "active_params": 0},
        {"params": 10, "tokens": 10, "active_params": 5.0},
    ],
    ids=str,
)
def test_bad_inputs_are_format_errors(kwargs: dict[str, object]) -> None:
    with pytest.raises(FormatError):
        training_flops(**kwargs)


def test_inference_rejects_bad_inputs_too() -> None:
    with pytest.raises(FormatError):
        inference_flops(-5, 10)


def test_6nd_is_close_to_the_counted_flops_of_a_real_training_step() -> None:
    """Counted/6ND = (12·L·d² + 2·L·s·d + d·V) / N per token, for this model:

    the matrix products charge 6 FLOPs per weight per token, plus the attention
    products (2·s·d per layer per token, absent from 6·N·D); 6·N·D also charges the
    token and position embeddings, biases and norms, which do no products.
    """
    torch = pytest.importorskip("torch")
    from pausebutton.metering.torch import count_flops
    from tests.metering.models import TinyGPT, gpt_step_flops, train_step

    vocab, seq, d, heads, layers, batch = 64, 16, 32, 4, 2, 2
    torch.manual_seed(0)
    model = TinyGPT(vocab, seq, d, heads, layers)
    x, y = torch.randint(0, vocab, (batch, seq)), torch.randint(0, vocab, (batch, seq))
    counted = count_flops(lambda: train_step(model, x, y))
    assert counted == gpt_step_flops(batch, seq, d, layers, vocab)

    params = sum(p.numel() for p in model.parameters())
    estimate = training_flops(params, batch * seq)
    ratio = Fraction(counted, estimate)
    assert ratio == Fraction(12 * layers * d * d + 2 * layers * seq * d + d * vocab, params)
    assert Fraction(9, 10) < ratio < Fraction(11, 10)
