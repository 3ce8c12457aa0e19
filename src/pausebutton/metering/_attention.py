"""FLOP formulas for attention kernels, counted as model FLOPs on every backend.

Attention forward is ``softmax(q·kᵀ)·v``: two products, ``2·s_q·s_k·(d_q + d_v)`` FLOPs per
batch and query head. Backward is charged twice the forward (the four products of the
gradients). Fused kernels also recompute ``q·kᵀ`` in backward; that recompute is not
charged, so the explicit, math and fused paths (and meta-device counting, which takes the
math path) all charge the same step the same. Causal masking is not discounted.

Upstream's own formulas for the sdpa-level backward kernels include the recompute, and
those for ``_flash_attention_*`` and ``_efficient_attention_*`` read their dense
(batch, seq, heads, dim) inputs as (batch, heads, seq, dim); both are replaced here.
"""

from __future__ import annotations

from typing import Any

import torch

from pausebutton.metering._formula import Formula, lengths, numel, prod, raw

aten = torch.ops.aten


def attention_flops(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> int:
    """Forward FLOPs of dense attention in (..., seq, dim) layout; q's heads for GQA."""
    s_q, d_q = int(q.shape[-2]), int(q.shape[-1])
    return 2 * prod(q.shape[:-2]) * s_q * int(k.shape[-2]) * (d_q + int(v.shape[-1]))


def _longest(max_len: object, packed: torch.Tensor) -> int:
    """The longest sequence of a packed batch: ``max_len``, or every token if it is unknown."""
    if isinstance(max_len, int) and max_len > 0:
        return max_len
    return numel(packed) // (int(packed.shape[-1]) * int(packed.shape[-2]))


def _varlen_or_dense(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    cum_q: object,
    cum_k: object,
    max_q: object,
    max_k: object,
) -> int:
    """Forward FLOPs for dense (b, h, s, d) input, or packed (tokens, h, d) with offsets."""
    len_q = lengths(cum_q, _longest(max_q, q))
    if len_q is None:
        return attention_flops(q, k, v)
    len_k = lengths(cum_k, _longest(max_k, k)) or len_q
    heads, d = int(q.shape[-2]), int(q.shape[-1]) + int(v.shape[-1])
    return sum(2 * heads * lq * lk * d for lq, lk in zip(len_q, len_k, strict=True))


@raw
def qkv_forward(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *args: Any, **kwargs: Any
) -> int:
    """Fused attention forward taking (query, key, value, ...) in (b, h, s, d) layout."""
    return attention_flops(q, k, v)


@raw
def qkv_backward(
    _go: torch.Tensor, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *args: Any, **kwargs: Any
) -> int:
    """Fused attention backward taking (grad_out, query, key, value, ...): twice the forward."""
    return 2 * attention_flops(q, k, v)


@raw
def cudnn_forward(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    _bias: object,
    cum_q: object,
    cum_k: object,
    max_q: object,
    max_k: object,
    *args: Any,
    **kwargs: Any,
) -> int:
    """``_cudnn_attention_forward``, dense or packed variable-length."""
    return _varlen_or_dense(q, k, v, cum_q, cum_k, max_q, max_k)


@raw
def cudnn_backward(
    _go: torch.Tensor, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *args: Any, **kwargs: Any
) -> int:
    """``_cudnn_attention_backward``: twice the forward (offsets at positions 9 to 12)."""
    return 2 * _varlen_or_dense(q, k, v, *args[5:9])


@raw
def overrideable_backward(
    _go: torch.Tensor, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *args: Any, **kwargs: Any
) -> int:
    """``_scaled_dot_product_fused_attention_overrideable_backward``: twice the forward."""
    return 2 * _varlen_or_dense(q, k, v, *args[4:8])


def _bshd(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    cum_q: object,
    cum_k: object,
    max_q: object,
    max_k: object,
) -> int:
    """Forward FLOPs in the kernels' own layout: dense (b, s, h, d) or packed (…, tokens, h, d)."""
    if lengths(cum_q, 0) is not None:
        return _varlen_or_dense(q, k, v, cum_q, cum_k, max_q, max_k)
    b, s_q, heads = int(q.shape[0]), int(q.shape[1]), int(q.shape[2])
    return 2 * b * heads * s_q * int(k.shape[1]) * (int(q.shape[-1]) + int(v.shape[-1]))


@raw
def flash_forward(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *args: Any, **kwargs: Any
) -> int:
    """``_flash_attention_forward`` (query, key, value, cum_q, cum_k, max_q, max_k, ...)."""
    return _bshd(q, k, v, *args[0:4])


@raw
def flash_forward_inplace(
    _out: torch.Tensor, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *args: Any, **kw: Any
) -> int:
    """``_flash_attention_forward_no_dropout_inplace`` (out, query, key, value, cum_q, ...)."""
    return _bshd(q, k, v, *args[0:4])


@raw
def efficient_forward(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *args: Any, **kwargs: Any
) -> int:
    """``_efficient_attention_forward`` (query, key, value, bias, cu_q, cu_k, max_q, max_k)."""
    return _bshd(q, k, v, *args[1:5])


@raw
def flash_or_efficient_backward(
    _go: torch.Tensor, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *args: Any, **kw: Any
) -> int:
    """``_flash_attention_backward`` and ``_efficient_attention_backward``: twice the forward."""
    return 2 * _bshd(q, k, v, *args[2:6])


@raw
def sdpa_flash_backward(
    _go: torch.Tensor, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *args: Any, **kw: Any
) -> int:
    """``_scaled_dot_product_flash_attention_backward``, dense or nested: twice the forward."""
    return 2 * _varlen_or_dense(q, k, v, *args[2:6])


def _pairs(q: torch.Tensor, k: torch.Tensor) -> int:
    """Σ over the batch of s_q·s_k for (b, s, e) inputs, or of s² for a nested batch."""
    if not q.is_nested:
        return int(q.shape[0]) * int(q.shape[1]) * int(k.shape[1])
    sizes = getattr(q, "_nested_tensor_size", None)
    try:
        lens = [int(row[0]) for row in sizes().tolist()] if sizes is not None else None
    except (RuntimeError, NotImplementedError):  # fake or meta: sizes cannot be read
        lens = None
    if lens is None:  # upper bound: every token in one sequence
        return (numel(q) // int(q.size(-1))) ** 2
    return sum(n * n for n in lens)


def _mha_flops(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, e: int) -> int:
    """Projections in and out plus attention of one fused multi-head attention call."""
    return 2 * e * (2 * numel(q) + numel(k) + numel(v)) + 4 * e * _pairs(q, k)


@raw
def native_mha(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, embed_dim: int, *args: Any, **kwargs: Any
) -> int:
    """``_native_multi_head_attention`` (nn.MultiheadAttention's inference fast path)."""
    return _mha_flops(q, k, v, int(embed_dim))


@raw
def encoder_layer(src: torch.Tensor, embed_dim: int, *args: Any, **kwargs: Any) -> int:
    """``_transformer_encoder_layer_fwd`` (nn.TransformerEncoderLayer's fast path)."""
    ffn_weight_1: torch.Tensor = args[12]
    return _mha_flops(src, src, src, int(embed_dim)) + 4 * numel(src) * int(ffn_weight_1.shape[0])


FORMULAS: dict[Any, Formula] = {
    aten._scaled_dot_product_flash_attention_for_cpu: qkv_forward,
    aten._scaled_dot_product_flash_attention_for_cpu_backward: qkv_backward,
    aten._scaled_dot_product_fused_attention_overrideable: qkv_forward,
    aten._scaled_dot_product_fused_attention_overrideable_backward: overrideable_backward,
    aten._scaled_dot_product_attention_math_for_mps: qkv_forward,
    aten._cudnn_attention_forward: cudnn_forward,
    aten._cudnn_attention_backward: cudnn_backward,
    aten._triton_scaled_dot_attention: qkv_forward,
    aten._native_multi_head_attention: native_mha,
    aten._triton_multi_head_attention: native_mha,
    aten._transformer_encoder_layer_fwd: encoder_layer,
    aten._scaled_dot_product_flash_attention_backward: sdpa_flash_backward,
    aten._scaled_dot_product_efficient_attention_backward: qkv_backward,
    aten._scaled_dot_product_cudnn_attention_backward: cudnn_backward,
    aten._flash_attention_forward: flash_forward,
    aten._flash_attention_forward_no_dropout_inplace: flash_forward_inplace,
    aten._flash_attention_backward: flash_or_efficient_backward,
    aten._efficient_attention_forward: efficient_forward,
    aten._efficient_attention_backward: flash_or_efficient_backward,
}
