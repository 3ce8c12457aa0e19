"""Formulas for kernels this CPU cannot run (CUDA, ROCm, MPS), called with meta tensors,
and an audit that every product kernel of this PyTorch has a formula or is refused."""

from __future__ import annotations

import re
from typing import Any

import pytest
import torch
import torch.utils.flop_counter as upstream

from pausebutton.metering.torch import FORMULAS, REFUSED, op_name

aten = torch.ops.aten


def _m(*shape: int) -> torch.Tensor:
    return torch.empty(*shape, device="meta")


def _attention(b: int, h: int, s_q: int, s_k: int, d_q: int, d_v: int) -> int:
    return 2 * b * h * s_q * s_k * (d_q + d_v)


def _call(packet: Any, *args: Any, out_val: object = None) -> int:
    return int(FORMULAS[packet](*args, out_val=out_val))


def _lstm_weights(inp: int, hidden: int) -> list[torch.Tensor]:
    return [_m(4 * hidden, inp), _m(4 * hidden, hidden), _m(4 * hidden), _m(4 * hidden)]


def test_cudnn_lstm_forward_is_2_steps_times_matrix_elements() -> None:
    x, w = _m(5, 3, 6), _lstm_weights(6, 8)
    args = (x, w, 4, None, _m(1, 3, 8), _m(1, 3, 8), 2, 8, 0, 1, False, 0.0, True, False, [], None)
    assert _call(aten._cudnn_rnn, *args) == 2 * 15 * (32 * 6 + 32 * 8)


@pytest.mark.parametrize(
    ("mask", "products"),
    [
        ([True, True, True, True], 2),
        ([False, False, False, True], 2),
        ([True, False, False, False], 1),
    ],
)
def test_cudnn_rnn_backward_charges_the_data_pass_and_the_weight_pass_if_asked(
    mask: list[bool], products: int
) -> None:
    x, w = _m(5, 3, 6), _lstm_weights(6, 8)
    rest = [2, 8, 0, 1, False, 0.0, True, False, [], None, _m(0), mask]
    args = (x, w, 4, None, _m(1, 3, 8), None, _m(5, 3, 8), None, None, None, *rest)
    assert _call(aten._cudnn_rnn_backward, *args) == products * 2 * 15 * (32 * 6 + 32 * 8)


def test_mps_lstm_forward_and_backward() -> None:
    x, params = _m(5, 3, 6), _lstm_weights(6, 8)
    forward = 2 * 15 * (32 * 6 + 32 * 8)
    assert _call(aten._lstm_mps, x, [], params, True, 1, 0.0, True, False, False) == forward
    backward_args = (None, None, None, _m(0), _m(0), x, _m(0), [], params, True, 1)
    assert _call(aten.lstm_mps_backward, *backward_args) == 2 * forward


def test_flash_kernels_read_batch_seq_heads_dim_layout() -> None:
    q, k, v = _m(2, 16, 4, 8), _m(2, 32, 4, 8), _m(2, 32, 4, 8)
    expected = _attention(2, 4, 16, 32, 8, 8)
    assert _call(aten._flash_attention_forward, q, k, v, None, None, 16, 32, 0.0, False) == expected
    bias_and_offsets = (None, None, None, 16, 32, 0.0, 0)
    assert _call(aten._efficient_attention_forward, q, k, v, *bias_and_offsets) == expected


def test_upstream_reads_flash_inputs_as_batch_heads_seq_dim() -> None:
    # If this starts failing, upstream agrees with us and our override can go.
    q = _m(2, 16, 4, 8)
    up = upstream.flop_registry[aten._flash_attention_forward]
    assert up(q, q, q, None, None, 16, 16, 0.0, False, out_val=None) == _attention(
        2, 16, 4, 4, 8, 8
    )
    assert _call(aten._flash_attention_forward, q, q, q, None, None, 16, 16, 0.0, False) == (
        _attention(2, 4, 16, 16, 8, 8)
    )


def test_packed_variable_length_attention_charges_each_sequence() -> None:
    q, k, v = _m(12, 2, 8), _m(12, 2, 8), _m(12, 2, 8)
    offsets = torch.tensor([0, 5, 12], dtype=torch.int32)
    expected = sum(_attention(1, 2, n, n, 8, 8) for n in (5, 7))
    args = (q, k, v, offsets, offsets, 7, 7, 0.0, False)
    assert _call(aten._flash_attention_forward, *args) == expected


def test_packed_offsets_on_fake_or_meta_tensors_are_taken_at_maximum_length() -> None:
    q, k, v = _m(12, 2, 8), _m(12, 2, 8), _m(12, 2, 8)
    offsets = _m(3)
    args = (q, k, v, offsets, offsets, 7, 7, 0.0, False)
    assert _call(aten._flash_attention_forward, *args) == 2 * _attention(1, 2, 7, 7, 8, 8)


BACKWARD_CASES = [
    (aten._scaled_dot_product_efficient_attention_backward, "bhsd", 4),
    (aten._scaled_dot_product_flash_attention_backward, "bhsd", 6),
    (aten._scaled_dot_product_cudnn_attention_backward, "bhsd", 9),
    (aten._flash_attention_backward, "bshd", 6),
    (aten._efficient_attention_backward, "bshd", 6),
    (aten._scaled_dot_product_flash_attention_for_cpu_backward, "bhsd", 4),
    (aten._cudnn_attention_backward, "bhsd", 9),
    (aten._scaled_dot_product_fused_attention_overrideable_backward, "bhsd", 8),
]


