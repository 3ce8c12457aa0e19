"""The same steps on CUDA kernels charge what they charge on CPU (skipped without a GPU)."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel

from pausebutton.metering.torch import StepMeter, count_flops
from tests.metering.models import Block, block_step_flops, regression_step

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

BACKENDS = [
    SDPBackend.MATH,
    SDPBackend.EFFICIENT_ATTENTION,
    SDPBackend.FLASH_ATTENTION,
    SDPBackend.CUDNN_ATTENTION,
]


@pytest.mark.parametrize("backend", BACKENDS, ids=lambda b: b.name)
def test_every_cuda_attention_backend_charges_the_hand_count(backend: SDPBackend) -> None:
    torch.manual_seed(0)
    block = Block(64, 4).cuda().to(torch.bfloat16)
    x = torch.randn(2, 32, 64, device="cuda", dtype=torch.bfloat16)
    with sdpa_kernel(backend):
        try:
            flops = count_flops(lambda: regression_step(block, x))
        except RuntimeError as exc:  # this GPU has no such kernel for these inputs
            pytest.skip(f"{backend.name} unavailable: {exc}")
    assert flops == block_step_flops(2, 32, 64)


def test_fake_counting_on_cuda_equals_the_real_cuda_step() -> None:
    block, x = Block(64, 4).cuda(), torch.randn(2, 32, 64, device="cuda")
    assert StepMeter().step_cost(regression_step, block, x) == count_flops(
        lambda: regression_step(block, x)
    )


def test_cudnn_lstm_charges_what_the_cpu_kernel_charges() -> None:
    lstm = nn.LSTM(16, 32, num_layers=2, bidirectional=True)
    x = torch.randn(10, 4, 16, requires_grad=True)
    on_cpu = count_flops(lambda: lstm(x)[0].sum().backward())
    lstm.cuda()
    x_cuda = x.detach().cuda().requires_grad_()
    assert count_flops(lambda: lstm(x_cuda)[0].sum().backward()) == on_cpu
