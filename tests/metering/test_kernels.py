"""Kernels outside FlopCounterMode's table: each is charged, and by the right formula."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as nnf
from torch import nn

from pausebutton.metering.torch import count_flops, measure

aten = torch.ops.aten
torch.manual_seed(0)


def _r(*shape: int) -> torch.Tensor:
    return torch.randn(*shape)


def _only(fn: Callable[[], object], name: str) -> int:
    report = measure(fn)
    assert set(report.by_op) == {name}, report.by_op
    return report.by_op[name]


MATMUL_CASES = [
    ("aten.mv", lambda: torch.mv(_r(3, 4), _r(4)), 2 * 3 * 4),
    ("aten.dot", lambda: torch.dot(_r(7), _r(7)), 2 * 7),
    ("aten.vdot", lambda: torch.vdot(_r(7), _r(7)), 2 * 7),
    ("aten.addmv", lambda: torch.addmv(_r(3), _r(3, 4), _r(4)), 2 * 3 * 4),
    ("aten.addr", lambda: torch.addr(_r(3, 4), _r(3), _r(4)), 2 * 3 * 4),
    ("aten.addbmm", lambda: torch.addbmm(_r(3, 4), _r(2, 3, 5), _r(2, 5, 4)), 2 * 2 * 3 * 5 * 4),
    ("aten.addmm_", lambda: _r(3, 4).addmm_(_r(3, 5), _r(5, 4)), 2 * 3 * 5 * 4),
    ("aten.baddbmm_", lambda: _r(2, 3, 4).baddbmm_(_r(2, 3, 5), _r(2, 5, 4)), 2 * 2 * 3 * 5 * 4),
    (
        "aten._int_mm",
        lambda: torch._int_mm(
            torch.ones(32, 16, dtype=torch.int8), torch.ones(16, 8, dtype=torch.int8)
        ),
        2 * 32 * 16 * 8,
    ),
    (
        "aten._weight_int8pack_mm",
        lambda: torch._weight_int8pack_mm(_r(4, 32), torch.ones(8, 32, dtype=torch.int8), _r(8)),
        2 * 4 * 32 * 8,
    ),
    ("aten._grouped_mm", lambda: torch._grouped_mm(_r(2, 8, 16), _r(2, 16, 4)), 2 * 2 * 8 * 16 * 4),
    ("aten._trilinear", lambda: nnf.bilinear(_r(3, 4), _r(3, 5), _r(6, 4, 5)), 2 * 3 * 6 * 4 * 5),
    ("aten._cdist_forward", lambda: torch.cdist(_r(2, 5, 3), _r(2, 6, 3)), 3 * 2 * 5 * 6 * 3),
    ("aten._euclidean_dist", lambda: torch.cdist(_r(30, 3), _r(40, 3)), 2 * 30 * 40 * (3 + 2)),
    ("aten._pdist_forward", lambda: torch.pdist(_r(6, 4)), 3 * 15 * 4),
    (
        "aten.linear",
        lambda: aten.linear.out(_r(3, 4), _r(5, 4), out=torch.empty(3, 5)),
        2 * 3 * 4 * 5,
    ),
]


@pytest.mark.parametrize(("name", "fn", "flops"), MATMUL_CASES, ids=[c[0] for c in MATMUL_CASES])
def test_product_kernels_are_charged_2_flops_per_multiply_add(
    name: str, fn: Callable[[], object], flops: int
) -> None:
    assert _only(fn, name) == flops


def test_grouped_mm_for_mixture_of_experts_charges_each_token_once_forward_and_back() -> None:
    tokens, experts = _r(32, 16).requires_grad_(), _r(2, 16, 24).requires_grad_()
    offsets = torch.tensor([12, 32], dtype=torch.int32)

    def step() -> None:
        out = torch._grouped_mm(tokens, experts, offs=offsets)
        out.backward(torch.ones_like(out))

    assert _only(step, "aten._grouped_mm") == 3 * 2 * 32 * 16 * 24


def _conv_flops(x: torch.Tensor, weight: torch.Tensor, **kwargs: object) -> int:
    return count_flops(lambda: nnf.conv2d(x, weight, **kwargs))


CONV_CASES = [
    (
        "aten.slow_conv_dilated2d",
        lambda x, w: aten.slow_conv_dilated2d(x, w, [3, 3], None, [1, 1], [0, 0], [2, 2]),
        {"dilation": 2},
    ),
    (
        "aten.mkldnn_convolution",
        lambda x, w: aten.mkldnn_convolution(x, w, None, [1, 1], [1, 1], [1, 1], 1),
        {"padding": 1},
    ),
    (
        "aten._slow_conv2d_forward",
        lambda x, w: aten._slow_conv2d_forward(x, w, [3, 3], None, [2, 2], [0, 0]),
        {"stride": 2},
    ),
]


@pytest.mark.parametrize(("name", "call", "kwargs"), CONV_CASES, ids=[c[0] for c in CONV_CASES])
def test_backend_convolutions_called_directly_match_conv2d(
    name: str, call: Callable[[torch.Tensor, torch.Tensor], object], kwargs: dict[str, object]
) -> None:
    x, w = _r(2, 4, 9, 9), _r(6, 4, 3, 3)
    assert _only(lambda: call(x, w), name) == _conv_flops(x, w, **kwargs)


def test_transposed_backend_convolution_matches_conv_transpose2d() -> None:
    x, w = _r(2, 4, 5, 5), _r(4, 6, 3, 3)
    direct = _only(lambda: aten.slow_conv_transpose2d(x, w, [3, 3]), "aten.slow_conv_transpose2d")
    assert direct == count_flops(lambda: nnf.conv_transpose2d(x, w)) == 2 * x.numel() * 6 * 9


def test_conv_tbc_is_charged_like_conv1d() -> None:
    x, w = _r(10, 2, 4), _r(3, 4, 6)  # (time, batch, channels), (kernel, in, out)
    expected = count_flops(lambda: nnf.conv1d(x.permute(1, 2, 0), w.permute(2, 1, 0)))
    assert _only(lambda: torch.conv_tbc(x, w, torch.zeros(6)), "aten.conv_tbc") == expected


@pytest.mark.parametrize("groups", [1, 4, 8])
def test_grouped_convolution_backward_is_twice_the_forward(groups: int) -> None:
    conv = nn.Conv2d(8, 8, 3, groups=groups)
    x = _r(2, 8, 6, 6).requires_grad_()
    report = measure(lambda: conv(x).sum().backward())
    forward = 2 * 2 * 8 * 4 * 4 * (8 // groups) * 9
    assert report.by_op == {"aten.convolution": forward, "aten.convolution_backward": 2 * forward}


def _fft_flops(points: int, transforms: int, per_point: float) -> int:
    return math.ceil(per_point * transforms * points * math.log2(points))


FFT_CASES = [
    ("aten._fft_r2c", lambda: torch.fft.rfft(_r(3, 16)), _fft_flops(16, 3, 2.5)),
    ("aten._fft_c2c", lambda: torch.fft.fft2(_r(2, 8, 8)), 2 * _fft_flops(8, 16, 5)),
    (
        "aten._fft_c2r",
        lambda: torch.fft.irfft(torch.ones(3, 9, dtype=torch.complex64)),
        _fft_flops(16, 3, 2.5),
    ),
]


@pytest.mark.parametrize(("name", "fn", "flops"), FFT_CASES, ids=[c[0] for c in FFT_CASES])
def test_ffts_are_charged_n_log_n(name: str, fn: Callable[[], object], flops: int) -> None:
    assert _only(fn, name) == flops


def _spd(n: int) -> torch.Tensor:
    a = _r(n, n)
    return a @ a.T + n * torch.eye(n)


N = 6
LINALG_CASES = [
    ("aten.linalg_cholesky_ex", lambda: torch.linalg.cholesky(_spd(N)), math.ceil(N**3 / 3)),
    ("aten.linalg_lu_factor_ex", lambda: torch.linalg.lu_factor(_spd(N)), math.ceil(2 * N**3 / 3)),
    ("aten.linalg_inv_ex", lambda: torch.linalg.inv(_spd(N)), 2 * N**3),
    ("aten._linalg_slogdet", lambda: torch.linalg.slogdet(_spd(N)), math.ceil(2 * N**3 / 3)),
    ("aten._linalg_eigh", lambda: torch.linalg.eigh(_spd(N)), 9 * N**3),
    (
        "aten._linalg_solve_ex",
        lambda: torch.linalg.solve(_spd(N), _r(N, 2)),
        math.ceil(2 * N**3 / 3) + 2 * N * N * 2,
    ),
    (
        "aten.linalg_solve_triangular",
        lambda: torch.linalg.solve_triangular(torch.eye(N), _r(N, 3), upper=True),
        N * N * 3,
    ),
    ("aten.cholesky_solve", lambda: torch.cholesky_solve(_r(N, 2), torch.eye(N)), 2 * N * N * 2),
    ("aten.linalg_qr", lambda: torch.linalg.qr(_r(8, 4), mode="r"), math.ceil(256 - 128 / 3)),
    ("aten._linalg_svd", lambda: torch.linalg.svd(_r(8, 4), full_matrices=False), 14 * 128 + 512),
    ("aten._linalg_svd", lambda: torch.linalg.svd(_r(8, 4)), 4 * 64 * 4 + 8 * 8 * 16 + 9 * 64),
    ("aten.linalg_pinv", lambda: torch.linalg.pinv(_spd(N), hermitian=True), 9 * N**3 + 2 * N**3),
]


@pytest.mark.parametrize(
    ("name", "fn", "flops"), LINALG_CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(LINALG_CASES)]
)
def test_dense_linear_algebra_is_charged_its_textbook_count(
    name: str, fn: Callable[[], object], flops: int
) -> None:
    report = measure(fn)
    assert report.by_op[name] == flops


def test_batched_linear_algebra_is_charged_per_matrix() -> None:
    batch = torch.stack([_spd(4) for _ in range(5)])
    assert _only(lambda: torch.linalg.inv(batch), "aten.linalg_inv_ex") == 5 * 2 * 4**3


def test_shampoo_style_preconditioner_update_is_not_free() -> None:
    g = _r(16, 16)
    precond = torch.eye(16)

    def update() -> None:
        precond.addmm_(g, g.T)
        torch.linalg.eigh(precond)

    assert count_flops(update) == 2 * 16**3 + 9 * 16**3