@pytest.mark.parametrize(("packet", "layout", "offsets_at"), BACKWARD_CASES, ids=str)
def test_fused_attention_backward_is_twice_the_forward_without_the_recompute(
    packet: Any, layout: str, offsets_at: int
) -> None:
    b, h, s, d = 2, 4, 16, 8
    shape = (b, h, s, d) if layout == "bhsd" else (b, s, h, d)
    q, k, v, go = _m(*shape), _m(*shape), _m(*shape), _m(*shape)
    args: list[Any] = [go, q, k, v, *([None] * 12)]
    args[offsets_at : offsets_at + 4] = [None, None, s, s]
    assert _call(packet, *args) == 2 * _attention(b, h, s, s, d, d)


def test_upstream_sdpa_backward_would_charge_the_recompute() -> None:
    q = _m(2, 4, 16, 8)
    up = upstream.flop_registry[aten._scaled_dot_product_efficient_attention_backward]
    ours = FORMULAS[aten._scaled_dot_product_efficient_attention_backward]
    args = (q, q, q, q, None, q, _m(2, 4, 16), _m(0), _m(0), 0.0, [True] * 4, False)
    assert up(*args, out_val=None) == 5 * ours(*args, out_val=None) // 4


def test_convolution_double_backward_charges_each_product_asked_for() -> None:
    x, w, go = _m(2, 3, 8, 8), _m(4, 3, 3, 3), _m(2, 4, 6, 6)
    conv = 2 * go.numel() * 27
    rest = ([1, 1], [0, 0], [1, 1], False, [0, 0], 1)
    full = _call(aten._convolution_double_backward, x, w, None, go, w, x, *rest, [True] * 3)
    assert full == 4 * conv
    only_input = (x, None, None, go, w, x, *rest, [True, False, False])
    assert _call(aten._convolution_double_backward, *only_input) == conv


def test_convolution_backward_overrideable_matches_convolution_backward() -> None:
    x, w, go = _m(2, 3, 8, 8), _m(4, 3, 3, 3), _m(2, 4, 6, 6)
    common = ([1, 1], [0, 0], [1, 1], False, [0, 0], 1, [True, True, False])
    ours = _call(aten.convolution_backward_overrideable, go, x, w, *common)
    assert (
        ours == _call(aten.convolution_backward, go, x, w, None, *common) == 2 * 2 * go.numel() * 27
    )


# An audit: every non-composite aten operator whose name says it does products has a
# formula (ours or upstream's) or is refused. Composite operators decompose into counted
# ones. Those below match the pattern but are linear-time (or only reorder data).
_PRODUCT_NAME = re.compile(
    r"^(.*mm|mv|addmv|dot|vdot|addr|matmul|linear|einsum|conv|conv[123]d|convolution|depthwise[23]d|.*attention|attn|rnn|lstm|gru"
    r"|fft|c2c|r2c|c2r|cdist|pdist|euclidean|trilinear|cholesky|svd|eigh?|eigvals|qr|geqrf"
    r"|ormqr|solve|inv|pinv|lstsq|householder|ldl|lu|det|slogdet|grouped|tbc|transformer)$"
)
_LINEAR_TIME = {
    "aten._cudnn_rnn_flatten_weight": "copies weights into one buffer",
    "aten._thnn_fused_lstm_cell": "gate arithmetic; its products run as aten.mm",
    "aten._thnn_fused_lstm_cell_backward_impl": "gate arithmetic",
    "aten._thnn_fused_gru_cell": "gate arithmetic; its products run as aten.mm",
    "aten._thnn_fused_gru_cell_backward": "gate arithmetic",
    "aten.mkldnn_reorder_conv2d_weight": "reorders a weight's memory layout",
    "aten.mkldnn_reorder_conv3d_weight": "reorders a weight's memory layout",
    "aten.lu_unpack": "copies the factors out of a packed LU",
    "aten._linalg_check_errors": "reads an info tensor",
    "aten.einsum": "composite: its non-composite overload is not dispatchable",
    "aten.fft_fftfreq": "writes sample frequencies",
    "aten.fft_rfftfreq": "writes sample frequencies",
}


def _product_ops() -> set[str]:
    has_kernel = torch._C._dispatch_has_kernel_for_dispatch_key
    found = set()
    for schema in torch._C._jit_get_all_schemas():
        namespace, _, name = schema.name.partition("::")
        if namespace != "aten" or not any(_PRODUCT_NAME.match(t) for t in name.split("_") if t):
            continue
        overload = schema.name + (f".{schema.overload_name}" if schema.overload_name else "")
        try:
            if has_kernel(overload, "CompositeImplicitAutograd"):
                continue
        except RuntimeError:
            pass
        found.add(f"aten.{name}")
    return found


def test_every_product_kernel_has_a_formula_or_is_refused() -> None:
    covered = {op_name(p) for p in (*FORMULAS, *upstream.flop_registry)} | REFUSED
    missing = sorted(_product_ops() - covered - set(_LINEAR_TIME))
    assert missing == []


def test_the_audit_finds_the_kernels_it_is_meant_to() -> None:
    found = _product_ops()
    for name in (
        "aten.mm",
        "aten._scaled_dot_product_flash_attention_for_cpu",
        "aten.mkldnn_rnn_layer",
    ):
        assert name in found


def test_packed_offsets_with_an_unknown_maximum_are_taken_at_every_token() -> None:
    q = _m(12, 2, 8)
    args = (q, q, q, _m(3), _m(3), None, None, 0.0, False)
    assert _call(aten._cudnn_attention_forward, *args) == 2 * _attention(1, 2, 12, 12, 8, 8)
